package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// shardJob writes a CSV of rows lines (line bad, when > 0, has a column
// too many), plans its ingest and stores the plan; it returns the plan's
// URI and the output folder.
func shardJob(t *testing.T, rows, bad int) (planURI, outDir string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,x,label\n")
	for i := 1; i <= rows; i++ {
		if i == bad {
			fmt.Fprintf(&b, "%d,%d.5,%d,extra\n", i, i, i%2)
			continue
		}
		fmt.Fprintf(&b, "%d,%d.5,%d\n", i, i, i%2)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	outDir = "file://" + filepath.Join(dir, "ds")
	plan, err := shard.NewPlan(ctx, storage.Config{}, []string{"file://" + filepath.Join(dir, "in.csv")}, outDir,
		shard.Options{RowsPerShard: 40, InferRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.Join(dir, "plan.json"), outDir
}

func shardAssignment(planURI string, task int32) *nightshiftv1.Assignment {
	return &nightshiftv1.Assignment{
		Attempt: &nightshiftv1.AttemptRef{JobId: "ingest", Task: task, Attempt: 1},
		Spec:    &nightshiftv1.JobSpec{Kind: &nightshiftv1.JobSpec_Shard{Shard: &nightshiftv1.ShardSpec{}}},
		PlanUri: planURI,
	}
}

func TestShardRunner(t *testing.T) {
	planURI, outDir := shardJob(t, 100, 0)
	badPlan, _ := shardJob(t, 100, 60)
	f := newFake(t)
	runAgent(t, testConfig(t, "w1", f.addr))
	missing := shardAssignment("file:///nonexistent/plan.json", 0)
	missing.Attempt.JobId = "missing"
	bad := shardAssignment(badPlan, 0)
	bad.Attempt.JobId = "bad"
	f.add(shardAssignment(planURI, 0), missing, bad)
	f.waitFor(t, "three reports", func(f *fakeCoord) bool { return f.distinctLocked() == 3 })

	r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("ingest", 0, 1) })[0]
	s := r.GetSuccess()
	if s == nil {
		t.Fatalf("report %v, want success", r)
	}
	var unit shard.UnitResult
	if err := json.Unmarshal(s.GetDetail(), &unit); err != nil {
		t.Fatalf("detail %q: %v", s.GetDetail(), err)
	}
	if unit.Unit != 0 || unit.Rows != 100 || len(unit.Shards) != 3 || s.GetRows() != 100 || s.GetWorkerId() != "w1" {
		t.Errorf("result %v with unit %+v: want unit 0, 100 rows in 3 shards", s, unit)
	}
	var rows, bytes int64
	for _, sh := range unit.Shards {
		rows += sh.Rows
		bytes += sh.Bytes
		if _, err := os.Stat(strings.TrimPrefix(outDir, "file://") + "/" + sh.Key); err != nil {
			t.Errorf("shard %s: %v", sh.Key, err)
		}
	}
	if rows != 100 || s.GetBytes() != bytes {
		t.Errorf("shards hold %d rows and %d bytes; result says %d bytes", rows, bytes, s.GetBytes())
	}

	for _, job := range []string{"missing", "bad"} {
		r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked(job, 0, 1) })[0]
		if !r.GetFailure().GetPermanent() {
			t.Errorf("%s: report %v, want a permanent failure", job, r)
		}
	}
	if e := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("bad", 0, 1) })[0].
		GetFailure().GetError(); !strings.Contains(e, "line 61") {
		t.Errorf("bad input error %q does not name the line", e)
	}
}

// TestPauseHoldsBeforeWrite: a shard task leased by a paused worker loads
// its plan but writes nothing until Resume.
func TestPauseHoldsBeforeWrite(t *testing.T) {
	planURI, outDir := shardJob(t, 50, 0)
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.waitFor(t, "registration", func(f *fakeCoord) bool { return len(f.registers) == 1 })
	a.Pause()
	f.add(shardAssignment(planURI, 0))
	waitUntil(t, "the task to be held", func() bool { return agentState(a, func(a *Agent) int { return a.held }) == 1 })
	if _, err := os.Stat(strings.TrimPrefix(outDir, "file://")); !os.IsNotExist(err) {
		t.Fatalf("a held task wrote output (stat: %v)", err)
	}
	a.Resume()
	f.waitFor(t, "the report", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })
	if r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("ingest", 0, 1) })[0]; r.GetSuccess().GetRows() != 50 {
		t.Errorf("report %v, want 50 rows", r)
	}
}
