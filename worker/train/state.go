package train

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
)

// Generation is one entry of the membership history: the generation the
// group formed, the step it started from, its members in rank order, and
// where its state came from ("init", "peer", "checkpoint"). The history
// is what makes a run replayable: the same dataset, spec, seed and history
// give the same model bit for bit.
type Generation struct {
	Generation uint64   `json:"generation"`
	Step       int64    `json:"step"`
	Members    []string `json:"members"`
	Source     string   `json:"source"`
}

// EpochRecord is one finished epoch: its mean training loss, its holdout
// metrics (Evaluate's map) and, when the sample audit is on, how many
// training rows were checked to have been used exactly once.
type EpochRecord struct {
	Epoch       int32              `json:"epoch"`
	Step        int64              `json:"step"`
	TrainLoss   float64            `json:"train_loss"`
	Holdout     map[string]float64 `json:"holdout,omitempty"`
	AuditedRows int64              `json:"audited_rows,omitempty"`
}

// State is everything a member needs to continue training exactly where
// the group is: it is broadcast to a joining member and written as a
// checkpoint, so its encoding keeps every bit (NaN payloads and −0
// included) — a member resumed from it must take the same next step as
// the members that never stopped.
type State struct {
	Step        int64     // global steps applied
	Epoch       int32     // current epoch (0-based)
	Segment     int32     // current segment of the epoch (plan.go)
	SegMembers  int32     // the group size the segment is cut for
	SegSteps    int64     // steps of the segment applied
	Samples     int64     // training rows consumed over all epochs
	LossSum     float64   // sum of per-step mean losses in the current epoch
	LossSteps   int64     // steps in LossSum
	Params      []float32 // the model's parameters (see the package doc)
	Opt         []float32 // optimiser state (Optimizer.State())
	Consumed    []uint64  // dataset rows used by the epoch's earlier segments, a bitset; nil when none
	Coverage    []uint8   // per dataset row, uses in the current epoch (audit); nil when not auditing
	Means, Stds []float64 // feature standardisation statistics, one per pipeline feature (0 for non-numeric)
	Classes     []string  // class labels of a classifier, in output order
	History     []Generation
	Epochs      []EpochRecord
}

// The encoding of a State, version 2, little-endian throughout:
//
//	"NSTRAIN" version:u8 length:u64 (of the whole encoding)
//	step:i64 epoch:i32 segment:i32 seg_members:i32 seg_steps:i64 samples:i64 loss_sum:f64 loss_steps:i64
//	params, opt:           n:u64 then n float32 bits each
//	consumed:              n:u64 then n u64 words
//	coverage:              n:u64 then n bytes
//	means, stds:           n:u64 then n float64 bits each
//	classes:               n:u32 then n strings
//	history:               n:u32 then n × (generation:u64 step:i64 members:(n:u32 strings) source:string)
//	epochs:                n:u32 then n × (epoch:i32 step:i64 train_loss:f64 audited_rows:i64
//	                                       holdout:(n:u32 then n × (key:string value:f64), keys ascending))
//	crc:                   u32, CRC-32C of everything before it
//
// A string is n:u32 then n bytes. The floats are raw bits, not JSON, so
// NaN and ±Inf (a diverged loss) survive; the length in the header lets a
// short read be named as such rather than as a bad checksum. The encoding
// is canonical: empty and nil slices and maps encode alike and decode as
// nil, map keys are sorted, so a decodable input re-encodes to itself.
const (
	stateMagic   = "NSTRAIN"
	stateVersion = 2 // 1: before streamed training (a row permutation's offset)
	stateHeader  = len(stateMagic) + 1 + 8
	stateFixed   = 8 + 4 + 4 + 4 + 8 + 8 + 8 + 8
)

// Minimal encoded sizes of the list entries, which bound how many entries
// an input of a given length can hold before anything is allocated.
const (
	minGenerationSize = 8 + 8 + 4 + 4
	minEpochSize      = 4 + 8 + 8 + 8 + 4
	minHoldoutSize    = 4 + 8
)

