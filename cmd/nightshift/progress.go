package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressBar draws one self-rewriting status line on a terminal: a bar,
// counts, a rate and an ETA. On anything but a terminal it draws nothing,
// so scripts and logs stay clean.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	width int
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	on := ok && term.IsTerminal(int(f.Fd()))
	width := 80
	if on {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 40 {
			width = cols
		}
	}
	return &progressBar{w: w, on: on, start: time.Now(), width: width}
}

// update redraws the bar for done of total work units; detail follows the
// counts, e.g. "1.2M rows  48 MB/s". Redraws are throttled to 10 a second.
func (p *progressBar) update(done, total int64, detail string) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	eta := "--"
	if elapsed := now.Sub(p.start); frac > 0 && frac < 1 {
		eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	}
	text := fmt.Sprintf(" %d/%d  %s  ETA %s", done, total, detail, eta)
	barWidth := max(10, p.width-len(text)-4)
	fill := int(frac * float64(barWidth))
	fmt.Fprintf(p.w, "\r[%s%s]%s\x1b[K", strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), text)
}

// since makes rates and the ETA count from t (a job that started before
// the bar did).
func (p *progressBar) since(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.IsZero() && t.Before(p.start) {
		p.start = t
	}
}

// finish ends the status line.
func (p *progressBar) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// rate formats a per-second figure with an SI suffix.
func rate(n float64, d time.Duration, unit string) string {
	if d <= 0 {
		return "-- " + unit + "/s"
	}
	return si(n/d.Seconds()) + " " + unit + "/s"
}

// si formats n with k/M/G suffixes.
func si(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
