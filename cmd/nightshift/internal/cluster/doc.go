// Package cluster wires coordinators and workers into clusters inside one
// process: the `nightshift dev` and `nightshift demo` commands run one, and
// the end-to-end tests run 3-voter clusters with kill, pause and failover
// helpers. It is wiring only; the parts are the real coordinator and worker.
package cluster
