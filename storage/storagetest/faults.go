package storagetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Fault is a failure FaultTransport can inject into a request.
type Fault int

const (
	// SlowDown answers 503 SlowDown without reaching the server.
	SlowDown Fault = iota + 1
	// Reset fails the request with a connection reset (ECONNRESET) without
	// reaching the server.
	Reset
	// LoseResponse lets the server handle the request, then drops its
	// answer and reports a connection reset: the request took effect but
	// the client cannot know.
	LoseResponse
)

func (f Fault) String() string {
	switch f {
	case SlowDown:
		return "503 SlowDown"
	case Reset:
		return "connection reset"
	case LoseResponse:
		return "lost response"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Match selects requests.
type Match func(*http.Request) bool

// Method matches requests with the given HTTP method and, optionally, a
// query parameter that is present (e.g. "partNumber", "uploadId").
func Method(method string, withQuery ...string) Match {
	return func(r *http.Request) bool {
		if r.Method != method {
			return false
		}
		for _, q := range withQuery {
			if !r.URL.Query().Has(q) {
				return false
			}
		}
		return true
	}
}

// FaultTransport is an http.RoundTripper for S3Config.Transport that
// injects faults into matching requests and counts every request it sees.
// It is safe for concurrent use.
type FaultTransport struct {
	// Base carries the requests that are let through; nil means a clone of
	// http.DefaultTransport.
	Base http.RoundTripper

	once  sync.Once
	mu    sync.Mutex
	rules []*rule
	seen  []*http.Request // method and URL only, so bodies are not kept
}

type rule struct {
	match Match
	fault Fault
	left  int // < 0: forever
}

// Inject makes the next n requests matching m (nil: any) fail with f
// (n < 0: every one). Rules are tried in the order they were added.
func (ft *FaultTransport) Inject(m Match, f Fault, n int) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rules = append(ft.rules, &rule{match: m, fault: f, left: n})
}

// Clear removes every rule and forgets the requests seen.
func (ft *FaultTransport) Clear() {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rules, ft.seen = nil, nil
}

// Count returns how many requests matching m were seen (nil: all).
func (ft *FaultTransport) Count(m Match) int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	n := 0
	for _, r := range ft.seen {
		if m == nil || m(r) {
			n++
		}
	}
	return n
}

// Requests lists the requests seen as "METHOD /path?query", for messages.
func (ft *FaultTransport) Requests() []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	out := make([]string, len(ft.seen))
	for i, r := range ft.seen {
		out[i] = r.Method + " " + r.URL.RequestURI()
	}
	return out
}

// RoundTrip implements http.RoundTripper.
func (ft *FaultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ft.once.Do(func() {
		if ft.Base == nil {
			ft.Base = http.DefaultTransport.(*http.Transport).Clone()
		}
	})
	fault := ft.record(req)
	switch fault {
	case SlowDown:
		drain(req)
		body := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
		return &http.Response{
			Status: "503 Service Unavailable", StatusCode: http.StatusServiceUnavailable,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/xml"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
		}, nil
	case Reset:
		drain(req)
		return nil, resetError()
	case LoseResponse:
		resp, err := ft.Base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, resetError()
	}
	return ft.Base.RoundTrip(req)
}

// record notes req and returns the fault to inject into it, if any.
func (ft *FaultTransport) record(req *http.Request) Fault {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.seen = append(ft.seen, &http.Request{Method: req.Method, URL: req.URL})
	for _, r := range ft.rules {
		if r.left != 0 && (r.match == nil || r.match(req)) {
			if r.left > 0 {
				r.left--
			}
			return r.fault
		}
	}
	return 0
}

// drain consumes and closes a request body, as a RoundTripper must.
func drain(req *http.Request) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
}

func resetError() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}
