package collective

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
)

// ring is n members, each a real gRPC server on loopback with a Hub.
type ring struct {
	small   int // Config.SmallBytes of the groups it joins: -1 tests the ring path at every length
	addrs   []string
	hubs    []*Hub
	servers []*grpc.Server
	dialers []rpc.Dialer // per member; nil entries dial TCP
}

func newRing(t testing.TB, n int) *ring { return newRingOn(t, n, nil) }

// newRingOn is newRing with each member's server and ring dials on fnet
// (when not nil), member i named "m<i>" there.
func newRingOn(t testing.TB, n int, fnet *faultnet.Network) *ring {
	t.Helper()
	r := &ring{small: -1}
	for i := range n {
		listen, dial := net.Listen, rpc.Dialer(nil)
		if fnet != nil {
			nd := fnet.Node(fmt.Sprintf("m%d", i))
			listen, dial = nd.Listen, nd.DialContext
		}
		r.dialers = append(r.dialers, dial)
		ln, err := listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		opts, err := rpc.ServerOptions(rpc.TLSConfig{})
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(opts...)
		h := NewHub()
		h.Register(s)
		go func() { _ = s.Serve(ln) }()
		r.addrs, r.hubs, r.servers = append(r.addrs, ln.Addr().String()), append(r.hubs, h), append(r.servers, s)
	}
	t.Cleanup(func() {
		for _, s := range r.servers {
			s.Stop()
		}
	})
	return r
}

// join makes every member join generation gen and returns the groups.
func (r *ring) join(t testing.TB, name string, gen uint64, chunk int) []*Group {
	return r.joinStreams(t, name, gen, chunk, 1)
}

// joinStreams joins with the given number of connections per ring link.
func (r *ring) joinStreams(t testing.TB, name string, gen uint64, chunk, streams int) []*Group {
	t.Helper()
	groups := make([]*Group, len(r.addrs))
	errs := make([]error, len(r.addrs))
	var wg sync.WaitGroup
	for i := range r.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			groups[i], errs[i] = r.hubs[i].Join(context.Background(), Config{Group: name, Generation: gen, Rank: i, Addrs: r.addrs,
				ChunkBytes: chunk, Streams: streams, SmallBytes: r.small, Dialer: r.dialers[i]})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d join: %v", i, err)
		}
	}
	t.Cleanup(func() { closeAll(groups) })
	return groups
}

// closeAll closes the groups at once, as members leaving a generation do
// (a Close waits for its right neighbour's).
func closeAll(groups []*Group) {
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() { defer wg.Done(); g.Close() }()
	}
	wg.Wait()
}

// each runs fn on every member at once and fails on any error.
func each(t testing.TB, groups []*Group, fn func(i int, g *Group) error) {
	t.Helper()
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i, g) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
}

// ringSum is the sum the ring computes for an element of segment k: it
// starts at member k and adds each next member's value in front.
func ringSum(inputs [][]float32, n, k, i int) float32 {
	acc := inputs[k][i]
	for j := 1; j < n; j++ {
		acc = inputs[(k+j)%n][i] + acc
	}
	return acc
}

func TestAllReduceExactForAnyMembersAndLength(t *testing.T) {
	for n := 1; n <= 5; n++ {
		r := newRing(t, n)
		for gen, l := range []int{0, 1, n - 1, n, n + 1, 7, 1000, 100_003} {
			for _, chunk := range []int{8, 4096, DefaultChunkBytes} {
				if chunk == 8 && l > 1000 {
					continue // 2-value chunks of a 100k vector are 50k messages per step: minutes under -race, nothing new
				}
				t.Run(fmt.Sprintf("n%d/len%d/chunk%d", n, l, chunk), func(t *testing.T) {
					// 1, 2 or 3 connections per link: chunks go round-robin over them.
					groups := r.joinStreams(t, "g", uint64(gen*10+chunk), chunk, 1+l%3)
					rng := rand.New(rand.NewPCG(uint64(n), uint64(l)))
					inputs := make([][]float32, n)
					vecs := make([][]float32, n)
					for m := range n {
						inputs[m] = make([]float32, l)
						for i := range inputs[m] {
							inputs[m][i] = float32(rng.NormFloat64())
						}
						vecs[m] = append([]float32(nil), inputs[m]...)
					}
					each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
					for i := range l {
						k := 0
						for ; k < n; k++ {
							if lo, hi := segment(l, n, k); i >= lo && i < hi {
								break
							}
						}
						want := ringSum(inputs, n, k, i)
						for m := range n {
							if math.Float32bits(vecs[m][i]) != math.Float32bits(want) {
								t.Fatalf("member %d element %d = %v, want %v bit for bit", m, i, vecs[m][i], want)
							}
						}
					}
				})
			}
		}
	}
}

