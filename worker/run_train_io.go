package worker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// maxCheckpointBytes bounds what a checkpoint read may allocate.
const maxCheckpointBytes = 4 << 30

// checkpointURI names the checkpoint of a step: derived from the step, so
// every member that learns the step finds the same object.
func (m *member) checkpointURI(step int64) string {
	return fmt.Sprintf("%s/_checkpoints/step-%012d.state", strings.TrimSuffix(m.at.as.GetOutputDir(), "/"), step)
}

// saveCheckpoint writes the state atomically (the object appears whole or
// not at all) before the coordinator learns of it.
func (m *member) saveCheckpoint(ctx context.Context, st *train.State) (string, error) {
	body, err := st.MarshalBinary()
	if err != nil {
		return "", err
	}
	uri := m.checkpointURI(st.Step)
	b, key, err := storage.Open(ctx, uri, m.a.cfg.Storage)
	if err != nil {
		return "", err
	}
	if _, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/octet-stream"}); err != nil {
		return "", err
	}
	return uri, nil
}

func (m *member) loadCheckpoint(ctx context.Context, step int64) (*train.State, error) {
	uri := m.checkpointURI(step)
	b, key, err := storage.Open(ctx, uri, m.a.cfg.Storage)
	if err != nil {
		return nil, err
	}
	body, err := storage.ReadAll(ctx, b, key, maxCheckpointBytes)
	if err != nil {
		return nil, err
	}
	st := &train.State{}
	if err := st.UnmarshalBinary(body); err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	return st, nil
}

// trainReporter sends a group's progress to the coordinator off the
// training path: steps never wait for the control plane (a leader
// failover does not stop them). Progress is latest-wins; epoch metrics and
// checkpoints are queued and retried until delivered.
type trainReporter struct {
	c      *client
	worker string
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	queue []*nightshiftv1.TrainProgress
	last  *nightshiftv1.TrainProgress
	wake  chan struct{}
	idle  chan struct{} // closed and replaced when the queue drains
}

func newTrainReporter(c *client, worker string, log *slog.Logger) *trainReporter {
	ctx, cancel := context.WithCancel(context.Background())
	r := &trainReporter{c: c, worker: worker, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		wake: make(chan struct{}, 1), idle: make(chan struct{})}
	go r.loop()
	return r
}

func (r *trainReporter) latest(p *nightshiftv1.TrainProgress) {
	r.mu.Lock()
	r.last = p
	r.mu.Unlock()
	r.kick()
}

func (r *trainReporter) must(p *nightshiftv1.TrainProgress) {
	r.mu.Lock()
	r.queue = append(r.queue, p)
	r.mu.Unlock()
	r.kick()
}

func (r *trainReporter) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *trainReporter) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		var p *nightshiftv1.TrainProgress
		queued := len(r.queue) > 0
		switch {
		case queued:
			p = r.queue[0]
		case r.last != nil:
			p, r.last = r.last, nil
		default:
			close(r.idle)
			r.idle = make(chan struct{})
		}
		r.mu.Unlock()
		if p == nil {
			select {
			case <-r.wake:
				continue
			case <-r.ctx.Done():
				return
			}
		}
		err := r.c.call(r.ctx, 10*time.Second, "train report", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) error {
			_, err := c.TrainReport(ctx, &nightshiftv1.TrainReportRequest{WorkerId: r.worker, Progress: p})
			return err
		})
		if r.ctx.Err() != nil {
			return
		}
		if err != nil {
			// Not transient (e.g. the job ended): drop it, it cannot apply.
			r.log.Debug("train report not applied", "step", p.Step, "err", err)
		}
		if queued {
			r.mu.Lock()
			r.queue = r.queue[1:]
			r.mu.Unlock()
		}
	}
}

// flush waits until everything queued was sent, up to d.
func (r *trainReporter) flush(ctx context.Context, d time.Duration) {
	r.mu.Lock()
	pending := len(r.queue) > 0 || r.last != nil
	idle := r.idle
	r.mu.Unlock()
	if !pending {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}

func (r *trainReporter) stop() {
	r.cancel()
	<-r.done
}

// saveProfile writes the profile of the training data, computed from the
// batches the member holds (the same statistics, merged in the same shard
// order, as a profile job's), as profile.json in the artifact folder: the
// reference the data gates compare later datasets with.
func (m *member) saveProfile(ctx context.Context, artifact string) error {
	d := m.tr.Data()
	// The dataset's own profile is the same message when it has one for
	// this manifest (a pipeline's validate step made it): copy it rather
	// than compute it again while the group waits.
	p, err := m.datasetProfile(ctx)
	if err != nil {
		if p, err = trainingProfile(ctx, d); err != nil {
			return err
		}
		p.Dataset, p.Fingerprint = d.URI, d.Fingerprint
	}
	body, err := profile.MarshalJSON(p)
	if err != nil {
		return err
	}
	b, dir, err := storage.Open(ctx, artifact, m.a.cfg.Storage)
	if err != nil {
		return err
	}
	_, err = b.Put(ctx, storage.JoinKey(dir, profile.FileName), bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"})
	return err
}

// datasetProfile reads the training dataset's profile.json when it
// matches the manifest trained on (profile.ErrNoProfile otherwise).
func (m *member) datasetProfile(ctx context.Context) (*nightshiftv1.DatasetProfile, error) {
	d := m.tr.Data()
	b, dir, err := storage.Open(ctx, d.URI, m.a.cfg.Storage)
	if err != nil {
		return nil, err
	}
	return profile.ReadDataset(ctx, b, dir, d.Fingerprint)
}

// trainingProfile profiles the training dataset: from the batches the
// member holds on the memory path, else shard by shard from storage (each
// scanned once, one batch at a time), merged in shard order — the same
// message either way.
func trainingProfile(ctx context.Context, d *train.Data) (*nightshiftv1.DatasetProfile, error) {
	if recs := d.ShardRecords(); recs != nil {
		return profile.FromRecords(d.Schema(), recs)
	}
	ds := d.Dataset()
	var out *nightshiftv1.DatasetProfile
	for i := range ds.NumShards() {
		part, err := profile.Shard(ctx, ds, i)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = part
		} else if err := profile.Merge(out, part); err != nil {
			return nil, fmt.Errorf("profile: shard %d: %w", i, err)
		}
	}
	profile.Finish(out)
	return out, nil
}
