package train

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// oddFloat32s and oddFloat64s are values whose bits a careless encoding loses: NaNs
// with payloads (quiet and signalling), −0, infinities, a subnormal.
var (
	oddFloat32s = []float32{
		math.Float32frombits(0x7fc0_1234), math.Float32frombits(0xff80_0001),
		float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(1), 1.5, -3.25e-7,
	}
	oddFloat64s = []float64{
		math.Float64frombits(0x7ff8_0000_dead_beef), math.Float64frombits(0xfff0_0000_0000_0001),
		math.Copysign(0, -1), math.Inf(1), math.Float64frombits(1), 2.5, -1e300,
	}
)

func sampleState() *State {
	return &State{
		Step: 1234, Epoch: 2, Segment: 3, SegMembers: 2, SegSteps: 40, Samples: 123_456_789_012, LossSum: math.Float64frombits(0x7ff8_0000_0000_0042), LossSteps: 17,
		Params:   slices.Concat(oddFloat32s, []float32{0.25, -0.5}),
		Opt:      slices.Concat([]float32{1234, 0}, oddFloat32s),
		Consumed: []uint64{0, 1 << 63, 0xdead_beef},
		Coverage: []uint8{1, 0, 2, 1, 255},
		Means:    oddFloat64s,
		Stds:     slices.Concat(oddFloat64s[1:], []float64{1}),
		Classes:  []string{"cat", "", "dög"},
		History: []Generation{
			{Generation: 1, Step: 0, Members: []string{"w1", "w2"}, Source: "init"},
			{Generation: 4, Step: 900, Members: []string{"w2"}, Source: "peer"},
			{Generation: 5, Step: 1000, Source: "checkpoint"},
		},
		Epochs: []EpochRecord{
			{Epoch: 0, Step: 500, TrainLoss: 0.69, Holdout: map[string]float64{"rows": 100, "logloss": 0.6, "auc": math.NaN(), "accuracy": math.Copysign(0, -1)}, AuditedRows: 900},
			{Epoch: 1, Step: 1000, TrainLoss: math.Inf(1)},
		},
	}
}

