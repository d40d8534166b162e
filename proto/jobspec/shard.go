package jobspec

import (
	"encoding/json"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Shard puts an ingest spec in its canonical form and validates it. The
// ingest options (a JSON object) are checked field by field by the planner
// of package shard, which owns them.
func Shard(sp *pb.ShardSpec) error {
	c := newChecker()
	shardSpec(c, sp)
	return c.errs.err()
}

func shardSpec(c checker, sp *pb.ShardSpec) {
	if len(sp.Sources) == 0 {
		c.bad("sources", "required (one or more object or prefix URIs)")
	}
	for i, s := range sp.Sources {
		sp.Sources[i] = CanonicalURI(s)
		c.checkURI(index("sources", i), sp.Sources[i])
	}
	sp.Output = CanonicalURI(sp.Output)
	c.checkURI("output", sp.Output)
	if len(sp.OptionsJson) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sp.OptionsJson, &obj); err != nil {
			c.bad("options", "not a JSON object: %v", err)
		}
	}
}
