package shard

import (
	"math/bits"
	"sync"
)

// BufferPool is an arrow memory.Allocator that recycles buffers by
// power-of-two size class. Scans allocate a body and a few column buffers
// per batch and free them at the next batch (and predictors their output
// columns); reusing them skips the zeroing and page faults that fresh
// allocations cost (they dominate decode time on these VMs, see
// BENCHMARKS.md). Buffers handed out are not zeroed: only code that
// overwrites every byte (message bodies, decompression output, predictions) may use it.
// It is safe for concurrent use.
type BufferPool struct {
	classes [maxClass + 1]sync.Pool
}

const (
	minClass = 6  // 64 B: smaller requests round up
	maxClass = 30 // 1 GiB: larger requests are not pooled
)

// scanPool is shared by all scans in the process.
var scanPool = NewBufferPool()

// NewBufferPool returns an empty pool.
func NewBufferPool() *BufferPool { return &BufferPool{} }

func sizeClass(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// Allocate returns a buffer of len size with unspecified contents.
func (p *BufferPool) Allocate(size int) []byte {
	c := sizeClass(size)
	if c > maxClass {
		return make([]byte, size)
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size, 1<<c)
}

// Reallocate grows b to size, keeping its contents.
func (p *BufferPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free returns b to its size class.
func (p *BufferPool) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minClass || c > maxClass || cap(b) != 1<<c {
		return // not one of ours; the GC takes it
	}
	b = b[:cap(b)]
	p.classes[c].Put(&b)
}
