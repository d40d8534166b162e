package worker

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// errRunTwice is returned by a second call of Run: an Agent runs once.
	errRunTwice = errors.New("worker: Run called twice")
	// errClientClosed is returned by calls made after the agent stopped.
	errClientClosed = errors.New("worker: coordinator client closed")
)

// permanentError marks a deterministic task failure (bad input, bad model,
// unknown job kind): the coordinator must not retry it blindly.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err as a failure that retrying cannot fix.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// isPermanent reports whether err, or an error it wraps, was marked permanent.
func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// transient reports whether a coordinator call failed in a way another
// coordinator, or the same one a little later, may not: the connection or
// the leader is gone, the call timed out, or the server sheds load.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// unknownWorker reports whether a coordinator answered that it does not
// know this worker (it was marked down): the agent must register again.
func unknownWorker(err error) bool {
	switch status.Code(err) {
	case codes.NotFound, codes.FailedPrecondition:
		return true
	}
	return false
}

// fatalRegister reports whether a registration error will not go away by
// retrying: the request or the worker's credentials are wrong.
func fatalRegister(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented:
		return true
	}
	return false
}
