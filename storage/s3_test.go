package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

func TestS3Conformance(t *testing.T) {
	storagetest.MinIO(t) // skip (or fail) up front when there is no server
	storagetest.Run(t, func(t *testing.T) storage.Bucket {
		return storagetest.MinIOBucket(t, storagetest.MinIO(t))
	})
}

// faulty is a bucket on the test server reached through a FaultTransport,
// with 5 MiB parts (so 12 MiB makes three) and its log captured.
type faulty struct {
	storage.Bucket
	ft   *storagetest.FaultTransport
	logs *testkit.Buffer
	cfg  storage.Config
	name string
}

func newFaulty(t *testing.T, retry storage.RetryPolicy) *faulty {
	cfg := storagetest.MinIO(t)
	f := &faulty{ft: &storagetest.FaultTransport{}, logs: &testkit.Buffer{}, name: storagetest.FreshBucket(t, cfg)}
	cfg.S3.Transport = f.ft
	cfg.S3.PartSize = 5 << 20
	if retry != (storage.RetryPolicy{}) {
		cfg.Retry = retry
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(f.logs, t.Output()), nil))
	f.cfg = cfg
	b, err := storage.NewS3Bucket(t.Context(), cfg, f.name)
	if err != nil {
		t.Fatal(err)
	}
	f.Bucket = b
	return f
}

// wantRequests checks how many requests matching m the transport saw.
func (f *faulty) wantRequests(t *testing.T, what string, m storagetest.Match, want int) {
	t.Helper()
	if got := f.ft.Count(m); got != want {
		t.Errorf("%s: %d matching requests, want %d; all requests: %q", what, got, want, f.ft.Requests())
	}
}

var (
	anyPut     = storagetest.Method("PUT")
	anyGet     = storagetest.Method("GET")
	anyHead    = storagetest.Method("HEAD")
	anyDelete  = storagetest.Method("DELETE")
	partPut    = storagetest.Method("PUT", "partNumber")
	initiate   = storagetest.Method("POST", "uploads")
	complete   = storagetest.Method("POST", "uploadId")
	abortReq   = storagetest.Method("DELETE", "uploadId")
	listReq    = storagetest.Method("GET", "list-type")
	twelveMiB  = int64(12 << 20)
	quickRetry = storage.RetryPolicy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}
)