// check reports what makes s impossible to encode or to have been encoded:
// negative counters, statistics of different lengths, lists too long for
// their u32 count.
func (s *State) check() error {
	for _, c := range []struct {
		name string
		v    int64
	}{{"step", s.Step}, {"epoch", int64(s.Epoch)}, {"segment", int64(s.Segment)}, {"segment members", int64(s.SegMembers)}, {"segment steps", s.SegSteps}, {"samples", s.Samples}, {"loss steps", s.LossSteps}} {
		if c.v < 0 {
			return fmt.Errorf("%s %d is negative", c.name, c.v)
		}
	}
	if len(s.Means) != len(s.Stds) {
		return fmt.Errorf("%d means but %d stds", len(s.Means), len(s.Stds))
	}
	for i, g := range s.History {
		if g.Step < 0 {
			return fmt.Errorf("generation %d starts at step %d", g.Generation, g.Step)
		}
		if uint64(len(g.Members)) > math.MaxUint32 {
			return fmt.Errorf("history entry %d has %d members", i, len(g.Members))
		}
	}
	for _, e := range s.Epochs {
		if e.Epoch < 0 || e.Step < 0 || e.AuditedRows < 0 {
			return fmt.Errorf("epoch record %d at step %d with %d audited rows has a negative count", e.Epoch, e.Step, e.AuditedRows)
		}
	}
	if uint64(len(s.Classes)) > math.MaxUint32 || uint64(len(s.History)) > math.MaxUint32 || uint64(len(s.Epochs)) > math.MaxUint32 {
		return fmt.Errorf("%d classes, %d generations, %d epochs: too many", len(s.Classes), len(s.History), len(s.Epochs))
	}
	return nil
}

// MarshalBinary encodes s for a joining member or a checkpoint (format
// above). It fails only when s is inconsistent (see UnmarshalBinary), so
// what one member writes every other can read.
func (s *State) MarshalBinary() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrBadArgument, err)
	}
	size := stateHeader + stateFixed + 6*8 + 4*(len(s.Params)+len(s.Opt)) + 8*len(s.Consumed) + len(s.Coverage) + 8*(len(s.Means)+len(s.Stds)) + 3*4 + 4
	b := make([]byte, 0, size+256)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = binary.LittleEndian.AppendUint64(b, 0) // the length, patched below
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Step))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.Epoch))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.Segment))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.SegMembers))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.SegSteps))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Samples))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.LossSum))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.LossSteps))
	for _, v := range [][]float32{s.Params, s.Opt} {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.Consumed)))
	for _, w := range s.Consumed {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.Coverage)))
	b = append(b, s.Coverage...)
	for _, v := range [][]float64{s.Means, s.Stds} {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
		for _, f := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
	}
	var err error
	if b, err = appendStrings(b, s.Classes); err != nil {
		return nil, fmt.Errorf("%w: state: classes: %v", ErrBadArgument, err)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.History)))
	for _, g := range s.History {
		b = binary.LittleEndian.AppendUint64(b, g.Generation)
		b = binary.LittleEndian.AppendUint64(b, uint64(g.Step))
		if b, err = appendStrings(b, g.Members); err != nil {
			return nil, fmt.Errorf("%w: state: generation %d members: %v", ErrBadArgument, g.Generation, err)
		}
		if b, err = appendString(b, g.Source); err != nil {
			return nil, fmt.Errorf("%w: state: generation %d source: %v", ErrBadArgument, g.Generation, err)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Epochs)))
	for _, e := range s.Epochs {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.Epoch))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Step))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.TrainLoss))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.AuditedRows))
		keys := make([]string, 0, len(e.Holdout))
		for k := range e.Holdout {
			keys = append(keys, k)
		}
		slices.Sort(keys) // map order is random; the bytes must not be
		b = binary.LittleEndian.AppendUint32(b, uint32(len(keys)))
		for _, k := range keys {
			if b, err = appendString(b, k); err != nil {
				return nil, fmt.Errorf("%w: state: epoch %d metric: %v", ErrBadArgument, e.Epoch, err)
			}
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Holdout[k]))
		}
	}
	binary.LittleEndian.PutUint64(b[len(stateMagic)+1:], uint64(len(b)+4))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendString(b []byte, s string) ([]byte, error) {
	if uint64(len(s)) > math.MaxUint32 {
		return b, fmt.Errorf("string of %d bytes", len(s))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...), nil
}

