package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// shardKind ingests a source into a dataset (package shard): one task per
// ingest unit of a shard.Plan the leader stores at submit; the publish
// step is shard.Commit, which writes manifest.json last.
type shardKind struct{ independentTasks }

func (shardKind) taskName(idx int32) string { return fmt.Sprintf("ingest unit %d", idx) }

func (shardKind) publishes() bool { return true }

// sweep keeps everything: units write their shards under final names
// (shared by every attempt of a unit), never partial objects.
func (shardKind) sweep(context.Context, *Server, *pb.Job) error { return nil }

// plan reads the sources, plans the ingest units and stores the plan
// beside the output (the workers and publish read it from there). A
// source unchanged since a published manifest plans no task: publish
// then returns that manifest.
func (shardKind) plan(ctx context.Context, s *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error {
	sp := spec.GetShard()
	var opts shard.Options
	if len(sp.OptionsJson) > 0 {
		dec := json.NewDecoder(bytes.NewReader(sp.OptionsJson))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&opts); err != nil {
			return fmt.Errorf("%w: shard options: %v", errInvalid, err)
		}
	}
	plan, err := shard.NewPlan(ctx, s.cfg.Storage, sp.Sources, sp.Output, opts)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalid, err)
	}
	cmd.Job.DatasetFingerprint = plan.Fingerprint
	cmd.Job.OutputDir = plan.Output
	if _, reusable, err := shard.Reusable(ctx, s.cfg.Storage, plan); err == nil && reusable {
		cmd.TaskCount = 0 // finalize publishes the existing manifest's URI
	} else {
		cmd.TaskCount = int32(len(plan.Units))
		for _, u := range plan.Units {
			size := u.Length
			if size < 0 {
				size = plan.Objects[u.Object].Size - u.Offset
			}
			cmd.TaskEstBytes = append(cmd.TaskEstBytes, 2*size+(64<<20))
		}
	}
	body, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	b, dir, err := storage.Open(ctx, plan.Output, s.cfg.Storage)
	if err != nil {
		return err
	}
	key := storage.JoinKey(dir, "_jobs", cmd.Job.Id, "plan.json")
	if _, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("storing the ingest plan: %w", err)
	}
	cmd.Job.PlanUri = b.URI(key)
	return nil
}

// publish commits a distributed ingest: the units' results, recorded
// in Raft, go to shard.Commit, which writes manifest.json last.
func (shardKind) publish(ctx context.Context, s *Server, j *pb.Job, tasks []*pb.Task) (string, []byte, error) {
	plan, err := loadPlan(ctx, s.cfg.Storage, j.PlanUri)
	if err != nil {
		return "", nil, err
	}
	manifestURI := plan.Output + "/" + shard.ManifestName
	if len(tasks) == 0 {
		if m, ok, err := shard.Reusable(ctx, s.cfg.Storage, plan); err != nil {
			return "", nil, err
		} else if ok {
			summary, _ := json.Marshal(map[string]any{"rows": m.TotalRows, "shards": len(m.Shards), "reused": true})
			return manifestURI, summary, nil
		}
		return "", nil, errors.New("the reusable manifest seen at submit is gone; submit again")
	}
	results := make([]*shard.UnitResult, 0, len(tasks))
	for _, t := range tasks {
		r := &shard.UnitResult{}
		if err := json.Unmarshal(t.Result.GetDetail(), r); err != nil {
			return "", nil, fmt.Errorf("ingest unit %d: bad result: %w", t.Index, err)
		}
		results = append(results, r)
	}
	m, err := shard.Commit(ctx, s.cfg.Storage, plan, results)
	if err != nil {
		return "", nil, err
	}
	summary, _ := json.Marshal(map[string]any{"rows": m.TotalRows, "shards": len(m.Shards), "bytes": m.TotalBytes})
	return manifestURI, summary, nil
}

// loadPlan reads an ingest plan the leader stored at submit.
func loadPlan(ctx context.Context, st storage.Config, uri string) (*shard.Plan, error) {
	b, key, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("ingest plan %s: %w", uri, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("ingest plan %s: %w", uri, err)
	}
	p := &shard.Plan{}
	if err := json.Unmarshal(body, p); err != nil {
		return nil, fmt.Errorf("ingest plan %s: %w", uri, err)
	}
	return p, nil
}
