package collective

import (
	"math/bits"
	"sync"
)

// recvPool is the buffer pool of the pull streams' client transports: grpc
// reads every received HTTP/2 frame into one of its buffers, and the
// reduction reads the frames from them in place (rxChunk). Unlike grpc's
// default pool it does not clear a buffer before handing it out again: the
// transport overwrites the length it asks for at once, and clearing 16 KiB
// per frame cost about 5% of an all-reduce's CPU. Buffers only ever hold
// collective chunks, and are never read past the length asked for.
type recvPool struct{}

// recvClasses holds free buffers by capacity, powers of two up to 16 MiB
// (a frame is at most 16 KiB; larger requests are rare and allocated).
var recvClasses [25]sync.Pool

func (recvPool) Get(n int) *[]byte {
	c := bits.Len(uint(max(n, 1) - 1)) // smallest class holding n
	if c >= len(recvClasses) {
		b := make([]byte, n)
		return &b
	}
	if p, ok := recvClasses[c].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, 1<<c)
	return &b
}

func (recvPool) Put(p *[]byte) {
	c := bits.Len(uint(cap(*p))) - 1
	if c < 0 || c >= len(recvClasses) || cap(*p) != 1<<c {
		return
	}
	recvClasses[c].Put(p)
}
