// Package collective implements the collectives of a training group
// (docs/architecture.md §8) over gRPC: ring all-reduce (reduce-scatter then
// all-gather), broadcast and barrier between the members of one group
// generation.
//
// Each member serves CollectiveService through a Hub registered on its
// gRPC server and opens one client stream to its right neighbour in the
// ring; every collective of the generation flows on these streams, cut
// into chunks and pipelined: a member forwards chunk c of a step as soon
// as it has reduced chunk c of the step before, so all links stay busy.
// The chunks of all steps share the link in wavefront order (chunk c of
// step t right after chunk c+1 of step t-1), so a chunk is forwarded while
// it is still in cache.
//
// Copies: ring streams use their own gRPC codec (codec.go). An all-reduce
// hands grpc views of the caller's vector (no copy: the transport reads it
// in place and reports when it is done, and AllReduce returns only after
// that), and reduces straight from the buffers grpc received the HTTP/2
// frames into. What is left are the transport's copies (into its write
// buffer, out of its read buffer) and the kernel's.
//
// Determinism: a segment's sum always accumulates along the ring in the
// same order, whatever the timing, and the all-gather copies the finished
// sums, so every member ends with bit-identical vectors and the same inputs
// give the same bits on every run.
//
// Concurrency: members must call collectives of a Group in the same order;
// a Group is not safe for concurrent collectives (one at a time). A Hub is
// safe for concurrent use. A broken stream fails the running collective
// and every later one of that generation: the caller regroups into a new
// generation.
package collective
