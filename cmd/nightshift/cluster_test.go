package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// TestEndToEndScoreOnDevCluster runs the whole path a user takes: a dev
// cluster with 2 workers, a sample dataset and the model it was drawn
// from, `score --wait -o json`, then the listing and admin commands.
func TestEndToEndScoreOnDevCluster(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "store")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	st := storage.Config{FileRoot: root}
	ctx := context.Background()
	dev, err := cluster.StartDev(ctx, cluster.DevOptions{Workers: 2, Slots: 2, DataDir: dir, GRPCAddr: "127.0.0.1:0", Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Logf("dev close: %v", err)
		}
	})
	c := []string{"--coordinator", dev.Addr()}
	args := func(a ...string) []string { return append(a, c...) }

	// A small dataset (4 shards) and the model its labels were drawn from.
	base := "file://" + root
	b, key, err := storage.Open(ctx, base+"/sample", st)
	if err != nil {
		t.Fatal(err)
	}
	written, err := sample.Write(ctx, b, key, sample.Spec{Files: 2, RowsPerFile: 1000, Features: 2, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(ctx, st, []string{base + "/sample/raw"}, base+"/ds", shard.Options{Label: "label", RowsPerShard: 500}, shard.RunOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromTruth(written.Truth)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, st, base+"/model"); err != nil {
		t.Fatal(err)
	}

	scoreArgs := args("score", "--model", base+"/model", "--input", base+"/ds", "--output", base+"/scores",
		"--passthrough", "id", "--file-root", root, "--wait", "-o", "json")
	var sub struct {
		Job struct {
			ID             string `json:"id"`
			State          string `json:"state"`
			TasksTotal     int    `json:"tasks_total"`
			TasksSucceeded int    `json:"tasks_succeeded"`
			RowsDone       string `json:"rows_done"`
			OutputDir      string `json:"output_dir"`
			ResultURI      string `json:"result_uri"`
		} `json:"job"`
		Created bool `json:"created"`
	}
	jsonOut(t, &sub, scoreArgs...)
	j := sub.Job
	if !sub.Created || j.State != "JOB_STATE_SUCCEEDED" || j.TasksTotal != len(res.Manifest.Shards) || j.TasksSucceeded != j.TasksTotal ||
		j.RowsDone != fmt.Sprint(res.Manifest.TotalRows) || j.OutputDir != base+"/scores/job-"+j.ID || j.ResultURI == "" {
		t.Fatalf("score --wait: %+v", sub)
	}
	outDir := filepath.Join(root, "scores", "job-"+j.ID)
	for _, name := range []string{scoreout.SuccessMarker, scoreout.ManifestName, scoreout.FinalKey(0, "parquet")} {
		if _, err := os.Stat(filepath.Join(outDir, name)); err != nil {
			t.Errorf("output: %v", err)
		}
	}
	if man, err := scoreout.ReadManifest(ctx, storage.NewFileBucket(outDir), ""); err != nil || man.Rows != res.Manifest.TotalRows {
		t.Errorf("output manifest: %+v, %v; want %d rows", man, err, res.Manifest.TotalRows)
	}
	// The same command again is a no-op that finds the finished job.
	jsonOut(t, &sub, scoreArgs...)
	if sub.Created || sub.Job.ID != j.ID || sub.Job.State != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("resubmission: %+v", sub)
	}
	// A raw source is ingested first, then scored: every row comes out.
	jsonOut(t, &sub, args("score", "--model", base+"/model", "--input", base+"/sample/raw", "--output", base+"/scores-raw",
		"--file-root", root, "--wait", "-o", "json")...)
	if sub.Job.State != "JOB_STATE_SUCCEEDED" || sub.Job.RowsDone != fmt.Sprint(res.Manifest.TotalRows) ||
		!strings.HasPrefix(sub.Job.OutputDir, base+"/scores-raw/job-") {
		t.Fatalf("score of a raw source: %+v", sub)
	}
	// A model that cannot score the input fails before anything is submitted.
	_, err = run(t, args("score", "--model", base+"/model", "--input", base+"/ds", "--output", base+"/scores",
		"--passthrough", "no_such_column", "--file-root", root)...)
	if err == nil || !strings.Contains(err.Error(), "no_such_column") {
		t.Fatalf("preflight of a missing passthrough column: %v", err)
	}

	var jobs struct {
		Jobs []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"jobs"`
	}
	jsonOut(t, &jobs, args("jobs", "list", "-o", "json")...)
	// Newest first: the raw-input score job, its ingest job, the first score job.
	if len(jobs.Jobs) != 3 || jobs.Jobs[0].ID != sub.Job.ID || jobs.Jobs[2].ID != j.ID || jobs.Jobs[2].State != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("jobs list: %+v", jobs)
	}

	type workerList struct {
		Workers []struct {
			Worker struct {
				ID    string `json:"id"`
				Pool  string `json:"pool"`
				Slots int    `json:"slots"`
				State string `json:"state"`
			} `json:"worker"`
			Running int    `json:"running"`
			Gossip  string `json:"gossip"`
		} `json:"workers"`
	}
	var wl workerList
	jsonOut(t, &wl, args("workers", "list", "-o", "json")...)
	if len(wl.Workers) != 2 || wl.Workers[0].Worker.Slots != 2 || wl.Workers[0].Worker.State != "WORKER_STATE_ACTIVE" {
		t.Fatalf("workers list: %+v", wl)
	}
	id := wl.Workers[0].Worker.ID
	var drained struct {
		Worker struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"worker"`
	}
	jsonOut(t, &drained, args("workers", "drain", id, "-o", "json")...)
	if drained.Worker.ID != id || drained.Worker.State != "WORKER_STATE_DRAINING" {
		t.Fatalf("drain: %+v", drained)
	}
	jsonOut(t, &wl, args("workers", "list", "-o", "json")...)
	for _, w := range wl.Workers {
		if w.Worker.ID == id && w.Worker.State != "WORKER_STATE_DRAINING" {
			t.Fatalf("workers list after drain: %+v", wl)
		}
	}
	jsonOut(t, &drained, args("workers", "undrain", id, "-o", "json")...)
	if drained.Worker.State != "WORKER_STATE_ACTIVE" {
		t.Fatalf("undrain: %+v", drained)
	}

	var peers struct {
		Peers []struct {
			ID     string `json:"id"`
			Leader bool   `json:"leader"`
		} `json:"peers"`
		LeaderID string `json:"leader_id"`
	}
	jsonOut(t, &peers, args("operator", "raft", "list-peers", "-o", "json")...)
	if len(peers.Peers) != 1 || !peers.Peers[0].Leader || peers.LeaderID != peers.Peers[0].ID {
		t.Fatalf("list-peers: %+v", peers)
	}
}

// TestDevCommand runs `nightshift dev` until its context ends, as a signal
// would end it, and talks to it through the address it prints.
func TestDevCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCmd()
	var out, errOut testkit.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"dev", "--workers", "1", "--data", dir, "--addr", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	addrRE := regexp.MustCompile(`export NIGHTSHIFT_ADDR=(\S+)`)
	var addr string
	testkit.Retry(t, 60*time.Second, "dev to print its address", func() error {
		select {
		case err := <-done:
			t.Fatalf("dev ended early: %v\n%s", err, errOut.String())
		default:
		}
		m := addrRE.FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("no address in:\n%s", out.String())
		}
		addr = m[1]
		return nil
	})
	if !strings.Contains(out.String(), "file://"+filepath.Join(dir, "store")) {
		t.Fatalf("banner names no file store:\n%s", out.String())
	}
	var wl struct {
		Workers []struct{} `json:"workers"`
	}
	jsonOut(t, &wl, "workers", "list", "-o", "json", "--coordinator", addr)
	if len(wl.Workers) != 1 {
		t.Fatalf("workers: %+v", wl)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev after its context ended: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop")
	}
}
