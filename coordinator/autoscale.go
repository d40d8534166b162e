package coordinator

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// The autoscaling signal (docs/architecture.md §15). The leader exports,
// per pool, nightshift_pool_queue_depth (tasks waiting for a worker) and
// nightshift_pool_desired_workers, which KEDA's Prometheus scaler (or an
// HPA through prometheus-adapter) follows with a target of 1 per replica.
// The rule, in one place (desiredWorkers):
//
//	demand  = pending + running tasks of the pool
//	desired = ceil(demand / (slots_per_worker × target_tasks_per_slot)),
//	          clamped to [min_workers, max_workers]
//
// Running tasks count, so the signal does not drop while work runs, and a
// pool shrinks only as its tasks finish; which pods go is the workers'
// pod-deletion-cost (idle ones first, training members last).

// AutoscaleConfig configures the desired_workers signal of each pool.
type AutoscaleConfig struct {
	// Pools by name; a pool not listed uses the zero PoolScale (no bounds,
	// slots learned from its workers, one task per slot).
	Pools map[string]PoolScale `yaml:"pools"`
}

// PoolScale bounds and shapes one pool's desired_workers.
type PoolScale struct {
	// MinWorkers and MaxWorkers clamp the signal; MaxWorkers 0 is no cap.
	MinWorkers int `yaml:"min_workers"`
	MaxWorkers int `yaml:"max_workers"`
	// SlotsPerWorker is how many tasks one worker of the pool runs at
	// once; 0 learns it from the pool's registered workers (the largest),
	// or 1 when none is registered (a pool scaled to zero).
	SlotsPerWorker int `yaml:"slots_per_worker"`
	// TargetTasksPerSlot is the demand one slot should carry: 1 (the
	// default) asks for a slot per task; 2 lets a queue twice the slots
	// wait.
	TargetTasksPerSlot float64 `yaml:"target_tasks_per_slot"`
}

func (c AutoscaleConfig) check() error {
	var errs []error
	for name, p := range c.Pools {
		switch {
		case p.MinWorkers < 0 || p.MaxWorkers < 0 || p.SlotsPerWorker < 0 || p.TargetTasksPerSlot < 0:
			errs = append(errs, fmt.Errorf("pools.%s: min_workers, max_workers, slots_per_worker and target_tasks_per_slot cannot be negative", name))
		case p.MaxWorkers > 0 && p.MinWorkers > p.MaxWorkers:
			errs = append(errs, fmt.Errorf("pools.%s: min_workers %d is above max_workers %d", name, p.MinWorkers, p.MaxWorkers))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// desiredWorkers is the rule above. learnedSlots is the largest slot count
// among the pool's registered workers (0 when it has none).
func (p PoolScale) desiredWorkers(pending, running, learnedSlots int) int {
	slots := p.SlotsPerWorker
	if slots == 0 {
		slots = max(learnedSlots, 1)
	}
	target := p.TargetTasksPerSlot
	if target == 0 {
		target = 1
	}
	want := int(math.Ceil(float64(pending+running) / (float64(slots) * target)))
	want = max(want, p.MinWorkers)
	if p.MaxWorkers > 0 {
		want = min(want, p.MaxWorkers)
	}
	return want
}
