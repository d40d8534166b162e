package scoreout_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

const dir = "out/job-j1"

var job = scoreout.Job{ID: "j1", Model: "churn@production", Input: "file:///data/ds", Fingerprint: "sha256:abc",
	Format: "parquet", Passthrough: []string{"id"}}

// wantManifest is the manifest env's attempts commit to, byte for byte:
// the JSON is a user-facing contract.
const wantManifest = `{
  "format_version": 1,
  "job_id": "j1",
  "model": "churn@production",
  "input": "file:///data/ds",
  "dataset_fingerprint": "sha256:abc",
  "format": "parquet",
  "passthrough": [
    "id"
  ],
  "rows": 60,
  "bad_rows": 2,
  "bytes": 33,
  "objects": [
    {
      "key": "part-00000.parquet",
      "shard": 0,
      "rows": 10,
      "bytes": 11,
      "checksum": "crc32c:b73e5130"
    },
    {
      "key": "part-00001.parquet",
      "shard": 1,
      "rows": 20,
      "bytes": 11,
      "checksum": "crc32c:bbc89605"
    },
    {
      "key": "part-00002.parquet",
      "shard": 2,
      "rows": 30,
      "bad_rows": 2,
      "bytes": 11,
      "checksum": "crc32c:c71c8e68",
      "quarantine": "part-00002.parquet.quarantine.jsonl"
    }
  ]
}`

// committedKeys is what a committed output folder of env holds.
var committedKeys = []string{"_SUCCESS", "_manifest.json", "part-00000.parquet", "part-00001.parquet",
	"part-00002.parquet", "part-00002.parquet.quarantine.jsonl"}

// env writes the attempts of a three-shard job into dir as workers do:
// shard 1 has a losing attempt 1 and the accepted attempt 2, shard 2 has
// quarantined rows. It returns the accepted attempts and the bytes each
// final key must hold.
func env(t *testing.T, b storage.Bucket) ([]scoreout.Shard, map[string]string) {
	t.Helper()
	write := func(key, body string) {
		t.Helper()
		if _, err := b.Put(t.Context(), storage.JoinKey(dir, key), strings.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	final := map[string]string{}
	var shards []scoreout.Shard
	accept := func(index, attempt int, rows, bad int64, body string) {
		key := scoreout.AttemptKey(index, attempt, "parquet")
		write(key, body)
		shards = append(shards, scoreout.Shard{Index: index, Object: key, Rows: rows, BadRows: bad,
			Bytes: int64(len(body)), CRC32C: crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli))})
		final[scoreout.FinalKey(index, "parquet")] = body
	}
	accept(0, 1, 10, 0, "shard 0 a1\n")
	write(scoreout.AttemptKey(1, 1, "parquet"), "LOSER 1 a1\n")
	accept(1, 2, 20, 0, "shard 1 a2\n")
	accept(2, 1, 30, 2, "shard 2 a1\n")
	write(scoreout.QuarantineKey(scoreout.AttemptKey(2, 1, "parquet")), `{"row":3}`+"\n")
	final["part-00002.parquet.quarantine.jsonl"] = `{"row":3}` + "\n"
	slices.Reverse(shards) // Commit orders them
	return shards, final
}

func TestCommitFile(t *testing.T) {
	testCommit(t, storage.NewFileBucket(t.TempDir()))
}

func TestCommitS3(t *testing.T) {
	testCommit(t, storagetest.MinIOBucket(t, storagetest.MinIO(t)))
}

// testCommit commits a job while a zombie attempt is stuck mid-write (a
// killed writer): the folder then holds exactly the committed objects, with
// the accepted attempts' bytes, and the manifest listing them; the zombie's
// unfinished upload is gone and its write fails. Committing again (a new
// leader after a crash) changes nothing.
func testCommit(t *testing.T, b storage.Bucket) {
	ctx := t.Context()
	shards, final := env(t, b)
	finish, zombie := storagetest.StalledPut(ctx, t, b, storage.JoinKey(dir, scoreout.AttemptKey(1, 3, "parquet")))

	m, err := scoreout.Commit(ctx, b, dir, job, shards, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, b, final)
	if n, err := b.(storage.UploadLister).IncompleteUploads(ctx, dir+"/"); err != nil || n != 0 {
		t.Errorf("IncompleteUploads(%s/) after the commit = %d, %v; want 0", dir, n, err)
	}
	if got, err := scoreout.ReadManifest(ctx, b, dir); err != nil || !equalJSON(t, got, m) {
		t.Errorf("ReadManifest = %+v, %v; Commit returned %+v", got, err, m)
	}
	finish()
	if err := <-zombie; err == nil {
		t.Error("the zombie's write succeeded after the commit removed its upload")
	}

	again, err := scoreout.Commit(ctx, b, dir, job, shards, nil)
	if err != nil {
		t.Fatalf("Commit again, after the attempts are gone: %v", err)
	}
	if !equalJSON(t, again, m) {
		t.Errorf("Commit again = %+v, want %+v", again, m)
	}
	checkCommitted(t, b, final)
}

