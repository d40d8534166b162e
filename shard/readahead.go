package shard

import (
	"hash"
	"io"
)

// readahead reads a stream ahead of its consumer on a goroutine of its own,
// checksumming and counting as it goes, so network receive overlaps with
// batch decoding instead of alternating with it.
type readahead struct {
	filled chan chunk
	free   chan []byte
	quit   chan struct{}
	done   chan struct{}
	buf    []byte // the chunk being consumed, returned to free when done
	cur    []byte // its unread part
	err    error
	crc    hash.Hash32
	n      int64 // bytes read from the source (written by the producer only)
}

type chunk struct {
	data []byte
	err  error
}

const (
	readaheadChunk = 1 << 20
	readaheadDepth = 4
)

// newReadahead starts reading src; crc sees every byte in order.
func newReadahead(src io.Reader, crc hash.Hash32) *readahead {
	r := &readahead{filled: make(chan chunk, readaheadDepth), free: make(chan []byte, readaheadDepth+1),
		quit: make(chan struct{}), done: make(chan struct{}), crc: crc}
	for range readaheadDepth + 1 {
		r.free <- make([]byte, readaheadChunk)
	}
	go r.produce(src)
	return r
}

func (r *readahead) produce(src io.Reader) {
	defer close(r.done)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.quit:
			return
		}
		n, err := io.ReadAtLeast(src, buf, 1)
		r.crc.Write(buf[:n])
		r.n += int64(n)
		select {
		case r.filled <- chunk{data: buf[:n], err: err}:
		case <-r.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read hands out the read-ahead bytes in order, then the source's error.
func (r *readahead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.free <- r.buf
			r.buf = nil
		}
		if r.err != nil {
			return 0, r.err
		}
		c := <-r.filled
		r.buf, r.cur, r.err = c.data[:cap(c.data)], c.data, c.err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// stop ends the producer; the caller closes the source first so a blocked
// read returns.
func (r *readahead) stop() {
	close(r.quit)
	<-r.done
}
