package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newHTTPServer binds /healthz, /readyz, /metrics and /drain when HTTPAddr
// is set.
func (a *Agent) newHTTPServer() error {
	if a.cfg.HTTPAddr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("worker http: %w", err)
	}
	a.httpLis = lis
	mux := http.NewServeMux()
	// healthz: the process is up and serving.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	// readyz: see ready.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		notes := a.gossip.Degraded() // "" or a line
		if w := a.cfg.InsecureWarning(); w != "" {
			notes += w + "\n"
		}
		if err := a.ready(); err != nil {
			http.Error(w, strings.TrimSpace(err.Error()+"\n"+notes), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ready\n"+notes)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /drain", a.handleDrain)
	mux.HandleFunc("/drain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, r.Method+" /drain: use POST (it stops leasing): nightshift worker drain", http.StatusMethodNotAllowed)
	})
	a.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// ready returns nil when the worker can take work: a coordinator accepted
// it and it is not stopping. Otherwise it says what is missing. Gossip
// not joined yet makes it degraded, not unready (/readyz says so): it
// leases and reports through gRPC; only the faster death detection waits.
func (a *Agent) ready() error {
	var errs []error
	a.mu.Lock()
	registered := a.registered && !a.reregister
	stopping := a.shutdown || a.dead
	a.mu.Unlock()
	if !registered {
		errs = append(errs, errors.New("not registered with a coordinator"))
	}
	if stopping {
		errs = append(errs, errors.New("stopping"))
	}
	return errors.Join(errs...)
}

func (a *Agent) serveHTTP() {
	if a.httpSrv == nil {
		return
	}
	if err := a.httpSrv.Serve(a.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("http server stopped", "err", err)
	}
}

// maxDrainWait caps POST /drain's ?wait=: a longer wait is cut to it (the
// answer is then 202 while attempts still run, and the caller asks
// again). `nightshift worker drain` waits longer by asking repeatedly.
const maxDrainWait = 5 * time.Minute

// handleDrain serves POST /drain[?wait=DURATION], the drain a Kubernetes
// preStop hook calls (`nightshift worker drain`): it drains the worker
// (Drain: leasing stops for good, running attempts go on) and then waits,
// up to wait (default 0, at most maxDrainWait), until the worker is idle:
// no attempt runs and no lease call is in flight. The answer is one line:
// 200 "drained" when idle, 202 "draining: N still running" when the wait
// ran out first. A running training member counts like any attempt; it
// runs until its group completes or the worker stops (see Drain).
//
// http_addr often listens on 0.0.0.0 for Prometheus, and the endpoint is
// unauthenticated, so only a loopback caller (the pod's own hook) may
// drain: any other remote address gets 403.
func (a *Agent) handleDrain(w http.ResponseWriter, r *http.Request) {
	if !loopbackRemote(r.RemoteAddr) {
		http.Error(w, fmt.Sprintf("POST /drain is accepted only from loopback (a preStop hook in the worker's pod: nightshift worker drain); %s is not loopback", r.RemoteAddr), http.StatusForbidden)
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, fmt.Sprintf("wait=%q: want a duration such as 30s or 5m, not negative", v), http.StatusBadRequest)
			return
		}
		wait = min(d, maxDrainWait)
	}
	a.Drain()
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	stop := context.AfterFunc(a.life, cancel) // the worker stops: answer now
	defer stop()
	if a.waitIdle(ctx) {
		fmt.Fprintln(w, "drained")
		return
	}
	a.mu.Lock()
	n, calling := len(a.running), a.lease == leaseCalling
	a.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	msg := fmt.Sprintf("draining: %d still running", n)
	if n == 0 && calling {
		msg += " (a lease call is in flight; its work, if any, will run)"
	}
	fmt.Fprintln(w, msg)
}

// loopbackRemote reports whether a request's RemoteAddr (host:port) is a
// loopback address: 127.0.0.0/8, ::1, or 127.x mapped into IPv6.
func loopbackRemote(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
