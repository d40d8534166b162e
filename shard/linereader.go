package shard

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/nightshift-ml/nightshift/storage"
)

// lineRangeReader delivers the lines of a byte range: it passes bytes
// through until the range's end, then finishes the line in progress and
// stops. Paired with skipPartialLine at the start, every line of an object
// lands in exactly one range: the one holding its first byte.
type lineRangeReader struct {
	r         *bufio.Reader
	remaining int64 // bytes left before the range's end; < 0 means no end
	lastNL    bool  // the last byte delivered was '\n'
	done      bool
}

func newLineRangeReader(r *bufio.Reader, remaining int64) *lineRangeReader {
	return &lineRangeReader{r: r, remaining: remaining, lastNL: true}
}

func (l *lineRangeReader) Read(p []byte) (int, error) {
	if l.done || len(p) == 0 {
		if l.done {
			return 0, io.EOF
		}
		return 0, nil
	}
	if l.remaining != 0 {
		if l.remaining > 0 && int64(len(p)) > l.remaining {
			p = p[:l.remaining]
		}
		n, err := l.r.Read(p)
		if l.remaining > 0 {
			l.remaining -= int64(n)
		}
		if n > 0 {
			l.lastNL = p[n-1] == '\n'
		}
		return n, err
	}
	// Past the end: finish the current line, then stop.
	if l.lastNL {
		l.done = true
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		c, err := l.r.ReadByte()
		if err != nil {
			l.done = true
			return n, err
		}
		p[n] = c
		n++
		if c == '\n' {
			l.lastNL = true
			break
		}
	}
	return n, nil
}

// skipPartialLine discards bytes through the first '\n' and returns how many
// it dropped. Reading starts one byte before a range, so a line starting
// exactly at the range's first byte is kept.
func skipPartialLine(r *bufio.Reader) (int64, error) {
	var n int64
	for {
		b, err := r.ReadSlice('\n')
		n += int64(len(b))
		if err == bufio.ErrBufferFull {
			continue
		}
		return n, err
	}
}

// countLines counts '\n' bytes in [0, end) of an object: the line number
// base of a range that starts at end. Only error paths pay for it.
func countLines(ctx context.Context, b storage.Bucket, key string, end int64) (int64, error) {
	if end <= 0 {
		return 0, nil
	}
	rc, err := b.GetRange(ctx, key, 0, end)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := make([]byte, 256<<10)
	var lines int64
	for {
		n, err := rc.Read(buf)
		for _, c := range buf[:n] {
			if c == '\n' {
				lines++
			}
		}
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return 0, fmt.Errorf("counting lines: %w", err)
		}
	}
}
