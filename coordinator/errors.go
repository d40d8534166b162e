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
	case errors.Is(err, errNotFound):
		code = codes.NotFound
	case errors.Is(err, errInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, errConflict):
		code = codes.AlreadyExists
	case errors.Is(err, errFailedPrecond):
		code = codes.FailedPrecondition
	case errors.Is(err, errNotLeader), errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// The write was not committed: say so plainly, and that a retry
		// after the next election is safe (request IDs apply once).
		return status.Error(codes.Unavailable, "no leader with a quorum to commit the write (retry once one is elected): "+err.Error())
	case errors.Is(err, errShuttingDown), errors.Is(err, raft.ErrRaftShutdown):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}