// Vectors from streamingCopyBytes on take the all-gather's non-temporal
// copy: still the ring's sums, bit for bit.
func TestAllReduceLargeVectorExact(t *testing.T) {
	const n = 3
	l := streamingCopyBytes/4 + 5
	r := newRing(t, n)
	groups := r.join(t, "large", 1, 0)
	rng := rand.New(rand.NewPCG(7, 7))
	inputs := make([][]float32, n)
	vecs := make([][]float32, n)
	for m := range n {
		inputs[m] = make([]float32, l)
		for i := range inputs[m] {
			inputs[m][i] = float32(rng.NormFloat64())
		}
		vecs[m] = append([]float32(nil), inputs[m]...)
	}
	each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
	for k := range n {
		lo, hi := segment(l, n, k)
		for i := lo; i < hi; i++ {
			want := ringSum(inputs, n, k, i)
			for m := range n {
				if math.Float32bits(vecs[m][i]) != math.Float32bits(want) {
					t.Fatalf("member %d element %d = %v, want %v bit for bit", m, i, vecs[m][i], want)
				}
			}
		}
	}
}

func TestManyCollectivesInOrderAndBarrier(t *testing.T) {
	r := newRing(t, 3)
	groups := r.join(t, "seq", 1, 64)
	each(t, groups, func(i int, g *Group) error {
		for step := range 50 {
			v := []float32{float32(i), float32(step)}
			if err := g.AllReduce(context.Background(), v); err != nil {
				return err
			}
			if v[0] != 3 || v[1] != float32(3*step) {
				return fmt.Errorf("step %d: %v", step, v)
			}
			if err := g.Barrier(context.Background()); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestBroadcast(t *testing.T) {
	r := newRing(t, 4)
	groups := r.joinStreams(t, "b", 1, 1000, 2)
	for _, size := range []int{0, 1, 999, 1000, 1001, 3 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i*7 + size)
		}
		root := size % 4
		got := make([][]byte, 4)
		each(t, groups, func(i int, g *Group) error {
			var in []byte
			if i == root {
				in = payload
			}
			out, err := g.Broadcast(context.Background(), root, in)
			got[i] = out
			return err
		})
		for i, b := range got {
			if !bytes.Equal(b, payload) {
				t.Fatalf("size %d root %d: member %d got %d bytes", size, root, i, len(b))
			}
		}
	}
}

// TestLostMemberFailsTheCollective stops one member's server mid-job: the
// others' collective fails promptly instead of hanging, and the generation
// stays broken.
func TestLostMemberFailsTheCollective(t *testing.T) {
	r := newRing(t, 3)
	groups := r.join(t, "lost", 1, 4096)
	r.servers[2].Stop()
	groups[2].Close()
	done := make(chan error, 2)
	for i := range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- groups[i].AllReduce(ctx, make([]float32, 1<<20))
		}()
	}
	for range 2 {
		if err := <-done; err == nil {
			t.Fatal("a collective with a lost member succeeded")
		}
	}
	if err := groups[0].AllReduce(context.Background(), []float32{1}); err == nil {
		t.Fatal("a broken generation ran another collective")
	}
}

// TestRingUnderNetworkFaults runs a 3-member ring over faultnet: a
// delayed link slows the all-reduce without changing a bit of the sums; a
// partitioned link fails every member's collective promptly (no hang); in
// a new generation after Heal, a blackholed member stalls the collective
// only until the caller's deadline.
func TestRingUnderNetworkFaults(t *testing.T) {
	fnet := faultnet.New()
	r := newRingOn(t, 3, fnet)
	groups := r.join(t, "faults", 1, 4096)
	const l = 50_000
	inputs := make([][]float32, 3)
	for i := range inputs {
		inputs[i] = make([]float32, l)
		for j := range inputs[i] {
			inputs[i][j] = rand.Float32()
		}
	}
	fnet.Delay("m0", "m1", 5*time.Millisecond)
	outs := make([][]float32, 3)
	each(t, groups, func(i int, g *Group) error {
		outs[i] = append([]float32(nil), inputs[i]...)
		return g.AllReduce(context.Background(), outs[i])
	})
	for i := range outs {
		for k := range 3 {
			lo, hi := segment(l, 3, k)
			for j := lo; j < hi; j++ {
				if want := ringSum(inputs, 3, k, j); math.Float32bits(outs[i][j]) != math.Float32bits(want) {
					t.Fatalf("member %d element %d over a delayed link: %v, want %v", i, j, outs[i][j], want)
				}
			}
		}
	}
	if fnet.Dials("m0") == 0 {
		t.Fatal("the ring did not dial through Config.Dialer")
	}

	fnet.Partition([]string{"m1"}, []string{"m2"})
	failAll := func(what string, timeout, bound time.Duration, groups []*Group) {
		t.Helper()
		start := time.Now()
		errs := make(chan error, len(groups))
		for _, g := range groups {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				errs <- g.AllReduce(ctx, make([]float32, l))
			}()
		}
		for range groups {
			if err := <-errs; err == nil {
				t.Fatalf("an all-reduce %s succeeded", what)
			}
		}
		if d := time.Since(start); d > bound {
			t.Fatalf("all-reduces %s took %s to fail, want under %s", what, d, bound)
		}
	}
	failAll("across a partition", time.Minute, 10*time.Second, groups)

	fnet.Heal()
	groups = r.join(t, "faults", 2, 4096)
	each(t, groups, func(i int, g *Group) error { return g.Barrier(context.Background()) })
	fnet.Blackhole("m2")
	failAll("into a blackhole", 500*time.Millisecond, 10*time.Second, groups)
	fnet.Heal()
}

