package testkit

import (
	"net"
	"testing"
)

// DeadAddr returns a loopback host:port nobody listens on (at the time of
// the call): a seed or a peer that is down.
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
