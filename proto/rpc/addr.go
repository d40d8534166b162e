package rpc

import (
	"fmt"
	"net"
)

// CheckBindAddr validates a host:port a server binds, refusing a
// non-loopback host when loopbackOnly is set (dev mode). name is the config
// field, for the error.
func CheckBindAddr(name, addr string, loopbackOnly bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q: %w", name, addr, err)
	}
	if loopbackOnly && !IsLoopback(addr) {
		return fmt.Errorf("%s %q: dev mode binds loopback only", name, addr)
	}
	return nil
}
