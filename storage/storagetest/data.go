package storagetest

import (
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// ErrInjected is the error FailingReader returns.
var ErrInjected = errors.New("storagetest: injected read failure")

// dataPeriod is the period of Data's byte stream: odd, so that parts of a
// power-of-two size that are lost, repeated or reordered change the bytes.
const dataPeriod = 1<<20 + 7

// Data returns a reader of n deterministic pseudo-random bytes derived from
// seed (n < 0: endless). Byte i depends only on seed and i, so the stream
// is the same however the reads are sized, and only one period (about
// 1 MiB) is ever held in memory. Reads are plain copies, fast even under
// the race detector.
func Data(seed uint64, n int64) io.Reader {
	if n < 0 {
		n = 1<<63 - 1
	}
	block := make([]byte, min(n, dataPeriod))
	for i := 0; i < len(block); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], splitmix64(seed+uint64(i>>3)))
		copy(block[i:], w[:])
	}
	return &dataReader{block: block, size: n}
}

type dataReader struct {
	block     []byte
	pos, size int64
}

func (r *dataReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.pos < r.size {
		off := r.pos % dataPeriod
		c := copy(p[n:min(int64(len(p)), int64(n)+r.size-r.pos)], r.block[off:])
		n, r.pos = n+c, r.pos+int64(c)
	}
	if n == 0 && r.pos >= r.size {
		return 0, io.EOF
	}
	return n, nil
}

// splitmix64 is a fast, well-mixed hash of a 64-bit counter.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Bytes returns the n bytes Data(seed, n) yields, for small objects.
func Bytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(Data(seed, int64(n)), b)
	return b
}

// FailingReader returns r's first n bytes, then fails with ErrInjected.
func FailingReader(r io.Reader, n int64) io.Reader {
	return io.MultiReader(io.LimitReader(r, n), errReader{ErrInjected})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// SlowReader returns reads of at most chunk bytes from r, pausing d before
// each, to model a producer slower than the store.
func SlowReader(r io.Reader, chunk int, d time.Duration) io.Reader {
	return &slowReader{r: r, chunk: chunk, d: d}
}

type slowReader struct {
	r     io.Reader
	chunk int
	d     time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.d)
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}

// countingReader counts the reads made of it; key validation tests use it to
// show that nothing was read before a key was rejected.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}
