package collective

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"unsafe"

	"google.golang.org/grpc/mem"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Zero-copy receive under a pull stream's client transport (plain TCP).
//
// grpc's client reads each HTTP/2 DATA frame into a buffer from its
// BufferPool: it reads the 9-byte frame header from the connection, asks
// the pool for a buffer of the payload's length, and reads the payload
// into it. By default the connection is wrapped in a read buffer, so every
// payload byte is copied once more after the kernel's copy. A pull stream
// instead dials through rxConn with grpc's read buffer off: rxConn reads
// the socket in large reads into 1 MiB blocks, and when it hands the
// framer the header of a DATA frame whose payload it already holds, the
// connection's rxPool answers the framer's next Get with a view of that
// payload in the block; the framer's read into that view is then no copy
// at all. The chunk decoder and the reduction read the payload in place
// (rxChunk), and the block is reused once grpc has released every view of
// it.
//
// A view is handed out only for the one Get of exactly the announced
// length that follows the header, and a read into any other buffer is a
// plain copy from the block, so if grpc stopped reading frames this way
// the payloads would only be copied again. What the design relies on is
// that nothing but the connection's reader asks this pool for buffers
// between a header and its payload: grpc's client uses its BufferPool for
// received frames, and otherwise only to compress or decompress messages,
// which ring streams never do (TestPayloadsReceivedInPlace checks the
// payloads go in place; the ring tests, that they arrive intact).

const (
	// rxBlockBytes: 256 KiB and 4 MiB blocks measured the same.
	rxBlockBytes   = 1 << 20
	frameHeaderLen = 9
	// rxViewMin: smaller DATA payloads are copied (grpc does not pool
	// buffers of 1 KiB or less).
	rxViewMin = 4 << 10
)

// rxInPlace and rxCopied count the bytes rxConns handed grpc in place and
// by copy (tests check that payloads go in place).
var rxInPlace, rxCopied atomic.Int64

// rxBlock is a block of the byte stream read from one connection.
type rxBlock struct {
	buf []byte
	// refs counts the views of the block grpc holds, plus one while the
	// connection still reads into it.
	refs atomic.Int32
}

// rxPool is the BufferPool of one pull stream's client connection: views
// of the payload the connection has just announced, recvPool buffers
// otherwise.
type rxPool struct {
	mu      sync.Mutex
	pending []byte // the payload of the DATA frame whose header was just read
	pendBlk *rxBlock
	// hasPending is pending != nil, for a cheap check.
	hasPending atomic.Bool
	// blocks are every block of the pool; a buffer grpc puts back is a
	// view when it lies in one of them.
	blocks  []*rxBlock
	free    []*rxBlock
	handles []*[]byte // spare view handles
}

func newRxPool() *rxPool { return &rxPool{} }

func (p *rxPool) Get(n int) *[]byte {
	if p.hasPending.Load() {
		p.mu.Lock()
		if p.pending != nil && len(p.pending) == n {
			var v *[]byte
			if k := len(p.handles); k > 0 {
				v = p.handles[k-1]
				p.handles = p.handles[:k-1]
			} else {
				v = new([]byte)
			}
			*v = p.pending
			p.pendBlk.refs.Add(1)
			p.pending, p.pendBlk = nil, nil
			p.hasPending.Store(false)
			p.mu.Unlock()
			return v
		}
		p.mu.Unlock()
	}
	return recvPool{}.Get(n)
}

// uintptrOf is the address of b's first byte.
func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func (p *rxPool) Put(b *[]byte) {
	if cap(*b) > 0 {
		addr := uintptrOf(*b)
		p.mu.Lock()
		for _, blk := range p.blocks {
			if base := uintptrOf(blk.buf); addr >= base && addr < base+uintptr(len(blk.buf)) {
				*b = nil
				p.handles = append(p.handles, b)
				p.mu.Unlock()
				p.release(blk)
				return
			}
		}
		p.mu.Unlock()
	}
	recvPool{}.Put(b)
}

