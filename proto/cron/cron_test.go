package cron

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustParse(t *testing.T, expr, zone string) *Schedule {
	t.Helper()
	s, err := Parse(expr, zone)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slots lists the slots in (from, to] as RFC 3339 UTC strings.
func slots(s *Schedule, from, to string) []string {
	var out []string
	for t := range s.Slots(utc(from), utc(to)) {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return out
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ expr, zone, want string }{
		{"* * * *", "", "want 5 fields"},
		{"60 * * * *", "", `minute field "60": 60 is out of range 0-59`},
		{"* 24 * * *", "", `hour field "24"`},
		{"* * 0 * *", "", `day of month field "0"`},
		{"* * * 13 *", "", `month field "13"`},
		{"* * * foo *", "", `month field "foo": "foo" is not a number from 1 to 12 or a name (jan, feb, mar…)`},
		{"* * * * 8", "", `day of week field "8"`},
		{"*/0 * * * *", "", `step "0"`},
		{"5-1 * * * *", "", "range 5-1: 5 is after 1"},
		{"1,,2 * * * *", "", "empty item"},
		{"@every5m", "", "unknown name"},
		{"0 0 30 2 *", "", "never fires"},
		{"@daily", "Mars/Olympus_Mons", `time zone "Mars/Olympus_Mons": not an IANA zone name`},
		{"@daily", "Local", "Local differs between machines"},
	} {
		if _, err := Parse(tc.expr, tc.zone); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want an error saying %q", tc.expr, tc.zone, err, tc.want)
		}
	}
}

func TestSlotsUTC(t *testing.T) {
	for _, tc := range []struct {
		expr     string
		from, to string
		want     []string
	}{
		{"*/15 * * * *", "2026-06-01T10:07:00Z", "2026-06-01T10:45:00Z",
			[]string{"2026-06-01T10:15:00Z", "2026-06-01T10:30:00Z", "2026-06-01T10:45:00Z"}},
		{"@hourly", "2026-06-01T10:00:00Z", "2026-06-01T12:00:00Z", // a slot exactly at from is not after it
			[]string{"2026-06-01T11:00:00Z", "2026-06-01T12:00:00Z"}},
		{"0 9-17/4 * JAN-mar Mon-Fri", "2026-01-30T00:00:00Z", "2026-02-02T23:59:00Z", // Fri 30 Jan, Mon 2 Feb
			[]string{"2026-01-30T09:00:00Z", "2026-01-30T13:00:00Z", "2026-01-30T17:00:00Z",
				"2026-02-02T09:00:00Z", "2026-02-02T13:00:00Z", "2026-02-02T17:00:00Z"}},
		// Both day fields set: the 13th or a Friday (Vixie cron's OR).
		{"0 0 13 * 5", "2026-02-10T00:00:00Z", "2026-02-21T00:00:00Z",
			[]string{"2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"}},
		{"0 0 13 * *", "2026-02-10T00:00:00Z", "2026-03-31T00:00:00Z",
			[]string{"2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"}},
		{"0 0 * * 7", "2026-02-10T00:00:00Z", "2026-02-16T00:00:00Z", []string{"2026-02-15T00:00:00Z"}}, // 7 is Sunday
		{"0 0 29 2 *", "2026-01-01T00:00:00Z", "2029-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
	} {
		if got := slots(mustParse(t, tc.expr, ""), tc.from, tc.to); !slices.Equal(got, tc.want) {
			t.Errorf("%q in (%s, %s]:\n got %q\nwant %q", tc.expr, tc.from, tc.to, got, tc.want)
		}
	}
}

// TestDaylightSavingTime states the time rules: a slot in a spring-forward
// gap runs once, at the end of the gap; a slot in the repeated fall-back
// hour runs once, at its first occurrence.
func TestDaylightSavingTime(t *testing.T) {
	for _, tc := range []struct {
		name, expr, zone string
		from, to         string
		want             []string
	}{
		// New York springs forward on 8 March 2026 at 02:00 EST (07:00Z) to 03:00 EDT.
		{"daily slot in the gap", "30 2 * * *", "America/New_York", "2026-03-06T12:00:00Z", "2026-03-09T12:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"every 15 minutes across the gap: the gap's slots run once, at its end", "*/15 * * * *", "America/New_York",
			"2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z",
			[]string{"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z"}},
		// New York falls back on 1 November 2026 at 02:00 EDT (06:00Z) to 01:00 EST.
		{"daily slot in the repeated hour", "30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"every 30 minutes across the repeated hour: no slot twice", "*/30 * * * *", "America/New_York",
			"2026-11-01T04:00:00Z", "2026-11-01T07:30:00Z",
			[]string{"2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"}},
		// Berlin: 29 March 2026 02:00 CET → 03:00 CEST (01:00Z); 25 October 03:00 CEST → 02:00 CET (01:00Z).
		{"Berlin spring", "0 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-28T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
		{"Berlin autumn", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		// Lord Howe Island moves by 30 minutes: 4 October 2026 02:00 → 02:30 (15:30Z on the 3rd).
		{"half-hour shift", "15 2 * * *", "Australia/Lord_Howe", "2026-10-02T12:00:00Z", "2026-10-04T18:00:00Z",
			[]string{"2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slots(mustParse(t, tc.expr, tc.zone), tc.from, tc.to); !slices.Equal(got, tc.want) {
				t.Errorf("%q in %s, (%s, %s]:\n got %q\nwant %q", tc.expr, tc.zone, tc.from, tc.to, got, tc.want)
			}
		})
	}
}

// TestSlotsAgainstAMinuteByMinuteWalk checks Next against an independent
// oracle around every transition of 2026 in zones with DST: walking the
// instants minute by minute, a matching wall time is a slot the first time
// an instant shows it, and the matching wall times a transition skips are
// one slot at the transition.
func TestSlotsAgainstAMinuteByMinuteWalk(t *testing.T) {
	zones := []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"}
	exprs := []string{"*/15 * * * *", "30 2 * * *", "0 1-3 * * *", "*/7 0-4 * * 0", "59 23 * * *"}
	for _, zone := range zones {
		loc, err := LoadZone(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range transitions(loc, 2026) {
			from, to := tr.Add(-36*time.Hour).UTC(), tr.Add(36*time.Hour).UTC()
			for _, expr := range exprs {
				s := mustParse(t, expr, zone)
				var got []time.Time
				for slot := range s.Slots(from, to) {
					got = append(got, slot)
				}
				if want := oracle(s, from, to); !slices.EqualFunc(got, want, time.Time.Equal) {
					t.Errorf("%q in %s around %s:\n got %v\nwant %v", expr, zone, tr, got, want)
				}
			}
		}
	}
}

// transitions returns the instants in year at which loc's offset changes.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	for t.Before(end) {
		_, next := t.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break
		}
		out = append(out, next)
		t = next
	}
	return out
}

