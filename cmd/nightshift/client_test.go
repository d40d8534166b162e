package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

// startCoordinator runs a single-voter coordinator (no workers) on loopback
// and returns its API address once it leads.
func startCoordinator(t *testing.T, fileRoot string) string {
	t.Helper()
	cfg := coordinator.TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap = "c1", t.TempDir(), true
	cfg.Storage = storage.Config{FileRoot: fileRoot}
	srv, err := coordinator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("coordinator shutdown: %v", err)
		}
	})
	addr := srv.Addr()
	testkit.Retry(t, 15*time.Second, "c1 to lead, as list-peers shows", func() error {
		out, err := run(t, "operator", "raft", "list-peers", "--coordinator", addr, "-o", "json")
		var peers struct {
			LeaderID string `json:"leader_id"`
		}
		if err == nil && json.Unmarshal([]byte(out), &peers) == nil && peers.LeaderID == "c1" {
			return nil
		}
		return fmt.Errorf("no leader: %v %s", err, out)
	})
	return addr
}

// jsonOut runs a command that must succeed and decodes its JSON output.
func jsonOut(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// submitted is the shape of `score|shard --submit -o json`.
type submitted struct {
	Job struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		TasksTotal int    `json:"tasks_total"`
		Error      string `json:"error"`
		Spec       struct {
			Name           string          `json:"name"`
			Pool           string          `json:"pool"`
			IdempotencyKey string          `json:"idempotency_key"`
			Shard          json.RawMessage `json:"shard"`
		} `json:"spec"`
	} `json:"job"`
	Created bool `json:"created"`
}

