package model_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

func savedModel(t *testing.T) (*model.Model, string, string) {
	t.Helper()
	s := spec(model.FamilyMLP, model.ObjectiveMulticlass, []int{7}, []string{"a", "b", "c"}, mixed...)
	s.Label = "y"
	s.Hyper = map[string]any{"lr": 0.01, "epochs": 3.0}
	s.Metrics = map[string]float64{"accuracy": 0.5}
	s.Lineage = &model.Lineage{DatasetFingerprint: "sha256:ab", Seed: 42, Spec: []byte(`{"k": 1}`)}
	m, err := model.New(s, randomWeights(s, 11))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	uri := "file://" + filepath.ToSlash(dir) + "/models/churn/v1"
	if err := m.Save(context.Background(), storage.Config{}, uri); err != nil {
		t.Fatal(err)
	}
	return m, uri, filepath.Join(dir, "models", "churn", "v1")
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, uri, dir := savedModel(t)
	got, err := model.Load(context.Background(), storage.Config{}, uri)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec, m.Spec) {
		t.Errorf("loaded spec %+v\nsaved %+v", got.Spec, m.Spec)
	}
	if !reflect.DeepEqual(got.Weights(), m.Weights()) {
		t.Error("loaded weights differ")
	}
	if st, err := os.Stat(filepath.Join(dir, "weights.bin")); err != nil || st.Size() != 4*int64(len(m.Weights())) {
		t.Errorf("weights.bin: %v, %v", st, err)
	}
	rec := testRecord(t, 500, 8, false)
	defer rec.Release()
	a, _, err := m.NewPredictor().PredictMasked(rec)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := got.NewPredictor().PredictMasked(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !array.Equal(a[i], b[i]) {
			t.Errorf("output %d differs after the round trip", i)
		}
		a[i].Release()
		b[i].Release()
	}
	// Works through a root-confined config too.
	if _, err := model.Load(context.Background(), storage.Config{FileRoot: filepath.Dir(filepath.Dir(filepath.Dir(dir)))}, uri); err != nil {
		t.Errorf("Load with FileRoot: %v", err)
	}
}

func TestLoadCorruptWeights(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"flipped byte", func(b []byte) []byte { b[5] ^= 1; return b }, "weights.crc32c"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-4] }, "weights.count"},
		{"extended", func(b []byte) []byte { return append(b, 0, 0, 0, 0) }, "weights.count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, uri, dir := savedModel(t)
			p := filepath.Join(dir, "weights.bin")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.mutate(data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = model.Load(context.Background(), storage.Config{}, uri)
			if !errors.Is(err, model.ErrCorruptWeights) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "weights.bin") {
				t.Fatalf("Load = %v, want ErrCorruptWeights naming weights.bin and %s", err, tc.want)
			}
		})
	}
}

func TestLoadBadSpec(t *testing.T) {
	_, uri, dir := savedModel(t)
	p := filepath.Join(dir, "model.json")
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), `"label"`, `"lable"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := model.Load(context.Background(), storage.Config{}, uri)
	if !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), "model.json") || !strings.Contains(err.Error(), `"lable"`) {
		t.Fatalf("Load = %v", err)
	}
	if _, err := model.Load(context.Background(), storage.Config{}, uri+"/missing"); !storage.IsNotFound(err) {
		t.Fatalf("Load(missing) = %v, want not found", err)
	}
}

func TestSaveRevalidates(t *testing.T) {
	m, uri, _ := savedModel(t)
	m.Spec.Features[0].Std = 0
	if err := m.Save(context.Background(), storage.Config{}, uri+"2"); !errors.Is(err, model.ErrInvalidSpec) {
		t.Fatalf("Save of an edited, invalid spec = %v", err)
	}
}
