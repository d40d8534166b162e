package collective

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func roundTrip(t *testing.T, in *pb.CollectiveChunk) *pb.CollectiveChunk {
	t.Helper()
	frame, err := chunkCodec{}.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	defer frame.Free()
	out := &pb.CollectiveChunk{}
	if err := (chunkCodec{}).Unmarshal(frame, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChunkCodecRoundTrip(t *testing.T) {
	for _, in := range []*pb.CollectiveChunk{
		{Group: "g", Generation: 7, FromRank: 2},
		{Op: 9, Step: 3, Data: []byte{1, 2, 3, 4}},
		{Group: "all", Generation: 3, FromRank: 1, Op: 5, Step: 2, Stream: 1, Data: []byte{5, 6, 7, 8}}, // every field
		{Op: 1, Data: bytes.Repeat([]byte{0xab}, 1<<20)},
	} {
		out := roundTrip(t, in)
		if !proto.Equal(in, out) && !(len(in.Data) == 0 && len(out.Data) == 0 && in.Op == out.Op && in.Group == out.Group) {
			t.Fatalf("round trip: %v -> %v", in, out)
		}
		releaseChunk(out)
	}
	// The payload is copied: changing the source after Marshal changes nothing.
	src := &pb.CollectiveChunk{Data: []byte{1, 2, 3, 4}}
	frame, _ := chunkCodec{}.Marshal(src)
	src.Data[0] = 9
	out := &pb.CollectiveChunk{}
	if err := (chunkCodec{}).Unmarshal(frame, out); err != nil || out.Data[0] != 1 {
		t.Fatalf("payload aliased the caller's vector: %v %v", out.Data, err)
	}
}

// FuzzChunkCodec feeds arbitrary frames to the decoder: it never panics,
// and a frame it accepts re-encodes to a frame that decodes the same.
func FuzzChunkCodec(f *testing.F) {
	for _, c := range []*pb.CollectiveChunk{{Group: "g", Generation: 1}, {Op: 3, Step: 1, Data: []byte{0, 0, 128, 63}}} {
		frame, _ := chunkCodec{}.Marshal(c)
		f.Add(frame.Materialize())
		frame.Free()
	}
	f.Add([]byte{})
	f.Add([]byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The zero-copy decoder, from buffers cut as grpc's frames are,
		// accepts what the copying one accepts (bar oversized headers) and
		// decodes the same chunk.
		cut := 1 + len(data)%7
		rx, rxErr := rxDecode(t, data, []int{cut, 16384})
		c := &pb.CollectiveChunk{}
		if err := (chunkCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, c); err != nil {
			if rxErr == nil {
				t.Fatalf("rx decoder accepted a frame the chunk decoder rejects: %v", err)
			}
			return
		}
		if rxErr == nil {
			if rx.hdr.Op != c.Op || rx.hdr.Step != c.Step || rx.hdr.Group != c.Group || rx.hdr.Generation != c.Generation || rx.hdr.FromRank != c.FromRank || rx.hdr.Stream != c.Stream || !bytes.Equal(rx.payload(), c.Data) {
				t.Fatalf("decoders disagree: %v %x vs %v", &rx.hdr, rx.payload(), c)
			}
			rx.free()
		} else if len(data) >= 4 && int(uint32(data[len(data)-4])|uint32(data[len(data)-3])<<8|uint32(data[len(data)-2])<<16|uint32(data[len(data)-1])<<24) <= maxHeaderBytes {
			t.Fatalf("rx decoder rejected a frame the chunk decoder accepts: %v", rxErr)
		}
		again := roundTrip(t, c)
		if again.Op != c.Op || again.Step != c.Step || again.Group != c.Group || again.Stream != c.Stream || !bytes.Equal(again.Data, c.Data) {
			t.Fatalf("re-encoding changed the chunk: %v vs %v", c, again)
		}
	})
}

// fragment cuts b into buffers at the given lengths (cycled), the way grpc
// hands over a message cut into HTTP/2 frames.
func fragment(b []byte, cuts []int) mem.BufferSlice {
	var s mem.BufferSlice
	for i := 0; len(b) > 0; i++ {
		k := len(b)
		if len(cuts) > 0 {
			k = min(max(cuts[i%len(cuts)], 1), len(b))
		}
		s = append(s, mem.SliceBuffer(b[:k]))
		b = b[k:]
	}
	return s
}

func rxDecode(t *testing.T, frame []byte, cuts []int) (*rxChunk, error) {
	t.Helper()
	c := &rxChunk{}
	err := (chunkCodec{}).Unmarshal(fragment(frame, cuts), c)
	return c, err
}

// A txChunk goes out in the same wire format as a CollectiveChunk, without
// copying its payload, and says when the transport is done with it; an
// rxChunk decodes any frame a CollectiveChunk does, from buffers cut
// anywhere.
func TestZeroCopyChunks(t *testing.T) {
	for _, size := range []int{0, 4, 1020, 1024, 4096, zeroCopyMinBytes - 4, zeroCopyMinBytes, 1 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 31)
		}
		tx := &txChunk{hdr: pb.CollectiveChunk{Op: 7, Step: 2}, data: data, done: make(sendDone)}
		frame, err := chunkCodec{}.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		wire := frame.Materialize()
		if size >= zeroCopyMinBytes {
			select {
			case <-tx.done:
				t.Fatalf("size %d: done before the transport freed the payload", size)
			default:
			}
			if &frame[0].ReadOnlyData()[0] != &data[0] {
				t.Fatalf("size %d: payload copied", size)
			}
		}
		frame.Free()
		<-tx.done

		var old pb.CollectiveChunk
		if err := (chunkCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &old); err != nil {
			t.Fatal(err)
		}
		if old.Op != 7 || old.Step != 2 || !bytes.Equal(old.Data, data) {
			t.Fatalf("size %d: decoded as %v", size, &old)
		}
		releaseChunk(&old)
		for _, cuts := range [][]int{nil, {1}, {5, 16384}, {3, 7, 4}} {
			rx, err := rxDecode(t, wire, cuts)
			if err != nil {
				t.Fatal(err)
			}
			if rx.hdr.Op != 7 || rx.hdr.Step != 2 || rx.n != size || !bytes.Equal(rx.payload(), data) {
				t.Fatalf("size %d cuts %v: rx chunk %v, %d bytes", size, cuts, &rx.hdr, rx.n)
			}
			rx.free()
		}
	}
}

