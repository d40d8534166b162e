package train

import (
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// benchLossGrad times LossGrad over 1024 rows; flopsPerRow, when nonzero,
// adds a GFLOP/s metric.
func benchLossGrad(b *testing.B, spec *model.Spec, kind int, flopsPerRow float64) {
	o, err := NewObjective(spec, 1e-4)
	if err != nil {
		b.Fatal(err)
	}
	benchLossGradObj(b, o, kind, flopsPerRow)
}

// benchLossGradObj is benchLossGrad for a given objective.
func benchLossGradObj(b *testing.B, o Objective, kind int, flopsPerRow float64) {
	const rows = 1024
	params, X, y := randomProblem(rand.New(rand.NewPCG(1, 2)), o, rows, kind, 0)
	grad := make([]float32, o.NumParams())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		o.LossGrad(params, X, y, rows, grad)
	}
	rowsPerSec := float64(rows) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rowsPerSec, "rows/s")
	if flopsPerRow > 0 {
		b.ReportMetric(rowsPerSec*flopsPerRow/1e9, "GFLOP/s")
	}
}

// BenchmarkLogistic64 is the logistic benchmark shape: 64 inputs,
// batch 1024.
func BenchmarkLogistic64(b *testing.B) {
	benchLossGrad(b, testSpec(model.FamilyLogistic, "", nil, 0, 64, 0), outBinary, 0)
}

// mlpFlopsPerRow counts the three products per row of the MLP
// 64→256→256→1, at two flops per multiply-add: forward and weight
// gradient over all layers, and the back-propagated gradient into the two
// hidden layers.
const mlpFlopsPerRow = 2 * (2*(64*256+256*256+256*1) + (256*256 + 256*1))

// BenchmarkMLP64x256x256 is the MLP shape 64→256→256→1, batch 1024,
// with the kernels NewObjective picks on this machine.
func BenchmarkMLP64x256x256(b *testing.B) {
	benchLossGrad(b, testSpec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, 0, 64, 0), outBinary, mlpFlopsPerRow)
}
