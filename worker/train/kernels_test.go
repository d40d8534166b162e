package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The kernels in use (vectorized ones under GOEXPERIMENT=simd on an AVX2
// CPU, the scalar ones otherwise) must agree with the scalar reference
// within float32 rounding, for sizes that exercise every tail path.

var kernelSizes = []int{1, 3, 4, 7, 8, 9, 15, 16, 17, 33, 257}

// kernelData returns a random n-vector, about a third of it exactly zero
// and a third negative, like ReLU activations and their gradients.
func kernelData(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(3) {
		case 0:
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// checkClose compares got with want element-wise; scale[i] bounds the
// magnitude of the terms summed into element i.
func checkClose(t *testing.T, what string, got, want, scale []float32) {
	t.Helper()
	for i := range want {
		tol := 1e-5 * float64(scale[i])
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%s[%d] = %v, scalar %v (|diff| %g > %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func abs32(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

func TestKernelsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range kernelSizes {
		for _, in := range kernelSizes {
			for _, out := range kernelSizes {
				if n*in*out > 1<<21 {
					continue
				}
				a := kernelData(rng, n*in)
				w := kernelData(rng, in*out)
				b := kernelData(rng, out)
				d := kernelData(rng, n*out)

				// Forward: c = a·w + b.
				got, want := make([]float32, n*out), make([]float32, n*out)
				scale := make([]float32, n*out)
				matmulBias(got, a, w, b, n, in, out)
				matmulBiasScalar(want, a, w, b, n, in, out)
				matmulBiasScalar(scale, abs32(a), abs32(w), abs32(b), n, in, out)
				checkClose(t, "matmulBias", got, want, scale)

				// Weight gradient: g += aᵀ·d, onto a nonzero g.
				g0 := kernelData(rng, in*out)
				got, want = append([]float32(nil), g0...), append([]float32(nil), g0...)
				scale = abs32(g0)
				addATB(got, a, d, n, in, out)
				addATBScalar(want, a, d, n, in, out)
				addATBScalar(scale, abs32(a), abs32(d), n, in, out)
				checkClose(t, "addATB", got, want, scale)

				// Bias gradient.
				got, want = append([]float32(nil), b...), append([]float32(nil), b...)
				scale = abs32(b)
				colSum(got, d, n, out)
				colSumScalar(want, d, n, out)
				colSumScalar(scale, abs32(d), n, out)
				checkClose(t, "colSum", got, want, scale)

				// Back through the ReLU: prev = (d·wᵀ) ⊙ [a > 0].
				got, want = kernelData(rng, n*in), make([]float32, n*in)
				scale = make([]float32, n*in)
				ones := make([]float32, n*in)
				for i := range ones {
					ones[i] = 1
				}
				backReLU(got, d, w, a, n, in, out)
				backReLUScalar(want, d, w, a, n, in, out)
				backReLUScalar(scale, abs32(d), abs32(w), ones, n, in, out)
				checkClose(t, "backReLU", got, want, scale)
				for i, x := range a {
					if !(x > 0) && got[i] != 0 {
						t.Fatalf("backReLU[%d] = %v where a = %v", i, got[i], x)
					}
				}
			}
		}
	}
}

// TestKernelsDeterministic runs each kernel twice on the same inputs and
// requires identical bits.
func TestKernelsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, in, out = 37, 65, 257
	a, w, b, d := kernelData(rng, n*in), kernelData(rng, in*out), kernelData(rng, out), kernelData(rng, n*out)
	run := func() []float32 {
		c := make([]float32, n*out)
		matmulBias(c, a, w, b, n, in, out)
		g := make([]float32, in*out+out)
		addATB(g, a, d, n, in, out)
		colSum(g[in*out:], d, n, out)
		p := make([]float32, n*in)
		backReLU(p, d, w, a, n, in, out)
		return append(append(c, g...), p...)
	}
	x, y := run(), run()
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			t.Fatalf("element %d: %v then %v", i, x[i], y[i])
		}
	}
}

// BenchmarkKernels times each kernel in use and its scalar reference on
// the MLP's 256→256 layer over one 128-row block.
func BenchmarkKernels(b *testing.B) {
	const n, in, out = mlpBlock, 256, 256
	rng := rand.New(rand.NewPCG(7, 8))
	a, w, bias, d := kernelData(rng, n*in), kernelData(rng, in*out), kernelData(rng, out), kernelData(rng, n*out)
	c, g, p := make([]float32, n*out), make([]float32, in*out), make([]float32, n*in)
	for _, k := range []struct {
		name string
		f    func()
	}{
		{"matmulBias", func() { matmulBias(c, a, w, bias, n, in, out) }},
		{"matmulBiasScalar", func() { matmulBiasScalar(c, a, w, bias, n, in, out) }},
		{"addATB", func() { addATB(g, a, d, n, in, out) }},
		{"addATBScalar", func() { addATBScalar(g, a, d, n, in, out) }},
		{"backReLU", func() { backReLU(p, d, w, a, n, in, out) }},
		{"backReLUScalar", func() { backReLUScalar(p, d, w, a, n, in, out) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				k.f()
			}
			b.ReportMetric(2*n*in*out*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
