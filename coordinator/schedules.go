package coordinator

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nightshift-ml/nightshift/proto/cron"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// maxSlotsPerTick bounds one TickSchedule command; a longer downtime is
// decided in several ticks.
const maxSlotsPerTick = 1000

// now is the schedules' clock.
func (s *Server) now() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}

// scheduleLoop claims the slots that came due, every ScheduleInterval. Claims are
// compare-and-set commands on each schedule's cursor (fsm_schedule.go):
// the leader only proposes, the log decides, so a slot is claimed once
// across any number of leader changes, and a slot no leader claimed yet is
// claimed by the next one.
func (s *Server) scheduleLoop(ctx context.Context) {
	crons := &cronCache{m: map[string]*cron.Schedule{}}
	every(ctx, s.cfg.ScheduleInterval, func() bool {
		s.tickSchedules(ctx, crons)
		return ctx.Err() == nil
	})
}

// pipelineLoop moves the running pipeline runs on. It is a loop of its
// own so storage calls of the steps (planning an ingest, reading a
// manifest) never delay a claim past slot_grace.
func (s *Server) pipelineLoop(ctx context.Context) {
	every(ctx, s.cfg.ScheduleInterval, func() bool {
		s.drivePipelines(ctx)
		return ctx.Err() == nil
	})
}

// cronCache keeps parsed expressions across ticks.
type cronCache struct {
	mu sync.Mutex
	m  map[string]*cron.Schedule
}

func (c *cronCache) get(sp *pb.ScheduleSpec) (*cron.Schedule, error) {
	key := sp.Cron + "\x00" + sp.TimeZone
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.m[key]; ok {
		return cs, nil
	}
	cs, err := cron.Parse(sp.Cron, sp.TimeZone)
	if err == nil {
		c.m[key] = cs
	}
	return cs, err
}

func (s *Server) tickSchedules(ctx context.Context, crons *cronCache) {
	now := s.now()
	for _, sc := range s.store.Snapshot().Schedules() {
		cs, err := crons.get(sc.Spec)
		if err != nil {
			s.log.Error("schedule: cron expression no longer parses; its slots wait", "schedule", sc.Spec.Name, "err", err)
			continue
		}
		tick := &pb.TickSchedule{Name: sc.Spec.Name, ExpectCursorUnixMs: sc.CursorUnixMs, ExpectVersion: sc.Version,
			NowUnixMs: now.UnixMilli(), LateMs: s.cfg.SlotGrace.Milliseconds()}
		for t := range cs.Slots(time.UnixMilli(sc.CursorUnixMs), now) {
			if len(tick.SlotsUnixMs) == maxSlotsPerTick {
				tick.More = true
				break
			}
			tick.SlotsUnixMs = append(tick.SlotsUnixMs, t.UnixMilli())
		}
		if len(tick.SlotsUnixMs) == 0 {
			continue
		}
		_, err = s.apply(ctx, &pb.Command{UnixMs: now.UnixMilli(), Op: &pb.Command_TickSchedule{TickSchedule: tick}})
		switch {
		case err == nil:
			s.metrics.slotsClaimed.Add(float64(len(tick.SlotsUnixMs)))
		case errors.Is(err, errConflict), ctx.Err() != nil:
			// Another proposal decided them; the next tick reads the new cursor.
		default:
			s.log.Warn("schedule: claiming slots", "schedule", sc.Spec.Name, "slots", len(tick.SlotsUnixMs), "err", err)
		}
	}
}
