package coordinator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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
	if s.cfg.HTTPTLS {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("http_tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.consoleRoutes(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		id, err := s.ready()
		notes := s.gossip.Degraded() // "" or a line
		if w := s.cfg.InsecureWarning(); w != "" {
			notes += w + "\n"
		}
		if err != nil {
			http.Error(w, strings.TrimSpace(err.Error()+"\n"+notes), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ready; leader %s\n%s", id, notes)
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

// ready returns the leader's ID when the node can serve: a leader is known,
// so writes can be served. Gossip that has not joined a seed yet does not
// make it unready, only degraded (/readyz says so): the node serves the
// API, and failing readiness on it would deadlock an ordered start (a
// Kubernetes StatefulSet starts peer 1 only once peer 0 is ready, while
// peer 0's seeds are its peers).
func (s *Server) ready() (raft.ServerID, error) {
	addr, id := s.raft.raft.LeaderWithID()
	if addr == "" {
		return id, errors.New("no leader known")
	}
	return id, nil
}

// HTTPAddr returns the address of the metrics and health endpoint ("" when off).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}
