package main

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// splitAddrs parses --coordinator (or NIGHTSHIFT_ADDR): host:port
// addresses separated by commas, blanks around them ignored.
func splitAddrs(list string) ([]string, error) {
	var addrs []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("no coordinator address: set --coordinator or NIGHTSHIFT_ADDR (host:port, comma-separated)")
	}
	return addrs, nil
}

// dialCoordinators opens one lazy connection over every coordinator
// address, failing over between them as Nomad's and Consul's clients do.
//
// The failover is grpc-go's own rather than a loop around each call: a
// manual resolver hands the channel the static list, and the pick_first
// balancer connects to the addresses in order. An address that refuses,
// is unreachable or is slow to connect (pick_first starts the next after
// 250 ms) is passed over, and calls wait meanwhile instead of failing; the
// address that connected is kept for every later call. If it drops, the
// next call starts over from the first. pick_first, not round_robin: any
// coordinator answers (followers forward to the leader), so spreading
// calls gains nothing and would keep connections to dead ones retrying.
//
// Each address is dialled as given (host names resolve at connect time)
// and is the name TLS verifies, unless --tls-server-name says otherwise.
func dialCoordinators(addrs []string, tlsCfg rpc.TLSConfig, token string) (*grpc.ClientConn, error) {
	opts, err := rpc.DialOptions(tlsCfg)
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(rpc.BearerCredentials(token)))
	}
	r := manual.NewBuilderWithScheme("nightshift-coordinators")
	eps := make([]resolver.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: a, ServerName: a}}}
	}
	r.InitialState(resolver.State{Endpoints: eps})
	opts = append(opts, grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"pick_first": {}}]}`))
	conn, err := grpc.NewClient(r.Scheme()+":///coordinators", opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", strings.Join(addrs, ","), err)
	}
	return conn, nil
}
