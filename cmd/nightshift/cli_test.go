package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range newRootCmd().Commands() {
		out, err := run(t, c.Name(), "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", c.Name(), err)
		}
		if !strings.Contains(out, "Usage:") {
			t.Fatalf("%s --help printed no usage:\n%s", c.Name(), out)
		}
	}
}

func TestShardJSONSummaryAndReuse(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, "demo", "--data", dir, "--files", "2", "--rows", "1000", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	in, out := "file://"+filepath.Join(dir, "sample", "raw"), "file://"+filepath.Join(dir, "ds2")
	for i, wantReused := range []bool{false, true} {
		stdout, err := run(t, "shard", "--input", in, "--output", out, "--rows-per-shard", "600", "--label", "label", "-o", "json")
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var s ingestSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("run %d: output is not the JSON summary: %v\n%s", i, err, stdout)
		}
		if s.TotalRows != 2000 || s.Shards != 4 || s.Reused != wantReused || s.Format != "csv" {
			t.Fatalf("run %d: summary %+v", i, s)
		}
	}
}

func TestShardBadInputFailsWithLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("id,x\n1,2.5\n2,oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "shard", "--input", "file://"+src, "--output", "file://"+filepath.Join(dir, "ds"), "--schema", "id:int64,x:float64")
	if err == nil {
		t.Fatal("bad input succeeded")
	}
	for _, want := range []string{"in.csv", "line 3", `column "x"`, `"oops"`} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, "ds", "manifest.json")); !os.IsNotExist(statErr) {
		t.Fatalf("a manifest was published for a failed ingest: %v", statErr)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "64MiB": 64 << 20, "1GB": 1e9, "2k": 2048, "1.5MiB": 3 << 19} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Fatalf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-1MiB", "MiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Fatalf("parseBytes(%q) succeeded", bad)
		}
	}
}
