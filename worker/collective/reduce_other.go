//go:build !amd64

package collective

// addBytes adds little-endian float32s to dst.
func addBytes(dst []float32, src []byte) { addBytesGeneric(dst, src) }

// copyBytes copies little-endian float32s into dst.
func copyBytes(dst []float32, src []byte) { copyBytesGeneric(dst, src) }

// copyBytesStreaming is copyBytes (amd64 has a non-temporal one).
func copyBytesStreaming(dst []float32, src []byte) { copyBytesGeneric(dst, src) }
