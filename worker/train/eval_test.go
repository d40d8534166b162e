package train

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

// binaryPart builds a binary part from predictions and labels.
func binaryPart(pred, label []float64) EvalPart {
	p := EvalPart{Task: EvalBinary}
	for i := range pred {
		p.Append(pred[i:i+1], label[i])
	}
	return p
}

// sameMetrics compares metric maps bit for bit.
func sameMetrics(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	return true
}

func mustEvaluate(t *testing.T, parts ...EvalPart) map[string]float64 {
	t.Helper()
	m, err := Evaluate(parts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func evalNear(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestEvaluateBinaryByHand(t *testing.T) {
	for _, c := range []struct {
		name        string
		pred, label []float64
		auc, acc    float64 // auc -1: absent
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []float64{1, 0, 1, 0}, 0.5, 0.5}, // 0.5 is predicted negative
		// Positives score 0.6 and 0.8, negatives 0.3 and 0.6: pairs won
		// 1 + ½ + 1 + 1 of 4.
		{"one tie", []float64{0.3, 0.6, 0.6, 0.8}, []float64{0, 1, 0, 1}, 3.5 / 4, 0.75},
		// Positives 0.9, 0.8, 0.6 against negatives 0.7, 0.4, 0.2: 3 + 3 + 2
		// of 9 pairs; predicted 1,1,1,1,0,0 against 1,1,0,1,0,0.
		{"six rows", []float64{0.9, 0.8, 0.7, 0.6, 0.4, 0.2}, []float64{1, 1, 0, 1, 0, 0}, 8.0 / 9, 5.0 / 6},
		{"one class", []float64{0.2, 0.7}, []float64{1, 1}, -1, 0.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := mustEvaluate(t, binaryPart(c.pred, c.label))
			var ll float64
			for i, p := range c.pred {
				if c.label[i] == 1 {
					ll -= math.Log(p)
				} else {
					ll -= math.Log(1 - p)
				}
			}
			ll /= float64(len(c.pred))
			if m["rows"] != float64(len(c.pred)) || !evalNear(m["logloss"], ll) || m["accuracy"] != c.acc {
				t.Fatalf("metrics %v, want rows %d logloss %v accuracy %v", m, len(c.pred), ll, c.acc)
			}
			auc, ok := m["auc"]
			if c.auc < 0 {
				if ok {
					t.Fatalf("auc %v with one class present", auc)
				}
			} else if !ok || auc != c.auc {
				t.Fatalf("auc %v (present %v), want %v", auc, ok, c.auc)
			}
			want := 3 // rows, logloss, accuracy
			if ok {
				want++
			}
			if len(m) != want {
				t.Fatalf("unexpected metrics in %v", m)
			}
		})
	}
}

func TestEvaluateBinaryClipAndNaN(t *testing.T) {
	// Certain and wrong costs about −log(1e-15) ≈ 34.54, not +Inf (1−1e-15
	// rounds to 1 − 0.999e-15 in float64, so the two rows differ slightly).
	m := mustEvaluate(t, binaryPart([]float64{1, 0}, []float64{0, 1}))
	top := 1 - 1e-15 // a float64 variable, so 1 − top is not constant-folded exactly
	if want := -(math.Log(1-top) + math.Log(1e-15)) / 2; !evalNear(m["logloss"], want) || m["auc"] != 0 {
		t.Fatalf("metrics %v, want logloss %v", m, want)
	}
	// Certain and right costs about nothing.
	m = mustEvaluate(t, binaryPart([]float64{0, 1}, []float64{0, 1}))
	if m["logloss"] > 1e-14 || m["logloss"] < 0 {
		t.Fatalf("logloss %v of certain right answers", m["logloss"])
	}
	// A diverged model's NaN surfaces instead of hiding.
	m = mustEvaluate(t, binaryPart([]float64{math.NaN(), 0.3, 0.7}, []float64{1, 0, 1}))
	if !math.IsNaN(m["logloss"]) || !math.IsNaN(m["auc"]) {
		t.Fatalf("metrics %v with a NaN prediction", m)
	}
}

func TestEvaluateMulticlassByHand(t *testing.T) {
	p := EvalPart{Task: EvalMulticlass, Classes: 3}
	p.Append([]float64{0.7, 0.2, 0.1}, 0) // right
	p.Append([]float64{0.1, 0.3, 0.6}, 1) // wrong: arg max 2
	p.Append([]float64{0.4, 0.4, 0.2}, 1) // wrong: the tie goes to class 0
	p.Append([]float64{0.2, 0.2, 0.6}, 2) // right
	m := mustEvaluate(t, p)
	ll := -(math.Log(0.7) + math.Log(0.3) + math.Log(0.4) + math.Log(0.6)) / 4
	if len(m) != 3 || m["rows"] != 4 || m["accuracy"] != 0.5 || !evalNear(m["logloss"], ll) {
		t.Fatalf("metrics %v, want rows 4 accuracy 0.5 logloss %v", m, ll)
	}
	// The tie going to the lowest index: class 0 is then right.
	q := EvalPart{Task: EvalMulticlass, Classes: 3}
	q.Append([]float64{0.4, 0.4, 0.2}, 0)
	if m := mustEvaluate(t, q); m["accuracy"] != 1 {
		t.Fatalf("accuracy %v, want the tie to go to class 0", m["accuracy"])
	}
}

func TestEvaluateRegressionByHand(t *testing.T) {
	p := EvalPart{Task: EvalRegression}
	for i, pred := range []float64{1, 2, 3} {
		p.Append([]float64{pred}, []float64{1, 0, 6}[i])
	}
	m := mustEvaluate(t, p)
	// Errors 0, 2, −3.
	if want := math.Sqrt(13.0 / 3); len(m) != 2 || m["rows"] != 3 || !evalNear(m["rmse"], want) {
		t.Fatalf("metrics %v, want rmse %v", m, want)
	}
}

func TestEvaluateEmpty(t *testing.T) {
	for _, parts := range [][]EvalPart{nil, {{Task: EvalBinary}}, {{Task: EvalMulticlass, Classes: 4}, {Task: EvalMulticlass, Classes: 4}}} {
		m, err := Evaluate(parts)
		if err != nil || len(m) != 1 || m["rows"] != 0 {
			t.Fatalf("Evaluate(%v) = %v, %v; want just rows 0", parts, m, err)
		}
	}
}

func TestEvaluateRejects(t *testing.T) {
	mc := func(k int) EvalPart {
		p := EvalPart{Task: EvalMulticlass, Classes: k}
		row := make([]float64, k)
		row[0] = 1
		p.Append(row, 0)
		return p
	}
	bin := binaryPart([]float64{0.5}, []float64{1})
	for _, c := range []struct {
		name  string
		parts []EvalPart
		want  string
	}{
		{"tasks differ", []EvalPart{bin, mc(3)}, "task"},
		{"classes differ", []EvalPart{mc(3), mc(4)}, "classes"},
		{"no task", []EvalPart{{}}, "unknown task"},
		{"binary label", []EvalPart{{Task: EvalBinary, Pred: []float64{0.5}, Label: []float64{0.5}}}, "not 0 or 1"},
		{"class index", []EvalPart{{Task: EvalMulticlass, Classes: 2, Pred: []float64{0.5, 0.5}, Label: []float64{2}}}, "class index"},
		{"fractional class", []EvalPart{{Task: EvalMulticlass, Classes: 2, Pred: []float64{0.5, 0.5}, Label: []float64{0.5}}}, "class index"},
		{"NaN target", []EvalPart{{Task: EvalRegression, Pred: []float64{1}, Label: []float64{math.NaN()}}}, "not finite"},
		{"lengths", []EvalPart{{Task: EvalRegression, Pred: []float64{1, 2}, Label: []float64{1}}}, "predictions"},
		{"one class", []EvalPart{{Task: EvalMulticlass, Classes: 1}}, "multiclass with 1"},
		{"binary with classes", []EvalPart{{Task: EvalBinary, Classes: 2}}, "only multiclass"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Evaluate(c.parts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one about %q", err, c.want)
			}
		})
	}
}