// checkCommitted checks the folder holds exactly the committed objects with
// the right bytes and the contract's manifest.
func checkCommitted(t *testing.T, b storage.Bucket, final map[string]string) {
	t.Helper()
	ctx := t.Context()
	var keys []string
	for info, err := range b.List(ctx, dir+"/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strings.TrimPrefix(info.Key, dir+"/"))
	}
	if !slices.Equal(keys, committedKeys) {
		t.Errorf("output folder holds %q, want %q", keys, committedKeys)
	}
	for key, want := range final {
		if got := read(t, b, storage.JoinKey(dir, key)); got != want {
			t.Errorf("%s holds %q, want %q", key, got, want)
		}
	}
	if got := read(t, b, storage.JoinKey(dir, scoreout.ManifestName)); got != wantManifest {
		t.Errorf("_manifest.json:\n%s\nwant:\n%s", got, wantManifest)
	}
}

func read(t *testing.T, b storage.Bucket, key string) string {
	t.Helper()
	data, err := storage.ReadAll(t.Context(), b, key, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return toJSON(t, a) == toJSON(t, b)
}

// TestCommitResumes: a commit that fails part-way (a copy fails, as when
// the leader dies) publishes nothing and keeps every attempt; the next
// Commit finishes it with the same output.
func TestCommitResumes(t *testing.T) {
	b := storage.NewFileBucket(t.TempDir())
	shards, final := env(t, b)
	broken := &faulty{Bucket: b, failCopy: "part-00002"}
	if _, err := scoreout.Commit(t.Context(), broken, dir, job, shards, nil); !errors.Is(err, errInjected) {
		t.Fatalf("Commit with a failing copy: %v, want the injected error", err)
	}
	if ok, err := scoreout.Committed(t.Context(), b, dir); ok || err != nil {
		t.Fatalf("Committed after a failed commit = %v, %v", ok, err)
	}
	if _, err := scoreout.ReadManifest(t.Context(), b, dir); !errors.Is(err, scoreout.ErrNotCommitted) {
		t.Errorf("ReadManifest of an uncommitted folder: %v, want ErrNotCommitted", err)
	}
	if _, err := scoreout.Clean(t.Context(), b, dir); !errors.Is(err, scoreout.ErrNotCommitted) {
		t.Errorf("Clean of an uncommitted folder: %v, want ErrNotCommitted", err)
	}
	for _, s := range shards {
		if _, err := b.Stat(t.Context(), storage.JoinKey(dir, s.Object)); err != nil {
			t.Errorf("attempt of shard %d after a failed commit: %v", s.Index, err)
		}
	}
	if _, err := scoreout.Commit(t.Context(), b, dir, job, shards, nil); err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, b, final)
}

// TestCommitCleanFailure: once _SUCCESS is written the output is committed,
// so a failure to clean up is logged, not returned; Clean removes the
// leftovers later.
func TestCommitCleanFailure(t *testing.T) {
	b := storage.NewFileBucket(t.TempDir())
	shards, final := env(t, b)
	var logs bytes.Buffer
	broken := &faulty{Bucket: b, failDelete: true}
	if _, err := scoreout.Commit(t.Context(), broken, dir, job, shards, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("Commit whose clean-up fails: %v", err)
	}
	if !strings.Contains(logs.String(), "injected") {
		t.Errorf("the clean-up failure was not logged: %q", logs.String())
	}
	n, err := scoreout.Clean(t.Context(), b, dir)
	if err != nil || n != 5 {
		t.Errorf("Clean = %d, %v; want the 5 attempt objects", n, err)
	}
	checkCommitted(t, b, final)
}

