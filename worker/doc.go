// Package worker is the stateless worker agent (docs/architecture.md §1, §3–§7): it
// registers with the coordinators, joins memberlist gossip, leases tasks,
// runs them and reports their outcomes, and drains on request.
//
// # Loops
//
// Run starts a handful of goroutines around one mutex-guarded state (the
// running attempts, the report queue, drain and pause flags):
//
//   - the lease loop asks for work whenever a slot (and memory) is free,
//     one Lease call at a time, long-polling when no work is ready; queued
//     reports ride on the call;
//   - the flush loop sends with Report the reports the lease loop will not
//     carry soon (it is inside a long poll, backing off, or not leasing),
//     batching whatever accumulates while a call is in flight;
//   - the heartbeat loop keeps the running attempts' leases alive and
//     applies the answer: abort attempts, drain or undrain, register again;
//     when no heartbeat got through for a whole lease TTL it stops every
//     running attempt (fencing: the coordinator has given them away);
//   - one goroutine per running attempt, cancelled by abort, by the end of
//     a drain's grace, or by Kill;
//   - gossip join and metadata loops, and the gRPC server (health and the
//     collectives hub of training groups) and HTTP server (/metrics,
//     /healthz, /readyz, and POST /drain from loopback: http.go);
//   - with Config.PodDeletionCost, the loop that keeps the pod's
//     Kubernetes pod-deletion-cost annotation current (podcost.go).
//
// Reports are never dropped on an RPC error: they go back to the head of
// the queue and are retried (the coordinator applies them once per
// attempt). A report the coordinator rejects belongs to a stale attempt;
// the object it wrote (score jobs write one object per attempt, below
// _temporary) is deleted.
//
// Draining (drain.go) stops leasing for good and lets running attempts
// end; a training member runs until its group completes or the worker
// stops. Stopping drains too, but hands back what still runs after
// DrainGrace (a training group then reforms without the member).
//
// Coordinator calls go to any coordinator (followers forward to the
// leader): the configured ones and those gossip reports. A transient
// failure moves to the next one after a capped, jittered backoff.
//
// # Runners
//
// Each job kind has a runner (runners.go dispatches on the spec's kind):
// noop (sleep, optional injected failure), shard (one ingest unit of a
// shard.Plan), score (one dataset shard through a model into its own
// attempt object, named by package scoreout) and train (one member of a
// training group: run_train.go, with the math in worker/train and the
// ring all-reduce in worker/collective). A failure is permanent when it is
// deterministic (bad input, a model that does not load, an unknown kind),
// so the coordinator does not retry it blindly. Runners trust the spec:
// the coordinator normalised and validated it (package jobspec).
//
// # Concurrency
//
// An Agent is safe for concurrent use. Run is called once and waits for
// every goroutine it started before returning. Kill, Drain, Pause and
// Resume may be called at any time from any goroutine.
//
// The package may import proto, storage and shard, never coordinator.
package worker
