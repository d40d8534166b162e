package shard

import (
	"fmt"
	"strings"
)

// Format names a source file format.
type Format string

// The source formats ingest reads. FormatAuto picks one from the object names.
const (
	FormatAuto    Format = ""
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
	FormatArrow   Format = "arrow"
	FormatJSONL   Format = "jsonl"
)

// Compression names the codec of shard buffers.
type Compression string

// Shard compression codecs.
const (
	CompressionLZ4  Compression = "lz4"
	CompressionZstd Compression = "zstd"
	CompressionNone Compression = "none"
)

// BadRowPolicy says what ingest does with a row it cannot take.
type BadRowPolicy string

// Bad-row policies: fail the ingest (default) or set the row aside.
const (
	BadRowsFail       BadRowPolicy = "fail"
	BadRowsQuarantine BadRowPolicy = "quarantine"
)

// Defaults for Options left zero.
const (
	DefaultBatchRows     = 64 * 1024
	DefaultShardBytes    = 128 << 20
	DefaultCSVSplitBytes = 256 << 20
	DefaultInferRows     = 1000
	DefaultMaxBadFrac    = 0.01
)

// Options are the ingest settings that shape the output. Every field is part
// of the dataset fingerprint: the same source with the same options yields
// the same manifest, which a later ingest then reuses.
type Options struct {
	// Format of the source objects; auto-detected from names when empty.
	Format Format `json:"format"`
	// RowsPerShard caps rows per shard; 0 means no row cap.
	RowsPerShard int64 `json:"rows_per_shard"`
	// ShardBytes caps the uncompressed in-memory bytes per shard.
	ShardBytes int64 `json:"shard_bytes"`
	// BatchRows is the record batch length inside shards. Every batch but a
	// shard's last has exactly this many rows, so a row's batch is computable.
	BatchRows int `json:"batch_rows"`
	// Compression of shard buffers.
	Compression Compression `json:"compression"`
	// Schema, when set ("name:type,..."), replaces inference for CSV and JSON lines.
	Schema string `json:"schema,omitempty"`
	// Label, when set, must be a column and must not be missing in any row.
	Label string `json:"label,omitempty"`
	// BadRows is the bad-row policy.
	BadRows BadRowPolicy `json:"bad_rows"`
	// MaxBadFraction fails a quarantining ingest above this share of bad rows.
	MaxBadFraction float64 `json:"max_bad_fraction"`
	// AllowNonFinite accepts NaN and ±Inf in float columns.
	AllowNonFinite bool `json:"allow_non_finite"`
	// CSVSplitBytes splits CSV objects larger than this into byte-range units
	// at line boundaries; negative disables splitting (needed when quoted
	// fields hold newlines).
	CSVSplitBytes int64 `json:"csv_split_bytes"`
	// InferRows is how many rows schema inference samples.
	InferRows int `json:"infer_rows"`
}

// normalized returns o with defaults filled in, or an error naming the bad field.
func (o Options) normalized() (Options, error) {
	if o.BatchRows == 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.ShardBytes == 0 {
		o.ShardBytes = DefaultShardBytes
	}
	if o.CSVSplitBytes == 0 {
		o.CSVSplitBytes = DefaultCSVSplitBytes
	}
	if o.InferRows == 0 {
		o.InferRows = DefaultInferRows
	}
	if o.Compression == "" {
		o.Compression = CompressionLZ4
	}
	if o.BadRows == "" {
		o.BadRows = BadRowsFail
	}
	if o.BadRows == BadRowsQuarantine && o.MaxBadFraction == 0 {
		o.MaxBadFraction = DefaultMaxBadFrac
	}
	o.Format = Format(strings.ToLower(string(o.Format)))
	switch {
	case o.BatchRows < 1:
		return o, fmt.Errorf("batch rows must be positive, got %d", o.BatchRows)
	case o.RowsPerShard < 0:
		return o, fmt.Errorf("rows per shard must not be negative, got %d", o.RowsPerShard)
	case o.ShardBytes < 1:
		return o, fmt.Errorf("shard bytes must be positive, got %d", o.ShardBytes)
	case o.InferRows < 1:
		return o, fmt.Errorf("infer rows must be positive, got %d", o.InferRows)
	case o.MaxBadFraction < 0 || o.MaxBadFraction > 1:
		return o, fmt.Errorf("max bad fraction must be within [0,1], got %g", o.MaxBadFraction)
	}
	if o.RowsPerShard > 0 && int64(o.BatchRows) > o.RowsPerShard {
		o.BatchRows = int(o.RowsPerShard)
	}
	switch o.Format {
	case FormatAuto, FormatCSV, FormatParquet, FormatArrow, FormatJSONL:
	default:
		return o, fmt.Errorf("unknown format %q (want csv, parquet, arrow or jsonl)", o.Format)
	}
	switch o.Compression {
	case CompressionLZ4, CompressionZstd, CompressionNone:
	default:
		return o, fmt.Errorf("unknown compression %q (want lz4, zstd or none)", o.Compression)
	}
	switch o.BadRows {
	case BadRowsFail, BadRowsQuarantine:
	default:
		return o, fmt.Errorf("unknown bad-row policy %q (want fail or quarantine)", o.BadRows)
	}
	if o.Schema != "" {
		if _, err := ParseSchemaSpec(o.Schema); err != nil {
			return o, fmt.Errorf("schema: %w", err)
		}
	}
	return o, nil
}

// formatOf guesses a format from an object key's extension.
func formatOf(key string) Format {
	k := strings.ToLower(key)
	switch {
	case strings.HasSuffix(k, ".csv"):
		return FormatCSV
	case strings.HasSuffix(k, ".parquet"), strings.HasSuffix(k, ".pq"):
		return FormatParquet
	case strings.HasSuffix(k, ".arrow"), strings.HasSuffix(k, ".arrows"),
		strings.HasSuffix(k, ".ipc"), strings.HasSuffix(k, ".feather"):
		return FormatArrow
	case strings.HasSuffix(k, ".jsonl"), strings.HasSuffix(k, ".ndjson"), strings.HasSuffix(k, ".json"):
		return FormatJSONL
	}
	return FormatAuto
}
