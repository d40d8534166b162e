package shard

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nightshift-ml/nightshift/storage"
)

// objectReaderAt gives random access to a stored object through ranged
// GETs, for formats whose metadata sits at the end (Parquet, Arrow files).
type objectReaderAt struct {
	ctx  context.Context
	b    storage.Bucket
	key  string
	size int64
	pos  int64
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	rc, err := o.b.GetRange(o.ctx, o.key, off, want)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("object shorter than its listed size %d: %w", o.size, err)
	}
	return n, err
}

func (o *objectReaderAt) Seek(offset int64, whence int) (int64, error) {
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
	n, err := o.ReadAt(p, o.pos)
	o.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
