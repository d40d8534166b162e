package profile

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TopCapacity is how many distinct values a categorical column counts
// exactly, and the capacity of its Misra–Gries summary beyond that.
const TopCapacity = 1024

// catSummary counts one categorical column's non-null values.
//
// While the column has at most TopCapacity distinct values the counts are
// exact. The value that makes it TopCapacity+1 turns the counts into a
// Misra–Gries summary: counters may then be decremented, and errorBound is
// the total decrement, so a reported count is at most errorBound below the
// truth and a value whose true count exceeds 1/(TopCapacity+1) of the rows
// keeps a counter. The decrement is batched: new values enter until there
// are 2·TopCapacity counters, then the (TopCapacity+1)-th largest count is
// subtracted from all of them and the non-positive ones drop (the
// reduction Merge uses too). That costs O(1) amortised per value instead
// of a pass over every counter per new value, and needs no tie-breaking:
// every counter tied at the subtracted count goes, whatever its value. The
// summary depends only on the sequence of values, never on how they were
// split into record batches.
//
// The HyperLogLog registers exist only once exactness is lost: they are
// filled then from the values counted so far (all of them, as the counts
// were exact) and from every value after.
//
// The counters live in an open-addressing table rather than a Go map: a
// value is hashed once (a map would hash it to look it up and again to
// insert it), and the values' bytes are copied into one arena instead of
// one allocation each, which is most of the cost of a column of unique
// ids. While exact, the table hashes with tableHash, seeded per process,
// which is harmless here because the table never leaves the process and
// no output depends on its order. Once inexact, every value needs its
// xxhash for the HyperLogLog anyway, so the table is rebuilt on xxhash and
// the one hash serves both. Values of up to 16 bytes also keep a packed
// copy (shortKey) in their entry, so that while exact, the common case, a
// lookup compares two words instead of calling into memequal.
type catSummary struct {
	slots      []catSlot // power-of-two length, at most a quarter full: most probes end at their first slot
	entries    []catEntry
	arena      []byte // the entries' values, back to back
	spare      []byte // the previous arena, which the next reduce reuses
	exact      bool
	errorBound int64
	hll        hll     // nil while exact
	scratch    []int64 // reduce's counts
}

func newCatSummary() *catSummary {
	return &catSummary{slots: make([]catSlot, 32), exact: true}
}

// add counts one occurrence of s. s may point into a record's buffers: its
// bytes are copied before they are kept.
func (c *catSummary) add(s string) { c.addN(s, 1) }

// addN counts n > 0 occurrences of s.
func (c *catSummary) addN(s string, n int64) {
	if c.hll == nil && len(s) <= 16 {
		// The common case, a short value while exact: one key serves the
		// hash and the comparison.
		a, b := shortKey(s)
		h := mixShort(a, b, len(s))
		if i := c.findShort(a, b, len(s), h); i >= 0 {
			c.entries[i].count += n
			return
		}
		c.insert(s, h, n)
		return
	}
	h := c.hash(s)
	if i := c.find(s, h); i >= 0 {
		// A counted value is in the registers already (they were filled
		// from every counter when exactness was lost, and take each value
		// inserted since), and adding it again would change nothing.
		c.entries[i].count += n
		return
	}
	c.insert(s, h, n)
}

// insert adds s, whose hash is h and which has no entry, with count n.
// Its bytes are kept as they are, valid UTF-8 or not: checking every new
// value would cost a column of unique ids a tenth of its time, for data
// that are almost never malformed. stats cleans them instead.
func (c *catSummary) insert(s string, h uint64, n int64) {
	e := catEntry{hash: h, off: len(c.arena), n: len(s), count: n}
	if len(s) <= 16 {
		e.a, e.b = shortKey(s)
	}
	c.entries = append(c.entries, e)
	c.arena = append(c.arena, s...)
	if 4*len(c.entries) > len(c.slots) {
		c.rehash(2 * len(c.slots))
	} else {
		c.place(len(c.entries) - 1)
	}
	switch {
	case c.exact && len(c.entries) > TopCapacity:
		// Exactness is lost: the registers start from every value so far,
		// and the table moves to their hash.
		c.exact = false
		c.hll = newHLL()
		for i := range c.entries {
			e := &c.entries[i]
			e.hash = hashValue(string(c.arena[e.off : e.off+e.n]))
			c.hll.add(e.hash)
		}
		c.rehash(len(c.slots))
	case !c.exact:
		c.hll.add(h)
		if len(c.entries) >= 2*TopCapacity {
			c.reduce()
		}
	}
}

