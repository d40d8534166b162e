package train

import (
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

func benchLossGrad(b *testing.B, spec *model.Spec, kind int) {
	o, err := NewObjective(spec, 1e-4)
	if err != nil {
		b.Fatal(err)
	}
	const rows = 1024
	params, X, y := randomProblem(rand.New(rand.NewPCG(1, 2)), o, rows, kind, 0)
	grad := make([]float32, o.NumParams())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		o.LossGrad(params, X, y, rows, grad)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLogistic64 is the logistic benchmark shape: 64 inputs,
// batch 1024.
func BenchmarkLogistic64(b *testing.B) {
	benchLossGrad(b, testSpec(model.FamilyLogistic, "", nil, 0, 64, 0), outBinary)
}

// BenchmarkMLP64x256x256 is the MLP shape 64→256→256→1, batch 1024.
func BenchmarkMLP64x256x256(b *testing.B) {
	benchLossGrad(b, testSpec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, 0, 64, 0), outBinary)
}
