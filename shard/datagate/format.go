package datagate

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pct writes a fraction as a percentage with one decimal ("3.2%"), or two
// significant digits below 0.1% ("0.042%").
func pct(x float64) string { return pctPrec(x, 1) }

func pctPrec(x float64, decimals int) string {
	p := 100 * x
	if p != 0 && math.Abs(p) < 0.1 && decimals == 1 {
		return strconv.FormatFloat(p, 'g', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', decimals, 64) + "%"
}

// pctVersus writes observed with enough decimals that it does not read as
// the limit it broke ("1.04%" against "1.0%", not "1.0%").
func pctVersus(observed, limit float64) string {
	lim := pct(limit)
	for d := 1; d <= 4; d++ {
		if s := pctPrec(observed, d); s != lim {
			return s
		}
	}
	return pctPrec(observed, 6)
}

// num writes a value with six significant digits ("12.5", "1e+06").
func num(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

// numVersus writes observed with enough digits that it does not read as
// the limit it broke.
func numVersus(observed, limit float64) string {
	if s := num(observed); s != num(limit) {
		return s
	}
	return strconv.FormatFloat(observed, 'g', -1, 64)
}

// stat writes a drift statistic with three significant digits.
func stat(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

// count writes an integer with thousands separators ("100,000").
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// maxValueLen bounds a data value or a column name quoted in a message.
const maxValueLen = 40

// value quotes a data value for a message: as is when it is short and
// plain, else Go-quoted, cut to maxValueLen runes.
func value(s string) string {
	cut := false
	if utf8.RuneCountInString(s) > maxValueLen {
		s, cut = string([]rune(s)[:maxValueLen]), true
	}
	plain := s != "" && utf8.ValidString(s) && !strings.ContainsAny(s, " =,…\"'\t\n\r()") && strings.TrimSpace(s) == s
	if !plain {
		s = strconv.Quote(s)
	}
	if cut {
		s += "…"
	}
	return s
}

// name writes a column name for the summary, cut to maxValueLen runes.
func name(s string) string {
	if utf8.RuneCountInString(s) > maxValueLen {
		return string([]rune(s)[:maxValueLen]) + "…"
	}
	return s
}