// Chunks go out straight from the caller's vector: once AllReduce returns,
// the caller may overwrite it at once without changing what the others
// get (and the race detector sees no transport still reading it).
func TestVectorFreeOnReturn(t *testing.T) {
	const n, l = 3, 100_000
	r := newRing(t, n)
	// Segments of 133 kB: one zero-copy chunk, or a zero-copy chunk and a
	// small copied one.
	for gen, chunk := range []int{0, 128 << 10} {
		streams := 1 + gen
		groups := r.joinStreams(t, "scribble", uint64(gen), chunk, streams)
		each(t, groups, func(i int, g *Group) error {
			v := make([]float32, l)
			for round := range 20 {
				for j := range v {
					v[j] = float32(i + round + j%7)
				}
				if err := g.AllReduce(context.Background(), v); err != nil {
					return err
				}
				for j, x := range v {
					if want := float32(3*round + 3 + 3*(j%7)); x != want {
						return fmt.Errorf("round %d element %d = %v, want %v", round, j, x, want)
					}
				}
				for j := range v {
					v[j] = float32(math.NaN())
				}
			}
			return nil
		})
	}
}

// linkOrder lists every chunk once, each step's chunks in order, chunk c of
// step t after chunk c of step t-1 (the one it forwards) and after chunk
// c+linkLag of step t-1 where that exists.
func TestLinkOrder(t *testing.T) {
	for _, counts := range [][]int{{}, {0, 0}, {1, 1}, {3, 3}, {5, 4, 5, 4}, {0, 1, 0, 1, 2, 2}, {7, 1, 0, 7}} {
		order := linkOrder(len(counts), func(t int) int { return counts[t] })
		pos := map[chunkRef]int{}
		next := make([]int, len(counts))
		for k, ch := range order {
			if ch.i != next[ch.t] {
				t.Fatalf("counts %v: step %d chunk %d out of order in %v", counts, ch.t, ch.i, order)
			}
			next[ch.t]++
			pos[ch] = k
		}
		for st, c := range counts {
			if next[st] != c {
				t.Fatalf("counts %v: step %d has %d chunks listed", counts, st, next[st])
			}
			for i := range c {
				if st == 0 {
					continue
				}
				for _, dep := range []chunkRef{{st - 1, i}, {st - 1, i + linkLag}} {
					if p, ok := pos[dep]; ok && p > pos[chunkRef{st, i}] {
						t.Fatalf("counts %v: %v before %v in %v", counts, chunkRef{st, i}, dep, order)
					}
				}
			}
		}
	}
}

// TestSmallAllReduceExact sums short vectors by the all-gather path: every
// member ends with the rank-order sums, bit for bit, for any member count
// and length, call after call.
func TestSmallAllReduceExact(t *testing.T) {
	for n := 1; n <= 5; n++ {
		r := newRing(t, n)
		r.small = 0 // the default threshold
		for gen, l := range []int{0, 1, n + 1, 65, DefaultSmallBytes / 4} {
			groups := r.join(t, "s", uint64(gen+1), 0)
			rng := rand.New(rand.NewPCG(uint64(n), uint64(l)))
			inputs, vecs := make([][]float32, n), make([][]float32, n)
			for m := range n {
				inputs[m] = make([]float32, l)
				for i := range inputs[m] {
					inputs[m][i] = float32(rng.NormFloat64())
				}
				vecs[m] = append([]float32(nil), inputs[m]...)
			}
			for range 3 { // repeated calls reuse the scratch
				for m := range n {
					copy(vecs[m], inputs[m])
				}
				each(t, groups, func(i int, g *Group) error { return g.AllReduce(context.Background(), vecs[i]) })
				for i := range l {
					want := inputs[0][i]
					for k := 1; k < n; k++ {
						want += inputs[k][i]
					}
					for m := range n {
						if math.Float32bits(vecs[m][i]) != math.Float32bits(want) {
							t.Fatalf("n %d len %d: member %d element %d = %v, want %v", n, l, m, i, vecs[m][i], want)
						}
					}
				}
			}
		}
	}
}
