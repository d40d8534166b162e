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

// TestTokenFormat: a new token parses back to its ID and secret hash;
// malformed headers are one error; the role ladder holds.
func TestTokenFormat(t *testing.T) {
	id, hash, tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	gotID, gotHash, err := ParseBearer(BearerHeader(tok))
	if err != nil || gotID != id || !SameSecret(gotHash, hash) || len(id) != 16 {
		t.Fatalf("round trip: %q %v %v (id %q)", gotID, SameSecret(gotHash, hash), err, id)
	}
	if _, other, _ := ParseBearer(BearerHeader(tok + "x")); SameSecret(other, hash) {
		t.Error("a changed secret hashes the same")
	}
	for _, h := range []string{"", tok, "Basic " + tok, "Bearer", "Bearer nst_", "Bearer nst__s", "Bearer nst_id_", "Bearer abc_id_s", "Bearer nst_" + strings.Repeat("a", 65) + "_s"} {
		if _, _, err := ParseBearer(h); err != ErrBadToken {
			t.Errorf("ParseBearer(%q) = %v, want ErrBadToken", h, err)
		}
	}
	for _, tc := range []struct {
		have, need string
		ok         bool
	}{{"admin", "read", true}, {"operate", "submit", true}, {"submit", "submit", true}, {"read", "submit", false}, {"submit", "operate", false}, {"root", "read", false}, {"admin", "root", false}} {
		if got := RoleAllows(tc.have, tc.need); got != tc.ok {
			t.Errorf("RoleAllows(%s, %s) = %v", tc.have, tc.need, got)
		}
	}
}
