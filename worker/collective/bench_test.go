package collective

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAllReduce measures ring all-reduce between 2 members on
// loopback (each member a gRPC server in this process) and reports the
// bus bandwidth, 2·(n−1)/n · bytes / time, the figure NCCL and gloo quote.
func BenchmarkAllReduce(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("n2/%s", human(size)), func(b *testing.B) {
			const n = 2
			r := newRing(b, n)
			groups := r.join(b, "bench", 1, 0)
			vecs := make([][]float32, n)
			for i := range vecs {
				vecs[i] = make([]float32, size/4)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				each(b, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(n-1)/n*float64(size)/sec/1e9, "busbw-GB/s")
		})
	}
}

func human(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	default:
		return fmt.Sprintf("%dKiB", n>>10)
	}
}