// TestClientAgainstCoordinator drives every client command against a real
// coordinator without workers: jobs stay pending, which is enough to check
// submission, idempotency, listing, cancel, watch and the error messages.
func TestClientAgainstCoordinator(t *testing.T) {
	dir := t.TempDir()
	addr := startCoordinator(t, dir)
	c := []string{"--coordinator", addr}
	args := func(a ...string) []string { return append(a, c...) }

	var peers struct {
		Peers []struct {
			ID     string `json:"id"`
			Voter  bool   `json:"voter"`
			Leader bool   `json:"leader"`
		} `json:"peers"`
		CommitIndex string `json:"commit_index"`
	}
	jsonOut(t, &peers, args("operator", "raft", "list-peers", "-o", "json")...)
	if len(peers.Peers) != 1 || peers.Peers[0].ID != "c1" || !peers.Peers[0].Voter || !peers.Peers[0].Leader || peers.CommitIndex == "" {
		t.Fatalf("list-peers: %+v", peers)
	}
	if out, err := run(t, args("operator", "raft", "list-peers")...); err != nil || !strings.Contains(out, "c1") || !strings.Contains(out, "leader c1") {
		t.Fatalf("list-peers table: %v\n%s", err, out)
	}

	var workers struct {
		Workers []json.RawMessage `json:"workers"`
	}
	jsonOut(t, &workers, args("workers", "list", "-o", "json")...)
	if workers.Workers == nil || len(workers.Workers) != 0 {
		t.Fatalf("workers list: %+v", workers)
	}

	// Errors are one line and name what was missing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args("jobs", "get", "nope"), "job nope not found"},
		{args("jobs", "cancel", "nope"), "nope"},
		{args("workers", "drain", "w-nope"), "worker w-nope not found"},
		{[]string{"jobs", "list", "--coordinator", "127.0.0.1:1"}, "cannot reach coordinator 127.0.0.1:1"},
		{args("score", "--skip-preflight", "--model", "file://"+dir+"/no-model", "--input", "file://"+dir+"/ds", "--output", "file://"+dir+"/out"), "model.json"},
		{args("jobs", "list", "--state", "sleeping"), `unknown job state "sleeping"`},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}

	// A distributed shard job: submitted once, found again by its spec.
	st := storage.Config{FileRoot: dir}
	b, key, err := storage.Open(context.Background(), "file://"+dir+"/sample", st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(context.Background(), b, key, sample.Spec{Files: 3, RowsPerFile: 200, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	shardArgs := args("shard", "--input", "file://"+filepath.Join(dir, "sample", "raw"), "--output", "file://"+filepath.Join(dir, "ds"),
		"--rows-per-shard", "100", "--submit", "--name", "ingest")
	shardJSON := slices.Concat(shardArgs, []string{"-o", "json"})
	var first, again, fresh submitted
	jsonOut(t, &first, shardJSON...)
	if !first.Created || first.Job.ID == "" || first.Job.TasksTotal != 3 || first.Job.Spec.Name != "ingest" ||
		first.Job.Spec.Pool != "default" || !strings.HasPrefix(first.Job.Spec.IdempotencyKey, "spec-") || first.Job.Spec.Shard == nil {
		t.Fatalf("first submit: %+v", first)
	}
	jsonOut(t, &again, append(shardJSON, "--name", "renamed")...)
	if again.Created || again.Job.ID != first.Job.ID {
		t.Fatalf("resubmitting the same spec made a new job: %+v", again)
	}
	jsonOut(t, &fresh, append(shardJSON, "--new")...)
	if !fresh.Created || fresh.Job.ID == first.Job.ID {
		t.Fatalf("--new did not make a new job: %+v", fresh)
	}
	if out, err := run(t, shardArgs...); err != nil || !strings.Contains(out, "job "+first.Job.ID+" (existing") {
		t.Fatalf("table output of a resubmission: %v\n%s", err, out)
	}

	var list struct {
		Jobs []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"jobs"`
	}
	jsonOut(t, &list, args("jobs", "list", "-o", "json")...)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != fresh.Job.ID || list.Jobs[1].ID != first.Job.ID {
		t.Fatalf("jobs list (newest first): %+v", list)
	}
	var got struct {
		Job   struct{ ID string } `json:"job"`
		Tasks []struct {
			Index int    `json:"index"`
			State string `json:"state"`
		} `json:"tasks"`
	}
	jsonOut(t, &got, args("jobs", "get", first.Job.ID, "--tasks", "-o", "json")...)
	if len(got.Tasks) != 3 || got.Tasks[2].Index != 2 {
		t.Fatalf("jobs get --tasks: %+v", got)
	}
	if out, err := run(t, args("jobs", "get", first.Job.ID, "--tasks")...); err != nil || !strings.Contains(out, "TASK") || !strings.Contains(out, "ingest") {
		t.Fatalf("jobs get table: %v\n%s", err, out)
	}

	var cancelled struct {
		Job struct {
			State string `json:"state"`
		} `json:"job"`
	}
	jsonOut(t, &cancelled, args("jobs", "cancel", first.Job.ID, "--reason", "test over", "-o", "json")...)
	if cancelled.Job.State != "JOB_STATE_CANCELLED" {
		t.Fatalf("cancel: %+v", cancelled)
	}
	out, err := run(t, args("jobs", "watch", first.Job.ID)...)
	if err == nil || !strings.Contains(err.Error(), "job "+first.Job.ID+" cancelled") || !strings.Contains(out, "cancelled") {
		t.Fatalf("watch of a cancelled job: %v\n%s", err, out)
	}
	jsonOut(t, &list, args("jobs", "list", "--state", "cancelled", "-o", "json")...)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != first.Job.ID {
		t.Fatalf("jobs list --state cancelled: %+v", list)
	}
	// --wait on a job that ends: the cancelled job is found by its key and
	// the command fails with the job's reason.
	_, err = run(t, append(shardArgs, "--wait")...)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("--wait on a cancelled job: %v", err)
	}
}

func TestIdempotencyKeyIsTheNormalisedSpec(t *testing.T) {
	spec := func(name, input string, passthrough ...string) *nsv1.JobSpec {
		f := &scoreFlags{spec: nsv1.ScoreSpec{Model: "s3://bkt/m/", Input: input, Output: "s3://bkt/out", Format: "PARQUET", BadRows: "fail", Passthrough: passthrough}}
		if err := normaliseScore(&f.spec); err != nil {
			t.Fatal(err)
		}
		return &nsv1.JobSpec{Name: name, Pool: "default", Kind: &nsv1.JobSpec_Score{Score: &f.spec}}
	}
	key := func(s *nsv1.JobSpec) string {
		k, err := idempotencyKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := key(spec("a", "s3://bkt/ds", "id"))
	if b := key(spec("other name", "s3://bkt/ds/", " id")); a != b {
		t.Fatalf("name or a trailing slash changed the key: %s vs %s", a, b)
	}
	if c := key(spec("a", "s3://bkt/ds2", "id")); a == c {
		t.Fatal("a different input kept the key")
	}
	if d := key(spec("a", "s3://bkt/ds", "id", "age")); a == d {
		t.Fatal("different passthrough columns kept the key")
	}
	for in, want := range map[string]string{"s3://b/x/": "s3://b/x", "file:///": "file:///", "file:///a//": "file:///a", " s3://b ": "s3://b"} {
		if got := jobspec.CanonicalURI(in); got != want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAPIErrorsAreOneLine(t *testing.T) {
	c := &apiClient{addr: "10.0.0.1:7100", timeout: 5 * time.Second}
	for _, tc := range []struct {
		err  error
		what string
		want string
	}{
		{status.Error(codes.NotFound, "not found"), "job abc", "job abc not found"},
		{status.Error(codes.NotFound, "job abc not found"), "job abc", "job abc not found"},
		{status.Error(codes.InvalidArgument, "invalid request: input x holds no dataset manifest"), "", "invalid request: input x holds no dataset manifest"},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp: connect: connection refused"`), "", "cannot reach coordinator 10.0.0.1:7100"},
		{status.Error(codes.Unavailable, "not the leader and no leader known"), "", "coordinator 10.0.0.1:7100 is unavailable: not the leader"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "", "did not answer within 5s"},
		{status.Error(codes.PermissionDenied, "no"), "", "--tls-ca, --tls-cert"},
		{status.Error(codes.Internal, "boom\nstack"), "", "internal: boom"},
	} {
		got := c.apiError(tc.err, tc.what).Error()
		if !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("apiError(%v) = %q, want one line with %q", tc.err, got, tc.want)
		}
	}
	if _, err := parseJobStates([]string{"Running", "JOB_STATE_FAILED", " cancelled"}); err != nil {
		t.Fatal(err)
	}
}

