package worker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// postDrain posts to the worker's /drain and returns the status and body.
func postDrain(t *testing.T, a *Agent, query string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+a.HTTPAddr()+"/drain"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestDrainHTTP: POST /drain from loopback drains (leasing stops, the
// running task goes on), answers 202 while the task runs once its wait
// ran out, and 200 once the worker is idle, within one call that waits.
func TestDrainHTTP(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.HTTPAddr = "127.0.0.1:0"
	a, _ := runAgent(t, cfg)
	f.add(noop("j1", 0, 1500))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })

	code, body := postDrain(t, a, "")
	if code != http.StatusAccepted || body != "draining: 1 still running\n" {
		t.Fatalf("POST /drain while a task runs = %d %q; want 202 naming 1 running", code, body)
	}
	if !agentState(a, func(a *Agent) bool { return a.localDrain }) {
		t.Fatal("POST /drain did not drain the worker")
	}
	// A long poll in flight when the drain began may still bring work;
	// once it returned, nothing more is leased.
	waitUntil(t, "the in-flight lease call to end", func() bool {
		return agentState(a, func(a *Agent) bool { return a.lease != leaseCalling })
	})
	f.add(noop("j1", 1, 0)) // must not be leased: the worker drains
	code, body = postDrain(t, a, "?wait=50ms")
	if code != http.StatusAccepted || !strings.HasPrefix(body, "draining: ") {
		t.Fatalf("POST /drain?wait=50ms = %d %q; want 202", code, body)
	}

	start := time.Now()
	code, body = postDrain(t, a, "?wait=10s")
	if code != http.StatusOK || body != "drained\n" {
		t.Fatalf("POST /drain?wait=10s = %d %q; want 200 drained", code, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the drain answered %s after the call; want as soon as the task ended", took)
	}
	// Its report follows (the flush loop goes on while drained).
	f.waitFor(t, "the task's report", func(f *fakeCoord) bool { return len(f.reportsForLocked("j1", 0, 1)) == 1 })
	if n := read(f, func(f *fakeCoord) int { return len(f.queue) }); n != 1 {
		t.Errorf("a drained worker leased new work (%d left queued, want 1)", n)
	}
	if code, body := postDrain(t, a, ""); code != http.StatusOK || body != "drained\n" {
		t.Errorf("POST /drain on a drained, idle worker = %d %q; want 200", code, body)
	}

	// Bad wait and a GET.
	if code, body := postDrain(t, a, "?wait=soon"); code != http.StatusBadRequest || !strings.Contains(body, "duration") {
		t.Errorf("POST /drain?wait=soon = %d %q; want 400", code, body)
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/drain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET /drain = %d (Allow %q); want 405, Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestDrainHTTPRefusesRemote: /drain refuses a caller that is not on
// loopback, saying why, and does not drain.
func TestDrainHTTPRefusesRemote(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	for _, remote := range []string{"10.1.2.3:40000", "[fe80::1]:40000", "192.168.0.7:1", "garbage"} {
		req := httptest.NewRequest(http.MethodPost, "/drain", nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		a.handleDrain(w, req)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only from loopback") || !strings.Contains(w.Body.String(), remote) {
			t.Errorf("remote %s: %d %q; want 403 saying only loopback may drain", remote, w.Code, w.Body.String())
		}
	}
	if agentState(a, func(a *Agent) bool { return a.localDrain }) {
		t.Fatal("a refused /drain drained the worker")
	}
	for _, remote := range []string{"127.0.0.1:5555", "[::1]:5555", "[::ffff:127.0.0.1]:5555", "127.9.9.9:1"} {
		req := httptest.NewRequest(http.MethodPost, "/drain", nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		a.handleDrain(w, req)
		if w.Code != http.StatusOK || w.Body.String() != "drained\n" {
			t.Errorf("remote %s: %d %q; want 200 drained (an agent that never ran is idle)", remote, w.Code, w.Body.String())
		}
	}
}
