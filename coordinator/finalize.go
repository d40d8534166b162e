package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// Names the scoring output contract fixes (DESIGN.md §8).
const (
	ScoreManifestName = "_manifest.json"
	SuccessMarker     = "_SUCCESS"
	temporaryDir      = "_temporary"
	finalizeAttempts  = 5
	copyParallelism   = 16
)

// ScoreManifest is `_manifest.json` of a scoring job: the committed output.
// Every input row is in exactly one listed object.
type ScoreManifest struct {
	FormatVersion      int           `json:"format_version"`
	JobID              string        `json:"job_id"`
	Model              string        `json:"model"`
	Input              string        `json:"input"`
	DatasetFingerprint string        `json:"dataset_fingerprint"`
	Format             string        `json:"format"`
	Passthrough        []string      `json:"passthrough,omitempty"`
	Rows               int64         `json:"rows"`
	BadRows            int64         `json:"bad_rows"`
	Bytes              int64         `json:"bytes"`
	Objects            []ScoreObject `json:"objects"`
}

// ScoreObject is one committed output object, one per input shard.
type ScoreObject struct {
	Key        string `json:"key"` // relative to the job's output folder
	Shard      int    `json:"shard"`
	Rows       int64  `json:"rows"`
	BadRows    int64  `json:"bad_rows,omitempty"`
	Bytes      int64  `json:"bytes"`
	Checksum   string `json:"checksum"` // crc32c:xxxxxxxx
	Quarantine string `json:"quarantine,omitempty"`
}

// finalizeLoop publishes the output of every FINALIZING job, one goroutine
// per job, and commits the outcome. Publishing is idempotent, so a new
// leader simply does it again.
func (s *Server) finalizeLoop(ctx context.Context) {
	every(ctx, 50*time.Millisecond, func() bool {
		ls := s.leading()
		if ls == nil {
			return false
		}
		for _, j := range s.store.Snapshot().ActiveJobs() {
			if j.State != pb.JobState_JOB_STATE_FINALIZING {
				continue
			}
			ls.mu.Lock()
			busy := ls.finalizing[j.Id]
			ls.finalizing[j.Id] = true
			ls.mu.Unlock()
			if !busy {
				go s.finalize(ctx, j)
			}
		}
		return true
	})
}

