package worker

import (
	"fmt"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// runTask runs an attempt with the runner of its job kind and fills in
// what every result carries.
func (a *Agent) runTask(at *attempt) (*nightshiftv1.TaskResult, error) {
	var res *nightshiftv1.TaskResult
	var err error
	switch k := at.as.GetSpec().GetKind().(type) {
	case *nightshiftv1.JobSpec_Noop:
		res, err = runNoop(at.ctx, at.key.task, at.key.attempt, k.Noop)
	case *nightshiftv1.JobSpec_Shard:
		res, err = a.runShard(at.ctx, at.as)
	case *nightshiftv1.JobSpec_Score:
		res, err = a.runScore(at, k.Score)
	case *nightshiftv1.JobSpec_Train:
		res, err = a.runTrain(at, k.Train)
	case *nightshiftv1.JobSpec_Profile:
		res, err = a.runProfile(at, k.Profile)
	default:
		err = permanent(fmt.Errorf("job kind %q is not supported by this worker (version %s)", at.kind, a.cfg.Version))
	}
	if err != nil {
		return nil, err
	}
	res.Attempt = at.key.attempt
	res.WorkerId = a.cfg.ID
	res.DurationMs = time.Since(at.begin).Milliseconds()
	return res, nil
}
