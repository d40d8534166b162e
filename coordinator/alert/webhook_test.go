package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// request is what a test server saw.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

// recorder is a real HTTP server on loopback that answers with reply(n)
// for its n-th request (1-based) and records every request.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rec.reqs)
		rec.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("method %s, want POST", r.Method)
		}
		if reply != nil {
			reply(n, w, r)
		}
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func (r *recorder) count() int { return len(r.requests()) }

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// syncBuffer is a log sink safe to read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastOpts retries quickly and logs into the returned buffer.
func fastOpts() (Options, *syncBuffer) {
	buf := &syncBuffer{}
	return Options{
		Timeout:    2 * time.Second,
		Attempts:   3,
		Backoff:    time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
		Cluster:    "prod-eu",
		Logger:     slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, buf
}

var (
	slot    = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	raised  = time.Date(2026, 12, 4, 2, 17, 5, 250e6, time.UTC)
	failure = &pb.Alert{
		Id:         "run-42/run_failed",
		Event:      "run_failed",
		Schedule:   "churn-nightly",
		RunId:      "run-42",
		SlotUnixMs: slot.UnixMilli(),
		Message:    "step train failed: exit 1",
		UnixMs:     raised.UnixMilli(),
	}
)

func TestDeliverJSON(t *testing.T) {
	srv := newRecorder(t, status(http.StatusNoContent))
	opts, _ := fastOpts()
	s := NewSender([]Webhook{{URL: srv.URL + "/hook", Headers: map[string]string{"Authorization": "Bearer s3cret"}}}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	for k, want := range map[string]string{
		"Content-Type":    "application/json",
		"Idempotency-Key": "run-42/run_failed",
		"User-Agent":      "nightshift-alert/1",
		"Authorization":   "Bearer s3cret",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(reqs[0].body, &got); err != nil {
		t.Fatalf("body %s: %v", reqs[0].body, err)
	}
	want := map[string]any{
		"id":       "run-42/run_failed",
		"event":    "run_failed",
		"schedule": "churn-nightly",
		"run_id":   "run-42",
		"slot":     "2026-12-04T02:00:00Z",
		"message":  "step train failed: exit 1",
		"time":     "2026-12-04T02:17:05.25Z",
		"cluster":  "prod-eu",
	}
	if len(got) != len(want) {
		t.Errorf("body %s: want exactly the keys of %v", reqs[0].body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s = %v, want %v", k, got[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, got["time"].(string)); err != nil {
		t.Errorf("time is not RFC 3339: %v", err)
	}
}

func TestDeliverJSONOmitsSlot(t *testing.T) {
	srv := newRecorder(t, status(http.StatusOK))
	opts, _ := fastOpts()
	s := NewSender([]Webhook{{URL: srv.URL, Format: "json"}}, opts)
	a := &pb.Alert{Id: "churn-nightly/schedule_paused@1", Event: "schedule_paused", Schedule: "churn-nightly", Message: "3 failures in a row", UnixMs: raised.UnixMilli()}
	if err := s.Deliver(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(srv.requests()[0].body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["slot"]; ok {
		t.Errorf("slot present without a slot: %v", got)
	}
	if got["run_id"] != "" || got["event"] != "schedule_paused" {
		t.Errorf("body %v", got)
	}
}

func TestDeliverSlack(t *testing.T) {
	srv := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	opts, _ := fastOpts()
	opts.Cluster = ""
	s := NewSender([]Webhook{{URL: srv.URL + "/services/T0/B0/XXXX", Format: "slack"}}, opts)
	a := &pb.Alert{
		Id: "run-7/run_failed", Event: "run_failed", Schedule: "churn-nightly", RunId: "run-7",
		SlotUnixMs: slot.UnixMilli(), Message: "loss <nan> &\nstopped", UnixMs: raised.UnixMilli(),
	}
	if err := s.Deliver(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	req := srv.requests()[0]
	if got := req.header.Get("Idempotency-Key"); got != "run-7/run_failed" {
		t.Errorf("Idempotency-Key %q", got)
	}
	var body map[string]string
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	want := "[nightshift] run_failed · schedule churn-nightly · slot 2026-12-04T02:00:00Z · run run-7: loss &lt;nan&gt; &amp; stopped"
	if len(body) != 1 || body["text"] != want {
		t.Errorf("body %q\nwant text %q", req.body, want)
	}

	if got := SlackText(&pb.Alert{Event: "slot_missed", Schedule: "s"}, "prod"); got != "[nightshift prod] slot_missed · schedule s" {
		t.Errorf("SlackText = %q", got)
	}
}

func TestRetries503ThenSucceeds(t *testing.T) {
	srv := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	opts, _ := fastOpts()
	opts.Attempts = 5
	s := NewSender([]Webhook{{URL: srv.URL}}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	if !bytes.Equal(reqs[0].body, reqs[2].body) || reqs[2].header.Get("Idempotency-Key") != failure.Id {
		t.Error("a retry changed the request")
	}
}

func TestRetriesNetworkError(t *testing.T) {
	srv := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			panic(http.ErrAbortHandler) // drop the connection without an answer
		}
	})
	opts, _ := fastOpts()
	s := NewSender([]Webhook{{URL: srv.URL}}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	if n := srv.count(); n < 2 {
		t.Fatalf("%d requests, want a retry", n)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	srv := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	opts, _ := fastOpts()
	opts.Backoff = time.Millisecond
	opts.MaxBackoff = 150 * time.Millisecond // caps the 1s Retry-After
	s := NewSender([]Webhook{{URL: srv.URL}}, opts)
	start := time.Now()
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 140*time.Millisecond {
		t.Errorf("retried after %v; Retry-After (capped at 150ms) ignored", gap)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("took %v: Retry-After not capped by MaxBackoff", took)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	s := NewSender(nil, Options{})
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := s.backoff(60); got != 30*time.Second {
		t.Errorf("backoff(60) = %v, want the 30s cap", got)
	}
	if s.opts.Attempts != 5 || s.opts.Timeout != 10*time.Second {
		t.Errorf("defaults %+v", s.opts)
	}
}

func TestClientErrorIsPermanent(t *testing.T) {
	srv := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	})
	opts, logs := fastOpts()
	s := NewSender([]Webhook{{URL: srv.URL + "/secret-token"}}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatalf("Deliver = %v, want nil for a permanent failure", err)
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("%d requests, want 1 (no retry)", n)
	}
	l := logs.String()
	if !strings.Contains(l, "not retrying") || !strings.Contains(l, "invalid_payload") || !strings.Contains(l, "400") {
		t.Errorf("log lacks the rejection:\n%s", l)
	}
	if strings.Contains(l, "secret-token") {
		t.Errorf("log leaks the URL path:\n%s", l)
	}
	// Finished: a later Deliver does not send again.
	if err := s.Deliver(context.Background(), failure); err != nil || srv.count() != 1 {
		t.Errorf("second Deliver: %v, %d requests", err, srv.count())
	}
}

func TestAlwaysFailingReturnsError(t *testing.T) {
	srv := newRecorder(t, status(http.StatusInternalServerError))
	opts, _ := fastOpts()
	opts.Attempts = 4
	s := NewSender([]Webhook{{URL: srv.URL + "/secret-token"}}, opts)
	err := s.Deliver(context.Background(), failure)
	if err == nil {
		t.Fatal("Deliver = nil, want an error")
	}
	if n := srv.count(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	if !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %q: want the status, not the URL path", err)
	}
}

func TestNetworkErrorDoesNotLeakURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/services/secret-token"
	srv.Close() // connection refused from now on
	opts, logs := fastOpts()
	opts.Attempts = 2
	err := NewSender([]Webhook{{URL: u}}, opts).Deliver(context.Background(), failure)
	if err == nil {
		t.Fatal("Deliver = nil against a closed server")
	}
	if strings.Contains(err.Error(), "secret-token") || strings.Contains(logs.String(), "secret-token") {
		t.Errorf("URL path leaked: %v\n%s", err, logs)
	}
}

func TestEventFilter(t *testing.T) {
	all := newRecorder(t, status(http.StatusOK))
	missed := newRecorder(t, status(http.StatusOK))
	opts, _ := fastOpts()
	s := NewSender([]Webhook{
		{URL: all.URL},
		{URL: missed.URL, Events: []string{"slot_missed", "slot_skipped"}},
	}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	if all.count() != 1 || missed.count() != 0 {
		t.Fatalf("run_failed: all=%d filtered=%d, want 1 0", all.count(), missed.count())
	}
	a := &pb.Alert{Id: "s/slot_missed@5", Event: "slot_missed", Schedule: "s", SlotUnixMs: slot.UnixMilli()}
	if err := s.Deliver(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if all.count() != 2 || missed.count() != 1 {
		t.Fatalf("slot_missed: all=%d filtered=%d, want 2 1", all.count(), missed.count())
	}
}

func TestCancelStopsQuickly(t *testing.T) {
	release := make(chan struct{})
	hang := newRecorder(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // runs before the server's Close (cleanup)
	busy := newRecorder(t, status(http.StatusServiceUnavailable))
	opts, _ := fastOpts()
	opts.Timeout = time.Minute
	opts.Backoff = time.Minute
	opts.MaxBackoff = time.Minute
	s := NewSender([]Webhook{{URL: hang.URL}, {URL: busy.URL}}, opts)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := s.Deliver(ctx, failure)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Deliver took %v after cancel", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver = %v, want context.Canceled", err)
	}
	if busy.count() != 1 {
		t.Errorf("busy hook saw %d requests, want 1 (then waiting in backoff)", busy.count())
	}
}

func TestAcceptedNotResent(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	ok := newRecorder(t, status(http.StatusOK))
	flaky := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if broken.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	opts, _ := fastOpts()
	opts.Attempts = 2
	s := NewSender([]Webhook{{URL: ok.URL}, {URL: flaky.URL, Format: "slack"}}, opts)
	if err := s.Deliver(context.Background(), failure); err == nil {
		t.Fatal("Deliver = nil while a hook fails")
	}
	if ok.count() != 1 || flaky.count() != 2 {
		t.Fatalf("first Deliver: ok=%d flaky=%d, want 1 2", ok.count(), flaky.count())
	}
	broken.Store(false)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	if ok.count() != 1 || flaky.count() != 3 {
		t.Fatalf("second Deliver: ok=%d flaky=%d, want 1 3", ok.count(), flaky.count())
	}
	if err := s.Deliver(context.Background(), failure); err != nil || ok.count()+flaky.count() != 4 {
		t.Fatalf("third Deliver: %v, %d requests in all, want 4", err, ok.count()+flaky.count())
	}
	// Another alert is sent again.
	other := &pb.Alert{Id: "run-43/run_failed", Event: "run_failed", RunId: "run-43"}
	if err := s.Deliver(context.Background(), other); err != nil || ok.count() != 2 || flaky.count() != 4 {
		t.Fatalf("other alert: %v, ok=%d flaky=%d", err, ok.count(), flaky.count())
	}
}

func TestFinishedRecordIsBounded(t *testing.T) {
	s := NewSender(nil, Options{})
	for i := 0; i < rememberFinished+10; i++ {
		s.markFinished("run-"+strconv.Itoa(i)+"/run_failed", 0)
	}
	if len(s.finished) != rememberFinished || len(s.order) != rememberFinished {
		t.Fatalf("record holds %d/%d, want %d", len(s.finished), len(s.order), rememberFinished)
	}
	s.markFinished("newest", 0)
	if !s.isFinished("newest", 0) || s.isFinished("newest", 1) || s.isFinished("run-10/run_failed", 0) {
		t.Error("newest entry lost, hook ignored, or oldest kept")
	}
}

func TestMisconfiguredHookIsSkipped(t *testing.T) {
	good := newRecorder(t, status(http.StatusOK))
	opts, logs := fastOpts()
	s := NewSender([]Webhook{{URL: "ftp://example.com/x"}, {URL: good.URL}}, opts)
	if err := s.Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	if good.count() != 1 || !strings.Contains(logs.String(), "misconfigured") {
		t.Errorf("good=%d logs:\n%s", good.count(), logs)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	target := newRecorder(t, status(http.StatusOK))
	redir := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusMovedPermanently)
	})
	opts, logs := fastOpts()
	if err := NewSender([]Webhook{{URL: redir.URL}}, opts).Deliver(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	if redir.count() != 1 || target.count() != 0 || !strings.Contains(logs.String(), "redirects are not followed") {
		t.Errorf("redirect: %d/%d requests, logs:\n%s", redir.count(), target.count(), logs)
	}
}

func TestCheck(t *testing.T) {
	good := []Webhook{
		{URL: "https://hooks.slack.com/services/T/B/X", Format: "slack"},
		{URL: "http://127.0.0.1:9000/alerts", Format: "json", Events: []string{"run_failed", "not_promoted"}},
		{URL: "https://alerts.example.com", Headers: map[string]string{"Authorization": "Bearer x", "X-Team": "ml"}},
	}
	for _, w := range good {
		if err := w.Check(); err != nil {
			t.Errorf("%+v: %v", w, err)
		}
	}
	for _, c := range []struct {
		w    Webhook
		want string
	}{
		{Webhook{}, "url: required"},
		{Webhook{URL: "hooks.example.com/x"}, "url: needs a scheme"},
		{Webhook{URL: "ftp://example.com/x"}, `url: scheme "ftp"`},
		{Webhook{URL: "https:///path"}, "url: has no host"},
		{Webhook{URL: "http://exa mple.com/"}, "url: does not parse"},
		{Webhook{URL: "https://x.com", Format: "xml"}, `format: unknown format "xml"`},
		{Webhook{URL: "https://x.com", Headers: map[string]string{"Bad Name": "v"}}, `headers: "Bad Name" is not a valid header name`},
		{Webhook{URL: "https://x.com", Headers: map[string]string{"idempotency-key": "v"}}, "headers: Idempotency-Key is set by nightshift"},
		{Webhook{URL: "https://x.com", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}, "headers: value of X-A"},
		{Webhook{URL: "https://x.com", Events: []string{"run_failed", "run_succeeded"}}, `events[1]: unknown event "run_succeeded"`},
	} {
		err := c.w.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: Check = %v, want %q", c.w, err, c.want)
		}
	}
	if err := (Webhook{URL: "ftp://example.com/secret-token"}).Check(); strings.Contains(err.Error(), "secret-token") {
		t.Errorf("Check leaks the URL: %v", err)
	}
	cfg := Config{Webhooks: []Webhook{good[0], {URL: "https://x.com", Format: "teams"}}}
	if err := cfg.Check(); err == nil || !strings.HasPrefix(err.Error(), "webhooks[1].format: ") {
		t.Errorf("Config.Check = %v", err)
	}
}

func TestNilAlert(t *testing.T) {
	if err := NewSender(nil, Options{}).Deliver(context.Background(), nil); err == nil {
		t.Error("Deliver(nil) = nil")
	}
	if err := NewSender(nil, Options{}).Deliver(context.Background(), failure); err != nil {
		t.Errorf("no hooks: %v", err)
	}
}
