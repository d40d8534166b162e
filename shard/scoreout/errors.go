package scoreout

import "errors"

var (
	// ErrNotCommitted means an output folder has no _SUCCESS: nothing in it
	// is committed output yet.
	ErrNotCommitted = errors.New("output not committed")
	// ErrBadManifest means _manifest.json does not decode or is not
	// consistent.
	ErrBadManifest = errors.New("bad output manifest")
	// ErrBadCommit means Commit was given attempts that cannot make a
	// committed output (a missing or duplicate shard, an object outside
	// _temporary/). Retrying does not help.
	ErrBadCommit = errors.New("bad commit")
)
