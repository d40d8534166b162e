package scoreout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nightshift-ml/nightshift/storage"
)

// ManifestVersion is the _manifest.json format this package writes and
// reads.
const ManifestVersion = 1

// maxManifestBytes bounds what ReadManifest reads (a manifest is about 200
// bytes per shard).
const maxManifestBytes = 256 << 20

// Manifest is _manifest.json of a scoring job: the committed output. Every
// input row is in exactly one listed object. Its JSON is a user-facing
// contract: fields are only ever added.
type Manifest struct {
	FormatVersion      int      `json:"format_version"`
	JobID              string   `json:"job_id"`
	Model              string   `json:"model"`
	Input              string   `json:"input"`
	DatasetFingerprint string   `json:"dataset_fingerprint"`
	Format             string   `json:"format"`
	Passthrough        []string `json:"passthrough,omitempty"`
	Rows               int64    `json:"rows"`
	BadRows            int64    `json:"bad_rows"`
	Bytes              int64    `json:"bytes"`
	Objects            []Object `json:"objects"`
}

// Object is one committed output object, one per input shard.
type Object struct {
	Key        string `json:"key"` // relative to the job's output folder
	Shard      int    `json:"shard"`
	Rows       int64  `json:"rows"`
	BadRows    int64  `json:"bad_rows,omitempty"`
	Bytes      int64  `json:"bytes"`
	Checksum   string `json:"checksum"` // crc32c:xxxxxxxx
	Quarantine string `json:"quarantine,omitempty"`
}

// Checksum renders a CRC-32C as the manifest writes it.
func Checksum(crc32c uint32) string { return fmt.Sprintf("crc32c:%08x", crc32c) }

// Committed reports whether the output folder dir of b is committed: its
// _SUCCESS exists.
func Committed(ctx context.Context, b storage.Bucket, dir string) (bool, error) {
	_, err := b.Stat(ctx, storage.JoinKey(dir, SuccessMarker))
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// ReadManifest reads the manifest of the committed output folder dir of b.
// A folder without _SUCCESS is ErrNotCommitted, whatever else it holds.
func ReadManifest(ctx context.Context, b storage.Bucket, dir string) (*Manifest, error) {
	ok, err := Committed(ctx, b, dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotCommitted, b.URI(folder(dir)), SuccessMarker)
	}
	key := storage.JoinKey(dir, ManifestName)
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxManifestBytes {
		return nil, fmt.Errorf("%s: %w: over %d bytes", b.URI(key), storage.ErrTooLarge, maxManifestBytes)
	}
	m, err := ParseManifest(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.URI(key), err)
	}
	return m, nil
}

// ParseManifest decodes _manifest.json and checks that it is consistent:
// a known format version, one object per shard 0..n-1 under its final
// name, and totals that are the objects' sums. Errors wrap ErrBadManifest.
// Unknown fields are ignored, so a reader keeps working when fields are
// added.
func ParseManifest(data []byte) (*Manifest, error) {
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	return m, nil
}

func (m *Manifest) validate() error {
	if m.FormatVersion != ManifestVersion {
		return fmt.Errorf("format_version %d; this reader knows %d", m.FormatVersion, ManifestVersion)
	}
	var rows, bad, size int64
	var errs []error
	for i, o := range m.Objects {
		switch {
		case o.Shard != i:
			errs = append(errs, fmt.Errorf("object %d is for shard %d", i, o.Shard))
		case o.Key != FinalKey(o.Shard, m.Format):
			errs = append(errs, fmt.Errorf("shard %d: key %q, want %q", o.Shard, o.Key, FinalKey(o.Shard, m.Format)))
		case o.Quarantine != "" && o.Quarantine != QuarantineKey(o.Key):
			errs = append(errs, fmt.Errorf("shard %d: quarantine %q, want %q", o.Shard, o.Quarantine, QuarantineKey(o.Key)))
		case o.Rows < 0 || o.BadRows < 0 || o.Bytes < 0:
			errs = append(errs, fmt.Errorf("shard %d: negative count", o.Shard))
		case !strings.HasPrefix(o.Checksum, "crc32c:"):
			errs = append(errs, fmt.Errorf("shard %d: checksum %q is not crc32c:xxxxxxxx", o.Shard, o.Checksum))
		}
		rows, bad, size = rows+o.Rows, bad+o.BadRows, size+o.Bytes
	}
	if rows != m.Rows || bad != m.BadRows || size != m.Bytes {
		errs = append(errs, fmt.Errorf("totals %d rows, %d bad, %d bytes; the objects add up to %d, %d, %d",
			m.Rows, m.BadRows, m.Bytes, rows, bad, size))
	}
	return errors.Join(errs...)
}
