package jobspec

import (
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
)

// Bad-row policies of a score job: fail the task on a row the model
// cannot score (the default), or set such rows aside with their reason.
const (
	BadRowsFail       = "fail"
	BadRowsQuarantine = "quarantine"
)

// Output formats and bad-row policies of a score job; the first of each is
// the default. The formats are the scoring output's (package scoreout).
var (
	ScoreFormats  = []string{scoreout.FormatParquet, scoreout.FormatArrow}
	BadRowsPolicy = []string{BadRowsFail, BadRowsQuarantine}
)

// Score puts a scoring spec in its canonical form, fills its defaults and
// validates it. The model is an artifact URI or a registry reference;
// whether it exists, and whether it can score the input, is checked by the
// code that reads them.
func Score(sp *pb.ScoreSpec) error {
	c := newChecker()
	score(c, sp)
	return c.errs.err()
}

func score(c checker, sp *pb.ScoreSpec) {
	sp.Model, sp.Input, sp.Output = CanonicalURI(sp.Model), CanonicalURI(sp.Input), CanonicalURI(sp.Output)
	sp.Format, sp.BadRows = word(sp.Format), word(sp.BadRows)
	if sp.Format == "" {
		sp.Format = ScoreFormats[0]
	}
	if sp.BadRows == "" {
		sp.BadRows = BadRowsPolicy[0]
	}
	switch {
	case sp.Model == "":
		c.bad("model", "required (an artifact URI, or NAME, NAME@ALIAS, NAME@vN from the registry)")
	case IsModelRef(sp.Model):
		if _, err := ParseModelRef(sp.Model); err != nil {
			c.bad("model", "%v", err)
		}
	default:
		c.checkURI("model", sp.Model)
	}
	c.checkURI("input", sp.Input)
	c.checkURI("output", sp.Output)
	if !oneOf(sp.Format, ScoreFormats...) {
		c.bad("format", "%s", want(sp.Format, ScoreFormats...))
	}
	if !oneOf(sp.BadRows, BadRowsPolicy...) {
		c.bad("bad_rows", "%s", want(sp.BadRows, BadRowsPolicy...))
	}
	seen := map[string]bool{}
	for i, col := range sp.Passthrough {
		col = strings.TrimSpace(col)
		sp.Passthrough[i] = col
		switch {
		case col == "":
			c.bad(index("passthrough", i), "empty column name")
		case seen[col]:
			c.bad(index("passthrough", i), "column %q is listed twice", col)
		}
		seen[col] = true
	}
}
