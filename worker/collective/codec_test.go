package collective

import (
	"bytes"
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
		c := &pb.CollectiveChunk{}
		if err := (chunkCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, c); err != nil {
			return
		}
		again := roundTrip(t, c)
		if again.Op != c.Op || again.Step != c.Step || again.Group != c.Group || again.Stream != c.Stream || !bytes.Equal(again.Data, c.Data) {
			t.Fatalf("re-encoding changed the chunk: %v vs %v", c, again)
		}
	})
}
