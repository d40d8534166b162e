package worker

import (
	"context"
	"fmt"
	"slices"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// runNoop runs a no-op task: it sleeps, then succeeds, or fails when its
// index is one of the spec's fail_tasks. The first attempt of a slow_tasks
// index sleeps slow_ms instead (a straggler). Benchmarks and tests of the
// scheduler use it.
func runNoop(ctx context.Context, task, attempt int32, spec *nightshiftv1.NoopSpec) (*nightshiftv1.TaskResult, error) {
	d := time.Duration(spec.GetSleepMs()) * time.Millisecond
	if attempt == 1 && slices.Contains(spec.GetSlowTasks(), task) {
		d = time.Duration(spec.GetSlowMs()) * time.Millisecond
	}
	if d > 0 {
		if !rpc.Sleep(ctx, d) {
			return nil, ctx.Err()
		}
	} else if err := ctx.Err(); err != nil {
		return nil, err
	}
	if slices.Contains(spec.GetFailTasks(), task) {
		err := fmt.Errorf("noop task %d: injected failure", task)
		if spec.GetFailPermanent() {
			return nil, permanent(err)
		}
		return nil, err
	}
	return &nightshiftv1.TaskResult{}, nil
}
