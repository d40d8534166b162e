// Package kernels holds the dense float32 kernels that training
// (worker/train) and scoring (worker/model) share, with the choice of
// implementation for the CPU at hand. It is the one home of those hot
// loops: neither side keeps a copy of its own, so an MLP scores with the
// very products it was trained with.
//
// # What it owns
//
//   - The three products of a dense layer, row-major throughout, as a Set:
//     Forward c = a·W + b (then ReLU), WeightGrad gW += aᵀ·d and gb +=
//     column sums of d, InputGrad prev = (d·Wᵀ) ⊙ [a > 0]. Training runs
//     all three; scoring runs Forward.
//   - Packing of W and Wᵀ into the panels the vectorized sets read
//     (Set.PackW, Set.PackWT; PackedLen, PackPanels, PackPanelsT).
//   - Dot, the fixed-order float32 dot product, and ReLU.
//
// It imports nothing of the module (docs/architecture.md §2): it sits
// below worker/train and worker/model, which both import it.
//
// # Implementations and dispatch
//
// The portable Set ("scalar") is plain Go and runs everywhere. Built with
// GOEXPERIMENT=simd on amd64 (make build, the benchmark scripts), the
// package also has AVX2+FMA ("avx2": 4×16 register tiles) and AVX-512
// ("avx512": 4×32 tiles, and 12×32 tiles in assembly where a whole one
// fits) sets written with simd/archsimd, and Default
// returns the widest one the CPU and the OS support, chosen once at init.
// NIGHTSHIFT_KERNELS=avx2 holds an AVX-512 machine to the AVX2 set,
// NIGHTSHIFT_KERNELS=scalar to the portable one. Available lists every set
// that can run here (tests and benchmarks compare them).
//
// # Determinism
//
// Every kernel is deterministic: the same inputs give the same bits, run
// to run, because each output element is accumulated in an order fixed
// by the shapes alone (never by timing, threads or alignment).
//
//   - avx2 and avx512 give bit-identical results: each output element is
//     one fused multiply-add chain over the reduction index in increasing
//     order, started from its initial value (bias, previous gradient, or
//     zero), whatever the tile or vector width. A data-parallel group
//     mixing AVX2-only and AVX-512 machines keeps identical weights.
//   - scalar differs from them in the last bits (separate multiply and
//     add; it also skips inputs that are zero in four rows at once, where
//     the vectorized sets multiply them: a zero times an infinite weight is
//     NaN there and skipped here).
//
// Scoring therefore gives, on a machine with AVX2 or AVX-512 and a
// GOEXPERIMENT=simd build, MLP and softmax outputs that differ from the
// portable kernels' in the last bits of the float32 activations (relative
// differences of the order of 1e-7 per layer); see worker/model's tests for
// the tolerances that bound them.
//
// # Concurrency
//
// Sets are immutable values and every kernel works only on the slices it
// is given (results, inputs and caller-owned scratch), so kernels may run
// on many goroutines at once on distinct outputs.
package kernels
