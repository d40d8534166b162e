package storagetest

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/storage"
)

// StallAfter is where a StalledPut's body stops: past one 16 MiB part, so
// that on s3 the multipart upload exists by then.
const StallAfter = 17 << 20

// testRemoveIncomplete models a writer killed mid-Put with a body that
// stops delivering: its unfinished upload is invisible to List and Stat,
// RemoveIncomplete under a folder keeps it while it is younger than the
// bound and removes it with a zero bound, without touching an upload
// outside the folder. The writer, when it resumes, fails; the other one
// completes.
func testRemoveIncomplete(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	const (
		prefix = "gc/job/"
		doomed = "gc/job/_temporary/part-1"
		kept   = "gc/keep/part-1"
	)
	finishDoomed, dres := StalledPut(ctx, t, b, doomed)
	finishKept, kres := StalledPut(ctx, t, b, kept)
	for info, err := range b.List(ctx, "gc/") {
		t.Errorf("List shows an unfinished upload: %+v, %v", info, err)
	}
	wantUploads(t, b, prefix, 1)

	if n, err := b.RemoveIncomplete(ctx, prefix, time.Hour); err != nil || n != 0 {
		t.Errorf("RemoveIncomplete(%q, 1h) of a fresh upload = %d, %v; want 0", prefix, n, err)
	}
	wantUploads(t, b, prefix, 1)
	if n, err := b.RemoveIncomplete(ctx, prefix, 0); err != nil || n != 1 {
		t.Errorf("RemoveIncomplete(%q, 0) = %d, %v; want 1", prefix, n, err)
	}
	if n, err := b.RemoveIncomplete(ctx, prefix, 0); err != nil || n != 0 {
		t.Errorf("RemoveIncomplete(%q, 0) again = %d, %v; want 0", prefix, n, err)
	}
	wantUploads(t, b, prefix, 0)
	wantUploads(t, b, "gc/keep/", 1)

	finishDoomed()
	finishKept()
	if err := <-dres; err == nil {
		t.Errorf("Put(%q) succeeded after its upload was removed", doomed)
	}
	if err := <-kres; err != nil {
		t.Errorf("Put(%q) outside the prefix: %v", kept, err)
	}
	if _, err := b.Stat(ctx, doomed); !storage.IsNotFound(err) {
		t.Errorf("Stat(%q) after its upload was removed: %v, want not found", doomed, err)
	}
	if info, err := b.Stat(ctx, kept); err != nil || info.Size != StallAfter {
		t.Errorf("Stat(%q) = %+v, %v; want %d bytes", kept, info, err, StallAfter)
	}
	wantUploads(t, b, "gc/", 0)
	if n, err := b.RemoveIncomplete(ctx, "gc/missing/", 0); err != nil || n != 0 {
		t.Errorf("RemoveIncomplete of an empty folder = %d, %v", n, err)
	}
	if _, err := b.RemoveIncomplete(ctx, "../x/", 0); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("RemoveIncomplete(%q): %v, want ErrInvalidKey", "../x/", err)
	}
}

// wantUploads checks, where the backend can tell, how many unfinished
// uploads lie under prefix.
func wantUploads(t *testing.T, b storage.Bucket, prefix string, want int) {
	t.Helper()
	ul, ok := b.(storage.UploadLister)
	if !ok {
		return
	}
	if n, err := ul.IncompleteUploads(testCtx(t), prefix); err != nil || n != want {
		t.Errorf("IncompleteUploads(%q) = %d, %v; want %d", prefix, n, err, want)
	}
}

// StalledPut starts a Put of key whose body stops after StallAfter bytes,
// waits until it has, and returns a func that lets the body end there and
// the channel that receives the Put's error. Until then the Put is a writer
// killed mid-write: its unfinished upload exists and no object does. The
// body fails when ctx ends, so the Put never outlives the test.
func StalledPut(ctx context.Context, t testing.TB, b storage.Bucket, key string) (finish func(), result <-chan error) {
	t.Helper()
	s := &stallReader{ctx: ctx, r: Data(7, StallAfter), stalled: make(chan struct{}), resume: make(chan struct{})}
	res := make(chan error, 1)
	go func() {
		_, err := b.Put(ctx, key, s, -1, storage.PutOptions{})
		res <- err
	}()
	select {
	case <-s.stalled:
	case err := <-res:
		t.Fatalf("Put(%q) with a stalling body ended early: %v", key, err)
	case <-ctx.Done():
		t.Fatalf("Put(%q) never read %d bytes of its body", key, StallAfter)
	}
	return sync.OnceFunc(func() { close(s.resume) }), res
}

// stallReader yields r, then blocks until resume is closed (or ctx ends)
// and ends the body there.
type stallReader struct {
	ctx     context.Context
	r       io.Reader
	once    sync.Once
	stalled chan struct{} // closed once r is drained
	resume  chan struct{}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	s.once.Do(func() { close(s.stalled) })
	select {
	case <-s.resume:
		return n, io.EOF
	case <-s.ctx.Done():
		return n, s.ctx.Err()
	}
}
