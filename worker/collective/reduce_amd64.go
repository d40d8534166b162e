package collective

// addF32 adds n little-endian float32s at src (any alignment) to dst.
//
//go:noescape
func addF32(dst *float32, src *byte, n int)

// addBytes adds little-endian float32s to dst; src may be unaligned.
func addBytes(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	_ = src[4*len(dst)-1] // bounds check once
	addF32(&dst[0], &src[0], len(dst))
}

// copyF32 copies n little-endian float32s at src (any alignment) to dst.
//
//go:noescape
func copyF32(dst *float32, src *byte, n int)

// copyBytes copies little-endian float32s into dst; src may be unaligned.
func copyBytes(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	_ = src[4*len(dst)-1] // bounds check once
	copyF32(&dst[0], &src[0], len(dst))
}

// copyNTF32 is copyF32 with non-temporal stores (past the first 16-byte
// boundary of dst) and a store fence after them.
//
//go:noescape
func copyNTF32(dst *float32, src *byte, n int)

// copyBytesStreaming is copyBytes for a destination that will not be read
// again soon: its stores bypass the cache, which saves reading each line of
// dst in first (measured about twice as fast into a vector out of cache).
func copyBytesStreaming(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	_ = src[4*len(dst)-1] // bounds check once
	copyNTF32(&dst[0], &src[0], len(dst))
}
