package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpNonPos(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := []float64{0, math.Copysign(0, -1), -1e-300, -0.5 * math.Ln2, -math.Ln2, -1, -10, -700, -707.9, -708, -708.1, -745, -1e9, math.Inf(-1)}
	for range 200000 {
		xs = append(xs, -r.Float64()*710, -r.Float64()*2, -r.ExpFloat64())
	}
	for _, x := range xs {
		got, want := expNonPos(x), math.Exp(x)
		if x < -708 {
			if got != 0 {
				t.Fatalf("expNonPos(%v) = %v, want 0", x, got)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > 1e-15 {
			t.Fatalf("expNonPos(%v) = %v, math.Exp %v: relative error %.2e", x, got, want, rel)
		}
	}
	if expNonPos(math.NaN()) == expNonPos(math.NaN()) {
		t.Fatal("expNonPos(NaN) is not NaN")
	}
}

func TestSigmoid(t *testing.T) {
	for _, z := range []float64{0, 1e-20, -1e-20, 0.5, -0.5, 3, -3, 36, -36, 40, -40, 700, -700, 710, -710, 1e308, -1e308, math.Inf(1), math.Inf(-1)} {
		var want float64
		if z >= 0 {
			want = 1 / (1 + math.Exp(-z))
		} else {
			want = math.Exp(z) / (1 + math.Exp(z))
		}
		got := sigmoid(z)
		if math.Abs(got-want) > 1e-15*want && !(want < 1e-300 && got == 0) {
			t.Errorf("sigmoid(%v) = %v, want %v", z, got, want)
		}
	}
}

func TestSigmoidBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 11 {
		z := make([]float64, n)
		for i := range z {
			z[i] = r.NormFloat64() * 40
		}
		if n > 3 {
			z[0], z[1], z[2] = 1e6, -1e6, 0
		}
		got := append([]float64(nil), z...)
		sigmoidBlock(got)
		for i := range z {
			if want := sigmoid(z[i]); got[i] != want {
				t.Fatalf("sigmoidBlock: z=%v gives %v, sigmoid %v", z[i], got[i], want)
			}
		}
	}
}

// BenchmarkSigmoid measures the link of logistic models.
func BenchmarkSigmoid(b *testing.B) {
	z := make([]float64, 4096)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range z {
		z[i] = r.NormFloat64() * 3
	}
	out := make([]float64, len(z))
	for b.Loop() {
		copy(out, z)
		sigmoidBlock(out)
	}
	b.ReportMetric(float64(len(z))*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}
