package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestModelsCommandsTakeCommonFlags(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{{"models", "list"}, {"models", "get"}, {"models", "promote"}, {"models", "rollback"}} {
		cmd, _, err := root.Find(path)
		if err != nil || cmd.Name() != path[1] {
			t.Fatalf("%v: %v", path, err)
		}
		for _, flag := range []string{"coordinator", "tls-ca", "tls-cert", "tls-key", "timeout", "output-format"} {
			if cmd.Flags().Lookup(flag) == nil {
				t.Errorf("%s has no --%s", strings.Join(path, " "), flag)
			}
		}
	}
}

func testModel() *nsv1.RegisteredModel {
	created := time.Now().Add(-time.Hour).UnixMilli()
	return &nsv1.RegisteredModel{
		Name: "churn",
		Versions: []*nsv1.ModelVersion{
			{Name: "churn", Version: 1, Uri: "s3://b/models/churn/job-a", JobId: "a", Metrics: map[string]float64{"logloss": 0.3105, "auc": 0.85}, CreateUnixMs: created},
			{Name: "churn", Version: 2, Uri: "s3://b/models/churn/job-b", JobId: "b", Metrics: map[string]float64{"logloss": 0.3012}, CreateUnixMs: created},
			{Name: "churn", Version: 3, Uri: "s3://b/models/churn/job-c", JobId: "c", Metrics: map[string]float64{"logloss": 0.3110}, CreateUnixMs: created},
		},
		Aliases:           map[string]int32{"production": 2, "candidate": 3},
		ProductionHistory: []int32{1},
		Events: []*nsv1.ModelEvent{
			{UnixMs: created, Message: "v1 promoted to production: churn had no production version"},
			{UnixMs: created, Message: "v2 promoted to production: logloss 0.3012 beats v1's 0.3105 by 0.0093 (margin 0.001)"},
			{UnixMs: created, Message: "v3 stays candidate: logloss 0.3110 does not beat v2's 0.3012 by margin 0.001"},
		},
	}
}

func TestModelsTables(t *testing.T) {
	m := testModel()
	var list bytes.Buffer
	if err := writeModelList(&list, []*nsv1.RegisteredModel{m, {Name: "empty"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(list.String()), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME PRODUCTION CANDIDATE VERSIONS LATEST" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "churn v2 v3 3 v3 (1h0m0s ago)") ||
		strings.Join(strings.Fields(lines[2]), " ") != "empty - - 0 -" {
		t.Fatalf("models list:\n%s", list.String())
	}

	var get bytes.Buffer
	if err := writeModel(&get, m); err != nil {
		t.Fatal(err)
	}
	out := get.String()
	for _, want := range []string{"production  v2", "candidate   v3", "rollback    v1",
		"VERSION", "ALIASES", "METRICS", "JOB", "CREATED", "URI", "EVENTS", "v3 stays candidate: logloss 0.3110"} {
		if !strings.Contains(out, want) {
			t.Errorf("models get lacks %q:\n%s", want, out)
		}
	}
	var versions []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[0], "v") && strings.HasPrefix(f[len(f)-1], "s3://") {
			versions = append(versions, f[0]+" "+f[1])
		}
	}
	if strings.Join(versions, "; ") != "v3 candidate; v2 production; v1 -" {
		t.Fatalf("versions table (newest first, with aliases): %v\n%s", versions, out)
	}

	if got := modelStateLine(m); got != "churn: production v2, candidate v3; rollback restores v1" {
		t.Fatalf("state line %q", got)
	}
	if got := modelStateLine(&nsv1.RegisteredModel{Name: "x", Aliases: map[string]int32{"candidate": 1}}); got != "x: production -, candidate v1; no earlier production version" {
		t.Fatalf("state line %q", got)
	}
	for in, want := range map[string]int32{"3": 3, "v3": 3, " v12 ": 12} {
		if got, err := parseModelVersion(in); err != nil || got != want {
			t.Errorf("parseModelVersion(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "v", "0", "v0", "-1", "+2", "three", "3.0"} {
		if _, err := parseModelVersion(bad); err == nil {
			t.Errorf("parseModelVersion(%q) succeeded", bad)
		}
	}
}

// TestModelsAgainstCoordinator runs the models commands against a real
// coordinator with an empty registry (versions only come from finished
// train jobs): listings and the one-line errors.
func TestModelsAgainstCoordinator(t *testing.T) {
	addr := startCoordinator(t, t.TempDir())
	args := func(a ...string) []string { return append(a, "--coordinator", addr) }

	out, err := run(t, args("models", "list", "-o", "json")...)
	var list struct {
		Models []json.RawMessage `json:"models"`
	}
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || list.Models == nil || len(list.Models) != 0 {
		t.Fatalf("models list -o json: %v\n%s", err, out)
	}
	if out, err := run(t, args("models", "list")...); err != nil || strings.Join(strings.Fields(out), " ") != "NAME PRODUCTION CANDIDATE VERSIONS LATEST" {
		t.Fatalf("models list: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args("models", "get", "churn"), "model churn not found"},
		{args("models", "promote", "churn", "3", "--reason", "x"), "model churn not found"},
		{args("models", "rollback", "churn"), "model churn not found"},
		{args("models", "promote", "churn", "three"), `version "three": want a version number such as 3 or v3`},
		{[]string{"models", "list", "--coordinator", "127.0.0.1:1"}, "cannot reach coordinator 127.0.0.1:1"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
