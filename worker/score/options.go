package score

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// Output formats (the scoring output's, package scoreout) and bad-row
// policies (the job spec's, package jobspec).
const (
	FormatParquet     = scoreout.FormatParquet
	FormatArrow       = scoreout.FormatArrow
	BadRowsFail       = jobspec.BadRowsFail
	BadRowsQuarantine = jobspec.BadRowsQuarantine
)

// Options shape a scoring task's output.
type Options struct {
	// Format is "parquet" (default) or "arrow" (Arrow IPC file).
	Format string
	// Passthrough lists input columns copied to the output, in order,
	// before the prediction columns.
	Passthrough []string
	// BadRows is "fail" (default) or "quarantine".
	BadRows string
	// Compression is, for parquet, "snappy" (default), "zstd" or "none";
	// for arrow, "lz4" (default), "zstd" or "none".
	Compression string
}

// normalized returns o with defaults filled in, or an error naming the
// bad option. Format and BadRows are job spec fields: their words and
// defaults are package jobspec's, which the coordinator applied at submit;
// they are checked again here only because callers outside a job (the
// CLI's preflight, benchmarks) build Options too. Compression is this
// package's own.
func (o Options) normalized() (Options, error) {
	if o.Format == "" {
		o.Format = jobspec.ScoreFormats[0]
	}
	if o.BadRows == "" {
		o.BadRows = jobspec.BadRowsPolicy[0]
	}
	if !slices.Contains(jobspec.ScoreFormats, o.Format) {
		return o, fmt.Errorf("%w: format %q is not %s", ErrBadInput, o.Format, strings.Join(jobspec.ScoreFormats, " or "))
	}
	if !slices.Contains(jobspec.BadRowsPolicy, o.BadRows) {
		return o, fmt.Errorf("%w: bad-row policy %q is not %s", ErrBadInput, o.BadRows, strings.Join(jobspec.BadRowsPolicy, " or "))
	}
	codecs := map[string][]string{FormatParquet: {"snappy", "zstd", "none"}, FormatArrow: {"lz4", "zstd", "none"}}[o.Format]
	if o.Compression == "" {
		o.Compression = codecs[0]
	}
	if !slices.Contains(codecs, o.Compression) {
		return o, fmt.Errorf("%w: compression %q is not %s (%s)", ErrBadInput, o.Compression, strings.Join(codecs, ", "), o.Format)
	}
	return o, nil
}

// Validate checks before any data is read that m can score rows of schema
// and that opts make sense for them: valid option values, every model
// column present with a usable type, every passthrough column present
// once and not clashing with a prediction column. Errors wrap ErrBadInput
// and name the column or option.
func Validate(m *model.Model, schema *arrow.Schema, opts Options) error {
	_, err := plan(m, schema, opts)
	return err
}

// plan validates and returns the normalized options and the output schema.
func plan(m *model.Model, schema *arrow.Schema, opts Options) (Options, error) {
	opts, err := opts.normalized()
	if err != nil {
		return opts, err
	}
	if err := m.Check(schema); err != nil {
		return opts, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	taken := map[string]bool{}
	for _, f := range m.OutputFields() {
		taken[f.Name] = true
	}
	seen := map[string]bool{}
	for _, name := range opts.Passthrough {
		switch idx := schema.FieldIndices(name); {
		case seen[name]:
			return opts, fmt.Errorf("%w: passthrough column %q is listed twice", ErrBadInput, name)
		case len(idx) == 0:
			return opts, fmt.Errorf("%w: passthrough column %q is not in the input", ErrBadInput, name)
		case len(idx) > 1:
			return opts, fmt.Errorf("%w: passthrough column %q appears %d times in the input", ErrBadInput, name, len(idx))
		case taken[name]:
			return opts, fmt.Errorf("%w: passthrough column %q has the name of a prediction column", ErrBadInput, name)
		}
		seen[name] = true
	}
	return opts, nil
}

// outputSchema is the passthrough fields, as in the input, then the
// prediction fields.
func outputSchema(m *model.Model, schema *arrow.Schema, passthrough []string) *arrow.Schema {
	fields := make([]arrow.Field, 0, len(passthrough)+len(m.OutputFields()))
	for _, name := range passthrough {
		fields = append(fields, schema.Field(schema.FieldIndices(name)[0]))
	}
	return arrow.NewSchema(append(fields, m.OutputFields()...), nil)
}