// reduce subtracts the (TopCapacity+1)-th largest count from every counter
// and drops those left non-positive: at most TopCapacity remain. The kept
// values move to a fresh arena, so dropped ones do not accumulate.
func (c *catSummary) reduce() {
	c.scratch = c.scratch[:0]
	for _, e := range c.entries {
		c.scratch = append(c.scratch, e.count)
	}
	cut := kthLargest(c.scratch, TopCapacity+1)
	c.errorBound += cut
	arena := c.spare[:0]
	kept := c.entries[:0]
	for _, e := range c.entries {
		if e.count > cut {
			v := c.arena[e.off : e.off+e.n]
			e.off, e.count = len(arena), e.count-cut
			kept = append(kept, e)
			arena = append(arena, v...)
		}
	}
	c.entries, c.arena, c.spare = kept, arena, c.arena
	c.rehash(len(c.slots))
}

// kthLargest is the k-th largest of s (1-based, len(s) ≥ k), found by
// quickselect; it reorders s. The value, unlike the order, does not depend
// on the algorithm.
func kthLargest(s []int64, k int) int64 {
	want := len(s) - k // index of the answer in ascending order
	lo, hi := 0, len(s)
	for hi-lo > 1 {
		// Median of three as the pivot, then a three-way partition, so
		// that runs of equal counts (the usual case) end the search.
		a, b, d := s[lo], s[lo+(hi-lo)/2], s[hi-1]
		p := max(min(a, b), min(max(a, b), d))
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch {
			case s[i] < p:
				s[lt], s[i] = s[i], s[lt]
				lt++
				i++
			case s[i] > p:
				gt--
				s[gt], s[i] = s[i], s[gt]
			default:
				i++
			}
		}
		switch {
		case want < lt:
			hi = lt
		case want >= gt:
			lo = gt
		default:
			return p
		}
	}
	return s[lo]
}

// stats is the summary as a message, for nonNull counted values. It does
// not change c: a summary over capacity is reduced in the copy.
//
// Values that are not valid UTF-8 (which a protobuf string must be) are
// reported with their bad bytes replaced by U+FFFD, and values that become
// equal so share one counter. Their HyperLogLog registers were set from
// the raw bytes, so such values may count twice towards an estimated
// distinct count: a small error, on malformed data only.
func (c *catSummary) stats(nonNull int64) *pb.CategoricalStats {
	top := make([]*pb.CategoryCount, 0, len(c.entries))
	var clean map[string]*pb.CategoryCount // set once a bad value is seen
	for i, e := range c.entries {
		v := c.value(i)
		if clean == nil && utf8.Valid(v) {
			top = append(top, &pb.CategoryCount{Value: string(v), Count: e.count})
			continue
		}
		if clean == nil {
			clean = make(map[string]*pb.CategoryCount, len(c.entries))
			for _, t := range top {
				clean[t.Value] = t
			}
		}
		s := strings.ToValidUTF8(string(v), "\uFFFD")
		if t, ok := clean[s]; ok {
			t.Count += e.count
			continue
		}
		t := &pb.CategoryCount{Value: s, Count: e.count}
		clean[s] = t
		top = append(top, t)
	}
	if c.exact {
		sortTop(top)
		return &pb.CategoricalStats{Top: top, Distinct: int64(len(top)), Exact: true}
	}
	top, cut := truncateTop(top, TopCapacity)
	return &pb.CategoricalStats{
		Top:        top,
		Other:      nonNull - sumTop(top),
		Distinct:   c.hll.estimate(),
		ErrorBound: c.errorBound + cut,
		Hll:        slices.Clone(c.hll),
	}
}

// sortTop orders a top list by count descending, then value ascending.
func sortTop(top []*pb.CategoryCount) {
	slices.SortFunc(top, compareTop)
}

func compareTop(a, b *pb.CategoryCount) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	return strings.Compare(a.Value, b.Value)
}

// truncateTop sorts top and, when it holds more than k counters, subtracts
// the (k+1)-th largest count from all and drops the non-positive ones:
// the Misra–Gries reduction of mergeable summaries (Agarwal et al.), which
// keeps every count within the summed error bounds of the truth. It
// returns the kept counters, still sorted, and the count subtracted.
func truncateTop(top []*pb.CategoryCount, k int) ([]*pb.CategoryCount, int64) {
	sortTop(top)
	if len(top) <= k {
		return top, 0
	}
	cut := top[k].Count
	kept := top[:0]
	for _, t := range top {
		if t.Count <= cut {
			break // sorted: the rest are no larger
		}
		t.Count -= cut
		kept = append(kept, t)
	}
	clear(top[len(kept):])
	return kept, cut
}

func sumTop(top []*pb.CategoryCount) int64 {
	var n int64
	for _, t := range top {
		n += t.Count
	}
	return n
}