// oracle walks (from, to] minute by minute (from on a whole minute).
func oracle(s *Schedule, from, to time.Time) []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	add := func(t time.Time) {
		if len(out) == 0 || !out[len(out)-1].Equal(t) {
			out = append(out, t)
		}
	}
	prev := wallOf(from.In(s.loc))
	for t := from.Add(time.Minute); !t.After(to); t = t.Add(time.Minute) {
		w := wallOf(t.In(s.loc))
		for g := prev.Add(time.Minute); g.Before(w); g = g.Add(time.Minute) {
			if matchWall(s, g) { // skipped by a transition: runs at it
				add(t)
			}
		}
		if matchWall(s, w) && !seen[w] {
			add(t)
		}
		seen[w] = true
		prev = w
	}
	return out
}

// wallOf holds t's wall clock (to the minute) as a UTC value.
func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
}

// matchWall reports whether a wall time (held as a UTC value) matches.
func matchWall(s *Schedule, w time.Time) bool {
	return has(s.minute, w.Minute()) && has(s.hour, w.Hour()) &&
		s.matchDay(time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC))
}

func TestSlotKey(t *testing.T) {
	berlin := mustParse(t, "0 2 * * *", "Europe/Berlin")
	slot, _ := berlin.Next(utc("2026-03-28T12:00:00Z"))
	if got := SlotKey("nightly", slot); got != "nightly@2026-03-29T01:00:00Z" {
		t.Fatalf("SlotKey = %s", got)
	}
	if got := SlotKey("nightly", slot.In(berlin.Location())); got != "nightly@2026-03-29T01:00:00Z" {
		t.Fatalf("SlotKey of the same instant in another zone = %s", got)
	}
}

// FuzzParse feeds arbitrary expressions and zones: Parse never panics, and
// a schedule it accepts yields slots that grow strictly.
func FuzzParse(f *testing.F) {
	for _, seed := range [][2]string{{"*/15 * * * *", "America/New_York"}, {"30 2 * * *", "Europe/Berlin"},
		{"@weekly", ""}, {"0 0 13 * fri", "Australia/Lord_Howe"}, {"1-59/7 0,12 1-7 */2 ?", "UTC"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, expr, zone string) {
		s, err := Parse(expr, zone)
		if err != nil {
			return
		}
		after := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		for range 20 {
			next, ok := s.Next(after)
			if !ok || !next.After(after) {
				t.Fatalf("%q in %q: Next(%s) = %s, %v", expr, zone, after, next, ok)
			}
			after = next
		}
	})
}
