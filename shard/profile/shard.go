package profile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v15/arrow"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
)

// Shard scans shard index of ds and returns its partial profile, with the
// dataset's URI and manifest fingerprint. A shard that fails its checksum
// is an error (the scan's ErrCorruptShard), never a partial.
//
// The statistics cost more CPU than decoding the shard, so they run beside
// the scan rather than after it: while the scan decodes batch k+1, up to
// maxParallel goroutines accumulate batch k's columns (see
// pipelinedAccumulator). The partial is the one a plain Accumulator gives.
func Shard(ctx context.Context, ds *shard.Dataset, index int) (*pb.DatasetProfile, error) {
	if index < 0 || index >= ds.NumShards() {
		return nil, fmt.Errorf("profile: shard %d of a dataset of %d", index, ds.NumShards())
	}
	sc := ds.Scan(ctx, index)
	defer sc.Close()
	pa := newPipelinedAccumulator(ds.Schema)
	defer pa.wait() // before the scan's Close: the batch in flight is retained
	for sc.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := pa.add(sc.Record()); err != nil {
			return nil, fmt.Errorf("profile: %s: %w", ds.ShardURI(index), err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	p := pa.partial()
	p.Dataset, p.Fingerprint = ds.URI, ds.Manifest.Fingerprint
	return p, nil
}

// FromRecords profiles records already in memory, one inner slice per
// shard in shard order: each is accumulated as Shard would, the partials
// are merged in order and the result is finished. For the records of a
// dataset's shards it is the same message as Shard for each, merged in
// order, then Finish, except for dataset and fingerprint, which it leaves
// empty for the caller.
func FromRecords(schema *arrow.Schema, shards [][]arrow.Record) (*pb.DatasetProfile, error) {
	if len(shards) == 0 {
		return nil, errors.New("profile: no shards")
	}
	var out *pb.DatasetProfile
	for i, recs := range shards {
		pa := newPipelinedAccumulator(schema)
		for _, rec := range recs {
			if err := pa.add(rec); err != nil {
				pa.wait()
				return nil, fmt.Errorf("profile: shard %d: %w", i, err)
			}
		}
		part := pa.partial()
		if out == nil {
			out = part
		} else if err := Merge(out, part); err != nil {
			return nil, fmt.Errorf("profile: shard %d: %w", i, err)
		}
	}
	Finish(out)
	return out, nil
}

// maxParallel caps the goroutines that accumulate one batch. Profile
// tasks share a worker with other tasks (two slots by default), so one
// takes a couple of cores, not all of them.
const maxParallel = 2

// pipelinedAccumulator is an Accumulator whose Add returns as soon as the
// batch is handed over: the batch's columns are then accumulated by up to
// maxParallel goroutines, each taking the next column not yet taken,
// heaviest kinds first (categorical, then numeric), so that the work
// balances whatever the columns. The next add waits for them. Each
// column's state is touched by one goroutine at a time and sees the
// batches in order, so the result is exactly a plain Accumulator's. It is
// driven from one goroutine; wait (or partial) must end every use.
type pipelinedAccumulator struct {
	acc     *Accumulator
	order   []int // columns, heaviest kind first
	workers int
	wg      sync.WaitGroup
	rec     arrow.Record // the batch in flight, retained
}

func newPipelinedAccumulator(schema *arrow.Schema) *pipelinedAccumulator {
	pa := &pipelinedAccumulator{acc: NewAccumulator(schema), order: make([]int, schema.NumFields())}
	for i := range pa.order {
		pa.order[i] = i
	}
	weight := func(i int) int {
		switch pa.acc.cols[i].kind {
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			return 2
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(pa.order, func(a, b int) int { return weight(b) - weight(a) })
	pa.workers = max(1, min(maxParallel, runtime.GOMAXPROCS(0), len(pa.order)))
	return pa
}

// add waits for the previous batch, checks rec's columns and starts on
// them. The caller keeps its own reference to rec.
func (pa *pipelinedAccumulator) add(rec arrow.Record) error {
	pa.wait()
	if err := sameColumns(pa.acc.schema, rec.Schema()); err != nil {
		return err
	}
	rec.Retain()
	pa.rec = rec
	pa.acc.rows += rec.NumRows()
	var next atomic.Int64
	pa.wg.Add(pa.workers)
	for range pa.workers {
		go func() {
			defer pa.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pa.order) {
					return
				}
				c := pa.order[i]
				pa.acc.cols[c].add(rec.Column(c))
			}
		}()
	}
	return nil
}

// wait lets the batch in flight finish and releases it.
func (pa *pipelinedAccumulator) wait() {
	pa.wg.Wait()
	if pa.rec != nil {
		pa.rec.Release()
		pa.rec = nil
	}
}

// partial waits for the batch in flight and returns the partial.
func (pa *pipelinedAccumulator) partial() *pb.DatasetProfile {
	pa.wait()
	return pa.acc.Partial()
}
