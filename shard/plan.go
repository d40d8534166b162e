package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// Plan is the complete, serialisable recipe of one ingest. Any process given
// the Plan and a unit index writes the same shards, so the units can run as
// independent tasks on many workers and be retried anywhere.
type Plan struct {
	Sources           []string       `json:"sources"`
	Output            string         `json:"output"`
	Format            Format         `json:"format"`
	Options           Options        `json:"options"`
	Schema            []Field        `json:"schema"`
	Objects           []SourceObject `json:"objects"`
	SourceFingerprint string         `json:"source_fingerprint"`
	Fingerprint       string         `json:"fingerprint"`
	Units             []Unit         `json:"units"`
}

// Unit is one independent piece of an ingest: a whole object, or a byte
// range of a large CSV object (lines belong to the unit holding their first byte).
type Unit struct {
	Index  int   `json:"index"`
	Object int   `json:"object"` // index into Plan.Objects
	Offset int64 `json:"offset"`
	Length int64 `json:"length"` // bytes from Offset; -1 to the end
}

// NewPlan lists the sources, fingerprints them, settles the schema and
// splits the work into units. It reads object heads (to infer a schema) but
// writes nothing.
func NewPlan(ctx context.Context, st storage.Config, sources []string, output string, opts Options) (*Plan, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("no input given")
	}
	out, err := storage.ParseURI(output)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if out.Key == "" {
		return nil, fmt.Errorf("output %s: give a folder below the bucket root", output)
	}
	p := &Plan{Sources: sources, Output: out.String(), Options: opts}
	if err := p.listObjects(ctx, st, out); err != nil {
		return nil, err
	}
	if p.Format, err = p.detectFormat(); err != nil {
		return nil, err
	}
	p.Options.Format = p.Format
	for _, o := range p.Objects {
		if o.Size == 0 {
			return nil, objectError(o.URI, "object is empty (0 bytes)")
		}
	}
	schema, err := p.settleSchema(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(p.Objects[0].URI, schema); err != nil {
		return nil, err
	}
	if p.Schema, err = FieldsOf(schema); err != nil {
		return nil, objectError(p.Objects[0].URI, "%v", err)
	}
	if opts.Label != "" && schema.FieldIndices(opts.Label) == nil {
		return nil, &InputError{Object: p.Objects[0].URI, Column: opts.Label,
			Reason: fmt.Sprintf("label column is missing (columns: %s)", columnList(schema))}
	}
	p.SourceFingerprint = hashJSON(p.Objects)
	p.Fingerprint = hashJSON(struct {
		Source  string
		Format  Format
		Options Options
		Schema  []Field
	}{p.SourceFingerprint, p.Format, p.Options, p.Schema})
	p.makeUnits()
	return p, nil
}

// checkSchema rejects a source schema a dataset cannot hold (no columns,
// an empty or repeated name, an unsupported type) with the column named.
func checkSchema(uri string, s *arrow.Schema) error {
	if s.NumFields() == 0 {
		return objectError(uri, "schema has no columns")
	}
	seen := make(map[string]bool, s.NumFields())
	for i, f := range s.Fields() {
		switch {
		case f.Name == "":
			return objectError(uri, "column %d has an empty name", i+1)
		case seen[f.Name]:
			return &InputError{Object: uri, Column: f.Name, Reason: "column name appears twice"}
		case !utf8.ValidString(f.Name):
			// manifest.json would carry it mangled, and no shard would match.
			return &InputError{Object: uri, Column: f.Name, Reason: "column name is not valid UTF-8"}
		}
		seen[f.Name] = true
		if _, err := TypeName(f.Type); err != nil {
			return &InputError{Object: uri, Column: f.Name, Reason: err.Error()}
		}
	}
	return nil
}

