// Package faultnet injects network faults between named nodes of an
// in-process cluster (docs/architecture.md §7, §10): partitions, blackholes and delays on
// real loopback TCP, under Raft, gRPC and the collective ring alike. It is
// the test transport of raft's fuzzy transport and etcd's bridge, reduced
// to what nightshift's tests need.
//
// A Network hands each node a Node: Node.Listen binds a listener and
// records its address as the node's, Node.DialContext dials an address and
// wraps the connection. Components take them through their own hooks
// (Config.Listen, Config.Dialer): a func(network, addr) and a
// func(ctx, addr), so no production package imports faultnet.
//
// Faults are applied where a connection is dialed: the dialer knows both
// ends (itself, and the node that registered the address it dials). Each
// Read and Write of such a connection looks up the rules of its direction:
//
//   - Partition(a, b): dials between the groups are refused at once and
//     open connections between them are closed.
//   - Blackhole(n): traffic to and from n is read and dropped, never
//     delivered; the peers see silence, not an error. Connections that
//     dropped bytes are closed by Heal (their streams lost data).
//   - Delay(from, to, d): every write from→to (and every read at from of
//     what to sent) waits d.
//   - Heal: all rules go.
//
// Connections accepted from a dialer outside the Network (a CLI client's
// plain dial) have no known source: only Blackhole of the listening node
// applies to them.
//
// Concurrency: a Network and its Nodes are safe for concurrent use; rules
// may change while connections carry traffic. The package imports only the
// standard library.
package faultnet