// bitsEqual32/64 compare slices bit for bit (== would call NaN unequal
// and −0 equal to 0).
func bitsEqual32(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func bitsEqual64(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// sameState reports whether a and b hold the same bits; nil and empty
// slices and maps are alike (the encoding does not tell them apart).
func sameState(a, b *State) bool {
	if a.Step != b.Step || a.Epoch != b.Epoch || a.Segment != b.Segment || a.SegMembers != b.SegMembers || a.SegSteps != b.SegSteps || a.Samples != b.Samples ||
		math.Float64bits(a.LossSum) != math.Float64bits(b.LossSum) || a.LossSteps != b.LossSteps {
		return false
	}
	if !bitsEqual32(a.Params, b.Params) || !bitsEqual32(a.Opt, b.Opt) || !slices.Equal(a.Coverage, b.Coverage) || !slices.Equal(a.Consumed, b.Consumed) ||
		!bitsEqual64(a.Means, b.Means) || !bitsEqual64(a.Stds, b.Stds) || !slices.Equal(a.Classes, b.Classes) {
		return false
	}
	if !slices.EqualFunc(a.History, b.History, func(x, y Generation) bool {
		return x.Generation == y.Generation && x.Step == y.Step && slices.Equal(x.Members, y.Members) && x.Source == y.Source
	}) {
		return false
	}
	return slices.EqualFunc(a.Epochs, b.Epochs, func(x, y EpochRecord) bool {
		return x.Epoch == y.Epoch && x.Step == y.Step && x.AuditedRows == y.AuditedRows &&
			math.Float64bits(x.TrainLoss) == math.Float64bits(y.TrainLoss) && sameMetrics(x.Holdout, y.Holdout)
	})
}

func mustMarshalState(t testing.TB, s *State) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateRoundTrip(t *testing.T) {
	for name, s := range map[string]*State{"full": sampleState(), "zero": {}} {
		t.Run(name, func(t *testing.T) {
			b := mustMarshalState(t, s)
			var got State
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !sameState(s, &got) {
				t.Fatalf("round trip changed the state:\n%+v\n%+v", s, &got)
			}
			if again := mustMarshalState(t, &got); !bytes.Equal(again, b) {
				t.Fatal("re-encoding the decoded state gave other bytes")
			}
		})
	}
	// Exact bits, checked one by one for the values that tend to be lost.
	var got State
	if err := got.UnmarshalBinary(mustMarshalState(t, sampleState())); err != nil {
		t.Fatal(err)
	}
	for i, v := range oddFloat32s {
		if math.Float32bits(got.Params[i]) != math.Float32bits(v) {
			t.Fatalf("param %d: bits %08x, want %08x", i, math.Float32bits(got.Params[i]), math.Float32bits(v))
		}
	}
	if math.Float64bits(got.LossSum) != 0x7ff8_0000_0000_0042 || math.Float64bits(got.Epochs[0].Holdout["accuracy"]) != 1<<63 {
		t.Fatal("float64 bits were lost")
	}
	// Empty slices decode as nil: in particular an empty Coverage means
	// "not auditing" and an empty Opt "no optimiser state" after a round trip.
	if got := new(State); got.UnmarshalBinary(mustMarshalState(t, &State{Opt: []float32{}, Coverage: []uint8{}, Consumed: []uint64{}})) != nil || got.Opt != nil || got.Coverage != nil || got.Consumed != nil {
		t.Fatal("empty slices did not decode as nil")
	}
}

// TestStateDeterministicBytes checks that the encoding does not depend
// on map iteration order: every member must write the same checkpoint.
func TestStateDeterministicBytes(t *testing.T) {
	s := sampleState()
	for k := range 20 {
		s.Epochs[0].Holdout[string(rune('a'+k))] = float64(k)
	}
	b := mustMarshalState(t, s)
	for range 20 {
		if !bytes.Equal(mustMarshalState(t, s), b) {
			t.Fatal("two encodings of one state differ")
		}
	}
}

func TestStateTruncated(t *testing.T) {
	b := mustMarshalState(t, sampleState())
	for n := range len(b) {
		var s State
		err := s.UnmarshalBinary(b[:n])
		if err == nil {
			t.Fatalf("a %d-byte prefix of %d bytes decoded", n, len(b))
		}
		if n >= len(stateMagic) && !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("prefix of %d bytes: %v, want it called truncated", n, err)
		}
	}
}

func TestStateCorrupt(t *testing.T) {
	b := mustMarshalState(t, sampleState())
	for i := range len(b) {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			var s State
			if err := s.UnmarshalBinary(c); err == nil {
				t.Fatalf("xor %#x at byte %d went unnoticed", x, i)
			}
		}
	}
	var s State
	if err := s.UnmarshalBinary(append(bytes.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("a trailing byte: %v", err)
	}
	c := bytes.Clone(b)
	c[stateHeader+3] ^= 0x10
	if err := s.UnmarshalBinary(c); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a flipped byte: %v, want a checksum error", err)
	}
}

// resealState fixes the length and checksum of an encoding a test has
// changed on purpose, so that the decoder's later checks are reached.
func resealState(b []byte) []byte {
	binary.LittleEndian.PutUint64(b[len(stateMagic)+1:], uint64(len(b)))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

func TestStateDecodeErrors(t *testing.T) {
	// A small state whose layout the cases below patch: params [1], means
	// [2], stds [3], holdout {"aa", "bb"}.
	small := &State{Params: []float32{1}, Means: []float64{2}, Stds: []float64{3},
		Epochs: []EpochRecord{{Holdout: map[string]float64{"aa": 1, "bb": 2}}}}
	b := mustMarshalState(t, small)
	paramsAt := stateHeader + stateFixed    // params count
	meansAt := paramsAt + 8 + 4 + 8 + 8 + 8 // after params, empty opt, consumed and coverage
	stdsAt := meansAt + 8 + 8               // stds count
	edit := func(f func(c []byte) []byte) []byte { return resealState(f(bytes.Clone(b))) }
	put64 := func(off int, v uint64) []byte {
		return edit(func(c []byte) []byte { binary.LittleEndian.PutUint64(c[off:], v); return c })
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"magic", append([]byte("NSTRAIX"), b[7:]...), "magic"},
		{"short", b[:12], "truncated"},
		{"version", edit(func(c []byte) []byte { c[7] = 9; return c }), "version 9"},
		{"length", func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint64(c[8:], 1<<62); return c }(), "truncated"},
		{"short length", func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint64(c[8:], 20); return c }(), "trailing"},
		{"negative step", put64(stateHeader, math.MaxUint64), "step -1"},
		{"absurd params", put64(paramsAt, 1<<61), "params: 2305843009213693952 entries"},
		{"params past the end", put64(paramsAt, 40), "params"},
		{"stds missing", edit(func(c []byte) []byte {
			binary.LittleEndian.PutUint64(c[stdsAt:], 0)
			return slices.Delete(c, stdsAt+8, stdsAt+16)
		}), "1 means but 0 stds"},
		{"unread bytes", edit(func(c []byte) []byte { return slices.Insert(c, len(c)-4, 0) }), "unread"},
		{"duplicate metric", edit(func(c []byte) []byte {
			i := bytes.Index(c, []byte("bb"))
			copy(c[i:], "aa")
			return c
		}), "strictly ascending"},
		{"unsorted metric", edit(func(c []byte) []byte {
			i := bytes.Index(c, []byte("bb"))
			copy(c[i:], "a0")
			return c
		}), "strictly ascending"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sampleState()
			err := s.UnmarshalBinary(c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one about %q", err, c.want)
			}
			if !sameState(s, sampleState()) {
				t.Fatal("a failed decode changed the state")
			}
		})
	}
}

