package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// validSpec is a model.json every bad case below breaks in one place.
const validSpec = `{
  "format_version": 1,
  "family": "mlp",
  "objective": "multiclass",
  "hidden": [3],
  "classes": ["a", "b"],
  "features": [
    {"column": "x", "kind": "numeric", "mean": 1.5, "std": 2, "missing": "indicator"},
    {"column": "y", "kind": "categorical", "buckets": 4, "missing": "fail"}
  ],
  "label": "target",
  "hyper": {"lr": 0.1, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
  "metrics": {"holdout_logloss": 0.41},
  "lineage": {"dataset_fingerprint": "sha256:00", "spec": {"epochs": 3}, "seed": 7, "code_version": "dev", "membership": [{"gen": 1}]},
  "weights": {"file": "weights.bin", "count": 29, "crc32c": 12345}
}`

func TestParseSpecValid(t *testing.T) {
	s, err := model.ParseSpec([]byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	if s.Features[0].Std != 2 || s.Hyper["lr"] != 0.1 || string(s.Lineage.Spec) != `{"epochs":3}` || s.Weights.CRC32C != 12345 {
		t.Errorf("decoded %+v", s)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown top-level field", `"label"`, `"labels"`, `unknown field "labels"`},
		{"unknown feature field", `"std": 2,`, `"std": 2, "scale": 1,`, `unknown field "scale"`},
		{"unknown lineage field", `"seed": 7`, `"seed": 7, "host": "x"`, `unknown field "host"`},
		{"version", `"format_version": 1`, `"format_version": 2`, "format_version: 2 is not supported"},
		{"family", `"family": "mlp"`, `"family": "tree"`, `family: "tree" is not`},
		{"no family", `"family": "mlp",`, ``, "family: required"},
		{"no objective", `"objective": "multiclass",`, ``, "objective: required for mlp"},
		{"objective", `"multiclass"`, `"ranking"`, `objective: "ranking"`},
		{"objective on softmax", `"family": "mlp"`, `"family": "softmax"`, "objective: only mlp"},
		{"no hidden", `"hidden": [3],`, ``, "hidden: an mlp needs"},
		{"zero width", `"hidden": [3]`, `"hidden": [0]`, "hidden[0]: width 0"},
		{"one class", `["a", "b"]`, `["a"]`, "classes: a mlp model needs at least 2"},
		{"duplicate class", `["a", "b"]`, `["a", "a"]`, `classes[1]: "a" appears twice`},
		{"empty class", `["a", "b"]`, `["a", ""]`, `classes[1]: must not be empty`},
		{"std", `"std": 2`, `"std": 0`, "features[0].std: must be positive"},
		{"negative std", `"std": 2`, `"std": -1`, "features[0].std"},
		{"numeric missing", `"missing": "indicator"`, `"missing": "drop"`, `features[0].missing: "drop"`},
		{"categorical indicator", `"missing": "fail"`, `"missing": "indicator"`, `features[1].missing: "indicator" is not impute or fail`},
		{"buckets on numeric", `"std": 2,`, `"std": 2, "buckets": 3,`, "features[0].buckets: only categorical"},
		{"no buckets", `"buckets": 4,`, ``, "features[1].buckets: 0 is outside"},
		{"mean on categorical", `"buckets": 4,`, `"buckets": 4, "mean": 1,`, "features[1].mean: only numeric"},
		{"kind", `"kind": "categorical"`, `"kind": "text"`, `features[1].kind: "text"`},
		{"no column", `"column": "y", `, ``, "features[1].column: required"},
		{"duplicate column", `"column": "y"`, `"column": "x"`, `features[1].column: "x" is used`},
		{"no features", `"features": [`, `"features": [], "x": [`, `unknown field "x"`},
		{"count", `"count": 29`, `"count": 30`, "weights.count: 30, but the architecture needs 29"},
		{"weights file", `"file": "weights.bin"`, `"file": "../w.bin"`, "weights.file"},
		{"type", `"seed": 7`, `"seed": "7"`, "lineage.seed"},
		{"profile path", `"seed": 7`, `"seed": 7, "profile": "../profile.json"`, "lineage.profile"},
		{"profile is the weights", `"seed": 7`, `"seed": 7, "profile": "weights.bin"`, "lineage.profile"},
		{"trailing", `"crc32c": 12345}
}`, `"crc32c": 12345}
} {}`, "trailing data"},
		{"crc type", `"crc32c": 12345`, `"crc32c": -1`, "weights.crc32c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validSpec, tc.old) {
				t.Fatalf("the valid spec has no %q", tc.old)
			}
			_, err := model.ParseSpec([]byte(strings.Replace(validSpec, tc.old, tc.new, 1)))
			if !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseSpec error = %v, want ErrInvalidSpec containing %q", err, tc.want)
			}
		})
	}
}

func TestParseSpecNoFeatures(t *testing.T) {
	_, err := model.ParseSpec([]byte(`{"format_version":1,"family":"linear","features":[],"weights":{"file":"weights.bin","count":1,"crc32c":0}}`))
	if err == nil || !strings.Contains(err.Error(), "features: at least one") {
		t.Fatalf("ParseSpec = %v", err)
	}
}

func TestSpecEncodeRoundTrip(t *testing.T) {
	s, err := model.ParseSpec([]byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := model.ParseSpec(data)
	if err != nil {
		t.Fatalf("re-decoding %s: %v", data, err)
	}
	data2, _ := s2.Encode()
	if string(data) != string(data2) {
		t.Fatalf("encodings differ:\n%s\n%s", data, data2)
	}
}
