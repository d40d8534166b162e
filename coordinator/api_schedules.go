package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/cron"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// scheduleAPI serves ScheduleService: schedules, their runs, and pipelines
// run once. Writes go to the leader; reads too unless they allow staleness.
type scheduleAPI struct {
	pb.UnimplementedScheduleServiceServer
	s *Server
}

// Listing bounds.
const (
	defaultRunsPage = 50
	maxRunsPage     = 1000
	maxNextSlots    = 1000
	maxBackfill     = 10000
)

// onLeader runs local on the leader, or forwards the call to it: a
// follower answers only reads that allow staleness itself.
func onLeader[Resp any](a *scheduleAPI, ctx context.Context, stale bool, fwd func(pb.ScheduleServiceClient, context.Context) (Resp, error), local func() (Resp, error)) (Resp, error) {
	if !stale {
		conn, fctx, err := a.s.fwd.leader(ctx)
		if err != nil {
			var zero Resp
			return zero, toStatus(err)
		}
		if conn != nil {
			return fwd(pb.NewScheduleServiceClient(conn), fctx)
		}
	}
	return local()
}

func (a *scheduleAPI) PutSchedule(ctx context.Context, req *pb.PutScheduleRequest) (*pb.PutScheduleResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.PutScheduleResponse, error) {
		return c.PutSchedule(fctx, req)
	}, func() (*pb.PutScheduleResponse, error) {
		sp := req.GetSpec()
		if sp == nil {
			return nil, status.Error(codes.InvalidArgument, "put schedule: no spec")
		}
		if err := a.s.checkSchedule(ctx, sp); err != nil {
			return nil, toStatus(err)
		}
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, UnixMs: a.s.now().UnixMilli(),
			Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: sp, CreateOnly: req.CreateOnly, UpdateOnly: req.UpdateOnly, Owner: callerName(ctx)}}})
		if err != nil {
			return nil, toStatus(err)
		}
		a.s.log.Info("schedule stored", "schedule", sp.Name, "cron", sp.Cron, "zone", zoneName(sp.TimeZone), "created", res.created)
		return &pb.PutScheduleResponse{Schedule: res.schedule, Created: res.created}, nil
	})
}

// checkSchedule validates a spec at submit (jobspec.Schedule: fields,
// cron, zone, templates) and what it names that must exist now: a
// dataset or model that no step of the pipeline produces.
func (s *Server) checkSchedule(ctx context.Context, sp *pb.ScheduleSpec) error {
	if err := jobspec.Schedule(sp); err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	return s.checkPipelineInputs(ctx, sp.Pipeline, "pipeline.")
}

// checkPipelineInputs refuses a pipeline whose fixed inputs are missing:
// a score model reference that names no registered model (unless the
// pipeline trains it), and a dataset given without a template that holds
// no manifest.
func (s *Server) checkPipelineInputs(ctx context.Context, p *pb.PipelineSpec, prefix string) error {
	view := s.store.Snapshot()
	if sc := p.GetScore(); sc != nil && sc.Model != "" && jobspec.IsModelRef(sc.Model) {
		ref, err := jobspec.ParseModelRef(sc.Model)
		trains := p.GetTrain() != nil && p.GetTrain().ModelName == ref.Name
		if err == nil && !trains {
			if _, _, _, err := resolveModelRef(view, sc.Model); err != nil {
				return fmt.Errorf("%w: %sscore.model: %v", errInvalid, prefix, err)
			}
		}
	}
	fixed := map[string]string{}
	if t := p.GetTrain(); t != nil && p.GetIngest() == nil {
		fixed["train.dataset"] = t.Dataset
	}
	if sc := p.GetScore(); sc != nil && sc.Input != "" && !jobspec.IsTemplate(sc.Input) {
		fixed["score.input"] = sc.Input
	}
	for field, uri := range fixed {
		if uri == "" || jobspec.IsTemplate(uri) {
			continue
		}
		if _, err := shard.OpenDataset(ctx, s.cfg.Storage, uri); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %s%s: %s holds no dataset manifest (ingest it first, or add an ingest step)", errInvalid, prefix, field, uri)
		} else if err != nil {
			return fmt.Errorf("%w: %s%s: %v", errInvalid, prefix, field, err)
		}
	}
	return nil
}

