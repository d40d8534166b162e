package cron

import (
	"iter"
	"slices"
	"time"
)

// Next returns the first slot strictly after after, and false when there is
// none within 30 years (Parse refuses expressions that never fire).
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	// Civil dates are walked as UTC midnights. A slot of day D falls on day
	// D or, past a gap, at its end; start a day early so that no slot of
	// the day before can be missed.
	y, m, d := after.In(s.loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	end := day.AddDate(searchYears, 0, 0)
	for ; day.Before(end); day = day.AddDate(0, 0, 1) {
		if !s.matchDay(day) {
			continue
		}
		for h := range 24 {
			if !has(s.hour, h) {
				continue
			}
			for mi := range 60 {
				if !has(s.minute, mi) {
					continue
				}
				// Instants grow with wall times (a gap's slots share one,
				// a repeated hour's come first), so the first one past
				// after is the next slot.
				if t := s.instant(day.Year(), day.Month(), day.Day(), h, mi); t.After(after) {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// Slots yields the slots in (after, until], in order.
func (s *Schedule) Slots(after, until time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for t, ok := s.Next(after); ok && !t.After(until); t, ok = s.Next(t) {
			if !yield(t) {
				return
			}
		}
	}
}

// matchDay reports whether the civil date day (a UTC midnight) matches the
// month and day fields.
func (s *Schedule) matchDay(day time.Time) bool {
	if !has(s.month, int(day.Month())) {
		return false
	}
	dom, dow := has(s.dom, day.Day()), has(s.dow, int(day.Weekday()))
	if s.domAny || s.dowAny {
		return dom && dow
	}
	return dom || dow
}

// instant returns the slot of a wall time of the schedule's zone: the one
// instant that shows it; the first of two (the repeated fall-back hour);
// or, when none does (the spring-forward gap), the instant the gap ends.
func (s *Schedule) instant(y int, m time.Month, d, h, mi int) time.Time {
	wall := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	// The offsets in force around that day: a wall time is shown by
	// wall - offset, for one of them, if by any instant at all.
	offsets := make([]int, 0, 3)
	for _, probe := range []time.Duration{-24 * time.Hour, 0, 24 * time.Hour} {
		_, off := wall.Add(probe).In(s.loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var first time.Time
	for _, off := range offsets {
		t := wall.Add(-time.Duration(off) * time.Second)
		if _, got := t.In(s.loc).Zone(); got == off && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first
	}
	// In the gap: read with the smaller offset, the wall time names an
	// instant after the transition; the zone in force then began when the
	// gap ended.
	low := slices.Min(offsets)
	start, _ := wall.Add(-time.Duration(low) * time.Second).In(s.loc).ZoneBounds()
	return start.UTC()
}

// SlotKey names a slot of a schedule: the schedule's name and the slot's
// RFC 3339 UTC time ("nightly@2026-03-08T07:00:00Z"). Every node computes
// the same key for the same slot; the leader claims it in Raft before it
// starts the slot's run.
func SlotKey(schedule string, slot time.Time) string {
	return schedule + "@" + slot.UTC().Format(time.RFC3339)
}
