package sample

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Shift is an upstream change that breaks the data but not its shape, for
// the data gates' demo and tests: a numeric column moved, a category
// renamed, nulls injected. Zero fields change nothing.
type Shift struct {
	// MoveColumn's values move by MoveBy (a unit change upstream).
	MoveColumn string
	MoveBy     float64
	// RenameColumn's value RenameFrom is spelled RenameTo.
	RenameColumn, RenameFrom, RenameTo string
	// NullColumn is empty in a NullShare of the rows (a broken join).
	NullColumn string
	NullShare  float64
}

// DefaultShift is the shifted night of the demo and the tests.
var DefaultShift = Shift{
	MoveColumn: "days_since_last", MoveBy: 45,
	RenameColumn: "region", RenameFrom: "north", RenameTo: "North",
	NullColumn: "avg_basket", NullShare: 0.25,
}

// String says what the shift does, for people.
func (s Shift) String() string {
	return fmt.Sprintf("%s moved by %+g, %s %q renamed %q, %.0f%% of %s null", s.MoveColumn, s.MoveBy,
		s.RenameColumn, s.RenameFrom, s.RenameTo, 100*s.NullShare, s.NullColumn)
}

// Columns are the columns the shift changes.
func (s Shift) Columns() []string {
	var out []string
	for _, c := range []string{s.MoveColumn, s.RenameColumn, s.NullColumn} {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// ApplyCSV returns csv, a CSV file as Encode writes it (a header line,
// no quoted fields), with the shift applied; r draws the null rows.
func (s Shift) ApplyCSV(csv []byte, r *rand.Rand) ([]byte, error) {
	lines := bytes.SplitAfter(csv, []byte("\n"))
	header := bytes.Split(bytes.TrimSpace(lines[0]), []byte(","))
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		for i, h := range header {
			if string(h) == name {
				return i, nil
			}
		}
		return 0, fmt.Errorf("sample: shift: the CSV has no column %s", name)
	}
	move, err := col(s.MoveColumn)
	if err != nil {
		return nil, err
	}
	rename, err := col(s.RenameColumn)
	if err != nil {
		return nil, err
	}
	null, err := col(s.NullColumn)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(csv)+len(csv)/50)
	out = append(out, lines[0]...)
	for n, line := range lines[1:] {
		body := bytes.TrimSuffix(line, []byte("\n"))
		if len(body) == 0 {
			out = append(out, line...)
			continue
		}
		fields := bytes.Split(body, []byte(","))
		if len(fields) != len(header) {
			return nil, fmt.Errorf("sample: shift: line %d has %d fields, the header %d", n+2, len(fields), len(header))
		}
		if move >= 0 {
			if v, err := strconv.ParseFloat(string(fields[move]), 64); err == nil {
				fields[move] = strconv.AppendFloat(nil, v+s.MoveBy, 'f', -1, 64)
			}
		}
		if rename >= 0 && string(fields[rename]) == s.RenameFrom {
			fields[rename] = []byte(s.RenameTo)
		}
		if null >= 0 && r.Float64() < s.NullShare {
			fields[null] = nil
		}
		out = append(out, bytes.Join(fields, []byte(","))...)
		out = append(out, '\n')
	}
	return out, nil
}
