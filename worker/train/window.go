package train

import (
	"context"
	"errors"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// fill writes the inputs and labels of win's rows, in window order, to x
// and y: copied from the matrix on the memory path; on the stream path
// each piece's chunk is read from storage, put through the pipeline (p)
// and released. Both give the same bits: the same pipeline on the same
// record batch. sc holds one chunk's inputs and labels between calls.
func (d *Data) fill(ctx context.Context, p *model.Predictor, win *window, x, y []float32, sc *chunkScratch) error {
	dim := int64(d.Dim)
	i := 0
	for k, q := range win.pieces {
		ids := win.ids[k]
		if d.X != nil {
			for _, id := range ids {
				dst := int64(win.dest[i])
				copy(x[dst*dim:(dst+1)*dim], d.X[id*dim:(id+1)*dim])
				y[dst] = d.Label[id]
				i++
			}
			continue
		}
		c := d.plan.chunks[q.chunk]
		rec, err := d.record(ctx, q.chunk)
		if err != nil {
			return err
		}
		sc.x, sc.y = grow(sc.x, int(c.rows*dim)), grow(sc.y, int(c.rows))
		cx, cy := sc.x, sc.y
		err = d.features(p, rec, c.start, cx, cy)
		rec.Release()
		if err != nil {
			return err
		}
		for _, id := range ids {
			dst, src := int64(win.dest[i]), id-c.start
			copy(x[dst*dim:(dst+1)*dim], cx[src*dim:(src+1)*dim])
			y[dst] = cy[src]
			i++
		}
	}
	return nil
}

// chunkScratch is one chunk's inputs and labels, reused chunk after chunk.
type chunkScratch struct{ x, y []float32 }

// winBuf is one window's rows, filled.
type winBuf struct {
	win  *window
	x, y []float32
}

// cursor walks one member's stream of a segment window by window, reading
// the next window ahead on its own goroutine while the current one trains
// (double buffering: two windows in memory at most).
type cursor struct {
	d     *Data
	seg   *segment
	rank  int
	wins  [][]piece
	w     int   // current window
	off   int64 // rows of it used
	cur   *winBuf
	spare *winBuf
	ahead chan error // the read-ahead of window w+1 into spare, if started
	pred  *model.Predictor
	sc    chunkScratch // used by one read at a time
	ctx   context.Context
	xb    []float32
	yb    []float32
	ib    []int64
}

// newCursor starts member rank's stream of seg at position pos.
func newCursor(ctx context.Context, d *Data, pred *model.Predictor, seg *segment, rank int, pos int64) *cursor {
	c := &cursor{d: d, seg: seg, rank: rank, pred: pred, ctx: ctx, cur: &winBuf{}, spare: &winBuf{}}
	c.wins = d.plan.windows(seg.pieces(rank))
	c.w, c.off = locate(c.wins, pos)
	c.w-- // the first load advances to the located window
	return c
}

// load makes window w+1 current, from the read-ahead when one runs, and
// starts reading the next one.
func (c *cursor) load() error {
	c.w++
	if c.ahead != nil {
		err := <-c.ahead
		c.ahead = nil
		if err != nil {
			return err
		}
		c.cur, c.spare = c.spare, c.cur
	} else if err := c.read(c.cur, c.w); err != nil {
		return err
	}
	if c.w+1 < len(c.wins) {
		c.ahead = make(chan error, 1)
		next, buf := c.w+1, c.spare
		go func() { c.ahead <- c.read(buf, next) }()
	}
	return nil
}

func (c *cursor) read(b *winBuf, w int) error {
	b.win = c.seg.window(c.rank, w, c.wins[w])
	n, dim := b.win.len(), c.d.Dim
	b.x, b.y = grow(b.x, n*dim), grow(b.y, n)
	return c.d.fill(c.ctx, c.pred, b.win, b.x, b.y, &c.sc)
}

// next returns the next n rows of the stream: inputs, labels, dataset row
// ids. The slices are valid until the next call.
func (c *cursor) next(n int64) (x, y []float32, ids []int64, err error) {
	if n == 0 {
		return nil, nil, nil, nil
	}
	dim := int64(c.d.Dim)
	if c.cur.win == nil { // the first call: the window holding the start
		if err := c.load(); err != nil {
			return nil, nil, nil, err
		}
	}
	if l := int64(c.cur.win.len()); c.off+n <= l {
		x, y, ids = c.cur.x[c.off*dim:(c.off+n)*dim], c.cur.y[c.off:c.off+n], c.cur.win.order[c.off:c.off+n]
		c.off += n
		return x, y, ids, nil
	}
	// The batch spans windows: copy.
	c.xb, c.yb, c.ib = grow(c.xb, int(n*dim)), grow(c.yb, int(n)), grow(c.ib, int(n))
	var got int64
	for got < n {
		if c.off == int64(c.cur.win.len()) {
			if c.w+1 >= len(c.wins) {
				return nil, nil, nil, errors.New("train: read past the end of the stream")
			}
			if err := c.load(); err != nil {
				return nil, nil, nil, err
			}
			c.off = 0
		}
		k := min(n-got, int64(c.cur.win.len())-c.off)
		copy(c.xb[got*dim:(got+k)*dim], c.cur.x[c.off*dim:(c.off+k)*dim])
		copy(c.yb[got:got+k], c.cur.y[c.off:c.off+k])
		copy(c.ib[got:got+k], c.cur.win.order[c.off:c.off+k])
		got += k
		c.off += k
	}
	return c.xb, c.yb, c.ib, nil
}

// close waits for a read-ahead in flight.
func (c *cursor) close() {
	if c.ahead != nil {
		<-c.ahead
		c.ahead = nil
	}
}
