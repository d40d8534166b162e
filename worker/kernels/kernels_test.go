package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every kernel set that can run here (the scalar one, plus the vectorized
// ones under GOEXPERIMENT=simd on a CPU that has them: see
// simd_amd64_test.go) must agree with the scalar reference within
// float32 rounding, for sizes that exercise every tail path, and be
// deterministic.

var kernelSizes = []int{1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 65, 257}

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

// packFor returns w (in×out) and wᵀ as ks takes them.
func packFor(ks *Set, w []float32, in, out int) (wp, wtp []float32) {
	wp = ks.PackW(make([]float32, ks.PackedLen(in, out)), w, in, out)
	wtp = ks.PackWT(make([]float32, ks.PackedLen(in, out)), w, in, out)
	return wp, wtp
}

// kernelCase holds one shape's inputs and runs a kernel set on them.
type kernelCase struct {
	n, in, out    int
	a, w, b, d    []float32
	g0, gb0, ones []float32
}

func newKernelCase(rng *rand.Rand, n, in, out int) *kernelCase {
	c := &kernelCase{n: n, in: in, out: out,
		a: kernelData(rng, n*in), w: kernelData(rng, in*out), b: kernelData(rng, out), d: kernelData(rng, n*out),
		g0: kernelData(rng, in*out), gb0: kernelData(rng, out), ones: make([]float32, n*in)}
	for i := range c.ones {
		c.ones[i] = 1
	}
	return c
}

// run returns ks's forward (without and with ReLU), weight and bias
// gradients (onto g0, gb0) and input gradient.
func (c *kernelCase) run(ks *Set) (fwd, relu, g, gb, prev []float32) {
	n, in, out := c.n, c.in, c.out
	wp, wtp := packFor(ks, c.w, in, out)
	s := make([]float32, ks.ScratchLen(n, in, out))
	fwd, relu = make([]float32, n*out), make([]float32, n*out)
	ks.Forward(fwd, c.a, wp, c.b, s, n, in, out, false)
	ks.Forward(relu, c.a, wp, c.b, s, n, in, out, true)
	g, gb = append([]float32(nil), c.g0...), append([]float32(nil), c.gb0...)
	ks.WeightGrad(g, gb, c.a, c.d, s, n, in, out)
	prev = make([]float32, n*in)
	for i := range prev {
		prev[i] = float32(i) // overwritten
	}
	ks.InputGrad(prev, c.d, wtp, c.a, s, n, in, out)
	return fwd, relu, g, gb, prev
}

func TestKernelsMatchScalar(t *testing.T) {
	for _, ks := range Available() {
		t.Run(ks.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for _, n := range kernelSizes {
				for _, in := range kernelSizes {
					for _, out := range kernelSizes {
						if n*in*out > 1<<20 {
							continue
						}
						c := newKernelCase(rng, n, in, out)
						fwd, relu, g, gb, prev := c.run(ks)

						want := make([]float32, n*out)
						scale := make([]float32, n*out)
						matmulBiasScalar(want, c.a, c.w, c.b, n, in, out)
						matmulBiasScalar(scale, abs32(c.a), abs32(c.w), abs32(c.b), n, in, out)
						checkClose(t, "forward", fwd, want, scale)
						reluScalar(want)
						checkClose(t, "forward+relu", relu, want, scale)
						for i, v := range relu {
							if v < 0 {
								t.Fatalf("forward+relu[%d] = %v", i, v)
							}
						}

						want, scale = append([]float32(nil), c.g0...), abs32(c.g0)
						addATBScalar(want, c.a, c.d, n, in, out)
						addATBScalar(scale, abs32(c.a), abs32(c.d), n, in, out)
						checkClose(t, "weightGrad", g, want, scale)
						want, scale = append([]float32(nil), c.gb0...), abs32(c.gb0)
						colSumScalar(want, c.d, n, out)
						colSumScalar(scale, abs32(c.d), n, out)
						checkClose(t, "biasGrad", gb, want, scale)

						want, scale = make([]float32, n*in), make([]float32, n*in)
						backReLUScalar(want, c.d, c.w, c.a, n, in, out)
						backReLUScalar(scale, abs32(c.d), abs32(c.w), c.ones, n, in, out)
						checkClose(t, "inputGrad", prev, want, scale)
						for i, x := range c.a {
							if !(x > 0) && prev[i] != 0 {
								t.Fatalf("inputGrad[%d] = %v where a = %v", i, prev[i], x)
							}
						}
					}
				}
			}
		})
	}
}

