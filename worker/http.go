package worker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newHTTPServer binds /healthz, /readyz and /metrics when HTTPAddr is set.
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
