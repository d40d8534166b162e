package model_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// FuzzParseSpec: the model.json decoder never panics, and whatever it
// accepts re-encodes to JSON that decodes to the same spec and encodes to
// the same bytes.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(validSpec))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := model.ParseSpec(data)
		if err != nil {
			return
		}
		enc, err := s.Encode()
		if err != nil {
			t.Fatalf("Encode of an accepted spec: %v", err)
		}
		s2, err := model.ParseSpec(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("re-decoded spec differs:\n%#v\n%#v", s, s2)
		}
		enc2, err := s2.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding differs (%v):\n%s\n%s", err, enc, enc2)
		}
	})
}