// evalData returns a deterministic part of each task with rows rows,
// with repeated scores so that the AUC has ties.
func evalData(rows int) []EvalPart {
	r := permRNG{s: 99}
	u := func() float64 { return float64(r.next()>>11) * 0x1p-53 }
	bin := EvalPart{Task: EvalBinary}
	reg := EvalPart{Task: EvalRegression}
	mc := EvalPart{Task: EvalMulticlass, Classes: 4}
	for range rows {
		p := math.Round(u()*50) / 50
		y := 0.0
		if u() < p {
			y = 1
		}
		bin.Append([]float64{p}, y)
		reg.Append([]float64{u() * 10}, u()*10)
		row := []float64{u(), u(), u(), u()}
		s := row[0] + row[1] + row[2] + row[3]
		for j := range row {
			row[j] /= s
		}
		mc.Append(row, float64(r.below(4)))
	}
	return []EvalPart{bin, reg, mc}
}

// splitPart cuts p into parts at the given row boundaries.
func splitPart(p EvalPart, cuts []int) []EvalPart {
	var parts []EvalPart
	w := p.width()
	lo := 0
	for _, hi := range append(cuts, p.Rows()) {
		parts = append(parts, EvalPart{Task: p.Task, Classes: p.Classes, Pred: p.Pred[lo*w : hi*w], Label: p.Label[lo:hi]})
		lo = hi
	}
	return parts
}

