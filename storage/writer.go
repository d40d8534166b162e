package storage

import (
	"context"
	"errors"
	"io"
)

// Writer streams bytes into one object through a pipe, so an object of any
// size is written without being held in memory. Nothing is visible under
// the key until Close succeeds (Put is atomic); Abort discards the upload.
type Writer struct {
	pw   *io.PipeWriter
	done chan struct{}
	info ObjectInfo
	err  error
}

// NewWriter starts a streamed Put of key; write to it, then Close or Abort.
func NewWriter(ctx context.Context, b Bucket, key string, opts PutOptions) *Writer {
	pr, pw := io.Pipe()
	w := &Writer{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.info, w.err = b.Put(ctx, key, pr, -1, opts)
		if w.err != nil {
			pr.CloseWithError(w.err) // unblock a writer the Put stopped reading from
		} else {
			pr.Close()
		}
	}()
	return w
}

// Write sends p to the object.
func (w *Writer) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the object and waits for the store to commit it.
func (w *Writer) Close() (ObjectInfo, error) {
	w.pw.Close()
	<-w.done
	return w.info, w.err
}

// Abort fails the upload so the store discards it, and waits.
func (w *Writer) Abort() {
	w.pw.CloseWithError(errAborted)
	<-w.done
}

var errAborted = errors.New("upload aborted by the writer")
