// Package benchgroup forms the collective group of a benchmark that runs
// one process per member on loopback (allreducebench, ddpbench,
// streambench): rank r serves at port+r and joins once its neighbours
// answer.
package benchgroup

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/worker/collective"
)

// Addrs lists the members' loopback addresses: port+rank each.
func Addrs(world, port int) []string {
	addrs := make([]string, world)
	for r := range addrs {
		addrs[r] = fmt.Sprintf("127.0.0.1:%d", port+r)
	}
	return addrs
}

// Join serves this member's hub at cfg.Addrs[cfg.Rank] and joins the group,
// retrying for up to a minute while the other members start. The returned
// function closes the group and stops the server.
func Join(ctx context.Context, cfg collective.Config) (*collective.Group, func(), error) {
	ln, err := net.Listen("tcp", cfg.Addrs[cfg.Rank])
	if err != nil {
		return nil, nil, err
	}
	hub, stop, err := collective.Serve(ln, rpc.TLSConfig{})
	if err != nil {
		return nil, nil, err
	}
	for deadline := time.Now().Add(time.Minute); ; {
		g, err := hub.Join(ctx, cfg)
		if err == nil {
			return g, func() { g.Close(); stop() }, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, err
		}
		time.Sleep(50 * time.Millisecond) // a neighbour is still starting
	}
}
