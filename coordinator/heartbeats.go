package coordinator

import (
	"sync"
	"time"
)

// attemptKey names one attempt in leader memory.
type attemptKey struct {
	job     string
	task    int32
	attempt int32
}

// heartbeats is the leader's memory of liveness: when each worker last
// heartbeated and when each attempt's lease runs out. It is not replicated:
// a new leader starts every clock afresh (one TTL of grace), which can only
// delay an expiry, never cause a wrong one.
type heartbeats struct {
	mu       sync.Mutex
	workers  map[string]time.Time
	deadline map[attemptKey]time.Time
}

func newHeartbeats() *heartbeats {
	return &heartbeats{workers: map[string]time.Time{}, deadline: map[attemptKey]time.Time{}}
}

// reset forgets everything (a new term of leadership).
func (h *heartbeats) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.workers)
	clear(h.deadline)
}

func (h *heartbeats) seen(worker string, now time.Time) {
	h.mu.Lock()
	h.workers[worker] = now
	h.mu.Unlock()
}

// lastSeen returns a worker's last heartbeat, or zero.
func (h *heartbeats) lastSeen(worker string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.workers[worker]
}

func (h *heartbeats) forget(worker string) {
	h.mu.Lock()
	delete(h.workers, worker)
	h.mu.Unlock()
}

func (h *heartbeats) extend(k attemptKey, until time.Time) {
	h.mu.Lock()
	h.deadline[k] = until
	h.mu.Unlock()
}

// expired reports whether an attempt's lease ran out; an attempt seen for
// the first time gets a full TTL from now.
func (h *heartbeats) expired(k attemptKey, now time.Time, ttl time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.deadline[k]
	if !ok {
		h.deadline[k] = now.Add(ttl)
		return false
	}
	return now.After(d)
}

// prune drops deadlines of attempts no longer live.
func (h *heartbeats) prune(live map[attemptKey]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.deadline {
		if !live[k] {
			delete(h.deadline, k)
		}
	}
}