// TestKernelsDeterministic runs each kernel set twice on the same inputs
// and requires identical bits.
func TestKernelsDeterministic(t *testing.T) {
	for _, ks := range Available() {
		rng := rand.New(rand.NewPCG(5, 6))
		c := newKernelCase(rng, 37, 65, 257)
		run := func() []float32 {
			fwd, relu, g, gb, prev := c.run(ks)
			return append(append(append(append(fwd, relu...), g...), gb...), prev...)
		}
		if i, ok := sameBits(run(), run()); !ok {
			t.Fatalf("%s: element %d differs between runs", ks.name, i)
		}
	}
}

// TestRowsIndependentOfBatching requires that a row's forward output and
// input gradient be the same bits whether the row goes through with all
// the others or in a part split off at any row: training sums the
// gradients of different batchings of the same rows (an all-reduce over
// members, a window of a streamed epoch) and the loss of a batch must be
// the sum of its parts' losses, not merely close to it.
func TestRowsIndependentOfBatching(t *testing.T) {
	for _, ks := range Available() {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, sh := range [][2]int{{3, 6}, {6, 5}, {5, 4}, {7, 3}, {16, 1}, {9, 33}, {64, 256}} {
			in, out := sh[0], sh[1]
			c := newKernelCase(rng, 45, in, out)
			wp, wtp := packFor(ks, c.w, in, out)
			s := make([]float32, ks.ScratchLen(c.n, in, out))
			fwd, prev := make([]float32, c.n*out), make([]float32, c.n*in)
			ks.Forward(fwd, c.a, wp, c.b, s, c.n, in, out, true)
			ks.InputGrad(prev, c.d, wtp, c.a, s, c.n, in, out)
			for _, h := range []int{1, 3, 15, 22} {
				f, p := make([]float32, c.n*out), make([]float32, c.n*in)
				ks.Forward(f, c.a, wp, c.b, s, h, in, out, true)
				ks.Forward(f[h*out:], c.a[h*in:], wp, c.b, s, c.n-h, in, out, true)
				ks.InputGrad(p, c.d, wtp, c.a, s, h, in, out)
				ks.InputGrad(p[h*in:], c.d[h*out:], wtp, c.a[h*in:], s, c.n-h, in, out)
				if i, ok := sameBits(f, fwd); !ok {
					t.Fatalf("%s %d→%d split at %d: forward of row %d differs", ks.name, in, out, h, i/out)
				}
				if i, ok := sameBits(p, prev); !ok {
					t.Fatalf("%s %d→%d split at %d: input gradient of row %d differs", ks.name, in, out, h, i/in)
				}
			}
		}
	}
}

// sameBits reports whether x and y are bit-identical, and where not.
func sameBits(x, y []float32) (int, bool) {
	if len(x) != len(y) {
		return -1, false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return i, false
		}
	}
	return 0, true
}

