package jobspec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type intsInner struct {
	N []uint16 `yaml:"n"`
}

type intsDoc struct {
	A     int32            `yaml:"a"`
	F     float64          `yaml:"f"`
	P     *int64           `yaml:"p"`
	M     map[string]int   `yaml:"m"`
	In    *intsInner       `yaml:"in"`
	D     time.Duration    `yaml:"d"`
	Named intsInner        `yaml:",inline"`
	S     []map[string]int `yaml:"s"`
}

// TestWithIntegerErrors finds every float written where the document has
// an integer — fields, pointers, map values, lists, inline structs — in
// yaml.v3's own error form, merged in line order with the decoder's own
// errors; integers, floats in float fields and durations pass.
func TestWithIntegerErrors(t *testing.T) {
	data := []byte("a: 1.5\nf: 2.5\np: 1e3\nm: {x: 1, y: 2.25}\nin: {n: [1, 2.5]}\nd: 1s\nn: [3.5]\ns: [{k: 7.5}]\n")
	var doc intsDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := WithIntegerErrors(dec.Decode(&doc), data, &doc)
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a *yaml.TypeError", err)
	}
	want := []string{"line 1: cannot unmarshal !!float `1.5` into int32", "line 3: cannot unmarshal !!float `1e3` into int64",
		"line 4: cannot unmarshal !!float `2.25` into int", "line 5: cannot unmarshal !!float `2.5` into uint16",
		"line 7: cannot unmarshal !!float `3.5` into uint16", "line 8: cannot unmarshal !!float `7.5` into int"}
	if strings.Join(te.Errors, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors\n%s\nwant\n%s", strings.Join(te.Errors, "\n"), strings.Join(want, "\n"))
	}
	ok := []byte("a: 1\nf: 2.5\np: 3\nm: {x: 1}\nd: 2s\n")
	if err := WithIntegerErrors(yaml.Unmarshal(ok, &doc), ok, &doc); err != nil {
		t.Fatalf("a document of integers: %v", err)
	}
	// A decoder type error keeps its place among ours; a syntax error is returned alone.
	mixed := []byte("a: x\np: 1.5\n")
	err = WithIntegerErrors(yaml.Unmarshal(mixed, &doc), mixed, &doc)
	if !errors.As(err, &te) || len(te.Errors) != 2 || !strings.HasPrefix(te.Errors[0], "line 1:") || !strings.HasPrefix(te.Errors[1], "line 2:") {
		t.Fatalf("mixed: %v", err)
	}
	syntax := []byte("a: [\n")
	if err := WithIntegerErrors(yaml.Unmarshal(syntax, &doc), syntax, &doc); err == nil || errors.As(err, &te) {
		t.Fatalf("syntax error: %v", err)
	}
}
