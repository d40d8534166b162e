package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// FormatVersion is the model.json format this code writes and reads.
const FormatVersion = 1

// Names of the artifact's objects.
const (
	SpecFile    = "model.json"
	WeightsFile = "weights.bin"
)

// Model families.
const (
	FamilyLinear   = "linear"
	FamilyLogistic = "logistic"
	FamilySoftmax  = "softmax"
	FamilyMLP      = "mlp"
)

// MLP objectives.
const (
	ObjectiveRegression = "regression"
	ObjectiveBinary     = "binary"
	ObjectiveMulticlass = "multiclass"
)

// Feature kinds.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"
)

// Missing-value policies.
const (
	MissingImpute    = "impute"
	MissingFail      = "fail"
	MissingIndicator = "indicator"
)

// Limits that keep a hostile model.json from asking for absurd memory.
const (
	MaxBuckets     = 1 << 24 // hash buckets of one categorical feature
	MaxLayerWidth  = 1 << 16 // units of one hidden layer
	MaxWeights     = 1 << 30 // float32 values in weights.bin (4 GiB)
	maxSpecBytes   = 64 << 20
	maxHiddenLayer = 64
)

// Spec is model.json: what the model is, how its inputs are computed from
// dataset columns, and where its weights are. ParseSpec decodes it strictly.
type Spec struct {
	FormatVersion int    `json:"format_version"`
	Family        string `json:"family"`
	// Objective is required for mlp and must be empty otherwise.
	Objective string `json:"objective,omitempty"`
	// Hidden lists the mlp's hidden layer widths (ReLU), input side first.
	Hidden []int `json:"hidden,omitempty"`
	// Classes are the class labels of softmax and mlp multiclass models.
	Classes []string `json:"classes,omitempty"`
	// Features is the feature pipeline, in input order.
	Features []Feature `json:"features"`
	// Label is the label column the model was trained on (informational).
	Label string `json:"label,omitempty"`
	// Hyper holds training hyper-parameters, free-form.
	Hyper map[string]any `json:"hyper,omitempty"`
	// Metrics are evaluation results, e.g. "holdout_logloss".
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Lineage *Lineage           `json:"lineage,omitempty"`
	Weights WeightsRef         `json:"weights"`
}

