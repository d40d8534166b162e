package profile

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// The open-addressing table behind catSummary: slots that point at
// entries, the entries' values in one arena, and the hashes (see
// catSummary for why it is not a Go map).

// catSlot is one slot of the table, 4 bytes so that the table of a column
// at capacity (8192 slots for 2·TopCapacity entries) stays small in cache:
// an entry index plus one (0 = empty) and the top 16 bits of the value's
// hash, which settle most probes without touching the entry.
type catSlot struct {
	tag   uint16
	entry uint16 // at most 2·TopCapacity+1 entries
}

type catEntry struct {
	hash   uint64 // the table's hash of the value: tableHash while exact, hashValue after
	off, n int    // the value is arena[off : off+n]
	a, b   uint64 // shortKey of a value of at most 16 bytes
	count  int64
}

// hash is the table's hash of s.
func (c *catSummary) hash(s string) uint64 {
	if c.hll == nil {
		return tableHash(s)
	}
	return hashValue(s)
}

// tableSeed and mapSeed key the exact table's hash (see catSummary).
var (
	tableSeed = rand.Uint64()
	mapSeed   = maphash.MakeSeed()
)

// tableHash is the exact table's hash. Category values are mostly short:
// up to 16 bytes it is one 64×64→128-bit multiply of the value's shortKey
// (wyhash's short-input step), cheaper than a call into the runtime's
// hash; longer values go to hash/maphash.
func tableHash(s string) uint64 {
	if len(s) > 16 {
		return maphash.String(mapSeed, s)
	}
	a, b := shortKey(s)
	return mixShort(a, b, len(s))
}

func mixShort(a, b uint64, n int) uint64 {
	hi, lo := bits.Mul64(a^tableSeed, b^uint64(n)^0xe7037ed1a0b428db)
	return hi ^ lo
}

// shortKey packs a value of at most 16 bytes into two words that, with its
// length, are the whole value: its first and last 8 bytes (overlapping
// below 16), or 4 and 4 below 8, or 3 of its at most 3 bytes. Comparing
// them compares the values, without the arena.
func shortKey(s string) (a, b uint64) {
	switch n := len(s); {
	case n >= 8:
		return load64(s), load64(s[n-8:])
	case n >= 4:
		return uint64(load32(s)), uint64(load32(s[n-4:]))
	case n > 0:
		return uint64(s[0])<<16 | uint64(s[n/2])<<8 | uint64(s[n-1]), 0
	}
	return 0, 0
}

func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// value is entry i's value; it points into the arena (valid until the
// next insert or reduce).
func (c *catSummary) value(i int) []byte {
	e := &c.entries[i]
	return c.arena[e.off : e.off+e.n]
}

// find returns the entry of s, whose hash is h, or -1.
func (c *catSummary) find(s string, h uint64) int {
	mask := len(c.slots) - 1
	tag := uint16(h >> 48)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := c.slots[i]
		if sl.entry == 0 {
			return -1
		}
		if sl.tag == tag {
			if e := &c.entries[sl.entry-1]; string(c.arena[e.off:e.off+e.n]) == s {
				return int(sl.entry - 1)
			}
		}
	}
}

// findShort is find for a value of at most 16 bytes while exact: a, b is
// its shortKey, n its length and h its tableHash.
func (c *catSummary) findShort(a, b uint64, n int, h uint64) int {
	mask := len(c.slots) - 1
	tag := uint16(h >> 48)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := c.slots[i]
		if sl.entry == 0 {
			return -1
		}
		if sl.tag == tag {
			if e := &c.entries[sl.entry-1]; e.a == a && e.b == b && e.n == n {
				return int(sl.entry - 1)
			}
		}
	}
}

// place puts entry i in the table.
func (c *catSummary) place(i int) {
	mask := len(c.slots) - 1
	h := c.entries[i].hash
	j := int(h) & mask
	for c.slots[j].entry != 0 {
		j = (j + 1) & mask
	}
	c.slots[j] = catSlot{tag: uint16(h >> 48), entry: uint16(i + 1)}
}

// rehash rebuilds the table at size slots.
func (c *catSummary) rehash(size int) {
	if size == len(c.slots) {
		clear(c.slots)
	} else {
		c.slots = make([]catSlot, size)
	}
	for i := range c.entries {
		c.place(i)
	}
}
