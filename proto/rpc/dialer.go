package rpc

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
)

// Dialer opens the connection under a gRPC client or a Raft stream to
// addr (host:port). Components take one as an optional hook: nil dials
// TCP; tests pass one that injects network faults.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// DialVia is Dial with the connection opened by dial (nil: TCP) and the
// extra options appended to DialOptions.
func DialVia(addr string, tlsCfg TLSConfig, dial Dialer, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts, err := DialOptions(tlsCfg)
	if err != nil {
		return nil, err
	}
	if dial != nil {
		opts = append(opts, grpc.WithContextDialer(dial))
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}
