package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones in any container, FROM scratch included
)

// field describes one of the five fields.
type field struct {
	name     string
	min, max int
	names    []string // names[i] is the value min+i ("jan", "sun")
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// macros are the @names and the expressions they stand for.
var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// searchYears bounds how far Next looks: every valid expression fires
// within 28 years (the calendar's cycle of weekdays and leap years).
const searchYears = 30

// Schedule is a parsed expression in a time zone.
type Schedule struct {
	expr string
	loc  *time.Location
	// One bit per allowed value; dow has Sunday as 0 (7 folds into 0).
	minute, hour, dom, month, dow uint64
	// domAny and dowAny record a "*" (or "?") day field: cron matches a
	// day by both fields when one is "*", by either when both are set.
	domAny, dowAny bool
}

// Parse parses a cron expression for the IANA time zone zone ("" is UTC).
// Errors name the field and what is wrong with it.
func Parse(expr, zone string) (*Schedule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(expr)
	if strings.HasPrefix(text, "@") {
		m, ok := macros[strings.ToLower(text)]
		if !ok {
			return nil, fmt.Errorf("cron %q: unknown name; want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", expr)
		}
		text = m
	}
	parts := strings.Fields(text)
	if len(parts) != len(fields) {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(parts))
	}
	s := &Schedule{expr: strings.Join(strings.Fields(expr), " "), loc: loc}
	sets := [5]*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow}
	for i, p := range parts {
		set, err := parseField(fields[i], strings.ToLower(p))
		if err != nil {
			return nil, fmt.Errorf("cron %q: %s field %q: %w", expr, fields[i].name, p, err)
		}
		*sets[i] = set
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow = s.dow&^(1<<7) | 1
	}
	s.domAny, s.dowAny = parts[2] == "*" || parts[2] == "?", parts[4] == "*" || parts[4] == "?"
	if _, ok := s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok {
		return nil, fmt.Errorf("cron %q: never fires (no such day, e.g. 30 February)", expr)
	}
	return s, nil
}

// LoadZone returns the IANA time zone name ("Europe/Berlin"); "" and
// "UTC" are UTC. "Local" is refused: a schedule must mean the same on
// every node.
func LoadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as Europe/Berlin; Local differs between machines", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: not an IANA zone name (such as Europe/Berlin or America/New_York)", name)
	}
	return loc, nil
}

// parseField parses a comma-separated list of items: "*", "N", "A-B",
// each with an optional "/STEP", values as numbers or names.
func parseField(f field, text string) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(text, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if f.name == "day of week" {
				hi = 6
			}
		case rng == "":
			return 0, fmt.Errorf("empty item")
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = value(f, a); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = value(f, b); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %s: %d is after %d", rng, lo, hi)
				}
			} else if hasStep {
				hi = f.max // "N/S" means from N to the end, every S
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > f.max-f.min+1 {
				return 0, fmt.Errorf("step %q: want a whole number from 1 to %d", stepText, f.max-f.min+1)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// value reads one number or name of field f.
func value(f field, text string) (int, error) {
	for i, n := range f.names {
		if text == n {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(text)
	if err != nil {
		if len(f.names) > 0 {
			return 0, fmt.Errorf("%q is not a number from %d to %d or a name (%s…)", text, f.min, f.max, strings.Join(f.names[:3], ", "))
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d", text, f.min, f.max)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

// String returns the expression as written (spaces normalised).
func (s *Schedule) String() string { return s.expr }

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// has reports whether bit v is set.
func has(set uint64, v int) bool { return set&(1<<v) != 0 }
