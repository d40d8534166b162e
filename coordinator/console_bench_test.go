package coordinator

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkConsoleJob100kTasks times what one open job page costs the
// coordinator per second of its event stream (a snapshot of the overview
// and of the job: task counts, a page of tasks, JSON) for a job of
// 100,000 tasks, and the jobs page beside it.
//
//	go test ./coordinator -run '^$' -bench Console -benchtime 20x -count 5
func BenchmarkConsoleJob100kTasks(b *testing.B) {
	h := &fsmHarness{t: &testing.T{}, store: NewStore(), now: 1_000_000}
	h.submit("big", 100_000, "")
	for i := range 200 {
		h.submit("small-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 10, "")
	}
	s := &Server{store: h.store}
	now := time.Now()
	b.Run("job-page", func(b *testing.B) {
		for b.Loop() {
			d, ok := s.consoleJobDetail("big", 500, now)
			if !ok || len(d.Tasks) != consoleTasksPage {
				b.Fatal("no page")
			}
			if _, err := json.Marshal(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s.consoleOverview(now)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jobs-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s.consoleJobs(2, "", now)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