// listObjects expands every source URI into objects, skipping hidden and
// marker objects ("_SUCCESS", ".tmp") and anything under the output folder.
func (p *Plan) listObjects(ctx context.Context, st storage.Config, out storage.URI) error {
	seen := map[string]bool{}
	outPrefix := out.String() + "/"
	for _, src := range p.Sources {
		b, key, err := storage.Open(ctx, src, st)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		before := len(p.Objects)
		add := func(info storage.ObjectInfo) {
			uri := b.URI(info.Key)
			if seen[uri] || strings.HasPrefix(uri, outPrefix) {
				return
			}
			seen[uri] = true
			p.Objects = append(p.Objects, SourceObject{URI: uri, ETag: info.ETag, Size: info.Size})
		}
		if key != "" && !strings.HasSuffix(key, "/") {
			info, err := b.Stat(ctx, key)
			if err == nil {
				add(info)
				continue
			}
			if !storage.IsNotFound(err) {
				return fmt.Errorf("input: %w", err)
			}
			key += "/"
		}
		for info, err := range b.List(ctx, key) {
			if err != nil {
				return fmt.Errorf("input: %w", err)
			}
			if base := path.Base(info.Key); strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
				continue
			}
			add(info)
		}
		if len(p.Objects) == before {
			return fmt.Errorf("%w: no objects found at %s", ErrEmpty, src)
		}
	}
	return nil
}

// detectFormat returns the given format, or the one every object's name
// agrees on.
func (p *Plan) detectFormat() (Format, error) {
	if p.Options.Format != FormatAuto {
		return p.Options.Format, nil
	}
	var f Format
	var first string
	for _, o := range p.Objects {
		g := formatOf(o.URI)
		if g == FormatAuto {
			return "", objectError(o.URI, "cannot tell the format from the name; pass --format csv|parquet|arrow|jsonl")
		}
		if f == FormatAuto {
			f, first = g, o.URI
		} else if g != f {
			return "", objectError(o.URI, "format %s differs from %s (%s); ingest one format at a time", g, f, first)
		}
	}
	return f, nil
}

// settleSchema returns the dataset schema: given, inferred from the first
// text object, or read from the first columnar object.
func (p *Plan) settleSchema(ctx context.Context, st storage.Config) (*arrow.Schema, error) {
	first := p.Objects[0]
	switch p.Format {
	case FormatCSV:
		return inferCSV(ctx, st, first.URI, p.Options)
	case FormatJSONL:
		if p.Options.Schema != "" {
			return ParseSchemaSpec(p.Options.Schema)
		}
		return inferJSONL(ctx, st, first.URI, p.Options.InferRows)
	}
	if p.Options.Schema != "" {
		return nil, fmt.Errorf("--schema applies to csv and jsonl; %s files carry their own schema", p.Format)
	}
	src, err := openColumnar(ctx, st, p.Format, first)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return nullableSchema(src.Schema()), nil
}

// makeUnits gives each object one unit, or several byte ranges for CSV
// objects above the split size.
func (p *Plan) makeUnits() {
	split := p.Options.CSVSplitBytes
	for i, o := range p.Objects {
		if p.Format != FormatCSV || split <= 0 || o.Size <= split {
			p.Units = append(p.Units, Unit{Index: len(p.Units), Object: i, Length: -1})
			continue
		}
		for off := int64(0); off < o.Size; off += split {
			n := min(split, o.Size-off)
			p.Units = append(p.Units, Unit{Index: len(p.Units), Object: i, Offset: off, Length: n})
		}
	}
}

// ArrowSchema returns the plan's schema as Arrow.
func (p *Plan) ArrowSchema() (*arrow.Schema, error) { return SchemaOf(p.Schema) }

// shardDir is the folder, relative to the output, holding this version's shards.
func (p *Plan) shardDir() string { return "shards/" + p.Fingerprint[len("sha256:"):][:16] }

// quarantineDir is the folder, relative to the output, of quarantined rows.
func (p *Plan) quarantineDir() string { return "quarantine/" + p.Fingerprint[len("sha256:"):][:16] }

// hashJSON fingerprints a value by the SHA-256 of its JSON encoding.
func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("shard: fingerprint of %T: %v", v, err)) // plain structs: cannot fail
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
