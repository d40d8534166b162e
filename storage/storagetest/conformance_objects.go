package storagetest

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nightshift-ml/nightshift/storage"
)

func testRanges(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	data := Bytes(7, 1000)
	mustPut(t, b, "ranges/obj", data)
	mustPut(t, b, "ranges/empty", nil)
	for _, tc := range []struct {
		key            string
		offset, length int64
		want           []byte
	}{
		{"ranges/obj", 0, 10, data[:10]},
		{"ranges/obj", 500, 100, data[500:600]},
		{"ranges/obj", 990, -1, data[990:]},
		{"ranges/obj", 0, -1, data},
		{"ranges/obj", 990, 100, data[990:]}, // cut short at the end
		{"ranges/obj", 999, 1, data[999:]},
		{"ranges/obj", 123, 0, nil},
		{"ranges/empty", 0, -1, nil},
		{"ranges/empty", 0, 10, nil},
	} {
		rc, err := b.GetRange(ctx, tc.key, tc.offset, tc.length)
		if err != nil {
			t.Errorf("GetRange(%s, %d, %d): %v", tc.key, tc.offset, tc.length, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("GetRange(%s, %d, %d) = %d bytes, %v; want %d bytes", tc.key, tc.offset, tc.length, len(got), err, len(tc.want))
		}
	}
	for _, r := range [][2]int64{{1000, 10}, {1000, -1}, {5000, 1}, {-1, 5}} {
		rc, err := b.GetRange(ctx, "ranges/obj", r[0], r[1])
		if err == nil {
			rc.Close()
		}
		wantErr(t, fmt.Sprintf("GetRange(%d, %d)", r[0], r[1]), err, storage.ErrInvalidArgument, b.URI("ranges/obj"))
	}
}

func testPutIfAbsent(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	info, err := b.PutIfAbsent(ctx, "pia/key", strings.NewReader("first"), -1, storage.PutOptions{})
	if err != nil {
		t.Fatalf("PutIfAbsent on a free key: %v", err)
	}
	if info.Size != 5 || info.ETag == "" {
		t.Errorf("PutIfAbsent returned %+v", info)
	}
	_, err = b.PutIfAbsent(ctx, "pia/key", strings.NewReader("second"), 6, storage.PutOptions{})
	wantErr(t, "PutIfAbsent on a taken key", err, storage.ErrExists, b.URI("pia/key"))
	if got := mustGet(t, b, "pia/key"); string(got) != "first" {
		t.Errorf("content after a refused PutIfAbsent = %q, want %q", got, "first")
	}
}

func testPutIfAbsentConcurrent(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	const writers = 16
	key := "pia/contended"
	content := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "writer %02d|", i), 100) }
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			data := content(i)
			_, errs[i] = b.PutIfAbsent(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		default:
			wantErr(t, fmt.Sprintf("writer %d", i), err, storage.ErrExists, b.URI(key))
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	if got := mustGet(t, b, key); !bytes.Equal(got, content(winner)) {
		t.Errorf("stored content is not the winner's (writer %d): %.20q", winner, got)
	}
}

func testList(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	// 2,500 keys: more than two S3 pages of 1,000.
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("list/k%05d", i))
	}
	// Byte order, not directory-walk order: '-' < '.' < '/' < '0'.
	tricky := []string{"list/a-b", "list/a.b", "list/a/b", "list/a/c/d", "list/a0"}
	outside := []string{"lisa", "listz/1"}
	all := slices.Concat(keys, tricky, outside)
	putAll(t, b, all)
	slices.Sort(all)

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"list/", slices.Sorted(slices.Values(slices.Concat(keys, tricky)))},
		{"list/k01", keys[1000:2000]},
		{"list/a", tricky},
		{"list/a/", []string{"list/a/b", "list/a/c/d"}},
		{"lis", all},
		{"nothing/here/", nil},
	} {
		var got []string
		for info, err := range b.List(ctx, tc.prefix) {
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			if info.Size != int64(len(info.Key)) {
				t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, info.Key, info.Size, len(info.Key))
			}
			got = append(got, info.Key)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) gave %d keys, want %d; first difference at %d", tc.prefix, len(got), len(tc.want), firstDiff(got, tc.want))
		}
	}
	// Stopping early is allowed.
	n := 0
	for _, err := range b.List(ctx, "list/") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
}

// putAll stores each key with its own name as content, 16 at a time.
func putAll(t *testing.T, b storage.Bucket, keys []string) {
	ctx := testCtx(t)
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for k := range work {
				if _, err := b.Put(ctx, k, strings.NewReader(k), int64(len(k)), storage.PutOptions{}); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("storing %d keys: %v", len(keys), firstErr)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