func appendStrings(b []byte, ss []string) ([]byte, error) {
	if uint64(len(ss)) > math.MaxUint32 {
		return b, fmt.Errorf("%d strings", len(ss))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ss)))
	var err error
	for _, s := range ss {
		if b, err = appendString(b, s); err != nil {
			return b, err
		}
	}
	return b, nil
}

// UnmarshalBinary decodes an encoding made by MarshalBinary into s. The
// bytes come from a peer or from storage, so it is strict and says what is
// wrong: a wrong magic or version, a length that disagrees with the
// header's (truncation, trailing bytes), a checksum mismatch, counts that
// exceed what is left of the input, unsorted metric names, negative
// counters. Every count is checked against the bytes left before anything
// is allocated, so a forged count cannot make it allocate more than a
// small multiple of len(b). It never panics; on error s is unchanged.
func (s *State) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: state: %s", ErrBadArgument, fmt.Sprintf(format, args...))
	}
	if len(b) < len(stateMagic) {
		return bad("truncated: %d bytes, shorter than the magic", len(b))
	}
	if string(b[:len(stateMagic)]) != stateMagic {
		return bad("magic %q, want %q: not a training state", b[:len(stateMagic)], stateMagic)
	}
	if len(b) < stateHeader+4 {
		return bad("truncated: %d bytes, shorter than the %d-byte header and checksum", len(b), stateHeader+4)
	}
	if v := b[len(stateMagic)]; v != stateVersion {
		return bad("version %d, this build reads %d", v, stateVersion)
	}
	switch n := binary.LittleEndian.Uint64(b[len(stateMagic)+1:]); {
	case n > uint64(len(b)):
		return bad("truncated: %d bytes, the header says %d", len(b), n)
	case n < uint64(len(b)):
		return bad("%d trailing bytes after the %d the header announces", uint64(len(b))-n, n)
	}
	if got, want := crc32.Checksum(b[:len(b)-4], castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return bad("checksum %08x, trailer says %08x (corrupt)", got, want)
	}
	r := stateReader{b: b[stateHeader : len(b)-4]}
	var t State
	t.Step = int64(r.u64("step"))
	t.Epoch = int32(r.u32("epoch"))
	t.Segment = int32(r.u32("segment"))
	t.SegMembers = int32(r.u32("segment members"))
	t.SegSteps = int64(r.u64("segment steps"))
	t.Samples = int64(r.u64("samples"))
	t.LossSum = math.Float64frombits(r.u64("loss sum"))
	t.LossSteps = int64(r.u64("loss steps"))
	t.Params = r.f32s("params")
	t.Opt = r.f32s("optimiser state")
	t.Consumed = r.u64s("consumed rows")
	t.Coverage = r.bytes("coverage")
	t.Means = r.f64s("means")
	t.Stds = r.f64s("stds")
	t.Classes = r.strs("classes")
	if n := r.list("history", minGenerationSize); n > 0 {
		t.History = make([]Generation, n)
		for i := range t.History {
			g := &t.History[i]
			g.Generation = r.u64("generation")
			g.Step = int64(r.u64("generation step"))
			g.Members = r.strs("members")
			g.Source = r.str("source")
		}
	}
	if n := r.list("epochs", minEpochSize); n > 0 {
		t.Epochs = make([]EpochRecord, n)
		for i := range t.Epochs {
			e := &t.Epochs[i]
			e.Epoch = int32(r.u32("epoch record"))
			e.Step = int64(r.u64("epoch step"))
			e.TrainLoss = math.Float64frombits(r.u64("train loss"))
			e.AuditedRows = int64(r.u64("audited rows"))
			e.Holdout = r.metrics()
		}
	}
	if r.err != nil {
		return bad("%v", r.err)
	}
	if len(r.b) > 0 {
		return bad("%d unread bytes at the end of the body", len(r.b))
	}
	if err := t.check(); err != nil {
		return bad("%v", err)
	}
	*s = t
	return nil
}