// TestCommitRejects: attempts that cannot make a complete output are
// refused before anything is written.
func TestCommitRejects(t *testing.T) {
	b := storage.NewFileBucket(t.TempDir())
	shards, _ := env(t, b)
	slices.SortFunc(shards, func(a, b scoreout.Shard) int { return a.Index - b.Index })
	for name, edit := range map[string]func([]scoreout.Shard) []scoreout.Shard{
		"missing shard":   func(s []scoreout.Shard) []scoreout.Shard { return s[1:] },
		"duplicate shard": func(s []scoreout.Shard) []scoreout.Shard { return append(s, s[1]) },
		"outside _temporary": func(s []scoreout.Shard) []scoreout.Shard {
			s[0].Object = "part-00000.parquet"
			return s
		},
		"negative rows": func(s []scoreout.Shard) []scoreout.Shard { s[2].Rows = -1; return s },
	} {
		_, err := scoreout.Commit(t.Context(), b, dir, job, edit(slices.Clone(shards)), nil)
		if !errors.Is(err, scoreout.ErrBadCommit) {
			t.Errorf("%s: %v, want ErrBadCommit", name, err)
		}
	}
	wrong := slices.Clone(shards)
	wrong[1].Bytes++
	if _, err := scoreout.Commit(t.Context(), b, dir, job, wrong, nil); err == nil || !strings.Contains(err.Error(), "shard 1") {
		t.Errorf("an attempt of another size than reported: %v, want an error naming shard 1", err)
	}
	if ok, err := scoreout.Committed(t.Context(), b, dir); ok || err != nil {
		t.Errorf("Committed after refused commits = %v, %v", ok, err)
	}
}

var errInjected = errors.New("injected")

// faulty is a bucket whose copies to keys containing failCopy, or every
// delete, fail.
type faulty struct {
	storage.Bucket
	failCopy   string
	failDelete bool
}

func (f *faulty) Copy(ctx context.Context, src, dst string) (storage.ObjectInfo, error) {
	if f.failCopy != "" && strings.Contains(dst, f.failCopy) {
		return storage.ObjectInfo{}, errInjected
	}
	return f.Bucket.Copy(ctx, src, dst)
}

func (f *faulty) Delete(ctx context.Context, key string) error {
	if f.failDelete {
		return errInjected
	}
	return f.Bucket.Delete(ctx, key)
}

// TestCommitRemovesTempFiles (file backend): a writer killed mid-write
// leaves a hidden temp file that List does not show. After the commit none
// is left under _temporary/, whatever its age, and one elsewhere in the
// folder goes once it is older than StaleAge; a fresh one there (a second
// committer's copy in progress) stays.
func TestCommitRemovesTempFiles(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	shards, final := env(t, b)
	out := filepath.Join(root, filepath.FromSlash(dir))
	old := time.Now().Add(-scoreout.StaleAge - time.Minute)
	leftover := func(rel string, mtime time.Time) string {
		p := filepath.Join(out, filepath.FromSlash(rel))
		if err := os.WriteFile(p, []byte("half an object"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	killedAttempt := leftover("_temporary/.nightshift-tmp-111", time.Now())
	killedCopy := leftover(".nightshift-tmp-222", old)
	liveCopy := leftover(".nightshift-tmp-333", time.Now())

	if _, err := scoreout.Commit(t.Context(), b, dir, job, shards, nil); err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, b, final)
	var files []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{".nightshift-tmp-333"}, committedKeys...)
	if !slices.Equal(files, want) {
		t.Errorf("output folder holds the files %q, want %q", files, want)
	}
	for p, exists := range map[string]bool{killedAttempt: false, killedCopy: false, liveCopy: true} {
		if _, err := os.Stat(p); (err == nil) != exists {
			t.Errorf("%s: exists = %v, want %v", p, err == nil, exists)
		}
	}
}

// TestDiscard removes the attempts' output objects and every unfinished
// upload of a job that ended without a commit, and keeps the attempts'
// quarantine objects (the bad rows and their reasons).
func TestDiscard(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	env(t, b)
	out := filepath.Join(root, filepath.FromSlash(dir))
	for _, rel := range []string{"_temporary/.nightshift-tmp-1", ".nightshift-tmp-2"} {
		if err := os.WriteFile(filepath.Join(out, filepath.FromSlash(rel)), []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := scoreout.Discard(t.Context(), b, dir)
	if err != nil || n == 0 {
		t.Fatalf("Discard: %d removed, %v", n, err)
	}
	var left []string
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return err
	})
	quarantine := filepath.Join(out, filepath.FromSlash(scoreout.QuarantineKey(scoreout.AttemptKey(2, 1, "parquet"))))
	if len(left) != 1 || left[0] != quarantine {
		t.Fatalf("left after Discard: %q, want only %s", left, quarantine)
	}
	if n, err := scoreout.Discard(t.Context(), b, dir); err != nil || n != 0 {
		t.Fatalf("second Discard: %d, %v", n, err)
	}
}