// TestKernelsReLUNaN checks the forward ReLU keeps NaN (as the scalar
// kernels do) and zeroes negatives, and that the ReLU mask of the input
// gradient treats NaN activations as inactive.
func TestKernelsReLUNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, ks := range Available() {
		const n, in, out = 5, 3, 19
		a := make([]float32, n*in)
		w := make([]float32, in*out)
		b := make([]float32, out)
		for j := range b {
			b[j] = float32(j%3) - 1 // -1, 0, 1
		}
		b[4] = nan
		wp, _ := packFor(ks, w, in, out)
		s := make([]float32, ks.ScratchLen(n, in, out))
		c := make([]float32, n*out)
		ks.Forward(c, a, wp, b, s, n, in, out, true)
		for i := range n {
			for j := range out {
				v := c[i*out+j]
				if j == 4 {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("%s: relu(NaN) = %v", ks.name, v)
					}
				} else if want := max(b[j], 0); v != want {
					t.Fatalf("%s: relu(%v) = %v", ks.name, b[j], v)
				}
			}
		}
		for i := range w {
			w[i] = 1
		}
		_, wtp := packFor(ks, w, in, out)
		d := make([]float32, n*out)
		for i := range d {
			d[i] = 1
		}
		a[1], a[2] = nan, -1
		prev := make([]float32, n*in)
		ks.InputGrad(prev, d, wtp, a, s, n, in, out)
		if prev[1] != 0 || prev[2] != 0 || prev[0] != 0 {
			t.Fatalf("%s: inputGrad through inactive units = %v", ks.name, prev[:3])
		}
	}
}

// BenchmarkKernels times each kernel set's three products on the MLP's
// 256→256 layer over one block of rows.
func BenchmarkKernels(b *testing.B) {
	const n, in, out = 128, 256, 256 // the MLP's training block
	rng := rand.New(rand.NewPCG(7, 8))
	a, w, bias, d := kernelData(rng, n*in), kernelData(rng, in*out), kernelData(rng, out), kernelData(rng, n*out)
	c, g, gb, p := make([]float32, n*out), make([]float32, in*out), make([]float32, out), make([]float32, n*in)
	for _, ks := range Available() {
		wp, wtp := packFor(ks, w, in, out)
		s := make([]float32, ks.ScratchLen(n, in, out))
		for _, k := range []struct {
			name string
			f    func()
		}{
			{"forward", func() { ks.Forward(c, a, wp, bias, s, n, in, out, true) }},
			{"weightGrad", func() { ks.WeightGrad(g, gb, a, d, s, n, in, out) }},
			{"inputGrad", func() { ks.InputGrad(p, d, wtp, a, s, n, in, out) }},
		} {
			b.Run(ks.name+"/"+k.name, func(b *testing.B) {
				for b.Loop() {
					k.f()
				}
				b.ReportMetric(2*n*in*out*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestReLU checks every set's ReLU against the definition, with NaN kept,
// -0 and every tail length.
func TestReLU(t *testing.T) {
	nan := float32(math.NaN())
	rng := rand.New(rand.NewPCG(17, 18))
	for _, ks := range Available() {
		for n := range 40 {
			x := kernelData(rng, n)
			if n > 5 {
				x[1], x[3] = nan, float32(math.Copysign(0, -1))
			}
			got := append([]float32(nil), x...)
			ks.ReLU(got)
			for i, v := range x {
				want := v
				if v < 0 {
					want = 0
				}
				if math.Float32bits(got[i]) != math.Float32bits(want) && !(v != v && got[i] != got[i]) {
					t.Fatalf("%s: relu(%v) = %v, want %v", ks.name, v, got[i], want)
				}
			}
		}
	}
}

// TestDot checks Dot against a float64 sum and its fixed order.
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for n := range 70 {
		a, b := kernelData(rng, n), kernelData(rng, n+3)
		var want, scale float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			scale += math.Abs(float64(a[i]) * float64(b[i]))
		}
		got := Dot(a, b)
		if d := math.Abs(float64(got) - want); d > 1e-6*scale {
			t.Fatalf("n %d: Dot %v, float64 %v", n, got, want)
		}
		if Dot(a, b) != got {
			t.Fatalf("n %d: Dot not deterministic", n)
		}
	}
}
