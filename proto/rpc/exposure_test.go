package rpc

import (
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7100": true, "127.9.9.9:1": true, "localhost:7100": true, "[::1]:7100": true,
		"0.0.0.0:7100": false, ":7100": false, "[::]:7100": false, "10.0.0.5:7100": false, "c1:7100": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestCheckExposure: beyond loopback a server needs mutual TLS or an
// explicit insecure: true, and then it has a warning to say.
func TestCheckExposure(t *testing.T) {
	open := []Listener{{"grpc_addr", "127.0.0.1:7100"}, {"raft_addr", "0.0.0.0:7101"}}
	tls := TLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
	err := CheckExposure(open, TLSConfig{}, false)
	if err == nil || !strings.Contains(err.Error(), "raft_addr 0.0.0.0:7101 listens beyond loopback without mutual TLS") || !strings.Contains(err.Error(), "insecure: true") {
		t.Fatalf("open without tls: %v", err)
	}
	if InsecureWarning(open, TLSConfig{}, false) != "" {
		t.Error("a refused configuration has nothing to warn about")
	}
	if err := CheckExposure(open, tls, false); err != nil || InsecureWarning(open, tls, false) != "" {
		t.Fatalf("with tls: %v %q", err, InsecureWarning(open, tls, false))
	}
	if err := CheckExposure(open, TLSConfig{}, true); err != nil {
		t.Fatal(err)
	}
	if w := InsecureWarning(open, TLSConfig{}, true); !strings.HasPrefix(w, "INSECURE: raft_addr 0.0.0.0:7101") {
		t.Fatalf("warning %q", w)
	}
	loop := []Listener{{"grpc_addr", "127.0.0.1:7100"}, {"raft_addr", "localhost:7101"}}
	if err := CheckExposure(loop, TLSConfig{}, false); err != nil || InsecureWarning(loop, TLSConfig{}, true) != "" {
		t.Fatalf("loopback: %v", err)
	}
}
