package profile

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/storage"
)

// Where profiles live. A dataset's profile is FileName beside its
// manifest; the partial of each profile task's attempt is its own object
// below PartsDir until the job's publish merges the accepted ones, so a
// zombie attempt can never change a published profile. A model artifact
// keeps its training data's profile as FileName in its folder.
const (
	FileName = "profile.json"
	partsDir = "_profile.tmp"
	// maxFileBytes bounds what is read back: the decoders' own limit.
	maxFileBytes = MaxEncodedBytes
)

// PartsDir is the folder, relative to the dataset folder, of one profile
// job's partials.
func PartsDir(jobID string) string { return storage.JoinKey(partsDir, "job-"+jobID) }

// PartKey is the object, relative to the dataset folder, of one attempt's
// partial of shard index.
func PartKey(jobID string, index, attempt int) string {
	return storage.JoinKey(PartsDir(jobID), fmt.Sprintf("shard-%05d-a%d.pb", index, attempt))
}

// Read returns the profile stored at key of b, checked. A missing object
// is storage.ErrNotFound.
func Read(ctx context.Context, b storage.Bucket, key string) (*pb.DatasetProfile, error) {
	body, err := storage.ReadAll(ctx, b, key, maxFileBytes)
	if err != nil {
		return nil, err
	}
	p, err := UnmarshalJSON(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.URI(key), err)
	}
	return p, nil
}

// ReadDataset returns the profile of the dataset folder at dir, or
// ErrNoProfile when it has none for the manifest fingerprint given (a
// profile of an earlier version of the data is no profile of this one).
func ReadDataset(ctx context.Context, b storage.Bucket, dir, fingerprint string) (*pb.DatasetProfile, error) {
	p, err := Read(ctx, b, storage.JoinKey(dir, FileName))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoProfile, b.URI(dir), FileName)
	}
	if err != nil {
		return nil, err
	}
	if p.Fingerprint != fingerprint {
		return nil, fmt.Errorf("%w: %s profiles fingerprint %.16s, the manifest is %.16s", ErrNoProfile, b.URI(storage.JoinKey(dir, FileName)), p.Fingerprint, fingerprint)
	}
	return p, nil
}

// ErrNoProfile says a dataset has no profile of its current data.
var ErrNoProfile = errors.New("no profile")
