package main

import (
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

// TestCheck: a committed folder passes; one holding anything the manifest
// does not list, a hidden temp file included, fails and names it.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	body := "scored rows"
	key := scoreout.AttemptKey(0, 1, "parquet")
	if _, err := b.Put(t.Context(), "job-1/"+key, strings.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	shards := []scoreout.Shard{{Index: 0, Object: key, Rows: 5, Bytes: int64(len(body)),
		CRC32C: crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli))}}
	if _, err := scoreout.Commit(t.Context(), b, "job-1", scoreout.Job{ID: "1", Format: "parquet"}, shards, nil); err != nil {
		t.Fatal(err)
	}
	jobFile := filepath.Join(root, "job.json")
	job := `{"job": {"state": "JOB_STATE_SUCCEEDED", "output_dir": "file://` + filepath.ToSlash(root) + `/job-1"}}`
	if err := os.WriteFile(jobFile, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := check(jobFile, 5, 1, "", false); err != nil {
		t.Fatalf("a committed folder: %v", err)
	}
	if err := check(jobFile, 6, 1, "", false); err == nil {
		t.Error("a wrong row count passed")
	}
	leftover := filepath.Join(root, "job-1", scoreout.TemporaryDir, ".nightshift-tmp-1")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, killed := range []bool{false, true} {
		if err := check(jobFile, 5, 1, "", killed); err == nil || !strings.Contains(err.Error(), ".nightshift-tmp-1") {
			t.Errorf("killed committer %v: a hidden temp file under _temporary/: %v, want an error naming it", killed, err)
		}
	}
	if err := os.Remove(leftover); err != nil {
		t.Fatal(err)
	}
	// A killed committer's copy to a final name: accepted only with the
	// flag, and only while younger than scoreout.StaleAge.
	copyLeft := filepath.Join(root, "job-1", storage.TempPrefix+"2")
	if err := os.WriteFile(copyLeft, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := check(jobFile, 5, 1, "", false); err == nil || !strings.Contains(err.Error(), storage.TempPrefix+"2") {
		t.Errorf("a fresh temp file in the folder, no killed committer: %v, want an error naming it", err)
	}
	if err := check(jobFile, 5, 1, "", true); err != nil {
		t.Errorf("a fresh temp file in the folder after a killed committer: %v", err)
	}
	old := time.Now().Add(-scoreout.StaleAge - time.Minute)
	if err := os.Chtimes(copyLeft, old, old); err != nil {
		t.Fatal(err)
	}
	if err := check(jobFile, 5, 1, "", true); err == nil {
		t.Error("a temp file older than StaleAge passed: the sweep should have removed it")
	}
}
