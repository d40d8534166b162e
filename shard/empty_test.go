package shard_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/shard"
)

// TestEmptyCSVNamesTheInput: an empty or header-only CSV input fails with
// an error that names the object and says what is wrong. A header-only
// object beside objects with rows is an empty contribution, not an error.
func TestEmptyCSVNamesTheInput(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		src   string   // relative to the env
		is    error    // the sentinel the error wraps
		names []string // objects the error names, relative to the env
		says  []string
	}{
		{name: "zero bytes", files: map[string]string{"src/x.csv": ""}, src: "src/x.csv",
			is: shard.ErrBadInput, names: []string{"src/x.csv"}, says: []string{"empty (0 bytes)"}},
		{name: "blank lines only", files: map[string]string{"src/x.csv": "\n\r\n\n"}, src: "src/x.csv",
			is: shard.ErrBadInput, names: []string{"src/x.csv"}, says: []string{"no header row", "only blank lines"}},
		{name: "header only, the object given", files: map[string]string{"src/x.csv": "id,x\n"}, src: "src/x.csv",
			is: shard.ErrEmpty, names: []string{"src/x.csv"}, says: []string{"src/x.csv: header only, no data rows"}},
		{name: "header only, its folder given", files: map[string]string{"src/x.csv": "id,x"}, src: "src",
			is: shard.ErrEmpty, names: []string{"src/x.csv"}, says: []string{"header only, no data rows"}},
		{name: "header only, two objects",
			files: map[string]string{"src/x.csv": "id,x\n", "src/y.csv": "id,x\n\n"}, src: "src",
			is: shard.ErrEmpty, names: []string{"src", "src/x.csv", "src/y.csv"}, says: []string{"each of the 2 objects is header only"}},
		{name: "header only, five objects",
			files: map[string]string{"src/a.csv": "id\n", "src/b.csv": "id\n", "src/c.csv": "id\n", "src/d.csv": "id\n", "src/e.csv": "id\n"}, src: "src",
			is: shard.ErrEmpty, names: []string{"src/a.csv", "src/c.csv"}, says: []string{"each of the 5 objects", "and 2 more"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFileEnv(t)
			for rel, body := range c.files {
				e.write(t, rel, body)
			}
			_, err := shard.Ingest(context.Background(), e.st, []string{e.uri(c.src)}, e.uri("out"), shard.Options{}, shard.RunOptions{})
			if err == nil {
				t.Fatal("ingest succeeded, want an error")
			}
			t.Log(err)
			if !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %q", err, c.is)
			}
			for _, rel := range c.names {
				if !strings.Contains(err.Error(), e.uri(rel)) {
					t.Errorf("error %q does not name %s", err, e.uri(rel))
				}
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

// TestHeaderOnlyCSVBesideDataIsEmptyContribution: a header-only object in
// a dataset that has rows elsewhere adds nothing and fails nothing.
func TestHeaderOnlyCSVBesideDataIsEmptyContribution(t *testing.T) {
	e := newFileEnv(t)
	e.write(t, "src/a.csv", "id,x\n1,2\n3,4\n")
	e.write(t, "src/b.csv", "id,x\n")
	res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), shard.Options{}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.TotalRows != 2 || len(res.Manifest.Source.Objects) != 2 {
		t.Fatalf("got %d rows from %d objects, want 2 rows from 2", res.Manifest.TotalRows, len(res.Manifest.Source.Objects))
	}
}
