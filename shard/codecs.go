package shard

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// lz4FrameDecode decompresses LZ4 frames (the Arrow IPC LZ4_FRAME codec)
// from src straight into dst, which must be exactly the uncompressed size.
func lz4FrameDecode(src, dst []byte) error {
	pos := 0
	for len(src) > 0 {
		if len(src) < 7 || binary.LittleEndian.Uint32(src) != 0x184D2204 {
			return fmt.Errorf("lz4: bad frame magic")
		}
		flg := src[4]
		src = src[6:] // magic, FLG, BD
		if flg>>6 != 1 {
			return fmt.Errorf("lz4: frame version %d", flg>>6)
		}
		independent := flg&0x20 != 0
		blockSum, contentSum, hasSize, hasDict := flg&0x10 != 0, flg&0x04 != 0, flg&0x08 != 0, flg&0x01 != 0
		skip := 1 // header checksum
		if hasSize {
			skip += 8
		}
		if hasDict {
			skip += 4
		}
		if len(src) < skip {
			return fmt.Errorf("lz4: truncated frame header")
		}
		src = src[skip:]
		for {
			if len(src) < 4 {
				return fmt.Errorf("lz4: truncated block header")
			}
			size := binary.LittleEndian.Uint32(src)
			src = src[4:]
			if size == 0 {
				break // end mark
			}
			stored := size&0x80000000 != 0
			size &= 0x7FFFFFFF
			if int(size) > len(src) {
				return fmt.Errorf("lz4: block of %d bytes past the end", size)
			}
			block := src[:size]
			src = src[size:]
			if blockSum {
				if len(src) < 4 {
					return fmt.Errorf("lz4: truncated block checksum")
				}
				src = src[4:]
			}
			var n int
			var err error
			switch {
			case stored:
				if len(block) > len(dst)-pos {
					return fmt.Errorf("lz4: output longer than its stated length")
				}
				n = copy(dst[pos:], block)
			case independent:
				n, err = lz4.UncompressBlock(block, dst[pos:])
			default:
				n, err = lz4.UncompressBlockWithDict(block, dst[pos:], dst[max(0, pos-64<<10):pos])
			}
			if err != nil {
				return fmt.Errorf("lz4: %w", err)
			}
			pos += n
		}
		if contentSum {
			if len(src) < 4 {
				return fmt.Errorf("lz4: truncated content checksum")
			}
			src = src[4:]
		}
	}
	if pos != len(dst) {
		return fmt.Errorf("lz4: %d bytes decoded, the buffer says %d", pos, len(dst))
	}
	return nil
}

var (
	zstdOnce sync.Once
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdDecode decompresses zstd frames from src into dst (exactly the
// uncompressed size) with one process-wide decoder; DecodeAll is safe for
// concurrent use.
func zstdDecode(src, dst []byte) error {
	zstdOnce.Do(func() {
		zstdDec, zstdErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderLowmem(false))
	})
	if zstdErr != nil {
		return zstdErr
	}
	out, err := zstdDec.DecodeAll(src, dst[:0])
	if err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
		return fmt.Errorf("zstd: %d bytes decoded, the buffer says %d", len(out), len(dst))
	}
	return nil
}
