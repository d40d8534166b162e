package coordinator

import (
	"context"
	"errors"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors the coordinator returns; toStatus maps them to gRPC codes.
var (
	errNotFound      = errors.New("not found")
	errInvalid       = errors.New("invalid request")
	errNotLeader     = errors.New("not the leader and no leader known")
	errConflict      = errors.New("conflict")
	errUnknownOp     = errors.New("unknown command")
	errBadVersion    = errors.New("unsupported command version")
	errShuttingDown  = errors.New("coordinator shutting down")
	errFailedPrecond = errors.New("failed precondition")
)

// toStatus turns an error into a gRPC status error at the API boundary.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, errNoProfile):
		code = codes.NotFound
	case errors.Is(err, errInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, errConflict):
		code = codes.AlreadyExists
	case errors.Is(err, errFailedPrecond):
		code = codes.FailedPrecondition
	case errors.Is(err, raft.ErrLeadershipLost):
		// The entry was appended but not known to be committed: a later
		// leader may still apply it. A retry with the same request ID
		// applies once either way.
		return status.Error(codes.Unavailable, "the leader lost its quorum while committing the write; it may or may not have been applied (retry with the same request ID once a leader is elected): "+err.Error())
	case errors.Is(err, errNotLeader), errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return status.Error(codes.Unavailable, "no leader with a quorum: the write was not applied (retry once one is elected): "+err.Error())
	case errors.Is(err, errShuttingDown), errors.Is(err, raft.ErrRaftShutdown):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}
