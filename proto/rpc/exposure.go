package rpc

import (
	"fmt"
	"net"
	"slices"
)

// Exposure is the rule that nothing is open by default (docs/architecture.md
// §9): a server whose API or Raft listener binds beyond loopback must
// verify its callers (mutual TLS) unless its operator set insecure: true
// on purpose. Ray's job API was open by default and taken over from the
// network (ShadowRay, CVE-2023-48022); nightshift refuses to start so.

// IsLoopback reports whether a host:port binds the loopback interface
// only ("localhost", 127.0.0.0/8, ::1). A host that is empty or an
// unspecified address (0.0.0.0, ::) binds every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listener is one address a server binds, by its config field.
type Listener struct{ Field, Addr string }

// Exposed returns the listeners that bind beyond loopback, in order.
func Exposed(listeners []Listener) []Listener {
	return slices.DeleteFunc(slices.Clone(listeners), func(l Listener) bool { return l.Addr == "" || IsLoopback(l.Addr) })
}

// CheckExposure refuses a server that listens beyond loopback without
// verifying its callers: listeners are the addresses its mutual TLS
// protects. insecure: true accepts the exposure (Insecure says so).
func CheckExposure(listeners []Listener, tls TLSConfig, insecure bool) error {
	open := Exposed(listeners)
	if len(open) == 0 || tls.Enabled() || insecure {
		return nil
	}
	return fmt.Errorf("%s %s listens beyond loopback without mutual TLS: anyone who reaches it could submit work, drain workers and change the registry. "+
		"Set tls: {ca_file, cert_file, key_file} (`nightshift tls --out DIR` makes a development CA), or insecure: true to run it open on purpose",
		open[0].Field, open[0].Addr)
}

// InsecureWarning is what a server says, at start and in /readyz, when
// insecure: true leaves listeners beyond loopback without verification;
// "" when it does not.
func InsecureWarning(listeners []Listener, tls TLSConfig, insecure bool) string {
	open := Exposed(listeners)
	if !insecure || tls.Enabled() || len(open) == 0 {
		return ""
	}
	return fmt.Sprintf("INSECURE: %s %s listens beyond loopback without mutual TLS (insecure: true): any caller that reaches it is trusted", open[0].Field, open[0].Addr)
}
