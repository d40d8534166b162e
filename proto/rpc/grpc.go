package rpc

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Flow-control windows and message limits. grpc-go's BDP auto-tuner caps
// windows at 4 MiB (grpc-go#2400); set them explicitly so bulk streams
// (gradients, large listings) are not throttled on fast links.
const (
	InitialWindowSize     = 16 << 20
	InitialConnWindowSize = 64 << 20
	MaxMessageBytes       = 64 << 20
	// IOBufferBytes sizes each connection's read and write buffers (grpc's
	// default is 32 KiB): bulk streams make fewer, larger syscalls.
	IOBufferBytes = 512 << 10
)

// ServerOptions returns the options every nightshift gRPC server uses,
// with mTLS when tlsCfg is enabled.
func ServerOptions(tlsCfg TLSConfig) ([]grpc.ServerOption, error) {
	opts := []grpc.ServerOption{
		grpc.InitialWindowSize(InitialWindowSize),
		grpc.InitialConnWindowSize(InitialConnWindowSize),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ReadBufferSize(IOBufferBytes),
		grpc.WriteBufferSize(IOBufferBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	tc, err := tlsCfg.ServerTLS()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	return opts, nil
}

// DialOptions returns the options every nightshift gRPC client uses.
func DialOptions(tlsCfg TLSConfig) ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	tc, err := tlsCfg.ClientTLS()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithInitialWindowSize(InitialWindowSize),
		grpc.WithInitialConnWindowSize(InitialConnWindowSize),
		grpc.WithReadBufferSize(IOBufferBytes),
		grpc.WithWriteBufferSize(IOBufferBytes),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	}, nil
}

// Dial opens a client connection to addr (host:port). The connection is
// lazy: it connects on first use and reconnects by itself.
func Dial(addr string, tlsCfg TLSConfig) (*grpc.ClientConn, error) {
	return DialVia(addr, tlsCfg, nil)
}
