package collective

import (
	"net"

	"google.golang.org/grpc"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Serve starts a gRPC server on ln that serves only a new Hub: what
// benchmarks and tests use to stand up group members without a worker (a
// worker registers its Hub on its own server). stop closes the server.
func Serve(ln net.Listener, tls rpc.TLSConfig) (h *Hub, stop func(), err error) {
	opts, err := rpc.ServerOptions(tls)
	if err != nil {
		return nil, nil, err
	}
	s := grpc.NewServer(opts...)
	h = NewHub()
	h.Register(s)
	go func() { _ = s.Serve(ln) }()
	return h, s.Stop, nil
}
