package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/kernels"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// The kernels themselves are tested in worker/kernels; these tests run
// the MLP objective on every kernel set this machine can run.

// firstBitDiff returns the first index where x and y differ in their
// bits, or -1 when they are bit-identical.
func firstBitDiff(x, y []float32) int {
	if len(x) != len(y) {
		return 0
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return i
		}
	}
	return -1
}

// TestMLPDefaultKernels checks NewMLP takes the set worker/kernels chose
// for this CPU.
func TestMLPDefaultKernels(t *testing.T) {
	o := NewMLP(3, []int{4}, 1, outBinary, 0)
	if o.ks != kernels.Default() {
		t.Fatalf("NewMLP took the %s kernels, want %s", o.ks.Name(), kernels.Default().Name())
	}
}

// TestMLPKernelSets checks the MLP's gradient with every kernel set
// against finite differences of the float64 reference, and that each is
// deterministic.
func TestMLPKernelSets(t *testing.T) {
	for _, ks := range kernels.Available() {
		for _, c := range gradCases() {
			if c.hidden == nil {
				continue
			}
			t.Run(ks.Name()+"/"+c.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
				obj, err := NewObjective(c.spec, c.l2)
				if err != nil {
					t.Fatal(err)
				}
				o := obj.(*MLP)
				o.setKernels(ks)
				out := max(1, c.classes)
				params, X, y := randomProblem(rng, o, c.rows, c.kind, c.classes)
				grad := make([]float32, o.NumParams())
				loss := o.LossGrad(params, X, y, c.rows, grad)
				grad2 := make([]float32, o.NumParams())
				if loss2 := o.LossGrad(params, X, y, c.rows, grad2); loss2 != loss {
					t.Fatalf("loss %v then %v", loss, loss2)
				}
				if i := firstBitDiff(grad, grad2); i >= 0 {
					t.Fatalf("grad[%d] %v then %v", i, grad[i], grad2[i])
				}
				p := make([]float64, len(params))
				for i, v := range params {
					p[i] = float64(v)
				}
				f := func() float64 { return refLoss(p, X, y, c.rows, o.Dim(), c.hidden, out, c.kind, c.l2) }
				if want := f(); math.Abs(loss-want) > 1e-5*math.Abs(want) {
					t.Fatalf("loss %v, reference %v", loss, want)
				}
				const h = 1e-5
				var num, den float64
				for i := range p {
					v := p[i]
					p[i] = v + h
					fp := f()
					p[i] = v - h
					fm := f()
					p[i] = v
					fd := (fp - fm) / (2 * h)
					d := float64(grad[i]) - fd
					num += d * d
					den += fd * fd
				}
				if rel := math.Sqrt(num / den); rel > 1e-5 {
					t.Fatalf("gradient relative error %.3g", rel)
				}
			})
		}
	}
}

// TestMLPKernelsAVX512MatchAVX2 checks a whole LossGrad gives the same
// bits with the AVX2 and the AVX-512 kernels, so that members on either
// kind of CPU keep identical weights (worker/kernels checks kernel by
// kernel).
func TestMLPKernelsAVX512MatchAVX2(t *testing.T) {
	var avx2, avx512 *kernels.Set
	for _, ks := range kernels.Available() {
		switch ks.Name() {
		case "avx2":
			avx2 = ks
		case "avx512":
			avx512 = ks
		}
	}
	if avx2 == nil || avx512 == nil {
		t.Skip("needs the AVX2 and AVX-512 kernels (GOEXPERIMENT=simd, an AVX-512 CPU)")
	}
	spec := testSpec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, 0, 64, 0)
	obj, _ := NewObjective(spec, 1e-4)
	o := obj.(*MLP)
	params, X, y := randomProblem(rand.New(rand.NewPCG(1, 2)), o, 1000, outBinary, 0)
	g1, g2 := make([]float32, o.NumParams()), make([]float32, o.NumParams())
	o.setKernels(avx2)
	l1 := o.LossGrad(params, X, y, 1000, g1)
	o.setKernels(avx512)
	l2 := o.LossGrad(params, X, y, 1000, g2)
	if l1 != l2 {
		t.Fatalf("loss: avx2 %v, avx512 %v", l1, l2)
	}
	if i := firstBitDiff(g1, g2); i >= 0 {
		t.Fatalf("grad[%d]: avx2 %v, avx512 %v", i, g1[i], g2[i])
	}
}

// BenchmarkMLPKernelSets is BenchmarkMLP64x256x256 for every kernel set.
func BenchmarkMLPKernelSets(b *testing.B) {
	for _, ks := range kernels.Available() {
		b.Run(ks.Name(), func(b *testing.B) {
			spec := testSpec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, 0, 64, 0)
			obj, err := NewObjective(spec, 1e-4)
			if err != nil {
				b.Fatal(err)
			}
			obj.(*MLP).setKernels(ks)
			benchLossGradObj(b, obj, outBinary, mlpFlopsPerRow)
		})
	}
}