func (a *scheduleAPI) GetSchedule(ctx context.Context, req *pb.GetScheduleRequest) (*pb.GetScheduleResponse, error) {
	return onLeader(a, ctx, req.Stale, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.GetScheduleResponse, error) {
		return c.GetSchedule(fctx, req)
	}, func() (*pb.GetScheduleResponse, error) {
		sc := a.s.store.Snapshot().Schedule(req.Name)
		if sc == nil {
			return nil, status.Errorf(codes.NotFound, "no schedule named %s", req.Name)
		}
		return &pb.GetScheduleResponse{Schedule: sc, NextUnixMs: nextSlots(sc, a.s.now(), 5)}, nil
	})
}

// nextSlots lists a schedule's next n slots after its cursor or now,
// whichever is later; none while paused.
func nextSlots(sc *pb.Schedule, now time.Time, n int) []int64 {
	cs, err := cron.Parse(sc.Spec.Cron, sc.Spec.TimeZone)
	if err != nil || sc.Paused {
		return nil
	}
	after := time.UnixMilli(max(sc.CursorUnixMs, now.UnixMilli()))
	var out []int64
	for t, ok := cs.Next(after); ok && len(out) < n; t, ok = cs.Next(t) {
		out = append(out, t.UnixMilli())
	}
	return out
}

func (a *scheduleAPI) ListSchedules(ctx context.Context, req *pb.ListSchedulesRequest) (*pb.ListSchedulesResponse, error) {
	return onLeader(a, ctx, req.Stale, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.ListSchedulesResponse, error) {
		return c.ListSchedules(fctx, req)
	}, func() (*pb.ListSchedulesResponse, error) {
		resp := &pb.ListSchedulesResponse{}
		now := a.s.now()
		for _, sc := range a.s.store.Snapshot().Schedules() {
			resp.Schedules = append(resp.Schedules, sc)
			next := int64(0)
			if ns := nextSlots(sc, now, 1); len(ns) > 0 {
				next = ns[0]
			}
			resp.NextUnixMs = append(resp.NextUnixMs, next)
		}
		return resp, nil
	})
}

func (a *scheduleAPI) DeleteSchedule(ctx context.Context, req *pb.DeleteScheduleRequest) (*pb.DeleteScheduleResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.DeleteScheduleResponse, error) {
		return c.DeleteSchedule(fctx, req)
	}, func() (*pb.DeleteScheduleResponse, error) {
		if _, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_DeleteSchedule{DeleteSchedule: &pb.DeleteSchedule{Name: req.Name}}}); err != nil {
			return nil, toStatus(err)
		}
		a.s.log.Info("schedule deleted", "schedule", req.Name)
		return &pb.DeleteScheduleResponse{}, nil
	})
}

func (a *scheduleAPI) PauseSchedule(ctx context.Context, req *pb.PauseScheduleRequest) (*pb.PauseScheduleResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.PauseScheduleResponse, error) {
		return c.PauseSchedule(fctx, req)
	}, func() (*pb.PauseScheduleResponse, error) {
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, UnixMs: a.s.now().UnixMilli(),
			Op: &pb.Command_PauseSchedule{PauseSchedule: &pb.PauseSchedule{Name: req.Name, Paused: req.Paused, Reason: req.Reason, Actor: callerName(ctx)}}})
		if err != nil {
			return nil, toStatus(err)
		}
		return &pb.PauseScheduleResponse{Schedule: res.schedule}, nil
	})
}

func (a *scheduleAPI) RunSchedule(ctx context.Context, req *pb.RunScheduleRequest) (*pb.RunScheduleResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.RunScheduleResponse, error) {
		return c.RunSchedule(fctx, req)
	}, func() (*pb.RunScheduleResponse, error) {
		now := a.s.now().Truncate(time.Second)
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, UnixMs: now.UnixMilli(),
			Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{Schedule: req.Name, SlotsUnixMs: []int64{now.UnixMilli()}, Trigger: triggerManual, Owner: callerName(ctx)}}})
		if err != nil {
			return nil, toStatus(err)
		}
		run := res.run
		if run == nil && len(res.backfill) > 0 {
			run = a.s.store.Snapshot().Run(res.backfill[0].RunId) // this second's slot had a run already
		}
		return &pb.RunScheduleResponse{Run: run}, nil
	})
}

