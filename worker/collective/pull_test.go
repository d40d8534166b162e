package collective

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
)

// checkRingSums fails unless every member holds the ring's sums of inputs.
func checkRingSums(t *testing.T, inputs, outs [][]float32) {
	t.Helper()
	n, l := len(inputs), len(inputs[0])
	for k := range n {
		lo, hi := segment(l, n, k)
		for i := lo; i < hi; i++ {
			want := ringSum(inputs, n, k, i)
			for m := range n {
				if math.Float32bits(outs[m][i]) != math.Float32bits(want) {
					t.Fatalf("member %d element %d = %v, want %v bit for bit", m, i, outs[m][i], want)
				}
			}
		}
	}
}

func randomVectors(n, l int, seed uint64) (inputs, vecs [][]float32) {
	rng := rand.New(rand.NewPCG(seed, seed))
	inputs, vecs = make([][]float32, n), make([][]float32, n)
	for m := range n {
		inputs[m] = make([]float32, l)
		for i := range inputs[m] {
			inputs[m][i] = float32(rng.NormFloat64())
		}
		vecs[m] = append([]float32(nil), inputs[m]...)
	}
	return inputs, vecs
}

// Over plain TCP a member reads its left neighbour's chunks in place
// (rxConn): the transport hands the reduction views of the blocks the
// socket was read into, and copies only what is not chunk payload.
func TestPayloadsReceivedInPlace(t *testing.T) {
	const n, l = 2, 2 << 20 // 8 MiB vectors
	r := newRing(t, n)
	for _, streams := range []int{1, 2} {
		groups := r.joinStreams(t, "inplace", uint64(streams), 0, streams)
		inputs, vecs := randomVectors(n, l, 3)
		in0, cp0 := rxInPlace.Load(), rxCopied.Load()
		each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
		checkRingSums(t, inputs, vecs)
		in, cp := rxInPlace.Load()-in0, rxCopied.Load()-cp0
		// Each member receives half the vector twice: 8 MiB each.
		if want := int64(n * 4 * l); in < want*95/100 || cp > want/100 {
			t.Fatalf("%d streams: %d bytes received in place, %d copied; want about %d in place", streams, in, cp, want)
		}
	}
}

// The path TLS takes (no rxConn: grpc's read buffer, recvPool's buffers)
// gives the same bits.
func TestAllReduceWithoutInPlaceReceive(t *testing.T) {
	inPlaceReceive = false
	defer func() { inPlaceReceive = true }()
	const n, l = 3, 300_001
	r := newRing(t, n)
	groups := r.joinStreams(t, "copy", 1, 64<<10, 2)
	inputs, vecs := randomVectors(n, l, 5)
	in0 := rxInPlace.Load()
	each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
	checkRingSums(t, inputs, vecs)
	if rxInPlace.Load() != in0 {
		t.Fatal("an rxConn was used with in-place receive off")
	}
}

// A ring under mutual TLS (every member's certificate checked both ways)
// sums as over plain TCP.
func TestAllReduceOverTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := rpc.WriteDevPKI(dir, []string{"127.0.0.1"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	tlsCfg := rpc.DevTLS(dir, "worker")
	const n = 3
	var addrs []string
	var hubs []*Hub
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h, stop, err := Serve(ln, tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		addrs, hubs = append(addrs, ln.Addr().String()), append(hubs, h)
	}
	groups := make([]*Group, n)
	each(t, groups, func(i int, _ *Group) error {
		var err error
		groups[i], err = hubs[i].Join(context.Background(), Config{Group: "tls", Generation: 1, Rank: i, Addrs: addrs, TLS: tlsCfg, ChunkBytes: 256 << 10})
		return err
	})
	t.Cleanup(func() { closeAll(groups) })
	inputs, vecs := randomVectors(n, 1<<20+3, 9)
	each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
	checkRingSums(t, inputs, vecs)
}

// A member's pull without the right credentials is refused: a plain-TCP
// member cannot join a TLS ring.
func TestPullNeedsTheRingsTransport(t *testing.T) {
	dir := t.TempDir()
	if _, err := rpc.WriteDevPKI(dir, []string{"127.0.0.1"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, stop, err := Serve(ln, rpc.DevTLS(dir, "worker"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	h := NewHub()
	g, err := h.Join(context.Background(), Config{Group: "x", Generation: 1, Rank: 1, Addrs: []string{ln.Addr().String(), "127.0.0.1:1"}})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = g.recv(ctx, 1, 0)
		g.Close()
	}
	if err == nil {
		t.Fatal("a plain-TCP pull from a TLS server worked")
	}
}

// A stream of a generation is pulled once: a second pull is refused, and
// the first keeps working.
func TestSecondPullOfAStreamIsRefused(t *testing.T) {
	r := newRing(t, 2)
	groups := r.join(t, "dup", 1, 0)
	conn, err := rpc.Dial(r.addrs[0], rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Rank 1 already pulls stream 0 of generation 1 from rank 0.
	s, err := pb.NewCollectiveServiceClient(conn).Pull(context.Background(), &pb.CollectivePull{Group: "dup", Generation: 1, Rank: 1}, grpc.CallContentSubtype(codecName))
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second pull: %v, want AlreadyExists", err)
	}
	v := [][]float32{{1, 2}, {3, 4}}
	each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), v[i]) })
	if v[0][0] != 4 || v[1][1] != 6 {
		t.Fatalf("sums %v", v)
	}
}

