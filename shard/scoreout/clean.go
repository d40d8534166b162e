package scoreout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nightshift-ml/nightshift/storage"
)

// Clean removes what scoring leaves in the committed output folder dir of b
// besides the committed output: every object under _temporary/ (the
// attempts, accepted or not, and their quarantine objects), every
// unfinished upload under it (a temp file or multipart upload of a writer
// killed mid-write, whatever its age, as nothing may write there any more),
// and the unfinished uploads anywhere else in the folder older than
// StaleAge (a committer killed mid-copy). It returns how many objects and
// uploads it removed. It keeps going past a failure and returns them all.
//
// Before the commit the attempts are the only copy of the output, so Clean
// of a folder without _SUCCESS does nothing and returns ErrNotCommitted.
// After it, Clean may run any number of times, e.g. from a periodic sweep
// that collects what late zombie attempts wrote.
func Clean(ctx context.Context, b storage.Bucket, dir string) (int, error) {
	ok, err := Committed(ctx, b, dir)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: %s has no %s; its attempts are still needed", ErrNotCommitted, b.URI(folder(dir)), SuccessMarker)
	}
	n, err := removeTemporary(ctx, b, dir)
	m, serr := b.RemoveIncomplete(ctx, folder(dir), StaleAge)
	return n + m, errors.Join(err, serr)
}

// Discard removes what the attempts of a job that ended without a commit
// (failed or cancelled) left in dir: their output objects and every
// unfinished upload in the folder. It keeps their quarantine objects: the
// rows the model could not score, with the reasons, are what a user reads
// to find out what went wrong. Nothing is committed there, and nothing will
// be: the job is over. It may run any number of times.
func Discard(ctx context.Context, b storage.Bucket, dir string) (int, error) {
	tmp := folder(dir, TemporaryDir)
	n, err := storage.DeleteAll(ctx, b, tmp, func(key string) bool { return strings.HasSuffix(key, QuarantineSuffix) })
	m, serr := b.RemoveIncomplete(ctx, folder(dir), 0)
	return n + m, errors.Join(err, serr)
}

// removeTemporary deletes every object and unfinished upload under
// dir's _temporary/, whatever its age.
func removeTemporary(ctx context.Context, b storage.Bucket, dir string) (int, error) {
	tmp := folder(dir, TemporaryDir)
	n, err := storage.DeleteAll(ctx, b, tmp, nil)
	m, ierr := b.RemoveIncomplete(ctx, tmp, 0)
	return n + m, errors.Join(err, ierr)
}
