package rpc

import (
	"fmt"
	"net"
)

// CheckBindAddr validates a host:port a server binds, refusing a
// non-loopback host when loopbackOnly is set (dev mode). name is the config
// field, for the error.
func CheckBindAddr(name, addr string, loopbackOnly bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", name, addr, err)
	}
	if !loopbackOnly || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: dev mode binds loopback only", name, addr)
	}
	return nil
}
