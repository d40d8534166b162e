package jobspec

import (
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// DefaultPool is the worker pool of a job that names none, and of a
// worker configured without one.
const DefaultPool = "default"

// Limits of the fields every job has.
const (
	MaxAttempts       = 100
	MaxNameLen        = 200
	MaxIdempotencyLen = 256
)

// Normalize puts a job spec of any kind in its canonical form, fills its
// defaults and validates it; the error, if any, is an Errors naming every
// bad field. A spec's own fields (pool, name, max_attempts) and the kind's
// fields share one namespace of paths ("pool", "features[3].column"): the
// kinds' field names do not collide with the job's, so a job file lists
// both at its top level.
func Normalize(js *pb.JobSpec) error {
	c := newChecker()
	if js == nil {
		c.bad("", "no job spec")
		return c.errs.err()
	}
	js.Name, js.Pool = strings.TrimSpace(js.Name), strings.TrimSpace(js.Pool)
	if len(js.Name) > MaxNameLen {
		c.bad("name", "at most %d bytes", MaxNameLen)
	}
	if len(js.IdempotencyKey) > MaxIdempotencyLen {
		c.bad("idempotency_key", "at most %d bytes", MaxIdempotencyLen)
	}
	if js.MaxAttempts < 0 || js.MaxAttempts > MaxAttempts {
		c.bad("max_attempts", "must be ≥ 0 and at most %d (0: the coordinator's default), got %d", MaxAttempts, js.MaxAttempts)
	}
	switch k := js.Kind.(type) {
	case *pb.JobSpec_Train:
		train(c, orNew(&k.Train))
	case *pb.JobSpec_Score:
		score(c, orNew(&k.Score))
	case *pb.JobSpec_Shard:
		shardSpec(c, orNew(&k.Shard))
	case *pb.JobSpec_Noop:
		noop(c, orNew(&k.Noop))
	case *pb.JobSpec_Profile:
		profileSpec(c, orNew(&k.Profile))
	default:
		c.bad("kind", "the spec names no job kind (score, shard, train, profile or noop)")
	}
	return c.errs.err()
}

// orNew returns *p, first setting it to a new zero message when nil.
func orNew[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}
