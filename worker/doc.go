// Package worker will own the stateless worker agent (DESIGN.md §2, §6–§9):
// memberlist gossip, the lease loop and drain, and the task runners (shard
// ingest units, scoring, training with ring all-reduce).
//
// It is empty in this release; the shard package already exposes what the
// ingest runner will call (shard.RunUnit). It may import proto, storage and
// shard, never coordinator.
package worker