// release drops one reference on blk; the last one frees it for reuse.
func (p *rxPool) release(blk *rxBlock) {
	if blk.refs.Add(-1) == 0 {
		p.mu.Lock()
		p.free = append(p.free, blk)
		p.mu.Unlock()
	}
}

func (p *rxPool) block() *rxBlock {
	p.mu.Lock()
	defer p.mu.Unlock()
	var blk *rxBlock
	if k := len(p.free); k > 0 {
		blk = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		blk = &rxBlock{buf: make([]byte, rxBlockBytes)}
		p.blocks = append(p.blocks, blk)
	}
	blk.refs.Store(1)
	return blk
}

func (p *rxPool) announce(blk *rxBlock, payload []byte) {
	p.mu.Lock()
	p.pending, p.pendBlk = payload, blk
	p.hasPending.Store(true)
	p.mu.Unlock()
}

func (p *rxPool) clearPending() {
	if !p.hasPending.Load() {
		return
	}
	p.mu.Lock()
	p.pending, p.pendBlk = nil, nil
	p.hasPending.Store(false)
	p.mu.Unlock()
}

// rxConn is the connection under one pull stream's client transport. Its
// Read is called by the transport's reader goroutine only.
type rxConn struct {
	net.Conn
	pool *rxPool
	blk  *rxBlock
	r, w int // read and fill positions in blk.buf
	// left is how many bytes of the current frame are still to be read;
	// 0 at a frame boundary. The stream starts at one: the server's
	// SETTINGS frame.
	left int
}

func newRxConn(c net.Conn, pool *rxPool) *rxConn {
	return &rxConn{Conn: c, pool: pool, blk: pool.block()}
}

// Read hands out the byte stream, never past the end of the current frame.
func (c *rxConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.pool.clearPending() // the announced payload's read is this one, or none
	if c.left == 0 {
		if err := c.frame(); err != nil {
			return 0, err
		}
	}
	if c.r == c.w {
		if err := c.fill(1); err != nil {
			return 0, err
		}
	}
	n := min(len(p), c.w-c.r, c.left)
	src := c.blk.buf[c.r : c.r+n]
	if &p[0] != &src[0] {
		copy(p, src)
		rxCopied.Add(int64(n))
	} else {
		rxInPlace.Add(int64(n))
	}
	c.r += n
	c.left -= n
	return n, nil
}

// frame reads the next frame header; for a DATA frame large enough to pool
// it buffers the whole frame contiguously and announces its payload.
func (c *rxConn) frame() error {
	if err := c.fill(frameHeaderLen); err != nil {
		return err
	}
	h := c.blk.buf[c.r : c.r+frameHeaderLen]
	l := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	c.left = frameHeaderLen + l
	const typeData, flagPadded = 0x0, 0x8
	if h[3] != typeData || h[4]&flagPadded != 0 || l < rxViewMin || frameHeaderLen+l > rxBlockBytes {
		return nil
	}
	if err := c.fill(frameHeaderLen + l); err != nil {
		return err
	}
	start := c.r + frameHeaderLen
	c.pool.announce(c.blk, c.blk.buf[start:start+l:start+l])
	return nil
}

// fill reads until at least k bytes follow r contiguously in the block,
// moving to a fresh block when the current one has no room for them.
func (c *rxConn) fill(k int) error {
	if len(c.blk.buf)-c.r < k {
		old := c.blk
		c.blk = c.pool.block()
		c.w = copy(c.blk.buf, old.buf[c.r:c.w])
		c.r = 0
		c.pool.release(old)
	}
	for c.w-c.r < k {
		n, err := c.Conn.Read(c.blk.buf[c.w:])
		c.w += n
		if err != nil && c.w-c.r < k {
			return err
		}
	}
	return nil
}

// pullDialer dials the left neighbour for a pull stream: through the
// configured Dialer (or TCP), wrapped in an rxConn over pool.
func pullDialer(dial rpc.Dialer, pool *rxPool) rpc.Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var (
			c   net.Conn
			err error
		)
		if dial != nil {
			c, err = dial(ctx, addr)
		} else {
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return nil, err
		}
		return newRxConn(c, pool), nil
	}
}

var _ mem.BufferPool = (*rxPool)(nil)
