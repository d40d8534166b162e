// Command scorebench measures bulk scoring against an S3 server (a local
// MinIO in scripts/bench/score.sh) and prints a Markdown report:
//
//	(a) raw GET throughput of every shard object (parallel GETs)
//	(b) end-to-end scoring, score.Shard over every shard, S3 to S3, with
//	    -parallel goroutines
//	(c) model.Predictor alone on in-memory record batches, one goroutine
//	(d) scikit-learn LogisticRegression.predict_proba on the same rows as
//	    a float64 matrix, one thread (scripts/bench/score_sklearn.py)
//
// The model is the sample generator's true logistic model
// (model.FromTruth), so (c) and (d) compute the same probabilities; the
// report gives their largest difference. Every measurement is repeated
// and the median reported; (a) and (b) alternate so machine noise hits
// both alike.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

type config struct {
	bucket                  string
	files, rows, features   int
	reps, par, memRows      int
	python, sklearn, format string
	profile                 string
}

func main() {
	var c config
	flag.StringVar(&c.bucket, "bucket", "nightshift-bench", "bucket to use (created if missing)")
	flag.IntVar(&c.files, "files", 8, "source files")
	flag.IntVar(&c.rows, "rows", 250000, "rows per source file")
	flag.IntVar(&c.features, "features", 64, "extra numeric features beside the 6 named ones")
	flag.IntVar(&c.reps, "reps", 5, "repetitions per measurement (median reported)")
	flag.IntVar(&c.par, "parallel", runtime.GOMAXPROCS(0), "concurrent GETs / scoring goroutines")
	flag.IntVar(&c.memRows, "mem-rows", 262144, "rows for the in-memory comparison (c) vs (d)")
	flag.StringVar(&c.python, "python", "python3", "Python with numpy and scikit-learn; empty skips (d)")
	flag.StringVar(&c.sklearn, "sklearn-script", "scripts/bench/score_sklearn.py", "the (d) helper")
	flag.StringVar(&c.format, "format", score.FormatParquet, "output format of (b)")
	flag.StringVar(&c.profile, "cpuprofile", "", "write a CPU profile of the (b) runs to this file")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "scorebench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(c config) error {
	ctx := context.Background()
	st := storage.ConfigFromEnv()
	if err := storage.MakeBucket(ctx, "s3://"+c.bucket, st); err != nil {
		return err
	}
	base := fmt.Sprintf("s3://%s/score-%d", c.bucket, time.Now().UnixNano())
	defer func() {
		if err := cleanup(context.Background(), st, base); err != nil {
			logf("cleanup: %v", err)
		}
	}()
	spec := sample.Spec{Files: c.files, RowsPerFile: c.rows, Features: c.features, Seed: 1, Format: "parquet"}
	t0 := time.Now()
	if err := generate(ctx, st, base+"/src", spec, c.par); err != nil {
		return err
	}
	logf("generated %d x %d rows (%d features) in %s", c.files, c.rows, c.features, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	res, err := shard.Ingest(ctx, st, []string{base + "/src/raw"}, base+"/ds", shard.Options{Label: "label"}, shard.RunOptions{Parallel: c.par})
	if err != nil {
		return err
	}
	ds, err := shard.OpenDataset(ctx, st, res.URI)
	if err != nil {
		return err
	}
	logf("ingested %s in %s", ds.Manifest, time.Since(t0).Round(time.Millisecond))
	m, err := model.FromTruth(sample.NewTruth(spec))
	if err != nil {
		return err
	}

	rawT, scoreT, outBytes, err := compareScoring(ctx, st, ds, m, base, c)
	if err != nil {
		return err
	}
	recs, err := firstRows(ctx, ds, c.memRows)
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	memRows, predT, predCPU, probs, err := predictInMemory(m, recs, c.reps)
	if err != nil {
		return err
	}
	var sk *sklearnResult
	if c.python != "" {
		if sk, err = runSklearn(c, sample.NewTruth(spec), recs, probs); err != nil {
			return err
		}
	}
	report(c, ds, rawT, scoreT, outBytes, memRows, predT, predCPU, sk)
	return nil
}

// generate writes the sample's files in parallel (one goroutine per file).
func generate(ctx context.Context, st storage.Config, uri string, spec sample.Spec, par int) error {
	b, prefix, err := storage.Open(ctx, uri, st)
	if err != nil {
		return err
	}
	return forEach(spec.Files, par, func(f int) error {
		key := storage.JoinKey(prefix, "raw", fmt.Sprintf("part-%04d.parquet", f))
		w := storage.NewWriter(ctx, b, key, storage.PutOptions{})
		if err := sample.Encode(ctx, w, spec, f); err != nil {
			w.Abort()
			return err
		}
		_, err := w.Close()
		return err
	})
}

// compareScoring alternates (a) raw GETs of every shard with (b) scoring
// every shard, at the same concurrency.
func compareScoring(ctx context.Context, st storage.Config, ds *shard.Dataset, m *model.Model, base string, c config) (raw, scored []time.Duration, outBytes int64, err error) {
	b, _, err := storage.Open(ctx, ds.URI, st)
	if err != nil {
		return nil, nil, 0, err
	}
	for rep := range c.reps {
		t0 := time.Now()
		err := forEach(ds.NumShards(), c.par, func(i int) error {
			_, key, err := storage.Open(ctx, ds.ShardURI(i), st)
			if err != nil {
				return err
			}
			rc, _, err := b.Get(ctx, key)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		})
		if err != nil {
			return nil, nil, 0, err
		}
		raw = append(raw, time.Since(t0))

		var mu sync.Mutex
		var rows int64
		outBytes = 0
		stop := startProfile(c.profile, rep == c.reps-1)
		t0 = time.Now()
		err = forEach(ds.NumShards(), c.par, func(i int) error {
			out := fmt.Sprintf("%s/out-%d/part-%05d.%s", base, rep, i, c.format)
			res, err := score.Shard(ctx, st, ds, i, m, score.Options{Format: c.format, Passthrough: []string{"id"}}, out)
			if err != nil {
				return err
			}
			mu.Lock()
			rows += res.Rows
			outBytes += res.Bytes
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, nil, 0, err
		}
		scored = append(scored, time.Since(t0))
		stop()
		if rows != ds.Manifest.TotalRows {
			return nil, nil, 0, fmt.Errorf("scored %d rows, want %d", rows, ds.Manifest.TotalRows)
		}
		logf("rep %d: raw GET %s, scoring %s", rep+1, raw[rep].Round(time.Millisecond), scored[rep].Round(time.Millisecond))
	}
	return raw, scored, outBytes, nil
}

// startProfile profiles into path when on (the last repetition: a profile
// cannot span several runs); it returns the stop function.
func startProfile(path string, on bool) func() {
	if path == "" || !on {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		logf("cpuprofile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		logf("cpuprofile: %v", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// firstRows reads the dataset's first n rows as record batches.
func firstRows(ctx context.Context, ds *shard.Dataset, n int) ([]arrow.Record, error) {
	n = int(min(int64(n), ds.Manifest.TotalRows))
	var recs []arrow.Record
	err := ds.ReadRows(ctx, 0, int64(n), func(r arrow.Record) error {
		r.Retain()
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// predictInMemory times (c): the Predictor over recs, one goroutine, in
// wall time and in the thread's CPU time. It returns the probabilities for
// the comparison with scikit-learn.
func predictInMemory(m *model.Model, recs []arrow.Record, reps int) (int64, []time.Duration, []time.Duration, []float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := m.NewPredictor()
	var rows int64
	var probs []float64
	var times, cpu []time.Duration
	for rep := range reps + 1 { // the first pass warms up
		t0 := time.Now()
		c0, cok := threadCPU()
		for _, r := range recs {
			out, err := p.Predict(r)
			if err != nil {
				return 0, nil, nil, nil, err
			}
			if rep == 0 {
				rows += r.NumRows()
				probs = append(probs, out[0].(*array.Float64).Float64Values()...)
			}
			out[0].Release()
		}
		if rep > 0 {
			times = append(times, time.Since(t0))
			if c1, ok := threadCPU(); ok && cok {
				cpu = append(cpu, c1-c0)
			}
		}
	}
	return rows, times, cpu, probs, nil
}

// cleanup deletes everything the run wrote.
func cleanup(ctx context.Context, st storage.Config, base string) error {
	b, prefix, err := storage.Open(ctx, base, st)
	if err != nil {
		return err
	}
	for info, err := range b.List(ctx, prefix+"/") {
		if err != nil {
			return err
		}
		if err := b.Delete(ctx, info.Key); err != nil {
			return err
		}
	}
	return nil
}

// forEach runs fn(0..n-1) on par goroutines; the first error wins.
func forEach(n, par int, fn func(int) error) error {
	next := make(chan int)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed := false
			for i := range next {
				if failed {
					continue // drain, so the producer never blocks
				}
				if err := fn(i); err != nil {
					errs <- err
					failed = true
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
