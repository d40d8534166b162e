package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/storage/storagetest"
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
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := append(append([]string(nil), path...), sub.Name())
			name := strings.Join(p, " ")
			out, err := run(t, append(p, "--help")...)
			if err != nil {
				t.Fatalf("%s --help: %v", name, err)
			}
			if !strings.Contains(out, "Usage:") {
				t.Fatalf("%s --help printed no usage:\n%s", name, out)
			}
			if sub.Short == "" || sub.Long == "" || sub.Example == "" {
				t.Errorf("%s: Short, Long and Example must all be set", name)
			}
			walk(sub, p)
		}
	}
	walk(newRootCmd(), nil)
}

// TestClientCommandsTakeCommonFlags checks that every command that talks to
// a coordinator takes --coordinator and the TLS flags, and -o where it prints.
func TestClientCommandsTakeCommonFlags(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{{"score"}, {"shard"}, {"jobs", "list"}, {"jobs", "get"}, {"jobs", "cancel"}, {"jobs", "watch"},
		{"workers", "list"}, {"workers", "drain"}, {"workers", "undrain"},
		{"operator", "raft", "list-peers"}, {"operator", "raft", "add-peer"}, {"operator", "raft", "remove-peer"}} {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"coordinator", "tls-ca", "tls-cert", "tls-key", "timeout", "output-format"} {
			if cmd.Flags().Lookup(flag) == nil {
				t.Errorf("%s has no --%s", strings.Join(path, " "), flag)
			}
		}
	}
}

func TestShardJSONSummaryAndReuse(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, "demo", "--data", dir, "--files", "2", "--rows", "1000", "--nights", "0", "-o", "json"); err != nil {
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

// TestShardAgainstMinIO runs the CLI from local files to S3 and from S3 to
// S3 (credentials through the environment, as users pass them).
func TestShardAgainstMinIO(t *testing.T) {
	st := storagetest.MinIO(t)
	bucket := storagetest.FreshBucket(t, st)
	t.Setenv("NIGHTSHIFT_S3_ENDPOINT", st.S3.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", st.S3.AccessKey.Reveal())
	t.Setenv("AWS_SECRET_ACCESS_KEY", st.S3.SecretKey.Reveal())
	dir := t.TempDir()
	if _, err := run(t, "demo", "--data", dir, "--files", "2", "--rows", "1500", "--nights", "0", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	steps := [][2]string{
		{"file://" + filepath.Join(dir, "sample", "raw"), "s3://" + bucket + "/ds-from-file"},
		{"s3://" + bucket + "/ds-from-file/shards/", "s3://" + bucket + "/ds-from-s3"},
	}
	for _, s := range steps {
		stdout, err := run(t, "shard", "--input", s[0], "--output", s[1], "-o", "json")
		if err != nil {
			t.Fatalf("shard %s -> %s: %v", s[0], s[1], err)
		}
		var sum ingestSummary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.TotalRows != 3000 {
			t.Fatalf("shard %s -> %s: summary %+v, %v", s[0], s[1], sum, err)
		}
	}
	_, err := run(t, "shard", "--input", "s3://"+bucket+"/no-such-prefix/", "--output", "s3://"+bucket+"/x")
	if err == nil || !strings.Contains(err.Error(), "no objects found") {
		t.Fatalf("missing input: %v", err)
	}
}
