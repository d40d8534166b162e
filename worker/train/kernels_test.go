package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// Every kernel set that can run here (the scalar one, plus the vectorized
// ones under GOEXPERIMENT=simd on a CPU that has them: see
// kernels_simd_amd64_test.go) must agree with the scalar reference within
// float32 rounding, for sizes that exercise every tail path, and be
// deterministic.

// testKernelSets lists the kernel sets this machine can run.
var testKernelSets = []*kernelSet{&scalarKernels}

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
func packFor(ks *kernelSet, w []float32, in, out int) (wp, wtp []float32) {
	if ks.nr == 0 {
		return w, w
	}
	wp = make([]float32, packedLen(in, out, ks.nr))
	packPanels(wp, w, in, out, out, ks.nr)
	wtp = make([]float32, packedLen(out, in, ks.nr))
	packPanelsT(wtp, w, out, in, out, ks.nr)
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
func (c *kernelCase) run(ks *kernelSet) (fwd, relu, g, gb, prev []float32) {
	n, in, out := c.n, c.in, c.out
	wp, wtp := packFor(ks, c.w, in, out)
	s := make([]float32, ks.scratchLen(n, in, out))
	fwd, relu = make([]float32, n*out), make([]float32, n*out)
	ks.forward(fwd, c.a, wp, c.b, s, n, in, out, false)
	ks.forward(relu, c.a, wp, c.b, s, n, in, out, true)
	g, gb = append([]float32(nil), c.g0...), append([]float32(nil), c.gb0...)
	ks.weightGrad(g, gb, c.a, c.d, s, n, in, out)
	prev = make([]float32, n*in)
	for i := range prev {
		prev[i] = float32(i) // overwritten
	}
	ks.inputGrad(prev, c.d, wtp, c.a, s, n, in, out)
	return fwd, relu, g, gb, prev
}

func TestKernelsMatchScalar(t *testing.T) {
	for _, ks := range testKernelSets {
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
						reluInPlace(want)
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
	for _, ks := range testKernelSets {
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
	for _, ks := range testKernelSets {
		const n, in, out = 5, 3, 19
		a := make([]float32, n*in)
		w := make([]float32, in*out)
		b := make([]float32, out)
		for j := range b {
			b[j] = float32(j%3) - 1 // -1, 0, 1
		}
		b[4] = nan
		wp, _ := packFor(ks, w, in, out)
		s := make([]float32, ks.scratchLen(n, in, out))
		c := make([]float32, n*out)
		ks.forward(c, a, wp, b, s, n, in, out, true)
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
		ks.inputGrad(prev, d, wtp, a, s, n, in, out)
		if prev[1] != 0 || prev[2] != 0 || prev[0] != 0 {
			t.Fatalf("%s: inputGrad through inactive units = %v", ks.name, prev[:3])
		}
	}
}

// TestMLPKernelSets checks the MLP's gradient with every kernel set
// against finite differences of the float64 reference, and that each is
// deterministic.
func TestMLPKernelSets(t *testing.T) {
	for _, ks := range testKernelSets {
		for _, c := range gradCases() {
			if c.hidden == nil {
				continue
			}
			t.Run(ks.name+"/"+c.name, func(t *testing.T) {
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
				if i, ok := sameBits(grad, grad2); !ok {
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

// BenchmarkKernels times each kernel set's three products on the MLP's
// 256→256 layer over one block of rows.
func BenchmarkKernels(b *testing.B) {
	const n, in, out = mlpBlock, 256, 256
	rng := rand.New(rand.NewPCG(7, 8))
	a, w, bias, d := kernelData(rng, n*in), kernelData(rng, in*out), kernelData(rng, out), kernelData(rng, n*out)
	c, g, gb, p := make([]float32, n*out), make([]float32, in*out), make([]float32, out), make([]float32, n*in)
	for _, ks := range testKernelSets {
		wp, wtp := packFor(ks, w, in, out)
		s := make([]float32, ks.scratchLen(n, in, out))
		for _, k := range []struct {
			name string
			f    func()
		}{
			{"forward", func() { ks.forward(c, a, wp, bias, s, n, in, out, true) }},
			{"weightGrad", func() { ks.weightGrad(g, gb, a, d, s, n, in, out) }},
			{"inputGrad", func() { ks.inputGrad(p, d, wtp, a, s, n, in, out) }},
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

// BenchmarkMLPKernelSets is BenchmarkMLP64x256x256 for every kernel set.
func BenchmarkMLPKernelSets(b *testing.B) {
	for _, ks := range testKernelSets {
		b.Run(ks.name, func(b *testing.B) {
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