// Cancelling a broadcast whose sends are stuck in flow control (the right
// neighbour reads nothing: its window fills) returns promptly, breaks the
// generation, and fails the neighbour's next collective at once.
func TestCancelWhileSendIsFlowControlled(t *testing.T) {
	r := newRing(t, 2)
	groups := r.join(t, "stuck", 1, 0)
	payload := make([]byte, 40<<20) // beyond the 16 MiB stream window
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := groups[0].Broadcast(ctx, 0, payload)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("broadcast: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a cancelled broadcast took %s to return", d)
	}
	if err := groups[0].Barrier(context.Background()); err == nil {
		t.Fatal("the generation survived a cancelled broadcast")
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer bcancel()
	if err := groups[1].Barrier(bctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the neighbour's barrier: %v, want a prompt failure", err)
	}
}

// Cancelling one member's all-reduce mid-transfer returns it promptly with
// the context's error and fails the other members' all-reduce promptly;
// the generation stays broken.
func TestCancelAllReduceMidTransfer(t *testing.T) {
	fnet := faultnet.New()
	r := newRingOn(t, 2, fnet)
	groups := r.join(t, "cancel", 1, 64<<10)
	fnet.Delay("m1", "m0", time.Millisecond) // a slow link: the transfer takes a while
	_, vecs := randomVectors(2, 4<<20, 2)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- groups[0].AllReduce(ctx, vecs[0]) }()
	go func() { errs <- groups[1].AllReduce(context.Background(), vecs[1]) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	var cancelled bool
	for range 2 {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("an all-reduce cancelled mid-transfer succeeded")
			}
			cancelled = cancelled || errors.Is(err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("an all-reduce still runs after one member cancelled")
		}
	}
	if !cancelled {
		t.Fatal("the cancelled member did not report the cancellation")
	}
	t.Logf("both failed %s after the cancel", time.Since(start))
	if err := groups[0].AllReduce(context.Background(), vecs[0]); err == nil {
		t.Fatal("the generation survived a cancelled all-reduce")
	}
}

