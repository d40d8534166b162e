// Package gossip wraps hashicorp/memberlist for nightshift: every process
// (coordinator or worker) joins one gossip cluster and advertises a small
// Meta record (role, pool, slots, labels, gRPC address, version, state).
// The coordinator leader learns from it which workers died; workers learn
// from it where the coordinators are.
//
// Start binds a member; JoinInBackground joins the seeds, retrying with a
// capped, jittered backoff while none answers, so a process may start
// before its seeds. Joined says how far it got (readiness checks read it).
//
// A Node is safe for concurrent use. Event callbacks run on memberlist's
// goroutines and must not block.
package gossip
