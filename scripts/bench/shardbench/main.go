// Command shardbench measures shard ingest and read throughput against an
// S3 server (a local MinIO in scripts/bench/shard.sh), side by side with the
// raw GET throughput of the same shard bytes, and prints a Markdown report.
//
// Every measurement is repeated and the median reported; raw GETs and shard
// scans alternate so machine noise hits both alike.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

func main() {
	var (
		bucket   = flag.String("bucket", "nightshift-bench", "bucket to use (created if missing)")
		files    = flag.Int("files", 8, "source files")
		rows     = flag.Int("rows", 125000, "rows per source file")
		features = flag.Int("features", 16, "extra numeric features")
		reps     = flag.Int("reps", 5, "repetitions per measurement (median reported)")
		ingReps  = flag.Int("ingest-reps", 3, "repetitions of each ingest")
		par      = flag.Int("parallel", 2, "concurrent readers / ingest units")
		prof     = flag.String("cpuprofile", "", "write a CPU profile of the shard scans (lz4) to this file")
	)
	flag.Parse()
	scanProfile = *prof
	if err := run(*bucket, *files, *rows, *features, *reps, *ingReps, *par); err != nil {
		fmt.Fprintln(os.Stderr, "shardbench:", err)
		os.Exit(1)
	}
}

func run(bucketName string, files, rows, features, reps, ingReps, par int) error {
	ctx := context.Background()
	st := storage.ConfigFromEnv()
	if err := storage.MakeBucket(ctx, "s3://"+bucketName, st); err != nil {
		return err
	}
	// A fresh prefix per run: nothing is reused from an earlier run.
	base := fmt.Sprintf("s3://%s/run-%d", bucketName, time.Now().UnixNano())
	b, prefix, err := storage.Open(ctx, base, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating %d x %d rows (csv, parquet) in %s\n", files, rows, base)
	var srcBytes = map[string]int64{}
	for _, format := range []string{"csv", "parquet"} {
		w, err := sample.Write(ctx, b, prefix+"/src-"+format, sample.Spec{Files: files, RowsPerFile: rows, Features: features, Seed: 1, Format: format})
		if err != nil {
			return err
		}
		srcBytes[format] = w.Bytes
	}
	total := int64(files) * int64(rows)

	fmt.Println("| measurement | median | rate | notes |")
	fmt.Println("|---|---|---|---|")
	for _, format := range []string{"csv", "parquet"} {
		var times []time.Duration
		for r := range ingReps {
			out := fmt.Sprintf("%s/ds-%s-%d", base, format, r)
			t0 := time.Now()
			res, err := shard.Ingest(ctx, st, []string{base + "/src-" + format + "/raw"}, out, shard.Options{Label: "label"}, shard.RunOptions{Parallel: par})
			if err != nil {
				return err
			}
			times = append(times, time.Since(t0))
			if res.Manifest.TotalRows != total {
				return fmt.Errorf("ingest wrote %d rows, want %d", res.Manifest.TotalRows, total)
			}
		}
		med := median(times)
		fmt.Printf("| ingest %s → shards (%d rows, %.1f MB source) | %s | %.1f MB/s, %.0fk rows/s | %d units in parallel |\n",
			format, total, float64(srcBytes[format])/1e6, med.Round(time.Millisecond),
			float64(srcBytes[format])/1e6/med.Seconds(), float64(total)/1e3/med.Seconds(), par)
	}

	for _, comp := range []shard.Compression{shard.CompressionLZ4, shard.CompressionZstd, shard.CompressionNone} {
		out := fmt.Sprintf("%s/ds-read-%s", base, comp)
		if _, err := shard.Ingest(ctx, st, []string{base + "/src-parquet/raw"}, out,
			shard.Options{Label: "label", Compression: comp}, shard.RunOptions{Parallel: par}); err != nil {
			return err
		}
		if err := compareRead(ctx, st, out, comp, reps, par); err != nil {
			return err
		}
	}
	return cleanup(ctx, st, base)
}

// scanProfile, when set, names the file for a CPU profile of the lz4 scans.
var scanProfile string

// compareRead alternates raw GETs of every shard object with full shard
// scans (decode + checksum) at the same concurrency.
func compareRead(ctx context.Context, st storage.Config, uri string, comp shard.Compression, reps, par int) error {
	ds, err := shard.OpenDataset(ctx, st, uri)
	if err != nil {
		return err
	}
	b, _, err := storage.Open(ctx, uri, st)
	if err != nil {
		return err
	}
	var raw, scan []time.Duration
	for range reps {
		t0 := time.Now()
		if err := forEachShard(ds.NumShards(), par, func(i int) error {
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
		}); err != nil {
			return err
		}
		raw = append(raw, time.Since(t0))

		stopProfile := startProfile(comp)
		t0 = time.Now()
		var mu sync.Mutex
		var rows int64
		if err := forEachShard(ds.NumShards(), par, func(i int) error {
			sc := ds.Scan(ctx, i)
			defer sc.Close()
			var n int64
			for sc.Next() {
				n += sc.Record().NumRows()
			}
			mu.Lock()
			rows += n
			mu.Unlock()
			return sc.Err()
		}); err != nil {
			return err
		}
		scan = append(scan, time.Since(t0))
		stopProfile()
		if rows != ds.Manifest.TotalRows {
			return fmt.Errorf("scanned %d rows, want %d", rows, ds.Manifest.TotalRows)
		}
	}
	gb := float64(ds.Manifest.TotalBytes) / 1e9
	rowsPerSec := func(d time.Duration) float64 { return float64(ds.Manifest.TotalRows) / d.Seconds() }
	mr, ms := median(raw), median(scan)
	fmt.Printf("| raw MinIO GET of %s shards (%.1f MB, %d objects) | %s | %.2f GB/s (≙ %.2fM rows/s) | %d streams |\n",
		comp, gb*1e3, ds.NumShards(), mr.Round(time.Millisecond), gb/mr.Seconds(), rowsPerSec(mr)/1e6, par)
	fmt.Printf("| shard scan, %s (decode + checksum) | %s | %.2f GB/s, %.2fM rows/s | **%.2f× raw GET** |\n",
		comp, ms.Round(time.Millisecond), gb/ms.Seconds(), rowsPerSec(ms)/1e6, mr.Seconds()/ms.Seconds())
	return nil
}

// startProfile profiles the lz4 scans into scanProfile (appending runs is
// not possible, so the last repetition's profile is kept).
func startProfile(comp shard.Compression) func() {
	if scanProfile == "" || comp != shard.Compression(os.Getenv("PROFILE_COMP")) {
		return func() {}
	}
	f, err := os.Create(scanProfile)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
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

func forEachShard(n, par int, fn func(int) error) error {
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
	go func() {
		defer close(next)
		for i := range n {
			next <- i
		}
	}()
	wg.Wait()
	close(errs)
	return <-errs
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
