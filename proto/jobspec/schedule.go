package jobspec

import (
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/proto/cron"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Words and defaults of a schedule's policy; the first word of each list
// is the default.
var (
	CatchupPolicies = []string{"latest", "none", "all"}
	OverlapPolicies = []string{"skip", "buffer_one", "buffer_all", "cancel_other"}
)

// Defaults and limits of a schedule's policy numbers.
const (
	DefaultCatchupWindowS     = 24 * 3600
	MaxCatchupWindowS         = 366 * 24 * 3600
	DefaultPauseAfterFailures = 3
	MaxPauseAfterFailures     = 1000
)

// Schedule puts a schedule spec in its canonical form (the cron expression
// with single spaces, lower-case policy words), fills the defaults of the
// policy and validates every field; the cron expression and the time zone
// are checked by package cron, which owns the time rules, the pipeline by
// Pipeline's rules (paths under "pipeline.").
func Schedule(sp *pb.ScheduleSpec) error {
	c := newChecker()
	sp.Name, sp.TimeZone = strings.TrimSpace(sp.Name), strings.TrimSpace(sp.TimeZone)
	sp.Cron = strings.Join(strings.Fields(sp.Cron), " ")
	if err := checkName(sp.Name, "the schedule's name, e.g. churn-nightly"); err != nil {
		c.bad("name", "%v", err)
	}
	loc, err := cron.LoadZone(sp.TimeZone)
	if err != nil {
		c.bad("time_zone", "%v", err)
		loc = time.UTC
	} else if sp.Cron == "" {
		c.bad("cron", "required (5 fields, e.g. \"0 2 * * *\", or @daily)")
	} else if _, err := cron.Parse(sp.Cron, sp.TimeZone); err != nil {
		c.bad("cron", "%v", err)
	}
	p := orNew(&sp.Policy)
	p.Catchup, p.Overlap = word(p.Catchup), word(p.Overlap)
	if p.Catchup == "" {
		p.Catchup = CatchupPolicies[0]
	}
	if p.Overlap == "" {
		p.Overlap = OverlapPolicies[0]
	}
	if p.CatchupWindowS == 0 {
		p.CatchupWindowS = DefaultCatchupWindowS
	}
	if p.PauseAfterFailures == 0 {
		p.PauseAfterFailures = DefaultPauseAfterFailures
	}
	if !oneOf(p.Catchup, CatchupPolicies...) {
		c.bad("policy.catchup", "%s", want(p.Catchup, CatchupPolicies...))
	}
	if !oneOf(p.Overlap, OverlapPolicies...) {
		c.bad("policy.overlap", "%s", want(p.Overlap, OverlapPolicies...))
	}
	c.inRange("policy.catchup_window_s", p.CatchupWindowS, 1, MaxCatchupWindowS)
	c.inRange("policy.pause_after_failures", int64(p.PauseAfterFailures), 1, MaxPauseAfterFailures)
	if sp.Pipeline == nil {
		c.bad("pipeline", "required (the steps each slot runs: ingest, validate, train, score)")
	} else {
		// The sample slot is the schedule's, so the templates render as its runs will.
		slot := time.Date(sampleSlot.Year(), sampleSlot.Month(), sampleSlot.Day(), sampleSlot.Hour(), sampleSlot.Minute(), 0, 0, loc)
		pipeline(c.at("pipeline"), sp.Pipeline, SlotData{Slot: slot, Run: cron.SlotKey(sp.Name, slot), Schedule: sp.Name})
	}
	return c.errs.err()
}