func (a *scheduleAPI) Backfill(ctx context.Context, req *pb.BackfillRequest) (*pb.BackfillResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.BackfillResponse, error) {
		return c.Backfill(fctx, req)
	}, func() (*pb.BackfillResponse, error) {
		view := a.s.store.Snapshot()
		sc := view.Schedule(req.Name)
		if sc == nil {
			return nil, status.Errorf(codes.NotFound, "no schedule named %s", req.Name)
		}
		reprocess := req.Reprocess
		if reprocess == "" {
			reprocess = "none"
		}
		if reprocess != "none" && reprocess != "failed" && reprocess != "all" {
			return nil, status.Errorf(codes.InvalidArgument, "backfill: reprocess %q: want none, failed or all", req.Reprocess)
		}
		now := a.s.now()
		if req.FromUnixMs > req.ToUnixMs {
			return nil, status.Errorf(codes.InvalidArgument, "backfill: --from %s is after --to %s", fmtMs(req.FromUnixMs), fmtMs(req.ToUnixMs))
		}
		if req.ToUnixMs > now.UnixMilli() {
			return nil, status.Errorf(codes.InvalidArgument, "backfill: --to %s is in the future (now %s); future slots run on schedule", fmtMs(req.ToUnixMs), now.UTC().Format(time.RFC3339))
		}
		cs, err := cron.Parse(sc.Spec.Cron, sc.Spec.TimeZone)
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "backfill: %v", err)
		}
		var slots []int64
		for t := range cs.Slots(time.UnixMilli(req.FromUnixMs-1), time.UnixMilli(req.ToUnixMs)) {
			if len(slots) == maxBackfill {
				return nil, status.Errorf(codes.InvalidArgument, "backfill: more than %d slots between %s and %s; backfill a shorter range", maxBackfill, fmtMs(req.FromUnixMs), fmtMs(req.ToUnixMs))
			}
			slots = append(slots, t.UnixMilli())
		}
		if req.DryRun {
			resp := &pb.BackfillResponse{}
			for _, slot := range slots {
				resp.Slots = append(resp.Slots, planStart(view.txn, sc.Spec.Name, slot, reprocess))
			}
			return resp, nil
		}
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId,
			Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{Schedule: req.Name, SlotsUnixMs: slots, Trigger: triggerBackfill, Reprocess: reprocess, Owner: callerName(ctx)}}})
		if err != nil {
			return nil, toStatus(err)
		}
		a.s.log.Info("backfill", "schedule", req.Name, "slots", len(slots), "reprocess", reprocess)
		return &pb.BackfillResponse{Slots: res.backfill}, nil
	})
}

func (a *scheduleAPI) NextSlots(ctx context.Context, req *pb.NextSlotsRequest) (*pb.NextSlotsResponse, error) {
	expr, zone := req.Cron, req.TimeZone
	after := a.s.now()
	if req.AfterUnixMs != 0 {
		after = time.UnixMilli(req.AfterUnixMs)
	}
	if req.Name != "" {
		// From the leader: a schedule just stored through it may not have
		// reached this follower yet.
		resp, err := a.GetSchedule(ctx, &pb.GetScheduleRequest{Name: req.Name})
		if err != nil {
			return nil, err
		}
		expr, zone = resp.Schedule.Spec.Cron, resp.Schedule.Spec.TimeZone
	}
	cs, err := cron.Parse(expr, zone)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "next: %v", err)
	}
	n := int(req.Count)
	if n <= 0 {
		n = 10
	}
	n = min(n, maxNextSlots)
	resp := &pb.NextSlotsResponse{TimeZone: zoneName(zone)}
	for t, ok := cs.Next(after); ok && len(resp.SlotsUnixMs) < n; t, ok = cs.Next(t) {
		resp.SlotsUnixMs = append(resp.SlotsUnixMs, t.UnixMilli())
	}
	return resp, nil
}

