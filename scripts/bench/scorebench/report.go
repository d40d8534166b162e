package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/nightshift-ml/nightshift/shard"
)

// report prints the Markdown table of (a)–(d) and the ratios.
func report(c config, ds *shard.Dataset, raw, scored []time.Duration, outBytes, memRows int64, pred, predCPU []time.Duration, sk *sklearnResult) {
	rows := float64(ds.Manifest.TotalRows)
	gb := float64(ds.Manifest.TotalBytes) / 1e9
	mr, ms := median(raw), median(scored)
	fmt.Printf("\n%d rows (%d numeric features + 3 categoricals), %d shards, %.1f MB of shards; %d goroutines; median of %d\n\n",
		ds.Manifest.TotalRows, c.features+6, ds.NumShards(), gb*1e3, c.par, len(raw))
	fmt.Println("| measurement | median | rate | notes |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| (a) raw MinIO GET of every shard | %s | %.2f GB/s ≙ %.2fM rows/s | %d parallel GETs |\n",
		mr.Round(time.Millisecond), gb/mr.Seconds(), rows/mr.Seconds()/1e6, c.par)
	fmt.Printf("| (b) score.Shard, MinIO → MinIO, every shard | %s | %.2fM rows/s (%.2f GB/s of shards) | %d goroutines, %s out (id + probability, %.1f MB); **(b)/(a) = %.2f** |\n",
		ms.Round(time.Millisecond), rows/ms.Seconds()/1e6, gb/ms.Seconds(), c.par, c.format, float64(outBytes)/1e6, mr.Seconds()/ms.Seconds())
	pr := float64(memRows) / median(pred).Seconds()
	pc := 0.0
	cpuNote := ""
	if len(predCPU) > 0 {
		pc = float64(memRows) / median(predCPU).Seconds()
		cpuNote = fmt.Sprintf("; %.2fM rows/s per CPU-second", pc/1e6)
	}
	fmt.Printf("| (c) model.Predictor in memory | %s for %d rows | %.2fM rows/s%s | one goroutine, 64Ki-row batches |\n",
		median(pred).Round(time.Microsecond), memRows, pr/1e6, cpuNote)
	if sk == nil {
		fmt.Println("| (d) scikit-learn predict_proba | skipped | | |")
		return
	}
	sw, sc := medianF(sk.Seconds), medianF(sk.CPUSeconds)
	sr, scr := float64(sk.Rows)/sw, float64(sk.Rows)/sc
	fmt.Printf("| (d) scikit-learn %s LogisticRegression.predict_proba | %.1f ms for %d rows | %.2fM rows/s; %.2fM rows/s per CPU-second | one thread (%s), float64 %d×%d matrix; max abs(p_go − p_sklearn) = %.1e |\n",
		sk.Version, 1e3*sw, sk.Rows, sr/1e6, scr/1e6, sk.Threads, sk.Rows, sk.Cols, sk.MaxAbsDiff)
	if pc > 0 {
		fmt.Printf("\n**(c)/(d) = %.2f** in wall time, **%.2f** in CPU time (the machine may be shared: CPU time counts only our thread's work).\n", pr/sr, pc/scr)
	} else {
		fmt.Printf("\n**(c)/(d) = %.2f** in wall time.\n", pr/sr)
	}
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