// Feature is one step of the pipeline: a column turned into model inputs.
//
// A numeric feature yields z = (x - Mean) / Std, one input, plus a 0/1
// missing indicator input after it when Missing is "indicator". A
// categorical feature yields Buckets one-hot inputs: the value's UTF-8
// bytes (integers formatted in base 10) hashed with FNV-1a 32, modulo
// Buckets.
type Feature struct {
	Column string `json:"column"`
	Kind   string `json:"kind"`
	// Mean and Std standardise a numeric feature; Std must be positive.
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`
	// Buckets is a categorical feature's hash bucket count.
	Buckets int `json:"buckets,omitempty"`
	// Missing is the policy for a null value: "impute" (numeric: the mean,
	// i.e. z = 0; categorical: all zeros), "fail" (the row cannot be
	// scored), or, numeric only, "indicator" (impute and set the extra
	// input to 1).
	Missing string `json:"missing"`
}

// Lineage records where a trained model came from.
type Lineage struct {
	DatasetFingerprint string          `json:"dataset_fingerprint,omitempty"`
	Spec               json.RawMessage `json:"spec,omitempty"`
	Seed               uint64          `json:"seed,omitempty"`
	CodeVersion        string          `json:"code_version,omitempty"`
	Membership         json.RawMessage `json:"membership,omitempty"`
	// Profile names the training data's profile object in the artifact
	// folder (shard/profile), the reference of the data gates.
	Profile string `json:"profile,omitempty"`
}

// WeightsRef names the weights object and pins its content.
type WeightsRef struct {
	File   string `json:"file"`   // object name inside the artifact folder
	Count  int64  `json:"count"`  // float32 values
	CRC32C uint32 `json:"crc32c"` // CRC-32C (Castagnoli) of the file's bytes
}

// ParseSpec decodes and validates model.json. Unknown fields, trailing
// data and invalid values are errors that name the field.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > maxSpecBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrInvalidSpec, len(data), maxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidSpec)
	}
	if err := s.normalize(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// normalize gives equal specs one in-memory form: empty collections are
// nil and raw JSON is compacted, so decode(encode(s)) equals s.
func (s *Spec) normalize() error {
	if len(s.Hidden) == 0 {
		s.Hidden = nil
	}
	if len(s.Classes) == 0 {
		s.Classes = nil
	}
	if len(s.Features) == 0 {
		s.Features = nil
	}
	if len(s.Hyper) == 0 {
		s.Hyper = nil
	}
	if len(s.Metrics) == 0 {
		s.Metrics = nil
	}
	if s.Lineage != nil {
		for _, raw := range []*json.RawMessage{&s.Lineage.Spec, &s.Lineage.Membership} {
			if len(*raw) == 0 {
				*raw = nil
				continue
			}
			var b bytes.Buffer
			if err := json.Compact(&b, *raw); err != nil {
				return fmt.Errorf("%w: lineage: %v", ErrInvalidSpec, err)
			}
			*raw = b.Bytes()
		}
	}
	return nil
}

// Validate checks every field and that Weights.Count matches the
// architecture. Errors wrap ErrInvalidSpec and name the field.
func (s *Spec) Validate() error {
	if s.FormatVersion != FormatVersion {
		return specError("format_version", "%d is not supported (want %d)", s.FormatVersion, FormatVersion)
	}
	if err := s.validateFamily(); err != nil {
		return err
	}
	if len(s.Features) == 0 {
		return specError("features", "at least one feature is required")
	}
	seen := make(map[string]bool, len(s.Features))
	for i := range s.Features {
		f := &s.Features[i]
		if err := f.validate(fmt.Sprintf("features[%d]", i)); err != nil {
			return err
		}
		if seen[f.Column] {
			return specError(fmt.Sprintf("features[%d].column", i), "%q is used by an earlier feature", f.Column)
		}
		seen[f.Column] = true
	}
	for k, v := range s.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return specError("metrics."+k, "must be finite")
		}
	}
	return s.validateWeights()
}

func (s *Spec) validateFamily() error {
	switch s.Family {
	case FamilyLinear, FamilyLogistic, FamilySoftmax:
		if s.Objective != "" {
			return specError("objective", "only mlp models take one (family is %q)", s.Family)
		}
		if len(s.Hidden) > 0 {
			return specError("hidden", "only mlp models have hidden layers (family is %q)", s.Family)
		}
	case FamilyMLP:
		switch s.Objective {
		case ObjectiveRegression, ObjectiveBinary, ObjectiveMulticlass:
		case "":
			return specError("objective", "required for mlp (regression, binary or multiclass)")
		default:
			return specError("objective", "%q is not regression, binary or multiclass", s.Objective)
		}
		if len(s.Hidden) == 0 || len(s.Hidden) > maxHiddenLayer {
			return specError("hidden", "an mlp needs 1 to %d hidden layers, got %d", maxHiddenLayer, len(s.Hidden))
		}
		for i, h := range s.Hidden {
			if h < 1 || h > MaxLayerWidth {
				return specError(fmt.Sprintf("hidden[%d]", i), "width %d is outside [1, %d]", h, MaxLayerWidth)
			}
		}
	case "":
		return specError("family", "required (linear, logistic, softmax or mlp)")
	default:
		return specError("family", "%q is not linear, logistic, softmax or mlp", s.Family)
	}
	if s.multiclass() {
		if len(s.Classes) < 2 {
			return specError("classes", "a %s model needs at least 2 classes, got %d", s.Family, len(s.Classes))
		}
		seen := make(map[string]bool, len(s.Classes))
		for i, c := range s.Classes {
			if c == "" {
				return specError(fmt.Sprintf("classes[%d]", i), "must not be empty")
			}
			if seen[c] {
				return specError(fmt.Sprintf("classes[%d]", i), "%q appears twice", c)
			}
			seen[c] = true
		}
	} else if len(s.Classes) > 0 {
		return specError("classes", "only softmax and mlp multiclass models have classes")
	}
	return nil
}

func (f *Feature) validate(field string) error {
	if f.Column == "" {
		return specError(field+".column", "required")
	}
	switch f.Kind {
	case KindNumeric:
		if math.IsNaN(f.Mean) || math.IsInf(f.Mean, 0) {
			return specError(field+".mean", "must be finite")
		}
		if !(f.Std > 0) || math.IsInf(f.Std, 0) {
			return specError(field+".std", "must be positive and finite, got %v", f.Std)
		}
		if f.Buckets != 0 {
			return specError(field+".buckets", "only categorical features are hashed")
		}
		switch f.Missing {
		case MissingImpute, MissingFail, MissingIndicator:
		default:
			return specError(field+".missing", "%q is not impute, fail or indicator", f.Missing)
		}
	case KindCategorical:
		if f.Buckets < 1 || f.Buckets > MaxBuckets {
			return specError(field+".buckets", "%d is outside [1, %d]", f.Buckets, MaxBuckets)
		}
		if f.Mean != 0 || f.Std != 0 {
			return specError(field+".mean", "only numeric features are standardised")
		}
		switch f.Missing {
		case MissingImpute, MissingFail:
		default:
			return specError(field+".missing", "%q is not impute or fail (categorical)", f.Missing)
		}
	case "":
		return specError(field+".kind", "required (numeric or categorical)")
	default:
		return specError(field+".kind", "%q is not numeric or categorical", f.Kind)
	}
	return nil
}

// plainName reports whether name is one object inside the artifact
// folder: no path separators, not "." or "..".
func plainName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "/\\\x00") && name != "." && name != ".."
}

func (s *Spec) validateWeights() error {
	w := s.Weights
	if !plainName(w.File) || w.File == SpecFile {
		return specError("weights.file", "%q is not a plain object name (like %q)", w.File, WeightsFile)
	}
	if l := s.Lineage; l != nil && l.Profile != "" && (!plainName(l.Profile) || l.Profile == SpecFile || l.Profile == w.File) {
		return specError("lineage.profile", "%q is not a plain object name of its own (like \"profile.json\")", l.Profile)
	}
	want, err := s.weightCount()
	if err != nil {
		return err
	}
	if w.Count != want {
		return specError("weights.count", "%d, but the architecture needs %d", w.Count, want)
	}
	return nil
}

// multiclass reports whether the model predicts one of Classes.
func (s *Spec) multiclass() bool {
	return s.Family == FamilySoftmax || s.Family == FamilyMLP && s.Objective == ObjectiveMulticlass
}

// InputDim is the width of the pipeline output: the number of model inputs
// the feature pipeline produces per row.
func (s *Spec) InputDim() int {
	n := 0
	for _, f := range s.Features {
		n += f.width()
	}
	return n
}

// width is the number of model inputs the feature yields.
func (f *Feature) width() int {
	switch {
	case f.Kind == KindCategorical:
		return f.Buckets
	case f.Missing == MissingIndicator:
		return 2
	}
	return 1
}

// LayerShapes returns the (in, out) of every dense layer, in the order
// their weights are stored.
func (s *Spec) LayerShapes() [][2]int {
	in := s.InputDim()
	out := 1
	if s.multiclass() {
		out = len(s.Classes)
	}
	var shapes [][2]int
	if s.Family == FamilyMLP {
		for _, h := range s.Hidden {
			shapes = append(shapes, [2]int{in, h})
			in = h
		}
	}
	return append(shapes, [2]int{in, out})
}

// weightCount is the number of float32 values the architecture needs.
func (s *Spec) weightCount() (int64, error) {
	var n int64
	for i, sh := range s.LayerShapes() {
		n += int64(sh[0])*int64(sh[1]) + int64(sh[1])
		if n > MaxWeights {
			return 0, specError("weights.count", "layer %d takes the model over %d weights", i, MaxWeights)
		}
	}
	return n, nil
}

// Encode renders the spec as indented JSON with a trailing newline.
func (s *Spec) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding model.json: %w", err)
	}
	return b.Bytes(), nil
}
