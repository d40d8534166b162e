package train

import (
	"fmt"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// Objective is a model family's training loss.
type Objective interface {
	// Dim is the number of inputs per row.
	Dim() int
	// NumParams is the number of float32 parameters (the weights count).
	NumParams() int
	// LossGrad returns the sum over rows of loss_i + λ/2·‖W‖² at params
	// and overwrites grad (len NumParams) with its gradient, also summed.
	// X is rows × Dim row-major and y has one target per row. It does not
	// allocate once its scratch has grown to the batch size.
	LossGrad(params []float32, X []float32, y []float32, rows int, grad []float32) (loss float64)
}

// Output kinds of the last layer.
const (
	outRegression = iota // ½(z−y)²
	outBinary            // log loss of sigmoid(z)
	outMulticlass        // cross-entropy of softmax(z)
)

// NewObjective returns the objective of spec's family with L2 strength l2
// (λ ≥ 0): linear, logistic and softmax models get a single-layer
// objective, mlp models a ReLU network. Only the family, objective,
// hidden widths, classes and features of spec are read.
func NewObjective(spec *model.Spec, l2 float64) (Objective, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: nil spec", ErrInvalidSpec)
	}
	if l2 < 0 || l2 != l2 {
		return nil, fmt.Errorf("%w: l2 %v is negative", ErrBadArgument, l2)
	}
	in := spec.InputDim()
	if in <= 0 {
		return nil, fmt.Errorf("%w: no model inputs", ErrInvalidSpec)
	}
	switch spec.Family {
	case model.FamilyLinear:
		return NewGLM(in, 1, outRegression, l2), nil
	case model.FamilyLogistic:
		return NewGLM(in, 1, outBinary, l2), nil
	case model.FamilySoftmax:
		if len(spec.Classes) < 2 {
			return nil, fmt.Errorf("%w: softmax needs at least 2 classes", ErrInvalidSpec)
		}
		return NewGLM(in, len(spec.Classes), outMulticlass, l2), nil
	case model.FamilyMLP:
		kind, out := outRegression, 1
		switch spec.Objective {
		case model.ObjectiveRegression:
		case model.ObjectiveBinary:
			kind = outBinary
		case model.ObjectiveMulticlass:
			kind, out = outMulticlass, len(spec.Classes)
			if out < 2 {
				return nil, fmt.Errorf("%w: multiclass needs at least 2 classes", ErrInvalidSpec)
			}
		default:
			return nil, fmt.Errorf("%w: mlp objective %q", ErrInvalidSpec, spec.Objective)
		}
		if len(spec.Hidden) == 0 {
			return nil, fmt.Errorf("%w: mlp without hidden layers", ErrInvalidSpec)
		}
		for _, h := range spec.Hidden {
			if h < 1 {
				return nil, fmt.Errorf("%w: hidden width %d", ErrInvalidSpec, h)
			}
		}
		return NewMLP(in, spec.Hidden, out, kind, l2), nil
	}
	return nil, fmt.Errorf("%w: family %q", ErrInvalidSpec, spec.Family)
}

// checkArgs panics when the argument lengths of LossGrad disagree: a
// broken invariant of the caller.
func checkArgs(o Objective, params, X, y []float32, rows int, grad []float32) {
	if rows < 0 || len(X) < rows*o.Dim() || len(y) < rows || len(params) != o.NumParams() || len(grad) != o.NumParams() {
		panic(fmt.Sprintf("train: LossGrad: rows %d, len(X) %d (dim %d), len(y) %d, len(params) %d, len(grad) %d, want %d params",
			rows, len(X), o.Dim(), len(y), len(params), len(grad), o.NumParams()))
	}
}

// classIndex returns y as a class index in [0, k) or panics.
func classIndex(y float32, k int) int {
	c := int(y)
	if float32(c) != y || c < 0 || c >= k {
		panic(fmt.Sprintf("train: target %v is not a class index in [0, %d)", y, k))
	}
	return c
}

// l2Term adds rows·λ·W to grad[:nw] and returns rows·λ/2·‖W‖².
func l2Term(w []float32, grad []float32, l2 float64, rows int) float64 {
	if l2 == 0 || rows == 0 {
		return 0
	}
	s := l2 * float64(rows)
	var sq float64
	grad = grad[:len(w)]
	for i, v := range w {
		f := float64(v)
		sq += f * f
		grad[i] = float32(float64(grad[i]) + s*f)
	}
	return 0.5 * s * sq
}