// addBytes, copyBytes and copyBytesStreaming (assembly on amd64) give the
// portable code's bits for any length and alignment.
func TestAddBytesMatchesPortable(t *testing.T) {
	src := make([]byte, 4*300+3)
	for i := range src {
		src[i] = byte(i*7 + 1)
	}
	for off := range 4 {
		for l := range 300 {
			a := make([]float32, l)
			for i := range a {
				a[i] = float32(i) * 0.37
			}
			b := append([]float32(nil), a...)
			addBytes(a, src[off:off+4*l])
			addBytesGeneric(b, src[off:off+4*l])
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("add: offset %d length %d element %d: %v vs %v", off, l, i, a[i], b[i])
				}
			}
			for _, cp := range []func([]float32, []byte){copyBytes, copyBytesStreaming} {
				// dst at every 4-byte offset from a 16-byte boundary.
				for d := range 4 {
					a := make([]float32, l+d)[d:]
					for i := range a {
						a[i] = -1
					}
					cp(a, src[off:off+4*l])
					copyBytesGeneric(b, src[off:off+4*l])
					for i := range a {
						if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
							t.Fatalf("copy: offset %d/%d length %d element %d: %v vs %v", off, d, l, i, a[i], b[i])
						}
					}
				}
			}
		}
	}
}

// The reduction reassembles values cut between grpc's buffers.
func TestReduceFromCutBuffers(t *testing.T) {
	const l = 1000
	want := make([]float32, l)
	vals := make([]float32, l)
	for i := range vals {
		vals[i] = float32(i) + 0.25
	}
	wire, _ := chunkCodec{}.Marshal(&pb.CollectiveChunk{Data: f32bytes(vals)})
	raw := wire.Materialize()
	wire.Free()
	for _, cuts := range [][]int{nil, {1}, {2, 3}, {16379, 16384}, {5, 4096}} {
		rx, err := rxDecode(t, raw, cuts)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, l)
		for i := range dst {
			dst[i] = 1
			want[i] = 1 + vals[i]
		}
		addChunk(dst, rx)
		for i := range dst {
			if dst[i] != want[i] {
				t.Fatalf("cuts %v: add element %d = %v, want %v", cuts, i, dst[i], want[i])
			}
		}
		for _, cp := range []func([]float32, []byte){copyBytes, copyBytesStreaming} {
			clear(dst)
			eachRun(dst, rx, cp)
			for i := range dst {
				if dst[i] != vals[i] {
					t.Fatalf("cuts %v: copy element %d = %v, want %v", cuts, i, dst[i], vals[i])
				}
			}
		}
		rx.free()
	}
}
