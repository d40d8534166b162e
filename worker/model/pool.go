package model

import (
	"math/bits"
	"sync"
)

// poolAllocator is an arrow memory.Allocator that recycles buffers by
// power-of-two size class. Predictors allocate their output columns from
// it; when the caller releases the arrays the buffers come back, so a
// steady scoring loop stops paying for fresh pages (which dominate on
// these VMs, DESIGN.md §14). Buffers are not zeroed: the predictor writes
// every byte it hands out.
type poolAllocator struct {
	classes [maxClass + 1]sync.Pool
}

const (
	minClass = 6  // 64 B: smaller requests round up
	maxClass = 30 // 1 GiB: larger requests are not pooled
)

// outputPool is shared by every Predictor in the process.
var outputPool = &poolAllocator{}

func sizeClass(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// Allocate returns a buffer of len size with unspecified contents.
func (p *poolAllocator) Allocate(size int) []byte {
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
func (p *poolAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free returns b to its size class.
func (p *poolAllocator) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minClass || c > maxClass || cap(b) != 1<<c {
		return // not one of ours; the GC takes it
	}
	b = b[:cap(b)]
	p.classes[c].Put(&b)
}