func (s *Server) finalize(ctx context.Context, j *pb.Job) {
	fin := &pb.FinishJob{JobId: j.Id}
	var err error
	for attempt := 1; attempt <= finalizeAttempts; attempt++ {
		fin.ResultUri, fin.SummaryJson, err = s.publish(ctx, j)
		if err == nil || ctx.Err() != nil {
			break
		}
		s.log.Warn("publishing job output", "job", j.Id, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return // leadership lost: the next leader publishes
	}
	fin.Succeeded = err == nil
	if err != nil {
		fin.Error = err.Error()
	}
	outcome := "succeeded"
	if !fin.Succeeded {
		outcome = "failed"
	}
	if _, err := s.apply(ctx, &pb.Command{Op: &pb.Command_FinishJob{FinishJob: fin}}); err != nil {
		s.log.Warn("commit job outcome", "job", j.Id, "err", err)
		ls := s.leading()
		if ls != nil {
			ls.mu.Lock()
			delete(ls.finalizing, j.Id) // try again next tick
			ls.mu.Unlock()
		}
		return
	}
	s.metrics.finalized.WithLabelValues(outcome).Inc()
}

// publish writes a job's final output and returns its URI and a summary.
func (s *Server) publish(ctx context.Context, j *pb.Job) (string, []byte, error) {
	tasks := s.store.Snapshot().Tasks(j.Id)
	switch {
	case j.Spec.GetScore() != nil:
		return s.publishScore(ctx, j, tasks)
	case j.Spec.GetShard() != nil:
		return s.publishShard(ctx, j, tasks)
	}
	return "", nil, nil
}

// publishScore commits a scoring job (DESIGN.md §8): it copies each task's
// winning attempt object to its final name part-NNNNN, writes
// _manifest.json listing exactly those, then _SUCCESS, then removes the
// attempts' temporary objects. Only attempts the FSM accepted are copied,
// so a zombie's or a losing backup's output never enters the result.
func (s *Server) publishScore(ctx context.Context, j *pb.Job, tasks []*pb.Task) (string, []byte, error) {
	sp := j.Spec.GetScore()
	b, dir, err := storage.Open(ctx, j.OutputDir, s.cfg.Storage)
	if err != nil {
		return "", nil, err
	}
	man := &ScoreManifest{FormatVersion: 1, JobID: j.Id, Model: sp.Model, Input: sp.Input, DatasetFingerprint: j.DatasetFingerprint,
		Format: sp.Format, Passthrough: sp.Passthrough, Objects: make([]ScoreObject, len(tasks))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyParallelism)
	for i, t := range tasks {
		r := t.Result
		if t.State != pb.TaskState_TASK_STATE_SUCCEEDED || r == nil || r.Object == "" {
			return "", nil, fmt.Errorf("shard %d has no committed result (task %s)", t.Index, t.State)
		}
		obj := ScoreObject{Key: fmt.Sprintf("part-%05d.%s", t.Index, sp.Format), Shard: int(t.Index), Rows: r.Rows,
			BadRows: r.BadRows, Bytes: r.Bytes, Checksum: fmt.Sprintf("crc32c:%08x", r.Crc32C)}
		if r.BadRows > 0 {
			obj.Quarantine = obj.Key + ".quarantine.jsonl"
		}
		man.Objects[i] = obj
		man.Rows += r.Rows
		man.BadRows += r.BadRows
		man.Bytes += r.Bytes
		g.Go(func() error {
			if err := promote(gctx, b, storage.JoinKey(dir, r.Object), storage.JoinKey(dir, obj.Key), r.Bytes); err != nil {
				return fmt.Errorf("shard %d: %w", t.Index, err)
			}
			if obj.Quarantine != "" {
				src := storage.JoinKey(dir, r.Object+".quarantine.jsonl")
				if err := promote(gctx, b, src, storage.JoinKey(dir, obj.Quarantine), -1); err != nil {
					return fmt.Errorf("shard %d quarantine: %w", t.Index, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", nil, err
	}
	body, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return "", nil, err
	}
	if err := put(ctx, b, storage.JoinKey(dir, ScoreManifestName), body); err != nil {
		return "", nil, err
	}
	if err := put(ctx, b, storage.JoinKey(dir, SuccessMarker), nil); err != nil {
		return "", nil, err
	}
	s.removeTemporary(ctx, b, storage.JoinKey(dir, temporaryDir)+"/")
	summary, _ := json.Marshal(map[string]any{"rows": man.Rows, "bad_rows": man.BadRows, "bytes": man.Bytes, "objects": len(man.Objects)})
	return b.URI(storage.JoinKey(dir, ScoreManifestName)), summary, nil
}

// promote copies an attempt's object to its final key, unless an earlier
// publish already did (the source may then be gone). size < 0 skips the
// size check.
func promote(ctx context.Context, b storage.Bucket, src, dst string, size int64) error {
	if info, err := b.Stat(ctx, dst); err == nil && (size < 0 || info.Size == size) {
		return nil
	}
	info, err := b.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("copied %s is %d bytes, the attempt reported %d", dst, info.Size, size)
	}
	return nil
}

func put(ctx context.Context, b storage.Bucket, key string, body []byte) error {
	_, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"})
	return err
}

// removeTemporary deletes attempt objects after the commit (best effort: a
// leftover is never listed in the manifest).
func (s *Server) removeTemporary(ctx context.Context, b storage.Bucket, prefix string) {
	var keys []string
	for info, err := range b.List(ctx, prefix) {
		if err != nil {
			s.log.Warn("listing temporary objects", "prefix", prefix, "err", err)
			break
		}
		keys = append(keys, info.Key)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyParallelism)
	for _, k := range keys {
		g.Go(func() error {
			if err := b.Delete(gctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
				s.log.Warn("deleting temporary object", "key", k, "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// publishShard commits a distributed ingest: the units' results, recorded
// in Raft, go to shard.Commit, which writes manifest.json last.
func (s *Server) publishShard(ctx context.Context, j *pb.Job, tasks []*pb.Task) (string, []byte, error) {
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
