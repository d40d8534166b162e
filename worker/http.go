package worker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
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
	// readyz: a coordinator accepted the worker and it is not stopping.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		ready := a.registered && !a.reregister && !a.shutdown && !a.dead
		a.mu.Unlock()
		if !ready {
			http.Error(w, "not registered with a coordinator", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	a.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

func (a *Agent) serveHTTP() {
	if a.httpSrv == nil {
		return
	}
	if err := a.httpSrv.Serve(a.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("http server stopped", "err", err)
	}
}