func (a *scheduleAPI) ListRuns(ctx context.Context, req *pb.ListRunsRequest) (*pb.ListRunsResponse, error) {
	return onLeader(a, ctx, req.Stale, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.ListRunsResponse, error) {
		return c.ListRuns(fctx, req)
	}, func() (*pb.ListRunsResponse, error) {
		limit := int(req.Limit)
		if limit <= 0 {
			limit = defaultRunsPage
		}
		limit = min(limit, maxRunsPage)
		var before []byte
		if req.PageToken != "" {
			b, err := hex.DecodeString(req.PageToken)
			if err != nil || len(b) < 8 {
				return nil, status.Errorf(codes.InvalidArgument, "list runs: bad page token %q", req.PageToken)
			}
			before = b
		}
		want := map[pb.RunState]bool{}
		for _, st := range req.States {
			want[st] = true
		}
		resp := &pb.ListRunsResponse{}
		var last *pb.PipelineRun
		a.s.store.Snapshot().RunsNewestFirst(req.Schedule, req.Schedule == "", before, func(r *pb.PipelineRun) bool {
			if len(resp.Runs) == limit {
				resp.NextPageToken = hex.EncodeToString(runSeqKey(last))
				return false
			}
			last = r
			if len(want) == 0 || want[r.State] {
				resp.Runs = append(resp.Runs, summarizeRun(r))
			}
			return true
		})
		return resp, nil
	})
}

// summarizeRun drops the pipeline template from listings (runs get has it).
func summarizeRun(r *pb.PipelineRun) *pb.PipelineRun {
	c := proto.Clone(r).(*pb.PipelineRun)
	c.Pipeline = nil
	return c
}

func (a *scheduleAPI) GetRun(ctx context.Context, req *pb.GetRunRequest) (*pb.GetRunResponse, error) {
	return onLeader(a, ctx, req.Stale, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.GetRunResponse, error) {
		return c.GetRun(fctx, req)
	}, func() (*pb.GetRunResponse, error) {
		r := a.s.store.Snapshot().Run(req.Id)
		if r == nil {
			return nil, status.Errorf(codes.NotFound, "no run %s", req.Id)
		}
		return &pb.GetRunResponse{Run: r}, nil
	})
}

func (a *scheduleAPI) ResumeRun(ctx context.Context, req *pb.ResumeRunRequest) (*pb.ResumeRunResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.ResumeRunResponse, error) {
		return c.ResumeRun(fctx, req)
	}, func() (*pb.ResumeRunResponse, error) {
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_ResumeRun{ResumeRun: &pb.ResumeRun{RunId: req.Id}}})
		if err != nil {
			return nil, toStatus(err)
		}
		a.s.log.Info("run resumed", "run", req.Id)
		return &pb.ResumeRunResponse{Run: res.run}, nil
	})
}

func (a *scheduleAPI) CancelRun(ctx context.Context, req *pb.CancelRunRequest) (*pb.CancelRunResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.CancelRunResponse, error) {
		return c.CancelRun(fctx, req)
	}, func() (*pb.CancelRunResponse, error) {
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_CancelRun{CancelRun: &pb.CancelRun{RunId: req.Id, Reason: req.Reason}}})
		if err != nil {
			return nil, toStatus(err)
		}
		return &pb.CancelRunResponse{Run: res.run}, nil
	})
}

func (a *scheduleAPI) StartPipeline(ctx context.Context, req *pb.StartPipelineRequest) (*pb.StartPipelineResponse, error) {
	return onLeader(a, ctx, false, func(c pb.ScheduleServiceClient, fctx context.Context) (*pb.StartPipelineResponse, error) {
		return c.StartPipeline(fctx, req)
	}, func() (*pb.StartPipelineResponse, error) {
		p := req.GetPipeline()
		if p == nil {
			return nil, status.Error(codes.InvalidArgument, "start pipeline: no pipeline")
		}
		if _, err := cron.LoadZone(req.TimeZone); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "time_zone: %v", err)
		}
		if err := jobspec.Pipeline(p); err != nil {
			return nil, toStatus(fmt.Errorf("%w: %w", errInvalid, err))
		}
		if err := a.s.checkPipelineInputs(ctx, p, ""); err != nil {
			return nil, toStatus(err)
		}
		slot := req.SlotUnixMs
		if slot == 0 {
			slot = a.s.now().Truncate(time.Second).UnixMilli()
		}
		res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{
			Trigger: triggerAdhoc, Pipeline: p, RunId: adhocRunID(req.RequestId), SlotsUnixMs: []int64{slot}, TimeZone: req.TimeZone, Owner: callerName(ctx)}}})
		if err != nil {
			return nil, toStatus(err)
		}
		return &pb.StartPipelineResponse{Run: res.run}, nil
	})
}

// adhocRunID names a run without a schedule; a retried request gets the
// same ID (the FSM returns the existing run).
func adhocRunID(requestID string) string {
	if requestID != "" {
		return "adhoc-" + requestID
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("adhoc-%016x", binary.BigEndian.Uint64(b[:]))
}
