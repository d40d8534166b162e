package collective

import (
	"context"
	"encoding/binary"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Broadcast sends root's data to every member (the state a joiner needs:
// parameters and optimiser state) and returns it; on root it returns data
// as given. Other members' data argument is ignored. The bytes travel
// around the ring in chunks, each forwarded as soon as it arrives.
func (g *Group) Broadcast(ctx context.Context, root int, data []byte) ([]byte, error) {
	n := g.Size()
	if root < 0 || root >= n {
		return nil, fmt.Errorf("collective: broadcast root %d of %d members", root, n)
	}
	if n == 1 {
		return data, nil
	}
	op, err := g.begin(ctx)
	if err != nil {
		return nil, err
	}
	out, err := g.broadcast(ctx, op, root, data)
	return out, g.end(ctx, err)
}

func (g *Group) broadcast(ctx context.Context, op uint64, root int, data []byte) ([]byte, error) {
	n := g.Size()
	dist := mod(g.Rank()-root, n)
	forward := dist < n-1 // the member left of root does not send on
	per := g.cfg.ChunkBytes
	send := func(step int, b []byte) error {
		if _, err := g.send(ctx, &pb.CollectiveChunk{Op: op, Step: int32(step), Data: b}); err != nil {
			g.abort()
			return fmt.Errorf("collective: broadcast to rank %d: %w", (g.Rank()+1)%n, err)
		}
		return nil
	}
	if dist == 0 {
		if err := send(0, binary.LittleEndian.AppendUint64(nil, uint64(len(data)))); err != nil {
			return nil, err
		}
		for c := 0; c < len(data); c += per {
			if err := send(1, data[c:min(c+per, len(data))]); err != nil {
				return nil, err
			}
		}
		return data, nil
	}
	head, err := g.recv(ctx, op, 0)
	if err != nil {
		return nil, err
	}
	hb := head.payload()
	head.free()
	if len(hb) != 8 {
		return nil, fmt.Errorf("collective: bad broadcast header (%d bytes)", len(hb))
	}
	size := binary.LittleEndian.Uint64(hb)
	if forward {
		if err := send(0, hb); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, size)
	for uint64(len(out)) < size {
		msg, err := g.recv(ctx, op, 1)
		if err != nil {
			return nil, err
		}
		if uint64(len(out)+msg.n) > size {
			msg.free()
			return nil, fmt.Errorf("collective: broadcast sent more than the %d bytes announced", size)
		}
		start := len(out)
		msg.pieces(func(p []byte) { out = append(out, p...) })
		msg.free()
		if forward {
			if err := send(1, out[start:]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Barrier returns once every member has entered it.
func (g *Group) Barrier(ctx context.Context) error {
	v := []float32{1}
	if err := g.AllReduce(ctx, v); err != nil {
		return err
	}
	if int(v[0]) != g.Size() {
		return fmt.Errorf("collective: barrier counted %v members, want %d", v[0], g.Size())
	}
	return nil
}
