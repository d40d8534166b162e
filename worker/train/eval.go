package train

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Evaluation is computed across a group: each member predicts its share of
// the holdout into an EvalPart, the parts travel as bytes to every member,
// and every member calls Evaluate on the same parts in rank order. The
// metrics are therefore computed from the concatenation in a fixed order,
// never from per-member partial metrics, so they are bit-identical on every
// member (same GOARCH) and do not depend on how the holdout was split.

// EvalTask is what a model predicts, which decides the metrics.
type EvalTask int

// Evaluation tasks. The zero value is deliberately invalid so that a part
// whose task was never set is rejected rather than scored as something.
const (
	EvalRegression EvalTask = iota + 1 // rmse
	EvalBinary                         // logloss, auc, accuracy
	EvalMulticlass                     // logloss, accuracy
)

// evalClip bounds probabilities inside log loss, as scikit-learn did, so a
// single confident mistake costs about 34.5 rather than +Inf.
const evalClip = 1e-15

// EvalPart is one member's predictions on its share of the holdout.
// Labels are validated by MarshalBinary and Evaluate, not by Append,
// so the prediction loop stays cheap.
type EvalPart struct {
	Task    EvalTask
	Classes int       // multiclass: number of classes (≥ 2); 0 otherwise
	Pred    []float64 // binary: P(y=1) per row; regression: the prediction; multiclass: rows×Classes probabilities, row-major
	Label   []float64 // binary: 0 or 1; regression: the target; multiclass: class index
}

// width is the number of predictions per row.
func (p *EvalPart) width() int {
	if p.Task == EvalMulticlass {
		return p.Classes
	}
	return 1
}

// Append adds one row: pred holds 1 value, or Classes for multiclass. It
// panics when pred has the wrong length, a broken invariant of the
// caller; Task and Classes must be set first.
func (p *EvalPart) Append(pred []float64, label float64) {
	if w := p.width(); len(pred) != w || w <= 0 {
		panic(fmt.Sprintf("train: EvalPart.Append: %d predictions for task %d with %d classes", len(pred), p.Task, p.Classes))
	}
	p.Pred = append(p.Pred, pred...)
	p.Label = append(p.Label, label)
}

// Rows is the number of rows appended (or decoded).
func (p *EvalPart) Rows() int { return len(p.Label) }

// check reports the first inconsistency of p, for callers to wrap: an
// unknown task, a class count that does not fit the task, lengths that
// disagree, or a label the task cannot have. Predictions are not checked:
// a diverged model's NaN must reach the metrics, not hide behind an
// encoding error.
func (p *EvalPart) check() error {
	switch p.Task {
	case EvalRegression, EvalBinary:
		if p.Classes != 0 {
			return fmt.Errorf("%d classes for task %d (only multiclass has classes)", p.Classes, p.Task)
		}
	case EvalMulticlass:
		if p.Classes < 2 || p.Classes > math.MaxInt32 {
			return fmt.Errorf("multiclass with %d classes", p.Classes)
		}
	default:
		return fmt.Errorf("unknown task %d", p.Task)
	}
	if len(p.Pred) != len(p.Label)*p.width() {
		return fmt.Errorf("%d predictions for %d rows of %d", len(p.Pred), len(p.Label), p.width())
	}
	for i, y := range p.Label {
		if err := p.checkLabel(y); err != nil {
			return fmt.Errorf("row %d: %v", i, err)
		}
	}
	return nil
}

func (p *EvalPart) checkLabel(y float64) error {
	switch p.Task {
	case EvalBinary:
		if y != 0 && y != 1 {
			return fmt.Errorf("binary label %v is not 0 or 1", y)
		}
	case EvalMulticlass:
		if y != math.Trunc(y) || y < 0 || y >= float64(p.Classes) {
			return fmt.Errorf("label %v is not a class index in [0, %d)", y, p.Classes)
		}
	default:
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("regression label %v is not finite", y)
		}
	}
	return nil
}

// The encoding of an EvalPart, version 1, little-endian:
//
//	"NSEV" version:u8 task:u8 classes:u32 rows:u64
//	pred:  rows×width float64 (raw bits, so NaN and −0 survive)
//	label: rows × (binary u8 | multiclass u32 | regression float64)
//	crc:   u32, CRC-32C of everything before it
//
// Labels are stored in their natural width, which more than halves a
// classification part. The encoding is canonical: a decodable input
// re-encodes to the same bytes.
const (
	evalMagic   = "NSEV"
	evalVersion = 1
	evalHeader  = 4 + 1 + 1 + 4 + 8
)

