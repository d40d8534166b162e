package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nightshift-ml/nightshift/storage"
)

// Progress reports an ingest's advance after each finished unit.
type Progress struct {
	UnitsDone, Units        int
	Rows, BadRows           int64
	SourceBytes, TotalBytes int64 // source bytes consumed / to consume
}

// RunOptions tune how a local ingest runs; they do not change its output.
type RunOptions struct {
	Parallel int            // units at once; 0 means 2
	Progress func(Progress) // called after each unit, from one goroutine at a time
}

// Result is a finished ingest.
type Result struct {
	Manifest *Manifest
	URI      string // the manifest's URI
	Reused   bool   // an existing manifest matched the fingerprint; nothing was written
}

// Ingest plans, runs every unit in this process and commits. It is the
// single-process form of what the coordinator runs as a distributed job.
func Ingest(ctx context.Context, st storage.Config, sources []string, output string, opts Options, run RunOptions) (*Result, error) {
	p, err := NewPlan(ctx, st, sources, output, opts)
	if err != nil {
		return nil, err
	}
	if m, ok, err := Reusable(ctx, st, p); err != nil {
		return nil, err
	} else if ok {
		return &Result{Manifest: m, URI: manifestURI(p), Reused: true}, nil
	}
	results, err := runUnits(ctx, st, p, run)
	if err != nil {
		return nil, err
	}
	m, err := Commit(ctx, st, p, results)
	if err != nil {
		return nil, err
	}
	return &Result{Manifest: m, URI: manifestURI(p)}, nil
}

func manifestURI(p *Plan) string { return p.Output + "/" + ManifestName }

// runUnits runs the plan's units on a bounded pool; the first error cancels
// the rest and deletes what every unit wrote.
func runUnits(ctx context.Context, st storage.Config, p *Plan, run RunOptions) ([]*UnitResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := run.Parallel
	if workers <= 0 {
		workers = 2
	}
	var (
		mu       sync.Mutex
		results  = make([]*UnitResult, len(p.Units))
		firstErr error
		prog     = Progress{Units: len(p.Units)}
		next     = make(chan int)
		wg       sync.WaitGroup
	)
	for _, o := range p.Objects {
		prog.TotalBytes += o.Size
	}
	for range min(workers, len(p.Units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := RunUnit(ctx, st, p, i)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				} else {
					results[i] = r
					prog.UnitsDone++
					prog.Rows += r.Rows
					prog.BadRows += r.BadRows
					prog.SourceBytes += r.SourceBytes
					if run.Progress != nil {
						run.Progress(prog)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range p.Units {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		discard(context.WithoutCancel(ctx), st, p, results)
		return nil, firstErr
	}
	return results, nil
}

// Commit publishes a dataset version: it checks that every unit reported,
// applies the empty-dataset and bad-row limits, and writes manifest.json
// last. On a limit it deletes the units' objects and publishes nothing.
func Commit(ctx context.Context, st storage.Config, p *Plan, results []*UnitResult) (*Manifest, error) {
	byUnit := make([]*UnitResult, len(p.Units))
	for _, r := range results {
		if r == nil || r.Unit < 0 || r.Unit >= len(p.Units) {
			return nil, fmt.Errorf("commit: result for an unknown unit")
		}
		byUnit[r.Unit] = r
	}
	m := &Manifest{FormatVersion: ManifestVersion, Fingerprint: p.Fingerprint, Schema: p.Schema,
		BatchRows: p.Options.BatchRows, Options: p.Options,
		Source: Source{URIs: p.Sources, Format: p.Format, Fingerprint: p.SourceFingerprint, Objects: p.Objects}}
	var bad int64
	var qobjs []string
	for i, r := range byUnit {
		if r == nil {
			return nil, fmt.Errorf("commit: unit %d has no result", i)
		}
		for _, s := range r.Shards {
			m.Shards = append(m.Shards, s)
			m.TotalRows += s.Rows
			m.TotalBytes += s.Bytes
		}
		bad += r.BadRows
		if r.QuarantineKey != "" {
			qobjs = append(qobjs, r.QuarantineKey)
		}
	}
	if bad > 0 {
		m.Quarantine = &Quarantine{Rows: bad, Objects: qobjs}
	}
	if err := checkLimits(p, m.TotalRows, bad); err != nil {
		discard(ctx, st, p, byUnit)
		return nil, err
	}
	body, err := m.Encode()
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("commit: built an invalid manifest: %w", err)
	}
	out, dir, err := storage.Open(ctx, p.Output, st)
	if err != nil {
		return nil, err
	}
	if _, err := out.Put(ctx, storage.JoinKey(dir, ManifestName), bytes.NewReader(body), int64(len(body)),
		storage.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("publishing manifest: %w", err)
	}
	return m, nil
}

func checkLimits(p *Plan, rows, bad int64) error {
	if rows == 0 && bad == 0 {
		return emptyDatasetError(p)
	}
	if bad > 0 {
		frac := float64(bad) / float64(rows+bad)
		if frac > p.Options.MaxBadFraction {
			return fmt.Errorf("%w: %d of %d rows (%.2f%%) were quarantined, above the %.2f%% limit; see %s/%s/",
				ErrTooManyBadRows, bad, rows+bad, 100*frac, 100*p.Options.MaxBadFraction, p.Output, p.quarantineDir())
		}
	}
	if rows == 0 {
		return fmt.Errorf("%w: every one of %d rows was quarantined", ErrEmpty, bad)
	}
	return nil
}

// discard deletes the objects units wrote; best effort, as they were never published.
func discard(ctx context.Context, st storage.Config, p *Plan, results []*UnitResult) {
	out, dir, err := storage.Open(ctx, p.Output, st)
	if err != nil {
		return
	}
	for _, r := range results {
		if r == nil {
			continue
		}
		for _, s := range r.Shards {
			_ = out.Delete(ctx, storage.JoinKey(dir, s.Key))
		}
	}
}

// Reusable returns the published manifest at the plan's output when it has
// the plan's fingerprint and every shard it lists is present at its size.
func Reusable(ctx context.Context, st storage.Config, p *Plan) (*Manifest, bool, error) {
	out, dir, err := storage.Open(ctx, p.Output, st)
	if err != nil {
		return nil, false, err
	}
	m, err := readManifest(ctx, out, storage.JoinKey(dir, ManifestName))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if m.Fingerprint != p.Fingerprint {
		return nil, false, nil
	}
	for _, s := range m.Shards {
		info, err := out.Stat(ctx, storage.JoinKey(dir, s.Key))
		if errors.Is(err, storage.ErrNotFound) || err == nil && info.Size != s.Bytes {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return m, true, nil
}

// readManifest fetches and parses a manifest, capped at 256 MiB.
func readManifest(ctx context.Context, b storage.Bucket, key string) (*Manifest, error) {
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", b.URI(key), err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.URI(key), err)
	}
	return m, nil
}
