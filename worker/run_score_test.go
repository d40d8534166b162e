package worker

import (
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// scoreEnv ingests a small sample dataset and saves the model that
// generated its labels; it returns their URIs and the job's output folder.
func scoreEnv(t *testing.T) (dataset, modelURI, outDir string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	uri := func(rel string) string { return "file://" + filepath.Join(dir, rel) }
	b, key, err := storage.Open(ctx, uri("src"), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sample.Write(ctx, b, key, sample.Spec{Files: 1, RowsPerFile: 3000, Features: 3, Seed: 3, Format: "parquet"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(ctx, storage.Config{}, []string{uri("src/raw")}, uri("ds"),
		shard.Options{RowsPerShard: 1000, BatchRows: 500}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromTruth(w.Truth)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, storage.Config{}, uri("model")); err != nil {
		t.Fatal(err)
	}
	return res.URI, uri("model"), uri("out/job-1")
}

func scoreAssignment(dataset, modelURI, outDir string, task, attempt int32) *nightshiftv1.Assignment {
	return &nightshiftv1.Assignment{
		Attempt: &nightshiftv1.AttemptRef{JobId: "job-1", Task: task, Attempt: attempt},
		Spec: &nightshiftv1.JobSpec{Kind: &nightshiftv1.JobSpec_Score{Score: &nightshiftv1.ScoreSpec{
			Model: modelURI, Input: dataset, Passthrough: []string{"id"}}}},
		OutputDir: outDir,
	}
}

// TestScoreRunner scores shards through the agent: each attempt writes its
// own object below _temporary and reports its size and CRC-32C; when the
// coordinator rejects one attempt of a task as stale, that attempt's
// object is deleted and the accepted one stays. A model that does not load
// fails the task permanently.
func TestScoreRunner(t *testing.T) {
	dataset, modelURI, outDir := scoreEnv(t)
	f := newFake(t)
	f.update(func(f *fakeCoord) { f.reject[attemptKey{"job-1", 1, 1}] = true })
	runAgent(t, testConfig(t, "w1", f.addr))
	badModel := scoreAssignment(dataset, modelURI+"-missing", outDir, 2, 1)
	f.add(scoreAssignment(dataset, modelURI, outDir, 0, 1),
		scoreAssignment(dataset, modelURI, outDir, 1, 1),
		scoreAssignment(dataset, modelURI, outDir, 1, 2),
		badModel)
	f.waitFor(t, "four reports", func(f *fakeCoord) bool { return f.distinctLocked() == 4 })

	dir := strings.TrimPrefix(outDir, "file://")
	for _, tc := range []struct {
		task, attempt int32
		obj           string
		rejected      bool
	}{
		{0, 1, scoreout.AttemptKey(0, 1, "parquet"), false},
		{1, 1, scoreout.AttemptKey(1, 1, "parquet"), true},
		{1, 2, scoreout.AttemptKey(1, 2, "parquet"), false},
	} {
		r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("job-1", tc.task, tc.attempt) })[0]
		s := r.GetSuccess()
		if s == nil || s.GetObject() != tc.obj || s.GetRows() != 1000 || s.GetAttempt() != tc.attempt || s.GetWorkerId() != "w1" || len(s.GetDetail()) != 0 {
			t.Errorf("task %d attempt %d: report %v, want a success writing %s with 1000 rows and no detail", tc.task, tc.attempt, r, tc.obj)
			continue
		}
		path := filepath.Join(dir, tc.obj)
		if tc.rejected {
			waitUntil(t, "the rejected attempt's object to go", func() bool {
				_, err := os.Stat(path)
				return os.IsNotExist(err)
			})
			continue
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(body)) != s.GetBytes() || crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != s.GetCrc32C() {
			t.Errorf("%s: %d bytes with CRC %08x; report says %d bytes, %08x", tc.obj, len(body),
				crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), s.GetBytes(), s.GetCrc32C())
		}
	}
	r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("job-1", 2, 1) })[0]
	if !r.GetFailure().GetPermanent() || !strings.Contains(r.GetFailure().GetError(), "model") {
		t.Errorf("missing model: report %v, want a permanent failure naming the model", r)
	}
}
