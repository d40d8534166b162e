// Package collective implements the collectives of a training group
// (docs/architecture.md §8) over gRPC: ring all-reduce (reduce-scatter then
// all-gather), broadcast and barrier between the members of one group
// generation.
//
// Each member serves CollectiveService through a Hub registered on its
// gRPC server, and pulls from its left neighbour in the ring: Join dials
// the left neighbour and opens a server-streaming Pull, on which that
// neighbour's Hub sends everything the generation's collectives pass along
// the link. The receiving end of every link is thus a client transport the
// package dials and configures itself (the sending end is the neighbour's
// server, whose options are the worker's). Every collective of the
// generation flows on these streams, cut into chunks and pipelined: a
// member forwards chunk c of a step as soon as it has reduced chunk c of
// the step before, so all links stay busy. The chunks of all steps share
// the link in wavefront order (chunk c of step t right after chunk c+1 of
// step t-1), so a chunk is forwarded while it is still in cache.
//
// Copies: ring streams use their own gRPC codec (codec.go). An all-reduce
// hands grpc views of the caller's vector (no copy: the transport reads it
// in place and reports when it is done, and AllReduce returns only after
// that). Over plain TCP the pull connection is read in large reads into
// blocks, and grpc's framer is handed each DATA payload as a view of its
// block (rxconn.go): the reduction reads the chunks where the kernel put
// them. Over TLS frames are read into buffers of a pool that does not
// clear them. What is left is the sending server's copy into its write
// buffer and the kernel's.
//
// Determinism: a segment's sum always accumulates along the ring in the
// same order, whatever the timing, and the all-gather copies the finished
// sums, so every member ends with bit-identical vectors and the same inputs
// give the same bits on every run.
//
// Concurrency: members must call collectives of a Group in the same order;
// a Group is not safe for concurrent collectives (one at a time). A Hub is
// safe for concurrent use. A broken stream, a failed collective or one
// whose context ends breaks the generation: the neighbours' streams end
// (so their collectives fail at once) and every later collective of that
// generation fails; the caller regroups into a new generation.
package collective