// TestEvaluateSplitInvariant checks that how the holdout is split among
// members, and the exchange as bytes, change no bit of the metrics.
func TestEvaluateSplitInvariant(t *testing.T) {
	for _, whole := range evalData(1000) {
		want := mustEvaluate(t, whole)
		for _, cuts := range [][]int{{}, {500}, {0, 0, 1, 999, 1000}, {3, 140, 141, 600, 777}, {1, 2, 3, 4, 5, 6}} {
			parts := splitPart(whole, cuts)
			if got := mustEvaluate(t, parts...); !sameMetrics(got, want) {
				t.Fatalf("task %d cut at %v: %v, want %v", whole.Task, cuts, got, want)
			}
			for i := range parts {
				b, err := parts[i].MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				parts[i] = EvalPart{}
				if err := parts[i].UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
			}
			if got := mustEvaluate(t, parts...); !sameMetrics(got, want) {
				t.Fatalf("task %d cut at %v, after the exchange: %v, want %v", whole.Task, cuts, got, want)
			}
		}
	}
}

// samePart compares parts bit for bit, treating nil and empty alike.
func samePart(a, b *EvalPart) bool {
	eq := func(x, y []float64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	}
	return a.Task == b.Task && a.Classes == b.Classes && eq(a.Pred, b.Pred) && eq(a.Label, b.Label)
}

func TestEvalPartRoundTrip(t *testing.T) {
	parts := evalData(37)
	odd := EvalPart{Task: EvalBinary, Pred: []float64{math.Copysign(0, -1), math.Float64frombits(0x7ff8_0000_dead_beef), math.Inf(-1)}, Label: []float64{0, 1, 1}}
	parts = append(parts, odd, EvalPart{Task: EvalRegression}, EvalPart{Task: EvalMulticlass, Classes: 1 << 20})
	for _, p := range parts {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q EvalPart
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !samePart(&p, &q) {
			t.Fatalf("round trip changed the part: %+v -> %+v", p, q)
		}
		if b2, _ := q.MarshalBinary(); !bytes.Equal(b, b2) {
			t.Fatal("re-encoding gave other bytes")
		}
	}
	// A compact encoding: header, 8 bytes per prediction, 1 per binary label.
	b, _ := odd.MarshalBinary()
	if len(b) != evalHeader+3*9+4 {
		t.Fatalf("%d bytes for 3 binary rows", len(b))
	}
}

