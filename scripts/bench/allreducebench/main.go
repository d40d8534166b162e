// Command allreducebench runs one member of a ring all-reduce benchmark:
// start it once per member (scripts/bench/allreduce.sh does), each with its
// rank and the members' addresses. Rank 0 prints a Markdown row per size:
// the median time of -reps all-reduces and the bus bandwidth
// 2·(n−1)/n · bytes / time, the figure gloo and NCCL quote.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nightshift-ml/nightshift/scripts/bench/benchgroup"
	"github.com/nightshift-ml/nightshift/worker/collective"
)

func main() {
	rank := flag.Int("rank", 0, "this member's rank")
	addrs := flag.String("addrs", "127.0.0.1:7301,127.0.0.1:7302", "members' host:port, comma-separated, in ring order")
	sizes := flag.String("sizes", "4096,1048576,16777216,67108864", "vector sizes in bytes")
	reps := flag.Int("reps", 20, "all-reduces per size (after 3 warm-ups)")
	chunk := flag.Int("chunk", 0, "chunk bytes (0: the default)")
	streams := flag.Int("streams", 0, "connections per ring link (0: the default)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (\"%d\" in it becomes the rank)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(strings.ReplaceAll(*cpuprofile, "%d", strconv.Itoa(*rank)))
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	members := strings.Split(*addrs, ",")
	if err := run(*rank, members, *sizes, *reps, *chunk, *streams); err != nil {
		pprof.StopCPUProfile()
		log.Fatalf("rank %d: %v", *rank, err)
	}
}

func run(rank int, members []string, sizes string, reps, chunk, streams int) error {
	ctx := context.Background()
	g, leave, err := benchgroup.Join(ctx, collective.Config{Group: "bench", Generation: 1, Rank: rank, Addrs: members, ChunkBytes: chunk, Streams: streams})
	if err != nil {
		return err
	}
	defer leave()
	n := len(members)
	if rank == 0 {
		fmt.Printf("| size | median | bus bandwidth | CPU per all-reduce |\n|---|---|---|---|\n")
	}
	for _, s := range strings.Split(sizes, ",") {
		size, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		v := make([]float32, size/4)
		var times []time.Duration
		var cpu time.Duration
		for i := range reps + 3 {
			if err := g.Barrier(ctx); err != nil {
				return err
			}
			c0 := cpuTime()
			t0 := time.Now()
			if err := g.AllReduce(ctx, v); err != nil {
				return err
			}
			if i >= 3 {
				times = append(times, time.Since(t0))
				cpu += cpuTime() - c0
			}
		}
		slices.Sort(times)
		med := times[len(times)/2]
		if rank == 0 {
			bus := 2 * float64(n-1) / float64(n) * float64(size) / med.Seconds() / 1e9
			fmt.Printf("| %s | %s | %.3f GB/s | %s |\n", humanSize(size), med.Round(time.Microsecond), bus, (cpu / time.Duration(reps)).Round(time.Microsecond))
		}
	}
	// Let every member finish before the servers stop.
	if err := g.Barrier(ctx); err != nil {
		return err
	}
	os.Stdout.Sync()
	return nil
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func humanSize(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