// castagnoli is the CRC-32C table shared by the encodings of this package.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// labelSize is the encoded size of one label.
func labelSize(t EvalTask) int {
	switch t {
	case EvalBinary:
		return 1
	case EvalMulticlass:
		return 4
	}
	return 8
}

// MarshalBinary encodes p compactly for the exchange between members; it
// fails when p is inconsistent (see Evaluate), so what one member sends
// the others can decode.
func (p *EvalPart) MarshalBinary() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: eval part: %v", ErrBadArgument, err)
	}
	rows := len(p.Label)
	b := make([]byte, 0, evalHeader+8*len(p.Pred)+rows*labelSize(p.Task)+4)
	b = append(b, evalMagic...)
	b = append(b, evalVersion, byte(p.Task))
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Classes))
	b = binary.LittleEndian.AppendUint64(b, uint64(rows))
	for _, v := range p.Pred {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	for _, y := range p.Label {
		switch p.Task {
		case EvalBinary:
			b = append(b, byte(y))
		case EvalMulticlass:
			b = binary.LittleEndian.AppendUint32(b, uint32(y))
		default:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(y))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary decodes an encoding made by MarshalBinary. It is strict,
// because the bytes come from another process: a wrong magic or version, a
// length that does not match the header (truncation or trailing bytes), a
// checksum mismatch, or a label the task cannot have is an error saying
// which. The header's row count is checked against the input's length
// before anything is allocated. On error p is unchanged.
func (p *EvalPart) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: eval part: %s", ErrBadArgument, fmt.Sprintf(format, args...))
	}
	if len(b) < evalHeader+4 {
		return bad("truncated: %d bytes, shorter than the %d-byte header and checksum", len(b), evalHeader+4)
	}
	if string(b[:4]) != evalMagic {
		return bad("magic %q, want %q", b[:4], evalMagic)
	}
	if b[4] != evalVersion {
		return bad("version %d, this build reads %d", b[4], evalVersion)
	}
	q := EvalPart{Task: EvalTask(b[5])}
	classes := binary.LittleEndian.Uint32(b[6:])
	rows := binary.LittleEndian.Uint64(b[10:])
	if q.Task < EvalRegression || q.Task > EvalMulticlass {
		return bad("unknown task %d", b[5])
	}
	if classes > math.MaxInt32 {
		return bad("%d classes", classes)
	}
	q.Classes = int(classes)
	if q.Task != EvalMulticlass && q.Classes != 0 {
		return bad("%d classes for task %d (only multiclass has classes)", q.Classes, q.Task)
	}
	if q.Task == EvalMulticlass && q.Classes < 2 {
		return bad("multiclass with %d classes", q.Classes)
	}
	perRow := 8*uint64(q.width()) + uint64(labelSize(q.Task))
	body := uint64(len(b) - evalHeader - 4)
	if rows > body/perRow { // compare by division: rows·perRow may overflow
		return bad("truncated: %d bytes of rows, the header's %d rows of %d bytes need more", body, rows, perRow)
	}
	if rows*perRow != body {
		return bad("%d trailing bytes after %d rows", body-rows*perRow, rows)
	}
	if got, want := crc32.Checksum(b[:len(b)-4], castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return bad("checksum %08x, trailer says %08x (corrupt)", got, want)
	}
	n := int(rows)
	off := evalHeader
	if n > 0 {
		q.Pred = make([]float64, n*q.width())
		q.Label = make([]float64, n)
	}
	for i := range q.Pred {
		q.Pred[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
		off += 8
	}
	for i := range q.Label {
		switch q.Task {
		case EvalBinary:
			if b[off] > 1 {
				return bad("row %d: binary label byte %d is not 0 or 1", i, b[off])
			}
			q.Label[i] = float64(b[off])
		case EvalMulticlass:
			c := binary.LittleEndian.Uint32(b[off:])
			if c >= classes {
				return bad("row %d: class index %d is not in [0, %d)", i, c, classes)
			}
			q.Label[i] = float64(c)
		default:
			y := math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
			if math.IsNaN(y) || math.IsInf(y, 0) {
				return bad("row %d: regression label %v is not finite", i, y)
			}
			q.Label[i] = y
		}
		off += labelSize(q.Task)
	}
	*p = q
	return nil
}

// Evaluate combines the parts in order, as if concatenated, and returns
// the metrics of their task, plus "rows":
//
//   - binary: "logloss" (probabilities clipped to [1e-15, 1−1e-15]),
//     "auc" (exact, ties between a positive and a negative count ½;
//     omitted when only one class is present; NaN when a prediction is
//     NaN), "accuracy" (a row is predicted positive when P(y=1) > 0.5,
//     as scikit-learn's predict and XGBoost's error metric do);
//   - multiclass: "logloss" (of the true class's clipped probability),
//     "accuracy" (arg max, ties to the lowest class index);
//   - regression: "rmse".
//
// Sums run over the rows in order, in float64, so the same parts in the
// same order give bit-identical results, whatever the split into parts.
// No parts, or parts with no rows, give just rows = 0. Parts that disagree
// on the task or the number of classes, or that are inconsistent (see
// MarshalBinary), are an error.
func Evaluate(parts []EvalPart) (map[string]float64, error) {
	rows := 0
	for i := range parts {
		p := &parts[i]
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("%w: eval part %d: %v", ErrBadArgument, i, err)
		}
		if p.Task != parts[0].Task || p.Classes != parts[0].Classes {
			return nil, fmt.Errorf("%w: eval part %d has task %d with %d classes, part 0 task %d with %d",
				ErrBadArgument, i, p.Task, p.Classes, parts[0].Task, parts[0].Classes)
		}
		rows += p.Rows()
	}
	m := map[string]float64{"rows": float64(rows)}
	if rows == 0 {
		return m, nil
	}
	switch parts[0].Task {
	case EvalBinary:
		evalBinary(parts, rows, m)
	case EvalMulticlass:
		evalMulticlass(parts, rows, m)
	default:
		var sq float64
		for i := range parts {
			p := &parts[i]
			for r, y := range p.Label {
				d := p.Pred[r] - y
				sq += float64(d * d) // the conversion forbids fusing into an FMA
			}
		}
		m["rmse"] = math.Sqrt(sq / float64(rows))
	}
	return m, nil
}

