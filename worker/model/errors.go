package model

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidSpec marks a model.json, or a Spec given to New, that fails
	// decoding or validation.
	ErrInvalidSpec = errors.New("invalid model spec")
	// ErrCorruptWeights marks a weights file whose size or checksum does not
	// match model.json, or that holds non-finite values.
	ErrCorruptWeights = errors.New("corrupt model weights")
	// ErrSchema marks an input whose columns cannot feed the model: a
	// pipeline column is missing, ambiguous or of an unusable type.
	ErrSchema = errors.New("input does not fit the model")
)

// RowError is a row the model cannot score: a missing value under
// missing:"fail", or a NaN or infinite input. Row counts from 0 within the
// record given to Predict; Column is the pipeline column to blame, or ""
// when no single input is (the linear predictor overflowed).
type RowError struct {
	Row    int64
	Column string
	Reason string
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, column %q: %s", e.Row, e.Column, e.Reason)
}

// specError is a validation failure naming the offending model.json field.
func specError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, args...))
}