// A member that dies in the middle of an all-reduce (its server stops and
// its connections close) fails every other member's all-reduce promptly.
func TestMemberDiesMidTransfer(t *testing.T) {
	const n = 3
	fnet := faultnet.New()
	r := newRingOn(t, n, fnet)
	groups := r.join(t, "dies", 1, 64<<10)
	for i := range n { // slow links: the transfer is still running at the kill
		for j := range n {
			if i != j {
				fnet.Delay(fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", j), time.Millisecond)
			}
		}
	}
	_, vecs := randomVectors(n, 4<<20, 1)
	errs := make(chan error, n)
	start := time.Now()
	ctx2, kill := context.WithCancel(context.Background())
	for i := range n {
		ctx := context.Background()
		if i == 2 {
			ctx = ctx2
		}
		go func() { errs <- groups[i].AllReduce(ctx, vecs[i]) }()
	}
	time.Sleep(30 * time.Millisecond)
	r.servers[2].Stop()
	kill()
	for range n {
		if err := <-errs; err == nil {
			t.Fatal("an all-reduce succeeded although a member died during it")
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the survivors took %s to fail", d)
	}
}

// Close lets the last chunks out: a root that broadcasts more than the
// stream window returns with most of it still queued in its transport;
// closing its group and stopping its server right after still delivers
// every byte.
func TestCloseDeliversQueuedChunks(t *testing.T) {
	fnet := faultnet.New()
	r := newRingOn(t, 2, fnet)
	// Rank 0 reads rank 1's stream slowly: chunks pile up in rank 1's
	// transport.
	fnet.Delay("m1", "m0", 2*time.Millisecond)
	groups := make([]*Group, 2)
	each(t, groups, func(i int, _ *Group) error {
		var err error
		groups[i], err = r.hubs[i].Join(context.Background(), Config{Group: "flush", Generation: 1, Rank: i, Addrs: r.addrs, Dialer: r.dialers[i]})
		return err
	})
	payload := bytes.Repeat([]byte("nightshift"), 2<<20) // 20 MiB
	got := make(chan error, 1)
	go func() {
		out, err := groups[0].Broadcast(context.Background(), 1, nil)
		if err == nil && !bytes.Equal(out, payload) {
			err = fmt.Errorf("received %d bytes, want %d", len(out), len(payload))
		}
		groups[0].Close()
		got <- err
	}()
	if _, err := groups[1].Broadcast(context.Background(), 1, payload); err != nil {
		t.Fatal(err)
	}
	groups[1].Close()
	r.servers[1].Stop()
	if err := <-got; err != nil {
		t.Fatalf("broadcast from a member that left at once: %v", err)
	}
}

// A member that leaves the generation (Close) while its right neighbour
// waits on it fails the neighbour's collective at once, not after the
// caller's deadline.
func TestCloseFailsAWaitingNeighbour(t *testing.T) {
	r := newRing(t, 3)
	groups := r.join(t, "leave", 1, 0)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- groups[0].AllReduce(ctx, make([]float32, 1000))
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	go groups[2].Close() // rank 0 pulls from rank 2
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("all-reduce: %v, want the neighbour's leaving", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the all-reduce still waits on a member that left")
	}
	t.Logf("failed after %s", time.Since(start))
}

// rxConn hands grpc's framer the byte stream unchanged whatever the
// frames and however the socket delivers them, and answers the Get that
// follows a DATA header with a view of the payload in its block; a block is
// reused once every view of it is back.
func TestRxConnFraming(t *testing.T) {
	var wire bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	type frame struct {
		data   bool
		length int
		padded bool
	}
	var frames []frame
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		switch {
		case i%17 == 0:
			if err := fr.WriteWindowUpdate(0, uint32(i+1)); err != nil {
				t.Fatal(err)
			}
			frames = append(frames, frame{length: 4})
		case i%29 == 0:
			p := bytes.Repeat([]byte{byte(i)}, 5000)
			if err := fr.WriteDataPadded(1, false, p, make([]byte, 7)); err != nil {
				t.Fatal(err)
			}
			frames = append(frames, frame{data: true, length: 5000 + 8, padded: true})
		default:
			l := []int{16384, 16384, 100, rxViewMin, rxViewMin - 1, 12000}[rng.IntN(6)]
			p := make([]byte, l)
			for j := range p {
				p[j] = byte(i*7 + j)
			}
			if err := fr.WriteData(1, false, p); err != nil {
				t.Fatal(err)
			}
			frames = append(frames, frame{data: true, length: l})
		}
	}
	want := wire.Bytes()
	a, b := net.Pipe()
	go func() {
		// Deliver in odd pieces.
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(70000))
			if _, err := a.Write(rest[:k]); err != nil {
				return
			}
			rest = rest[k:]
		}
		a.Close()
	}()
	pool := newRxPool()
	c := newRxConn(b, pool)
	var got []byte
	var held []*[]byte
	views := 0
	for _, f := range frames {
		hdr := make([]byte, frameHeaderLen)
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatal(err)
		}
		got = append(got, hdr...)
		if l := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2]); l != f.length {
			t.Fatalf("frame length %d, want %d", l, f.length)
		}
		// What grpc's framer does for a DATA frame: a buffer from the pool
		// for the payload, read in full.
		buf := pool.Get(f.length)
		if _, err := io.ReadFull(c, *buf); err != nil {
			t.Fatal(err)
		}
		got = append(got, *buf...)
		view := f.data && !f.padded && f.length >= rxViewMin
		if inBlock := c.holds(*buf); inBlock != view {
			t.Fatalf("frame of %d bytes (data %v, padded %v): view %v", f.length, f.data, f.padded, inBlock)
		}
		if view {
			views++
		}
		held = append(held, buf)
		if len(held) > 20 { // grpc releases frames some time later
			pool.Put(held[0])
			held = held[1:]
		}
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read past the end: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the byte stream changed")
	}
	if views == 0 {
		t.Fatal("no payload was read in place")
	}
	for _, b := range held {
		pool.Put(b)
	}
	// 400 frames of up to 16 KiB went through 1 MiB blocks held 20 frames
	// at a time: the blocks were reused.
	if len(pool.blocks) > 3 {
		t.Fatalf("%d blocks for a stream of %d bytes", len(pool.blocks), len(want))
	}
	if k := len(pool.free) + 1; k != len(pool.blocks) {
		t.Fatalf("%d of %d blocks free after every view came back", k-1, len(pool.blocks))
	}
}

// holds reports whether b lies in one of the connection's blocks.
func (c *rxConn) holds(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	for _, blk := range c.pool.blocks {
		if a, base := uintptrOf(b), uintptrOf(blk.buf); a >= base && a < base+uintptr(len(blk.buf)) {
			return true
		}
	}
	return false
}