// stateReader reads the body of a State encoding. The first error sticks
// and later reads return zero values, so the decoder reads straight
// through and checks once.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%s needs %d bytes, %d are left", what, n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *stateReader) u32(what string) uint32 {
	if p := r.take(4, what); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *stateReader) u64(what string) uint64 {
	if p := r.take(8, what); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// array reads a u64 count of float values of size bytes each, and list a
// u32 count of entries of at least size bytes; both fail unless that many
// fit in what is left, which is what bounds allocation by the input.
func (r *stateReader) array(what string, size int) int {
	return r.fits(what, r.u64(what+" count"), size)
}

func (r *stateReader) list(what string, size int) int {
	return r.fits(what, uint64(r.u32(what+" count")), size)
}

func (r *stateReader) fits(what string, n uint64, size int) int {
	if r.err == nil && n > uint64(len(r.b))/uint64(size) {
		r.err = fmt.Errorf("%s: %d entries of at least %d bytes, only %d bytes are left", what, n, size, len(r.b))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *stateReader) f32s(what string) []float32 {
	n := r.array(what, 4)
	if n == 0 {
		return nil
	}
	p := r.take(4*uint64(n), what)
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return v
}

func (r *stateReader) u64s(what string) []uint64 {
	n := r.array(what, 8)
	if n == 0 {
		return nil
	}
	p := r.take(8*uint64(n), what)
	v := make([]uint64, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
	return v
}

func (r *stateReader) bytes(what string) []byte {
	n := r.array(what, 1)
	if n == 0 {
		return nil
	}
	return append([]byte(nil), r.take(uint64(n), what)...)
}

func (r *stateReader) f64s(what string) []float64 {
	n := r.array(what, 8)
	if n == 0 {
		return nil
	}
	p := r.take(8*uint64(n), what)
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:]))
	}
	return v
}

func (r *stateReader) str(what string) string {
	n := r.u32(what + " length")
	return string(r.take(uint64(n), what))
}

// strs reads a u32-counted list of strings (each at least its 4-byte
// length).
func (r *stateReader) strs(what string) []string {
	n := r.list(what, 4)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.str(what)
	}
	return v
}

// metrics reads an epoch's holdout metrics, whose names must be strictly
// ascending: that is how MarshalBinary writes them, and it rules out
// duplicates, so decoding and re-encoding gives back the same bytes.
func (r *stateReader) metrics() map[string]float64 {
	n := r.list("holdout metrics", minHoldoutSize)
	if n == 0 {
		return nil
	}
	m := make(map[string]float64, n)
	prev := ""
	for i := range n {
		k := r.str("metric name")
		v := math.Float64frombits(r.u64("metric value"))
		if r.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			r.err = fmt.Errorf("holdout metric %q follows %q: names must be strictly ascending", k, prev)
			return nil
		}
		m[k], prev = v, k
	}
	return m
}

// Clone returns a deep copy of s: the trainer keeps stepping while a
// copy is encoded or written, and states handed out are never modified in
// place.
func (s *State) Clone() *State {
	c := *s
	c.Params = slices.Clone(s.Params)
	c.Opt = slices.Clone(s.Opt)
	c.Consumed = slices.Clone(s.Consumed)
	c.Coverage = slices.Clone(s.Coverage)
	c.Means = slices.Clone(s.Means)
	c.Stds = slices.Clone(s.Stds)
	c.Classes = slices.Clone(s.Classes)
	if s.History != nil {
		c.History = make([]Generation, len(s.History))
		for i, g := range s.History {
			g.Members = slices.Clone(g.Members)
			c.History[i] = g
		}
	}
	if s.Epochs != nil {
		c.Epochs = make([]EpochRecord, len(s.Epochs))
		for i, e := range s.Epochs {
			e.Holdout = maps.Clone(e.Holdout)
			c.Epochs[i] = e
		}
	}
	return &c
}
