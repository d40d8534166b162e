package worker

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/testkit"
)

func TestDeletionCostRule(t *testing.T) {
	for _, c := range []struct {
		draining bool
		attempts int
		training bool
		want     int32
	}{
		{false, 0, false, 0},
		{false, 1, false, 100},
		{false, 3, false, 300},
		{false, 1, true, 10100},
		{false, 4, true, 10400},
		{true, 0, false, -1000},
		{true, 3, true, -1000},
		{false, math.MaxInt32, true, math.MaxInt32},
	} {
		if got := deletionCost(c.draining, c.attempts, c.training); got != c.want {
			t.Errorf("deletionCost(draining %v, %d attempts, training %v) = %d, want %d", c.draining, c.attempts, c.training, got, c.want)
		}
	}
}

func TestPodDeletionCostNeedsPodName(t *testing.T) {
	t.Setenv(envPodName, "")
	cfg := testConfig(t, "w1", "127.0.0.1:1")
	cfg.PodDeletionCost = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "POD_NAME") {
		t.Fatalf("Validate = %v; want an error naming POD_NAME", err)
	}
	t.Setenv(envPodName, "w-0")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// fakeAPI plays the Kubernetes API server for one pod over TLS: it checks
// every request the way the API server would and records the costs of
// the PATCHes it accepted. forbid answers the next n requests 403.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	changed  chan struct{}
	token    string // the bearer token it accepts
	forbid   int
	costs    []string // accepted PATCHes, in order
	requests int
	bad      []string // what was wrong with requests
}