// resealEval recomputes an eval part encoding's checksum after a test
// has changed its content on purpose.
func resealEval(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

func TestEvalPartDecodeErrors(t *testing.T) {
	mustEncode := func(p EvalPart) []byte {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bin := mustEncode(binaryPart([]float64{0.25, 0.75}, []float64{0, 1}))
	mcPart := EvalPart{Task: EvalMulticlass, Classes: 3}
	mcPart.Append([]float64{0.2, 0.3, 0.5}, 2)
	mc := mustEncode(mcPart)
	reg := mustEncode(EvalPart{Task: EvalRegression, Pred: []float64{1}, Label: []float64{2}})

	// Every truncation and every flipped bit is caught.
	for _, b := range [][]byte{bin, mc, reg} {
		for n := range len(b) {
			var p EvalPart
			if err := p.UnmarshalBinary(b[:n]); err == nil {
				t.Fatalf("a %d-byte prefix of %d bytes decoded", n, len(b))
			}
		}
		for i := range len(b) {
			for bit := range 8 {
				c := bytes.Clone(b)
				c[i] ^= 1 << bit
				var p EvalPart
				if err := p.UnmarshalBinary(c); err == nil {
					t.Fatalf("flipping bit %d of byte %d went unnoticed", bit, i)
				}
			}
		}
	}

	patch := func(b []byte, off int, v ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[off:], v)
		return resealEval(c)
	}
	labels := func(b []byte) int { return len(b) - 4 } // the last label ends at the checksum
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"magic", patch(bin, 0, 'X'), "magic"},
		{"version", patch(bin, 4, 2), "version 2"},
		{"task", patch(bin, 5, 9), "unknown task 9"},
		{"classes on binary", patch(bin, 6, 2), "only multiclass"},
		{"one class", patch(mc, 6, 1), "multiclass with 1"},
		{"trailing", resealEval(append(bytes.Clone(bin[:len(bin)-4]), 0, 0, 0, 0, 0)), "trailing"},
		{"rows", patch(bin, 10, 3), "truncated"},
		{"absurd rows", patch(bin, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "truncated"},
		{"crc", func() []byte { c := bytes.Clone(bin); c[len(c)-1] ^= 0xff; return c }(), "checksum"},
		{"binary label", patch(bin, labels(bin)-1, 2), "not 0 or 1"},
		{"class index", patch(mc, labels(mc)-4, 3), "class index 3"},
		{"NaN target", patch(reg, labels(reg)-8, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f), "not finite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := EvalPart{Task: EvalRegression, Pred: []float64{7}, Label: []float64{7}}
			err := p.UnmarshalBinary(c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one about %q", err, c.want)
			}
			if p.Rows() != 1 || p.Pred[0] != 7 {
				t.Fatal("a failed decode changed the part")
			}
		})
	}
}

func TestEvalPartMarshalRejects(t *testing.T) {
	for _, p := range []EvalPart{
		{},
		{Task: EvalBinary, Pred: []float64{0.5}, Label: []float64{0.5}},
		{Task: EvalMulticlass, Classes: 2, Pred: []float64{1}, Label: []float64{0}},
	} {
		if _, err := p.MarshalBinary(); err == nil {
			t.Fatalf("%+v encoded", p)
		}
	}
}

func TestEvalPartAppendPanics(t *testing.T) {
	for _, c := range []struct {
		p    EvalPart
		pred []float64
	}{
		{EvalPart{Task: EvalBinary}, []float64{0.1, 0.9}},
		{EvalPart{Task: EvalMulticlass, Classes: 3}, []float64{0.5, 0.5}},
		{EvalPart{Task: EvalMulticlass}, nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Append(%v) to %+v did not panic", c.pred, c.p)
				}
			}()
			c.p.Append(c.pred, 0)
		}()
	}
}

// FuzzEvalPart feeds arbitrary bytes to the decoder: it never panics, an
// input it accepts re-encodes to the same bytes (the encoding is
// canonical), and Evaluate accepts what the decoder accepted. With reseal
// the checksum is fixed first, so that mutations reach the label checks.
func FuzzEvalPart(f *testing.F) {
	for _, p := range evalData(2) { // small seeds: see FuzzState
		b, _ := p.MarshalBinary()
		f.Add(b, false)
		f.Add(b, true)
	}
	empty, _ := (&EvalPart{Task: EvalBinary}).MarshalBinary()
	f.Add(empty, false)
	f.Add([]byte{}, false)
	f.Add([]byte("NSEV\x01\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00"), true)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal && len(data) >= 4 {
			data = resealEval(bytes.Clone(data))
		}
		var p EvalPart
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("a decoded part does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding changed the bytes:\n%x\n%x", data, again)
		}
		if _, err := Evaluate([]EvalPart{p, p}); err != nil {
			t.Fatalf("Evaluate rejects a decoded part: %v", err)
		}
	})
}
