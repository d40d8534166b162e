package model

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// numericBlock returns the values of rows [lo, hi) of a numeric column as
// float64: the column's own memory for float64 columns, else converted
// into scratch. Values at null slots are unspecified.
func numericBlock(a arrow.Array, lo, hi int, scratch []float64) []float64 {
	dst := scratch[:hi-lo]
	switch c := a.(type) {
	case *array.Float64:
		return c.Float64Values()[lo:hi]
	case *array.Float32:
		convert(dst, c.Float32Values()[lo:hi])
	case *array.Int64:
		convert(dst, c.Int64Values()[lo:hi])
	case *array.Int32:
		convert(dst, c.Int32Values()[lo:hi])
	case *array.Int16:
		convert(dst, c.Int16Values()[lo:hi])
	case *array.Int8:
		convert(dst, c.Int8Values()[lo:hi])
	case *array.Uint64:
		convert(dst, c.Uint64Values()[lo:hi])
	case *array.Uint32:
		convert(dst, c.Uint32Values()[lo:hi])
	case *array.Uint16:
		convert(dst, c.Uint16Values()[lo:hi])
	case *array.Uint8:
		convert(dst, c.Uint8Values()[lo:hi])
	default:
		panic("model: numericBlock on " + a.DataType().String()) // resolve admits only the types above
	}
	return dst
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func convert[T number](dst []float64, src []T) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// valueAt returns row i of a numeric column as float64 and whether it is
// valid (not null).
func valueAt(a arrow.Array, i int) (float64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	var scratch [1]float64
	return numericBlock(a, i, i+1, scratch[:])[0], true
}

// NumericAt returns row i of a column as float64, and false when the row
// is null or the column is not an integer or float column.
func NumericAt(a arrow.Array, i int) (float64, bool) {
	if !isNumeric(a.DataType()) {
		return 0, false
	}
	return valueAt(a, i)
}

// isNull reports whether bit off+i of a validity bitmap is clear.
func isNull(bitmap []byte, off, i int) bool {
	j := off + i
	return bitmap[j>>3]&(1<<(j&7)) == 0
}

// hasNulls reports whether any of rows [lo, hi) of a is null.
func hasNulls(a arrow.Array, lo, hi int) bool {
	if a.NullN() == 0 {
		return false
	}
	if lo == 0 && hi == a.Len() {
		return true
	}
	bm, off := a.NullBitmapBytes(), a.Data().Offset()
	for i := lo; i < hi; i++ {
		if isNull(bm, off, i) {
			return true
		}
	}
	return false
}

// FNV-1a 32-bit parameters.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// Hash returns FNV-1a 32 of s, the categorical feature hash; a value falls
// in bucket Hash(v) % buckets.
func Hash(s string) uint32 {
	h := uint32(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}

func hashBytes(b []byte) uint32 {
	h := uint32(fnvOffset)
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime
	}
	return h
}

// bucketCache remembers the buckets of one categorical feature's recent
// values. Categorical columns repeat a few values many times, so a hit (a
// single word compare) replaces hashing, whose cost is a chain of
// multiplies and a mispredicted loop exit per value. Keys are whole
// values: strings of up to 8 bytes packed in a word with their length, or
// integers, so entries stay valid across records.
type bucketCache [cacheSize]cacheEntry

const cacheSize = 256

type cacheEntry struct {
	key    uint64
	tag    int32 // 0: empty; 1..9: string length + 1; 10: integer
	bucket int32
}

const intTag = 10

// lenMask[n] keeps the low n bytes of a little-endian word.
var lenMask = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

func (c *bucketCache) entry(key uint64, tag int32) *cacheEntry {
	return &c[((key^uint64(tag))*0x9E3779B97F4A7C15)>>56]
}

// bytesBucket returns the bucket of data[start:end].
func (c *bucketCache) bytesBucket(data []byte, start, end int, nb uint32) int32 {
	n := end - start
	if n > 8 || start+8 > len(data) {
		return int32(hashBytes(data[start:end]) % nb)
	}
	key := binary.LittleEndian.Uint64(data[start:]) & lenMask[n]
	e := c.entry(key, int32(n+1))
	if e.key == key && e.tag == int32(n+1) {
		return e.bucket
	}
	b := int32(hashBytes(data[start:end]) % nb)
	*e = cacheEntry{key: key, tag: int32(n + 1), bucket: b}
	return b
}

// intBucket returns the bucket of v's base-10 text.
func (c *bucketCache) intBucket(v int64, nb uint32) int32 {
	e := c.entry(uint64(v), intTag)
	if e.key == uint64(v) && e.tag == intTag {
		return e.bucket
	}
	var buf [24]byte
	b := int32(hashBytes(strconv.AppendInt(buf[:0], v, 10)) % nb)
	*e = cacheEntry{key: uint64(v), tag: intTag, bucket: b}
	return b
}

// bucketBlock writes the bucket of rows [lo, hi) of a categorical column
// into dst, -1 for a null.
func bucketBlock(a arrow.Array, lo, hi, buckets int, c *bucketCache, dst []int32) []int32 {
	dst = dst[:hi-lo]
	nb := uint32(buckets)
	switch col := a.(type) {
	case *array.String:
		stringBuckets(col.ValueOffsets()[lo:], valueBuffer(a), a, lo, nb, c, dst)
	case *array.LargeString:
		stringBuckets(col.ValueOffsets()[lo:], valueBuffer(a), a, lo, nb, c, dst)
	case *array.Dictionary:
		dictBuckets(col, lo, nb, c, dst)
	case *array.Uint64:
		nulls := a.NullN() > 0
		var buf [24]byte
		for r := range dst {
			if nulls && a.IsNull(lo+r) {
				dst[r] = -1
				continue
			}
			// Above MaxInt64 the int64 cache key would collide: hash directly.
			dst[r] = int32(hashBytes(strconv.AppendUint(buf[:0], col.Value(lo+r), 10)) % nb)
		}
	default:
		nulls := a.NullN() > 0
		for r := range dst {
			if nulls && a.IsNull(lo+r) {
				dst[r] = -1
				continue
			}
			dst[r] = c.intBucket(intAt(a, lo+r), nb)
		}
	}
	return dst
}

// valueBuffer returns a string array's whole value buffer; offsets index
// into it.
func valueBuffer(a arrow.Array) []byte {
	if b := a.Data().Buffers()[2]; b != nil {
		return b.Bytes()
	}
	return nil
}

func stringBuckets[O int32 | int64](offs []O, data []byte, a arrow.Array, lo int, nb uint32, c *bucketCache, dst []int32) {
	offs = offs[:len(dst)+1]
	nulls := a.NullN() > 0
	for r := range dst {
		if nulls && a.IsNull(lo+r) {
			dst[r] = -1
			continue
		}
		dst[r] = c.bytesBucket(data, int(offs[r]), int(offs[r+1]), nb)
	}
}

func dictBuckets(col *array.Dictionary, lo int, nb uint32, c *bucketCache, dst []int32) {
	nulls := col.NullN() > 0
	dict := col.Dictionary()
	data := valueBuffer(dict)
	for r := range dst {
		if nulls && col.IsNull(lo+r) {
			dst[r] = -1
			continue
		}
		k := col.GetValueIndex(lo + r)
		if dict.IsNull(k) {
			dst[r] = -1
			continue
		}
		var start, end int
		switch d := dict.(type) {
		case *array.String:
			start, end = int(d.ValueOffset(k)), int(d.ValueOffset(k+1))
		case *array.LargeString:
			start, end = int(d.ValueOffset(k)), int(d.ValueOffset(k+1))
		}
		dst[r] = c.bytesBucket(data, start, end, nb)
	}
}

// intAt returns row i of a signed or narrow unsigned integer column.
func intAt(a arrow.Array, i int) int64 {
	switch c := a.(type) {
	case *array.Uint32:
		return int64(c.Value(i))
	case *array.Uint16:
		return int64(c.Value(i))
	case *array.Uint8:
		return int64(c.Value(i))
	case *array.Int64:
		return c.Value(i)
	case *array.Int32:
		return int64(c.Value(i))
	case *array.Int16:
		return int64(c.Value(i))
	case *array.Int8:
		return int64(c.Value(i))
	}
	panic("model: intAt on " + a.DataType().String())
}

// valueReason says why a numeric value cannot be used, or "" if it can.
func valueReason(v float64) string {
	switch {
	case math.IsNaN(v):
		return "value is NaN"
	case math.IsInf(v, 1):
		return "value is +Inf"
	case math.IsInf(v, -1):
		return "value is -Inf"
	}
	return ""
}
