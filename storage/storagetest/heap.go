package storagetest

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapMetric is the heap memory held by objects, live or not yet swept:
// the analogue of runtime.MemStats.HeapInuse without stopping the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// HeapWatch samples heap use in the background until stopped; tests use
// it to prove a stream never holds a whole object in memory.
type HeapWatch struct {
	base uint64
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

// WatchHeap collects garbage, records the baseline heap use and starts
// sampling every few milliseconds.
func WatchHeap() *HeapWatch {
	runtime.GC()
	h := &HeapWatch{base: heapInUse(), stop: make(chan struct{})}
	h.peak = h.base
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				h.peak = max(h.peak, heapInUse())
			}
		}
	}()
	return h
}

// Growth stops sampling and returns the peak heap use above the baseline.
func (h *HeapWatch) Growth() uint64 {
	close(h.stop)
	h.done.Wait()
	h.peak = max(h.peak, heapInUse())
	return h.peak - h.base
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