// badListener is a coordinator address that fails at the transport: it
// accepts connections and closes them at once (hang: holds them open and
// says nothing, as a blackholed or wedged host would). It counts accepts.
func badListener(t *testing.T, hang bool) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepts atomic.Int64
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			if !hang {
				_ = c.Close()
				continue
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), &accepts
}

// TestClientFailsOverBetweenCoordinators: with a coordinator list whose
// first address fails at the transport (refused, closed at once, or
// silent), calls go to the next one, and keep going to the one that
// answered.
func TestClientFailsOverBetweenCoordinators(t *testing.T) {
	live := startCoordinator(t, t.TempDir())
	closing, closingAccepts := badListener(t, false)
	silent, silentAccepts := badListener(t, true)
	for _, tc := range []struct {
		name    string
		bad     string
		accepts *atomic.Int64 // nil: nothing to count (a closed port)
	}{
		{"refused", testkit.DeadAddr(t), nil},
		{"closed at once", closing, closingAccepts},
		{"silent", silent, silentAccepts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &clientFlags{addr: tc.bad + ", " + live, timeout: 10 * time.Second}
			c, err := f.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			call := func() {
				t.Helper()
				ctx, cancel := c.call(context.Background())
				defer cancel()
				resp, err := c.admin.ListPeers(ctx, &nsv1.ListPeersRequest{})
				if err != nil {
					t.Fatalf("with %s first: %v", tc.bad, c.apiError(err, ""))
				}
				if resp.LeaderId != "c1" {
					t.Fatalf("leader %q", resp.LeaderId)
				}
			}
			call()
			var before int64
			if tc.accepts != nil {
				before = tc.accepts.Load()
			}
			for range 5 {
				call()
			}
			if tc.accepts != nil && tc.accepts.Load() != before {
				t.Errorf("the failed address was dialled %d more times after one answered", tc.accepts.Load()-before)
			}
		})
	}

	// Through the CLI: the flag and NIGHTSHIFT_ADDR both take the list.
	dead := testkit.DeadAddr(t)
	var peers struct {
		LeaderID string `json:"leader_id"`
	}
	jsonOut(t, &peers, "operator", "raft", "list-peers", "-o", "json", "--coordinator", dead+","+live)
	if peers.LeaderID != "c1" {
		t.Fatalf("--coordinator %s,%s: leader %q", dead, live, peers.LeaderID)
	}
	t.Setenv("NIGHTSHIFT_ADDR", dead+","+live)
	peers.LeaderID = ""
	jsonOut(t, &peers, "operator", "raft", "list-peers", "-o", "json")
	if peers.LeaderID != "c1" {
		t.Fatalf("NIGHTSHIFT_ADDR=%s,%s: leader %q", dead, live, peers.LeaderID)
	}
	// When none answers, the error names them all.
	_, err := run(t, "operator", "raft", "list-peers", "--coordinator", dead+","+testkit.DeadAddr(t), "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "cannot reach coordinator "+dead+",") {
		t.Fatalf("every coordinator down: %v", err)
	}
}

func TestSplitAddrs(t *testing.T) {
	got, err := splitAddrs(" a:1, b:2,,c:3 ")
	if err != nil || !slices.Equal(got, []string{"a:1", "b:2", "c:3"}) {
		t.Fatalf("splitAddrs = %q, %v", got, err)
	}
	if _, err := splitAddrs(" , "); err == nil || !strings.Contains(err.Error(), "--coordinator") {
		t.Fatalf("an empty list: %v", err)
	}
}