func newFakeAPI(t *testing.T, ns, pod string) *fakeAPI {
	api := &fakeAPI{t: t, changed: make(chan struct{})}
	wantPath := "/api/v1/namespaces/" + ns + "/pods/" + pod
	api.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		defer api.mu.Unlock()
		defer api.notifyLocked()
		api.requests++
		var errs []string
		if r.Method != http.MethodPatch {
			errs = append(errs, "method "+r.Method)
		}
		if r.URL.Path != wantPath {
			errs = append(errs, "path "+r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
			errs = append(errs, "content type "+ct)
		}
		if auth := r.Header.Get("Authorization"); auth != "Bearer "+api.token {
			errs = append(errs, "authorization "+auth)
		}
		var patch struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&patch); err != nil {
			errs = append(errs, "body "+string(body)+": "+err.Error())
		}
		cost, ok := patch.Metadata.Annotations["controller.kubernetes.io/pod-deletion-cost"]
		if !ok || len(patch.Metadata.Annotations) != 1 {
			errs = append(errs, "annotations "+string(body))
		}
		if len(errs) > 0 {
			api.bad = append(api.bad, strings.Join(errs, "; "))
			http.Error(w, strings.Join(errs, "; "), http.StatusBadRequest)
			return
		}
		if api.forbid > 0 {
			api.forbid--
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"`+pod+
				`\" is forbidden: User \"system:serviceaccount:`+ns+`:default\" cannot patch resource \"pods\"","reason":"Forbidden","code":403}`)
			return
		}
		api.costs = append(api.costs, cost)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"Pod","apiVersion":"v1"}`)
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (api *fakeAPI) notifyLocked() {
	close(api.changed)
	api.changed = make(chan struct{})
}

// waitFor waits until cond (under the lock) holds.
func (api *fakeAPI) waitFor(what string, cond func(api *fakeAPI) bool) {
	api.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		api.mu.Lock()
		ok, ch := cond(api), api.changed
		api.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			api.mu.Lock()
			defer api.mu.Unlock()
			api.t.Fatalf("timed out waiting for %s; PATCHes accepted %v, bad requests %v", what, api.costs, api.bad)
		}
	}
}

func (api *fakeAPI) accepted() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.bad) > 0 {
		api.t.Errorf("the API server got bad requests: %v", api.bad)
	}
	return slices.Clone(api.costs)
}

// serviceAccount writes a service account folder (token, ca.crt for the
// fake API server, namespace) and points the in-cluster env at the fake.
func serviceAccount(t *testing.T, api *fakeAPI, ns, pod, token string) string {
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.srv.Certificate().Raw})
	for name, body := range map[string]string{"token": token + "\n", "ca.crt": string(ca), "namespace": ns} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(api.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv(envPodName, pod)
	t.Setenv(envPodNamespace, "") // the namespace file then
	api.mu.Lock()
	api.token = token
	api.mu.Unlock()
	return dir
}

// TestPodDeletionCost drives a worker idle → two tasks → idle → a burst
// of short tasks → drained, against a fake API server, and checks the
// PATCHes: 0 at start, 200 (one PATCH, not 100 then 200: changes within
// the interval coalesce), 0, nothing for the burst (it ended within the
// interval, at the value already written), -1000 once drained; and that
// the token is read again for every PATCH.
func TestPodDeletionCost(t *testing.T) {
	const ns, pod = "batch", "worker-7d9f-abcde"
	api := newFakeAPI(t, ns, pod)
	sa := serviceAccount(t, api, ns, pod, "tok-1")
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.PodDeletionCost = true
	cfg.kube = kubeEnv{saDir: sa, interval: time.Second}
	a, stop := runAgent(t, cfg)

	f.waitFor(t, "registration", func(f *fakeCoord) bool { return len(f.registers) == 1 })
	api.waitFor("the idle cost", func(api *fakeAPI) bool { return len(api.costs) == 1 })
	f.add(noop("j1", 0, 1500), noop("j1", 1, 1500))
	waitUntil(t, "both tasks running", func() bool { return a.Running() == 2 })
	api.waitFor("the busy cost", func(api *fakeAPI) bool { return len(api.costs) == 2 })

	// Rotate the token: the next PATCH must carry the new one.
	if err := os.WriteFile(filepath.Join(sa, "token"), []byte("tok-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	api.token = "tok-2"
	api.mu.Unlock()
	api.waitFor("the idle cost again", func(api *fakeAPI) bool { return len(api.costs) == 3 })

	// A burst of short tasks within one interval: nothing to write.
	f.add(noop("j2", 0, 50), noop("j2", 1, 50))
	f.waitFor(t, "the burst's reports", func(f *fakeCoord) bool { return len(f.reportsForLocked("j2", 1, 1)) == 1 })
	time.Sleep(1500 * time.Millisecond) // past the interval: a PATCH would have gone out
	if got := api.accepted(); !slices.Equal(got, []string{"0", "200", "0"}) {
		t.Fatalf("PATCHes %v; want [0 200 0]", got)
	}

	a.Drain()
	api.waitFor("the draining cost", func(api *fakeAPI) bool { return len(api.costs) == 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := api.accepted(); !slices.Equal(got, []string{"0", "200", "0", "-1000"}) {
		t.Fatalf("PATCHes %v; want [0 200 0 -1000]", got)
	}
}

// TestPodDeletionCostForbidden: an API server that answers 403 (RBAC
// missing) is logged with the status, its message and the hint, and
// retried until it accepts; the worker meanwhile runs normally.
func TestPodDeletionCostForbidden(t *testing.T) {
	const ns, pod = "batch", "worker-0"
	api := newFakeAPI(t, ns, pod)
	api.forbid = 3
	sa := serviceAccount(t, api, ns, pod, "tok")
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	var logs testkit.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.PodDeletionCost = true
	cfg.kube = kubeEnv{saDir: sa, interval: 20 * time.Millisecond}
	_, stop := runAgent(t, cfg)

	f.add(noop("j1", 0, 0))
	f.waitFor(t, "the task's report", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })
	api.waitFor("a PATCH accepted after the 403s", func(api *fakeAPI) bool { return len(api.costs) >= 1 })
	waitUntil(t, "the worker to log the success", func() bool { return strings.Contains(logs.String(), "pod-deletion-cost annotation set") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := api.accepted(); got[0] != "0" && got[0] != "100" {
		t.Errorf("PATCHes %v; want the first one 0 (idle) or 100 (the task)", got)
	}
	out := logs.String()
	for _, want := range []string{
		"setting the pod-deletion-cost annotation failed",
		"status=403",
		`cannot patch resource \"pods\"`,
		"RBAC is missing",
		"pod-deletion-cost annotation set",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "status=403"); n != 3 {
		t.Errorf("%d warnings about a 403, want 3 (one per refused PATCH)", n)
	}
}
