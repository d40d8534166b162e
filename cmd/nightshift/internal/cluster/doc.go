// Package cluster wires coordinators and workers into clusters inside one
// process: the `nightshift dev` and `nightshift demo` commands run one, and
// the end-to-end tests run 3- and 5-voter clusters with kill, pause and
// failover helpers. With Options.Faults, the nodes' Raft and gRPC
// connections run through a faultnet.Network (Cluster.Net) where tests
// partition, blackhole and delay nodes by ID. It is wiring only; the parts
// are the real coordinator and worker.
package cluster
