package model

import (
	"fmt"
	"slices"

	"github.com/nightshift-ml/nightshift/shard/sample"
)

// truthCategoricals are the sample generator's categorical columns.
var truthCategoricals = []string{"region", "device", "plan"}

// FromTruth returns the logistic model the sample generator draws labels
// from: every numeric feature standardised with the truth's mean and std
// (a missing value imputed at the mean, as the generator leaves a null
// income out of the log-odds), each categorical hashed into the fewest
// buckets where its levels do not collide, with the level effects at their
// buckets, and the truth's bias. Scoring generated rows with it gives the
// probabilities the labels were drawn with.
func FromTruth(t *sample.Truth) (*Model, error) {
	spec := Spec{FormatVersion: FormatVersion, Family: FamilyLogistic, Label: "label"}
	var w []float32
	for _, name := range t.Features {
		weight, wok := t.Weights[name]
		mean, mok := t.Means[name]
		std, sok := t.Stds[name]
		if !wok || !mok || !sok {
			return nil, fmt.Errorf("truth: feature %q lacks a weight, mean or std", name)
		}
		spec.Features = append(spec.Features, Feature{Column: name, Kind: KindNumeric, Mean: mean, Std: std, Missing: MissingImpute})
		w = append(w, float32(weight))
	}
	effects := map[string]map[string]float64{"region": t.Region, "device": t.Device, "plan": t.Plan}
	for _, col := range truthCategoricals {
		levels := make([]string, 0, len(effects[col]))
		for lv := range effects[col] {
			levels = append(levels, lv)
		}
		slices.Sort(levels)
		n, err := collisionFreeBuckets(levels)
		if err != nil {
			return nil, fmt.Errorf("truth: column %q: %w", col, err)
		}
		spec.Features = append(spec.Features, Feature{Column: col, Kind: KindCategorical, Buckets: n, Missing: MissingImpute})
		ws := make([]float32, n)
		for _, lv := range levels {
			ws[Hash(lv)%uint32(n)] = float32(effects[col][lv])
		}
		w = append(w, ws...)
	}
	w = append(w, float32(t.Bias))
	return New(spec, w)
}

// collisionFreeBuckets returns the smallest bucket count at least
// len(levels) under which no two levels share a bucket.
func collisionFreeBuckets(levels []string) (int, error) {
	for n := max(1, len(levels)); n <= 1<<16; n++ {
		seen := make(map[uint32]bool, len(levels))
		ok := true
		for _, lv := range levels {
			b := Hash(lv) % uint32(n)
			if seen[b] {
				ok = false
				break
			}
			seen[b] = true
		}
		if ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no bucket count up to 65536 separates its %d levels", len(levels))
}
