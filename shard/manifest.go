package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/nightshift-ml/nightshift/storage"
)

// ManifestName is the object that publishes a dataset version. It is
// written last: a dataset without it does not exist.
const ManifestName = "manifest.json"

// ManifestVersion is the manifest format this code writes and reads.
const ManifestVersion = 1

// Manifest describes one dataset version: its schema, its ordered shards,
// the source it came from and the options that shaped it.
type Manifest struct {
	FormatVersion int         `json:"format_version"`
	Fingerprint   string      `json:"fingerprint"`
	Schema        []Field     `json:"schema"`
	BatchRows     int         `json:"batch_rows"`
	Shards        []ShardInfo `json:"shards"`
	TotalRows     int64       `json:"total_rows"`
	TotalBytes    int64       `json:"total_bytes"`
	Source        Source      `json:"source"`
	Options       Options     `json:"options"`
	Quarantine    *Quarantine `json:"quarantine,omitempty"`
}

// ShardInfo is one shard: a compressed Arrow IPC file below the dataset.
type ShardInfo struct {
	Key      string `json:"key"` // relative to the dataset folder
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"checksum"` // "crc32c:xxxxxxxx" of the whole file
	Batches  int    `json:"batches"`
}

// Source records what was ingested, to decide whether a manifest is reusable.
type Source struct {
	URIs        []string       `json:"uris"`
	Format      Format         `json:"format"`
	Fingerprint string         `json:"fingerprint"`
	Objects     []SourceObject `json:"objects"`
}

// SourceObject is one source object as listed at plan time.
type SourceObject struct {
	URI  string `json:"uri"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// Quarantine counts rows set aside under the quarantine policy.
type Quarantine struct {
	Rows    int64    `json:"rows"`
	Objects []string `json:"objects"` // relative keys of the JSON-lines side objects
}

var (
	checksumRE    = regexp.MustCompile(`^crc32c:[0-9a-f]{8}$`)
	fingerprintRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ParseManifest decodes and validates manifest.json. It rejects unknown
// fields, unknown versions, bad keys, and counts that do not add up, so a
// reader never trusts a manifest that could point it astray.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return nil, fmt.Errorf("manifest: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// Validate checks the manifest's internal consistency.
func (m *Manifest) Validate() error {
	if m.FormatVersion != ManifestVersion {
		return fmt.Errorf("format_version %d is not supported (want %d)", m.FormatVersion, ManifestVersion)
	}
	if !fingerprintRE.MatchString(m.Fingerprint) {
		return fmt.Errorf("fingerprint %q is not sha256:<64 hex>", m.Fingerprint)
	}
	if _, err := SchemaOf(m.Schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if m.BatchRows < 1 {
		return fmt.Errorf("batch_rows must be positive, got %d", m.BatchRows)
	}
	var rows, size int64
	seen := make(map[string]bool, len(m.Shards))
	for i, s := range m.Shards {
		if err := storage.ValidateKey(s.Key); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		if seen[s.Key] {
			return fmt.Errorf("shard %d: key %q listed twice", i, s.Key)
		}
		seen[s.Key] = true
		if s.Rows < 1 || s.Bytes < 1 || s.Batches < 1 {
			return fmt.Errorf("shard %d (%s): rows, bytes and batches must be positive", i, s.Key)
		}
		if int64(s.Batches) != (s.Rows+int64(m.BatchRows)-1)/int64(m.BatchRows) {
			return fmt.Errorf("shard %d (%s): %d batches cannot hold %d rows at %d rows per batch", i, s.Key, s.Batches, s.Rows, m.BatchRows)
		}
		if !checksumRE.MatchString(s.Checksum) {
			return fmt.Errorf("shard %d (%s): checksum %q is not crc32c:<8 hex>", i, s.Key, s.Checksum)
		}
		if rows > rows+s.Rows || size > size+s.Bytes {
			return fmt.Errorf("shard %d (%s): totals overflow", i, s.Key)
		}
		rows += s.Rows
		size += s.Bytes
	}
	if rows != m.TotalRows {
		return fmt.Errorf("total_rows is %d but the shards hold %d", m.TotalRows, rows)
	}
	if size != m.TotalBytes {
		return fmt.Errorf("total_bytes is %d but the shards hold %d", m.TotalBytes, size)
	}
	if m.Quarantine != nil {
		if m.Quarantine.Rows < 0 {
			return fmt.Errorf("quarantine rows must not be negative")
		}
		for _, k := range m.Quarantine.Objects {
			if err := storage.ValidateKey(k); err != nil {
				return fmt.Errorf("quarantine object: %w", err)
			}
		}
	}
	if !fingerprintRE.MatchString(m.Source.Fingerprint) {
		return fmt.Errorf("source fingerprint %q is not sha256:<64 hex>", m.Source.Fingerprint)
	}
	return nil
}

// Encode renders the manifest as indented JSON with a trailing newline.
func (m *Manifest) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// String summarises the manifest in one line.
func (m *Manifest) String() string {
	return fmt.Sprintf("%d rows in %d shards (%s), %d bytes", m.TotalRows, len(m.Shards),
		strings.TrimPrefix(m.Fingerprint, "sha256:")[:12], m.TotalBytes)
}
