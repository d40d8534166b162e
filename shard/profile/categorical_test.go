package profile

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHLLEstimate(t *testing.T) {
	for _, n := range []int{1, 100, 1000, 5000, 100_000} {
		h := newHLL()
		for i := range n {
			v := fmt.Sprintf("value-%d", i)
			h.add(hashValue(v))
			h.add(hashValue(v)) // duplicates change nothing
		}
		est := h.estimate()
		if rel := float64(est-int64(n)) / float64(n); rel > 0.05 || rel < -0.05 {
			t.Errorf("%d distinct: estimate %d, off by %.1f%%", n, est, 100*rel)
		}
		for i, r := range h {
			if r > MaxRegister {
				t.Fatalf("register %d is %d", i, r)
			}
		}
	}
	// Every hash bit pattern keeps registers in range: the all-zero tail
	// gives the largest rank.
	h := newHLL()
	h.add(0)
	h.add(1<<(64-hllP) - 1)
	if h[0] != MaxRegister {
		t.Errorf("register of hash 0 is %d, want %d", h[0], MaxRegister)
	}
	if newHLL().estimate() != 0 {
		t.Error("empty sketch does not estimate 0")
	}
}

func TestKthLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for trial := range 300 {
		n := 1 + r.IntN(3000)
		s := make([]int64, n)
		spread := []int{1, 3, 50, 1 << 30}[trial%4]
		for i := range s {
			s[i] = int64(r.IntN(spread)) + 1
		}
		k := 1 + r.IntN(n)
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		if got, want := kthLargest(s, k), sorted[n-k]; got != want {
			t.Fatalf("n %d k %d spread %d: %d, want %d", n, k, spread, got, want)
		}
	}
}

// The summary's table: values found again whatever the growth, rehash and
// reduction, and invalid UTF-8 counted under its clean form.
func TestCatSummaryTable(t *testing.T) {
	c := newCatSummary()
	for round := range 3 {
		for i := range 1000 {
			c.add(fmt.Sprintf("v%d", i))
		}
		if !c.exact || len(c.entries) != 1000 {
			t.Fatalf("round %d: exact %v with %d entries", round, c.exact, len(c.entries))
		}
	}
	for i, e := range c.entries {
		if e.count != 3 {
			t.Fatalf("entry %d (%s) counts %d", i, c.value(i), e.count)
		}
	}
	c.add("bad\xffvalue")
	c.add("bad\xfevalue") // the same once cleaned
	c.addN("bad\uFFFDvalue", 2)
	st := c.stats(3004)
	for _, tc := range st.Top {
		if tc.Value == "bad\uFFFDvalue" && tc.Count != 4 {
			t.Errorf("the cleaned value counts %d, want 4", tc.Count)
		}
	}
	if st.Distinct != 1001 {
		t.Errorf("distinct %d, want 1001", st.Distinct)
	}
	// Past TopCapacity distinct values: registers appear, values keep
	// being found on the new hash.
	for i := range 5000 {
		c.add(fmt.Sprintf("v%d", i%1500))
	}
	if c.exact || c.hll == nil {
		t.Fatal("still exact after 1500 distinct values")
	}
	if len(c.entries) > 2*TopCapacity {
		t.Fatalf("%d counters", len(c.entries))
	}
	for i := range c.entries {
		if j := c.find(string(c.value(i)), c.entries[i].hash); j != i {
			t.Fatalf("entry %d (%s) is found at %d", i, c.value(i), j)
		}
	}
}

// Short values are compared by their packed key: values of every length
// up to and past 16 bytes, sharing prefixes and suffixes, count exactly.
func TestCatSummaryShortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	want := map[string]int64{}
	c := newCatSummary()
	for range 20000 {
		b := make([]byte, r.IntN(21))
		for i := range b {
			b[i] = "ab"[r.IntN(2)]
		}
		if len(b) > 3 && r.IntN(2) == 0 {
			b[len(b)/2] = 0 // a zero byte inside
		}
		s := string(b)
		if len(want) == TopCapacity && want[s] == 0 {
			continue // stay exact
		}
		want[s]++
		c.add(s)
	}
	if !c.exact {
		t.Fatal("not exact")
	}
	st := c.stats(0)
	if len(st.Top) != len(want) {
		t.Fatalf("%d values, want %d", len(st.Top), len(want))
	}
	for _, tc := range st.Top {
		if want[tc.Value] != tc.Count {
			t.Errorf("%q counts %d, want %d", tc.Value, tc.Count, want[tc.Value])
		}
	}
}
