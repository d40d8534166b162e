// Package coordinator will own the control plane (DESIGN.md §6–§8): the
// hashicorp/raft node, the FSM over an indexed state store with snapshots,
// the leader-only loops (task broker, lease timers, cron), the gRPC API, the
// model registry and the dashboard.
//
// It is empty in this release: the foundation (storage, shard) comes first,
// and the coordinator is built on it next. It may import proto, storage and
// shard, never worker.
package coordinator
