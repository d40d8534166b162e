package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestGrafanaDashboardNamesExportedMetrics: every nightshift_ series a
// panel of deploy/grafana/nightshift.json queries is one the coordinator
// or the worker exports (a histogram's _bucket, _sum and _count included),
// and the dashboard charts the queue, Raft, training and scoring.
func TestGrafanaDashboardNamesExportedMetrics(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "nightshift.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(body, &dash); err != nil {
		t.Fatalf("nightshift.json: %v", err)
	}
	exported := map[string]bool{}
	for _, c := range []prometheus.Collector{coordinator.MetricsDescriptions(), worker.MetricsDescriptions()} {
		for _, name := range describedNames(c) {
			exported[name] = true
		}
	}
	series := regexp.MustCompile(`nightshift_[a-z0-9_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range series.FindAllString(tg.Expr, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] {
						base = b
					}
				}
				if !exported[base] {
					t.Errorf("panel %q queries %s, which neither the coordinator nor the worker exports", p.Title, name)
				}
				used[base] = true
			}
		}
	}
	for _, want := range []string{"nightshift_tasks_pending", "nightshift_raft_commit_index", "nightshift_train_step", "nightshift_worker_rows_total", "nightshift_jobs"} {
		if !used[want] {
			t.Errorf("the dashboard does not chart %s", want)
		}
	}
	var unused []string
	for name := range exported {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	t.Logf("exported but not charted: %v", unused)
}

// describedNames are the fully-qualified names a collector describes.
func describedNames(c prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	var out []string
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil && strings.HasPrefix(m[1], "nightshift_") {
			out = append(out, m[1])
		}
	}
	return out
}
