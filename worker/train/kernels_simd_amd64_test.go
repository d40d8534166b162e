//go:build goexperiment.simd && amd64

package train

import (
	"reflect"
	"simd/archsimd"
	"testing"
)

// TestKernelsDispatch checks that an AVX2+FMA CPU gets the vectorized
// kernels, so that TestKernelsMatchScalar exercises them.
func TestKernelsDispatch(t *testing.T) {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		t.Skip("no AVX2+FMA: scalar kernels in use")
	}
	same := func(f, g any) bool { return reflect.ValueOf(f).Pointer() == reflect.ValueOf(g).Pointer() }
	if !same(matmulBias, matmulBiasAVX2) || !same(addATB, addATBAVX2) || !same(colSum, colSumAVX2) || !same(backReLU, backReLUAVX2) {
		t.Fatal("AVX2 kernels not installed")
	}
}