// clipProb bounds a probability for log loss; NaN stays NaN.
func clipProb(p float64) float64 {
	if p < evalClip {
		return evalClip
	}
	if p > 1-evalClip {
		return 1 - evalClip
	}
	return p
}

// evalScore is one binary row for the AUC sort.
type evalScore struct {
	p   float64
	pos bool
}

func evalBinary(parts []EvalPart, rows int, m map[string]float64) {
	var loss float64
	var correct, npos int
	nan := false
	scores := make([]evalScore, 0, rows)
	for i := range parts {
		p := &parts[i]
		for r, y := range p.Label {
			q := p.Pred[r]
			pos := y == 1
			if pos {
				loss -= math.Log(clipProb(q))
				npos++
			} else {
				loss -= math.Log(1 - clipProb(q))
			}
			if (q > 0.5) == pos {
				correct++
			}
			nan = nan || math.IsNaN(q)
			scores = append(scores, evalScore{q, pos})
		}
	}
	m["logloss"] = loss / float64(rows)
	m["accuracy"] = float64(correct) / float64(rows)
	if npos == 0 || npos == rows {
		return
	}
	if nan {
		m["auc"] = math.NaN()
		return
	}
	m["auc"] = exactAUC(scores, npos, rows-npos)
}

// exactAUC is the probability that a random positive scores above a random
// negative, ties counting ½ (the Mann–Whitney U statistic over P·N). It
// sorts by score and walks groups of equal scores, counting in integers
// (2U fits in a uint64 for any holdout below 2^32 rows), so the result is
// one exact division, independent of the order of rows within a group.
func exactAUC(s []evalScore, npos, nneg int) float64 {
	slices.SortFunc(s, func(a, b evalScore) int { return cmp.Compare(a.p, b.p) })
	var twiceU, negBelow uint64
	for i := 0; i < len(s); {
		var gp, gn uint64
		j := i
		for ; j < len(s) && s[j].p == s[i].p; j++ {
			if s[j].pos {
				gp++
			} else {
				gn++
			}
		}
		twiceU += gp * (2*negBelow + gn)
		negBelow += gn
		i = j
	}
	return float64(twiceU) / (2 * float64(npos) * float64(nneg))
}

func evalMulticlass(parts []EvalPart, rows int, m map[string]float64) {
	var loss float64
	var correct int
	k := parts[0].Classes
	for i := range parts {
		p := &parts[i]
		for r, y := range p.Label {
			probs := p.Pred[r*k : (r+1)*k]
			c := int(y)
			loss -= math.Log(clipProb(probs[c]))
			best := 0
			for j, v := range probs {
				if v > probs[best] {
					best = j
				}
			}
			if best == c {
				correct++
			}
		}
	}
	m["logloss"] = loss / float64(rows)
	m["accuracy"] = float64(correct) / float64(rows)
}
