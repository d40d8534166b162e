package scoreout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/nightshift-ml/nightshift/storage"
)

// parallelism bounds the copies and deletes one Commit or Clean runs at once.
const parallelism = 16

// Job is what the committed manifest records about the scoring job.
type Job struct {
	ID          string
	Model       string // as submitted: an artifact URI or name@alias
	Input       string // the dataset's URI
	Fingerprint string // the dataset's fingerprint
	Format      string // "parquet" or "arrow"
	Passthrough []string
}

// Shard is the one accepted attempt of one input shard, as the attempt
// reported it and the coordinator recorded it.
type Shard struct {
	Index   int
	Object  string // the attempt's object, relative to the output folder (an AttemptKey)
	Rows    int64
	BadRows int64 // > 0: the attempt also wrote QuarantineKey(Object)
	Bytes   int64
	CRC32C  uint32
}

// Commit publishes the output of a scoring job in the folder dir of b, given
// the accepted attempt of every shard 0..n-1: it copies each attempt's
// object (and quarantine object) to its final name, writes _manifest.json
// listing exactly those, then _SUCCESS, and then Cleans the folder. It is
// idempotent: run again after a failure or a crash at any step, it finishes
// the same commit. Once _SUCCESS is written the output is committed and
// Commit succeeds; a failure to clean is only logged to log (nil: dropped),
// as the leftovers are never read and the next Clean removes them.
func Commit(ctx context.Context, b storage.Bucket, dir string, job Job, shards []Shard, log *slog.Logger) (*Manifest, error) {
	m, err := newManifest(job, shards)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i, s := range sorted(shards) {
		o := m.Objects[i]
		g.Go(func() error {
			if err := promote(gctx, b, storage.JoinKey(dir, s.Object), storage.JoinKey(dir, o.Key), s.Bytes); err != nil {
				return fmt.Errorf("shard %d: %w", s.Index, err)
			}
			if o.Quarantine == "" {
				return nil
			}
			src := storage.JoinKey(dir, QuarantineKey(s.Object))
			if err := promote(gctx, b, src, storage.JoinKey(dir, o.Quarantine), -1); err != nil {
				return fmt.Errorf("shard %d quarantine: %w", s.Index, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := put(ctx, b, storage.JoinKey(dir, ManifestName), body, "application/json"); err != nil {
		return nil, err
	}
	if err := put(ctx, b, storage.JoinKey(dir, SuccessMarker), nil, ""); err != nil {
		return nil, err
	}
	if n, err := Clean(ctx, b, dir); err != nil && log != nil {
		log.Warn("cleaning the committed output folder", "dir", b.URI(folder(dir)), "removed", n, "err", err)
	}
	return m, nil
}

// newManifest checks that shards hold one attempt per shard 0..n-1, each
// under _temporary/, and returns the manifest that commits them.
func newManifest(job Job, shards []Shard) (*Manifest, error) {
	m := &Manifest{FormatVersion: ManifestVersion, JobID: job.ID, Model: job.Model, Input: job.Input,
		DatasetFingerprint: job.Fingerprint, Format: job.Format, Passthrough: job.Passthrough,
		Objects: make([]Object, 0, len(shards))}
	for i, s := range sorted(shards) {
		switch {
		case s.Index != i:
			return nil, fmt.Errorf("%w: job %s: shard %d has no accepted attempt (next is shard %d)", ErrBadCommit, job.ID, i, s.Index)
		case !isAttemptKey(s.Object):
			return nil, fmt.Errorf("%w: job %s: shard %d: attempt object %q is not under %s/", ErrBadCommit, job.ID, s.Index, s.Object, TemporaryDir)
		case s.Rows < 0 || s.BadRows < 0 || s.Bytes < 0:
			return nil, fmt.Errorf("%w: job %s: shard %d: negative count", ErrBadCommit, job.ID, s.Index)
		}
		o := Object{Key: FinalKey(s.Index, job.Format), Shard: s.Index, Rows: s.Rows, BadRows: s.BadRows,
			Bytes: s.Bytes, Checksum: Checksum(s.CRC32C)}
		if s.BadRows > 0 {
			o.Quarantine = QuarantineKey(o.Key)
		}
		m.Objects = append(m.Objects, o)
		m.Rows += s.Rows
		m.BadRows += s.BadRows
		m.Bytes += s.Bytes
	}
	return m, nil
}

// sorted returns shards in index order, leaving the caller's slice as is.
func sorted(shards []Shard) []Shard {
	return slices.SortedFunc(slices.Values(shards), func(a, b Shard) int { return a.Index - b.Index })
}

// promote copies an attempt's object to its final key, unless an earlier
// Commit already did (the source may then be gone). size < 0 skips the size
// check.
func promote(ctx context.Context, b storage.Bucket, src, dst string, size int64) error {
	if info, err := b.Stat(ctx, dst); err == nil && (size < 0 || info.Size == size) {
		return nil
	}
	info, err := b.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("copied %s is %d bytes, the attempt reported %d", b.URI(dst), info.Size, size)
	}
	return nil
}

func put(ctx context.Context, b storage.Bucket, key string, body []byte, contentType string) error {
	_, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: contentType})
	return err
}
