// Package coordinator owns the control plane (docs/architecture.md §3–§7): the
// hashicorp/raft node (bolt log and stable store, file snapshots, TCP
// transport with optional mTLS), the FSM over a go-memdb state store, the
// leader-only loops (task broker, lease timers, speculation, training
// groups, finalizer, storage sweep, job GC), the model registry, and the
// gRPC services for jobs, workers, models and administration.
//
// Write path: gRPC handler → (forward to the leader when a follower) →
// Server.Submit or apply(ctx, Command) → FSM → state store. Apply is
// deterministic: the leader stamps IDs and times into each command. Task
// transitions are batched, many per log entry.
//
// Job kinds: what differs between score, shard, train and noop jobs (plan,
// task names, lease rules, what a success does, publish, sweep) sits
// behind the jobKind interface, one file per kind (kind_*.go). Job specs
// are normalised and validated by package jobspec before a kind plans them.
//
// Concurrency: a Server is safe for concurrent use. The state store is
// read through immutable snapshots (memdb transactions); objects it returns
// are never modified in place. Leader loops run only while this node leads
// and are rebuilt from replicated state on election; what they keep in
// memory (heartbeat deadlines, jobs being published or swept) is not
// needed for correctness: losing it delays a lease expiry by one TTL or
// repeats an idempotent publish or sweep.
//
// It may import proto, storage and shard, never worker.
package coordinator
