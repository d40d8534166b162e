// Package cron parses cron expressions and turns them into slots: the UTC
// instants a schedule fires at in its IANA time zone, for the schedules of
// nightly pipelines (docs/architecture.md §2). It is the one home of
// nightshift's time rules:
//
//   - Expressions have five fields (minute hour day-of-month month
//     day-of-week) with lists, ranges, steps and month/day names, or one of
//     @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
//     When both day fields are restricted a day matches either (as Vixie
//     cron and POSIX say); otherwise it must match both.
//   - A slot is a wall-clock time of the zone that matches. A wall time in
//     a spring-forward gap does not exist: its slot is the first instant
//     after the gap (slots of the gap share that instant, so they run once
//     together). A wall time in the repeated fall-back hour exists twice:
//     its slot is the first of the two, and the repeat is not a slot.
//   - A slot's identity is its UTC instant (SlotKey: the schedule name and
//     the RFC 3339 UTC time), so two computations of one slot, on any
//     node, agree.
//
// Why not a library: robfig/cron, which most Go schedulers use, is
// unmaintained and skips slots in the spring-forward gap; hashicorp's
// cronexpr has the DST faults Nomad inherited (nomad#5410). The rules above
// are a few hundred lines, stated and tested here.
//
// The IANA zone database is embedded (time/tzdata), so zones resolve in a
// FROM-scratch container too. Values are immutable and safe for
// concurrent use.
package cron
