package worker

import (
	"os"
	"path/filepath"
	"testing"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
)

// TestRejectedReportDeletesObject: a report the coordinator rejects is
// from a stale attempt, and the object it wrote is deleted; an accepted
// attempt's object stays.
func TestRejectedReportDeletesObject(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out", "job-1")
	stale := filepath.Join(out, filepath.FromSlash(scoreout.AttemptKey(3, 1, "parquet")))
	kept := filepath.Join(out, filepath.FromSlash(scoreout.AttemptKey(4, 1, "parquet")))
	for _, p := range []string{stale, kept} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("rows"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := newFake(t)
	f.update(func(f *fakeCoord) { f.reject[attemptKey{"job-1", 3, 1}] = true })
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.waitFor(t, "registration", func(f *fakeCoord) bool { return len(f.registers) == 1 })

	success := func(task int32, obj string) *pendingReport {
		return &pendingReport{written: []string{"file://" + filepath.Join(out, obj)}, rep: &nightshiftv1.TaskReport{
			Attempt: &nightshiftv1.AttemptRef{JobId: "job-1", Task: task, Attempt: 1},
			Outcome: &nightshiftv1.TaskReport_Success{Success: &nightshiftv1.TaskResult{Attempt: 1, WorkerId: "w1", Object: obj}},
		}}
	}
	a.mu.Lock()
	a.enqueueLocked(success(3, scoreout.AttemptKey(3, 1, "parquet")))
	a.enqueueLocked(success(4, scoreout.AttemptKey(4, 1, "parquet")))
	a.mu.Unlock()

	f.waitFor(t, "both reports", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })
	waitUntil(t, "the stale object to be deleted", func() bool {
		_, err := os.Stat(stale)
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("accepted attempt's object: %v", err)
	}
}
