package coordinator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics, /healthz (the process is up) and /readyz
// (see ready).
func (s *Server) startHTTP() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.HTTPAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		id, err := s.ready()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ready; leader %s\n", id)
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.httpLn = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(ln)
	}()
	return nil
}

// ready returns the leader's ID when the node can serve: a leader is known
// (so writes can be served) and gossip has joined a seed, or was given
// none (so workers and the other coordinators can be found). Otherwise it
// says what is missing.
func (s *Server) ready() (raft.ServerID, error) {
	var errs []error
	addr, id := s.raft.raft.LeaderWithID()
	if addr == "" {
		errs = append(errs, errors.New("no leader known"))
	}
	if ok, err := s.gossip.Joined(); !ok {
		errs = append(errs, err)
	}
	return id, errors.Join(errs...)
}

// HTTPAddr returns the address of the metrics and health endpoint ("" when off).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}
