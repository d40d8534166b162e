package testkit

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what a logger or a command writes while the test reads
// it: a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many times s was written (non-overlapping).
func (b *Buffer) Count(s string) int { return strings.Count(b.String(), s) }
