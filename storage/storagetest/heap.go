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

// heapWatch samples heap use in the background until stopped.
type heapWatch struct {
	base uint64
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

// watchHeap collects garbage, records the baseline heap use and starts
// sampling every few milliseconds.
func watchHeap() *heapWatch {
	runtime.GC()
	h := &heapWatch{base: heapInUse(), stop: make(chan struct{})}
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
func (h *heapWatch) Growth() uint64 {
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