// TestStateDecodeBoundedAlloc forges counts that promise far more data
// than the input holds: the decoder must refuse before allocating them.
func TestStateDecodeBoundedAlloc(t *testing.T) {
	b := mustMarshalState(t, &State{})
	for off := stateHeader + stateFixed; off < stateHeader+stateFixed+5*8; off += 8 {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint64(c[off:], 1<<40)
		resealState(c)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var s State
		err := s.UnmarshalBinary(c)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("a count of 2^40 at byte %d decoded", off)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("a forged count at byte %d made the decoder allocate %d bytes", off, grew)
		}
	}
}

func TestStateMarshalRejects(t *testing.T) {
	for _, s := range []*State{
		{Step: -1},
		{SegSteps: -5},
		{Means: []float64{1}},
		{History: []Generation{{Step: -1}}},
		{Epochs: []EpochRecord{{Epoch: -1}}},
	} {
		if _, err := s.MarshalBinary(); err == nil {
			t.Fatalf("%+v encoded", s)
		}
	}
}

func TestStateClone(t *testing.T) {
	s := sampleState()
	c := s.Clone()
	if !sameState(s, c) {
		t.Fatal("the clone differs")
	}
	c.Params[0], c.Opt[0], c.Coverage[0], c.Means[0], c.Stds[0] = 9, 9, 9, 9, 9
	c.Classes[0] = "x"
	c.History[0].Members[0] = "x"
	c.Epochs[0].Holdout["rows"] = 9
	c.History = append(c.History, Generation{})
	if !sameState(s, sampleState()) {
		t.Fatal("changing the clone changed the original")
	}
	if z := (&State{}).Clone(); z.Params != nil || z.History != nil || z.Epochs != nil || z.Coverage != nil {
		t.Fatal("nil slices did not stay nil")
	}
}

// FuzzState feeds arbitrary bytes to the decoder: it never panics, and an
// input it accepts re-encodes to exactly the same bytes. With reseal the
// input's length and checksum are fixed first, so that mutations reach
// the body's parser instead of stopping at the checksum.
//
// The seeds are small on purpose: the engine minimises every new
// interesting input in time quadratic in its length, and seeds the size of
// sampleState stall short fuzz runs (make test gives each target 5s).
func FuzzState(f *testing.F) {
	seed := &State{ // one entry in each list
		Step: 3, Epoch: 1, SegMembers: 1, SegSteps: 2, Samples: 9, LossSum: math.Float64frombits(0x7ff8_0000_0000_0042), LossSteps: 1,
		Params: []float32{float32(math.Copysign(0, -1))}, Means: []float64{0.5}, Stds: []float64{1}, Classes: []string{"a"},
		History: []Generation{{Generation: 1, Members: []string{"w"}, Source: "i"}},
		Epochs:  []EpochRecord{{Step: 1, TrainLoss: 0.5, Holdout: map[string]float64{"a": 1}, AuditedRows: 1}},
	}
	for _, s := range []*State{seed, {}} {
		b := mustMarshalState(f, s)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte("NSTRAIN\x01"), false)
	f.Add([]byte("NSTRAIN\x01\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), true)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal && len(data) >= stateHeader+4 {
			data = resealState(bytes.Clone(data))
		}
		var s State
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding changed the bytes:\n%x\n%x", data, again)
		}
		if !sameState(&s, s.Clone()) {
			t.Fatal("the clone of a decoded state differs")
		}
	})
}