func TestS3RetriesTransientFaults(t *testing.T) {
	f := newFaulty(t, quickRetry)
	ctx := t.Context()
	data := []byte("retried until it worked")
	put := func() error {
		_, err := f.Put(ctx, "obj", bytes.NewReader(data), int64(len(data)), storage.PutOptions{})
		return err
	}
	for _, tc := range []struct {
		name  string
		match storagetest.Match
		fault storagetest.Fault
		n     int
		op    func() error
	}{
		{"put/slowdown", anyPut, storagetest.SlowDown, 3, put},
		{"put/reset", anyPut, storagetest.Reset, 3, put},
		{"get/reset", anyGet, storagetest.Reset, 2, func() error {
			rc, _, err := f.Get(ctx, "obj")
			if err != nil {
				return err
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("wrong content")
			}
			return err
		}},
		{"stat/slowdown", anyHead, storagetest.SlowDown, 5, func() error { _, err := f.Stat(ctx, "obj"); return err }},
		{"delete/reset", anyDelete, storagetest.Reset, 2, func() error { return f.Delete(ctx, "gone") }},
		{"copy/slowdown", anyPut, storagetest.SlowDown, 2, func() error { _, err := f.Copy(ctx, "obj", "obj2"); return err }},
		{"list/reset", listReq, storagetest.Reset, 2, func() error {
			for _, err := range f.List(ctx, "") {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		f.ft.Clear()
		f.ft.Inject(tc.match, tc.fault, tc.n)
		if err := tc.op(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		f.wantRequests(t, tc.name, tc.match, tc.n+1)
	}
	if n := strings.Count(f.logs.String(), "retrying"); n < 19 {
		t.Errorf("logged %d retry notices, want one per injected fault (19)", n)
	}
}

func TestS3MultipartRetriesEachStep(t *testing.T) {
	f := newFaulty(t, quickRetry)
	f.ft.Inject(initiate, storagetest.Reset, 1)
	f.ft.Inject(partPut, storagetest.Reset, 2)
	f.ft.Inject(complete, storagetest.SlowDown, 1)
	putAndCheck(t, f, "multi", twelveMiB)
	f.wantRequests(t, "initiate", initiate, 2)
	f.wantRequests(t, "parts", partPut, 3+2)
	f.wantRequests(t, "complete", complete, 2)
}

// putAndCheck streams size bytes of unknown length to key and reads them back.
func putAndCheck(t *testing.T, b storage.Bucket, key string, size int64) {
	t.Helper()
	info, err := b.Put(t.Context(), key, storagetest.Data(11, size), -1, storage.PutOptions{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.Size != size {
		t.Errorf("Put returned size %d, want %d", info.Size, size)
	}
	rc, _, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	want, _ := io.ReadAll(storagetest.Data(11, size))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes (%v), want the %d written", len(got), err, size)
	}
}

func TestS3LostResponses(t *testing.T) {
	f := newFaulty(t, quickRetry)
	ctx := t.Context()

	// The first PUT lands but its reply is lost; the retry meets 412 and
	// must recognise its own object.
	f.ft.Inject(anyPut, storagetest.LoseResponse, 1)
	if _, err := f.PutIfAbsent(ctx, "pia", strings.NewReader("mine"), 4, storage.PutOptions{}); err != nil {
		t.Fatalf("PutIfAbsent whose first reply was lost: %v", err)
	}
	f.wantRequests(t, "put-if-absent", anyPut, 2)

	// Another writer, same loss: the object is not theirs.
	f.ft.Clear()
	f.ft.Inject(anyPut, storagetest.LoseResponse, 1)
	_, err := f.PutIfAbsent(ctx, "pia", strings.NewReader("theirs"), 6, storage.PutOptions{})
	if !errors.Is(err, storage.ErrExists) {
		t.Errorf("second PutIfAbsent = %v, want ErrExists", err)
	}

	// A multipart complete whose reply is lost.
	f.ft.Clear()
	f.ft.Inject(complete, storagetest.LoseResponse, 1)
	putAndCheck(t, f, "multi", twelveMiB)
	f.wantRequests(t, "complete", complete, 2)
}

func TestS3AbortsFailedMultipart(t *testing.T) {
	f := newFaulty(t, storage.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond})
	f.ft.Inject(partPut, storagetest.Reset, -1)
	_, err := f.Put(t.Context(), "doomed", storagetest.Data(1, twelveMiB), twelveMiB, storage.PutOptions{})
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Put with every part failing = %v, want a connection reset", err)
	}
	f.wantRequests(t, "abort", abortReq, 1)
	n, err := f.Bucket.(storage.UploadLister).IncompleteUploads(t.Context(), "doomed")
	if err != nil || n != 0 {
		t.Errorf("IncompleteUploads = %d, %v; want 0", n, err)
	}
}

func TestS3GivesUp(t *testing.T) {
	// Faults forever, many attempts allowed: the deadline ends it.
	f := newFaulty(t, storage.RetryPolicy{MaxAttempts: 1 << 20, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	f.ft.Inject(nil, storagetest.Reset, -1)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := f.Stat(ctx, "obj")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stat returned %v after start with a 1s deadline", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Stat = %v, want the deadline and the last reset", err)
	}

	// Faults forever, three attempts allowed: exactly three requests.
	f = newFaulty(t, storage.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond})
	f.ft.Inject(nil, storagetest.SlowDown, -1)
	_, err = f.Stat(t.Context(), "obj")
	if !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "SlowDown") {
		t.Errorf("Stat = %v, want it to give up after 3 attempts", err)
	}
	f.wantRequests(t, "stat", anyHead, 3)
}

func TestS3PermanentErrorsAreNotRetried(t *testing.T) {
	f := newFaulty(t, quickRetry)
	ctx := t.Context()
	if _, err := f.Put(ctx, "obj", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// 404 and 416.
	for _, tc := range []struct {
		name   string
		match  storagetest.Match
		target error
		op     func() error
	}{
		{"stat missing", anyHead, storage.ErrNotFound, func() error { _, err := f.Stat(ctx, "nope"); return err }},
		{"get missing", anyGet, storage.ErrNotFound, func() error { _, _, err := f.Get(ctx, "nope"); return err }},
		{"range past end", anyGet, storage.ErrInvalidArgument, func() error { _, err := f.GetRange(ctx, "obj", 5, 1); return err }},
	} {
		f.ft.Clear()
		if err := tc.op(); !errors.Is(err, tc.target) {
			t.Errorf("%s = %v, want %v", tc.name, err, tc.target)
		}
		f.wantRequests(t, tc.name, tc.match, 1)
	}

	// 403: a wrong secret key, then an unknown access key.
	for _, creds := range [][2]string{{f.cfg.S3.AccessKey.Reveal(), "wrong-secret-0123456789"}, {"UNKNOWNACCESSKEY", "wrong-secret-0123456789"}} {
		bad := f.cfg
		bad.S3.AccessKey, bad.S3.SecretKey = storage.Secret(creds[0]), storage.Secret(creds[1])
		b, err := storage.NewS3Bucket(ctx, bad, f.name)
		if err != nil {
			t.Fatal(err)
		}
		f.ft.Clear()
		_, err = b.Stat(ctx, "obj")
		if !errors.Is(err, storage.ErrPermission) {
			t.Errorf("Stat with bad credentials = %v, want ErrPermission", err)
		}
		_, err = b.Put(ctx, "obj", strings.NewReader("y"), 1, storage.PutOptions{})
		if !errors.Is(err, storage.ErrPermission) {
			t.Errorf("Put with bad credentials = %v, want ErrPermission", err)
		}
		f.wantRequests(t, "bad credentials", nil, 2)
	}
}

func TestS3InvalidKeysSendNothing(t *testing.T) {
	f := newFaulty(t, quickRetry)
	ctx := t.Context()
	for _, key := range []string{"", "a//b", "../x", "/abs"} {
		_, _ = f.Put(ctx, key, strings.NewReader("x"), 1, storage.PutOptions{})
		_, _ = f.PutIfAbsent(ctx, key, strings.NewReader("x"), 1, storage.PutOptions{})
		_, _, _ = f.Get(ctx, key)
		_, _ = f.GetRange(ctx, key, 0, 1)
		_, _ = f.Stat(ctx, key)
		_ = f.Delete(ctx, key)
		_, _ = f.Copy(ctx, "obj", key)
		for range f.List(ctx, key+"/") {
		}
	}
	f.wantRequests(t, "invalid keys", nil, 0)
}

func TestS3CredentialsNeverLeak(t *testing.T) {
	f := newFaulty(t, storage.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond})
	ctx := t.Context()
	access, secret := f.cfg.S3.AccessKey.Reveal(), f.cfg.S3.SecretKey.Reveal()
	const wrongSecret = "wrong-secret-ABCDEFGHIJ"
	var errs []error
	record := func(err error) {
		if err == nil {
			t.Error("expected an error")
		}
		errs = append(errs, err)
	}

	// Wrong secret, and faults that get retried and logged.
	bad := f.cfg
	bad.S3.SecretKey = wrongSecret
	b, err := storage.NewS3Bucket(ctx, bad, f.name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Stat(ctx, "obj")
	record(err)
	_, err = b.Put(ctx, "obj", strings.NewReader("x"), 1, storage.PutOptions{})
	record(err)
	f.ft.Inject(nil, storagetest.SlowDown, -1)
	_, err = f.Stat(ctx, "obj")
	record(err)
	f.ft.Clear()
	f.ft.Inject(nil, storagetest.Reset, -1)
	_, _, err = f.Get(ctx, "obj")
	record(err)

	// An endpoint nobody listens on.
	gone := f.cfg
	gone.S3.Endpoint, gone.S3.Transport = "127.0.0.1:1", nil
	b, err = storage.NewS3Bucket(ctx, gone, f.name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Stat(ctx, "obj")
	record(err)

	for _, err := range errs {
		for _, cred := range []string{access, secret, wrongSecret} {
			if msg := err.Error(); strings.Contains(msg, cred) {
				t.Errorf("error %q contains a credential", msg)
			}
		}
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "retrying") {
		t.Error("expected retry notices in the log")
	}
	for _, cred := range []string{access, secret, wrongSecret} {
		if strings.Contains(logs, cred) {
			t.Errorf("log output contains a credential:\n%s", logs)
		}
	}
	if s := strings.Join([]string{f.cfg.S3.AccessKey.String(), bad.S3.SecretKey.String()}, " "); strings.Contains(s, access) || strings.Contains(s, wrongSecret) {
		t.Errorf("Secret.String() reveals the secret: %s", s)
	}
}

func TestS3ListResumesAfterFault(t *testing.T) {
	f := newFaulty(t, quickRetry)
	keys := make([]string, 1001) // one more than a page
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if _, err := f.Put(t.Context(), keys[i], strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
		work <- i
	}
	close(work)
	wg.Wait()

	f.ft.Clear()
	f.ft.Inject(storagetest.Method("GET", "continuation-token"), storagetest.Reset, 1)
	var got []string
	for info, err := range f.List(t.Context(), "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, info.Key)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("List after a fault on page 2 gave %d keys, want %d in order, each once", len(got), len(keys))
	}
	// Page 1, the failed page 2, then page 2 again as a new listing that
	// starts after the last key seen.
	f.wantRequests(t, "list", listReq, 3)
}
