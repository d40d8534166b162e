package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nightshift-ml/nightshift/storage"
)

// Block cache of objectReaderAt: small reads are served from aligned blocks
// fetched whole, so a Parquet reader's many page-sized reads cost a few GETs
// per row group instead of one GET each.
const (
	readBlockSize   = 4 << 20
	readCacheBlocks = 4 // at most 16 MiB held per reader
)

// objectReaderAt gives random access to a stored object through ranged
// GETs, for formats whose metadata sits at the end (Parquet, Arrow files).
// It is safe for concurrent use.
type objectReaderAt struct {
	ctx  context.Context
	b    storage.Bucket
	key  string
	size int64

	mu     sync.Mutex
	pos    int64         // for Read and Seek
	blocks []cachedBlock // most recently used last
}

type cachedBlock struct {
	start int64
	data  []byte
}

func newObjectReaderAt(ctx context.Context, b storage.Bucket, key string, size int64) *objectReaderAt {
	return &objectReaderAt{ctx: ctx, b: b, key: key, size: size}
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	var err error
	if first, last := off/readBlockSize, (off+want-1)/readBlockSize; first == last && want < readBlockSize {
		err = o.readCached(p[:want], off, first*readBlockSize)
	} else {
		err = o.fetch(p[:want], off)
	}
	if err != nil {
		return 0, err
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// readCached copies p from the block starting at start, fetching it if needed.
func (o *objectReaderAt) readCached(p []byte, off, start int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, blk := range o.blocks {
		if blk.start == start {
			copy(p, blk.data[off-start:])
			o.blocks = append(append(o.blocks[:i:i], o.blocks[i+1:]...), blk) // move to most recent
			return nil
		}
	}
	n := min(readBlockSize, o.size-start)
	var data []byte
	if len(o.blocks) == readCacheBlocks {
		if old := o.blocks[0].data; int64(cap(old)) >= n {
			data = old[:n] // reuse the least recently used block's memory
		}
		o.blocks = o.blocks[1:]
	}
	if data == nil {
		data = make([]byte, n)
	}
	if err := o.fetch(data, start); err != nil {
		return err
	}
	o.blocks = append(o.blocks, cachedBlock{start: start, data: data})
	copy(p, data[off-start:])
	return nil
}

// fetch fills p from the object at off with one ranged GET.
func (o *objectReaderAt) fetch(p []byte, off int64) error {
	rc, err := o.b.GetRange(o.ctx, o.key, off, int64(len(p)))
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%s is shorter than its listed size %d: %w", o.b.URI(o.key), o.size, io.ErrUnexpectedEOF)
		}
		return err
	}
	return nil
}

func (o *objectReaderAt) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.pos
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek before start")
	}
	o.pos = offset
	return offset, nil
}

// Read makes objectReaderAt an io.Reader too (some readers probe with it).
func (o *objectReaderAt) Read(p []byte) (int, error) {
	o.mu.Lock()
	pos := o.pos
	o.mu.Unlock()
	n, err := o.ReadAt(p, pos)
	o.mu.Lock()
	o.pos += int64(n)
	o.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
