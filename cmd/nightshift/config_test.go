package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestConfigExamplesParseAndValidate loads every file in deploy/config the
// way `nightshift coordinator|worker --config` does.
func TestConfigExamplesParseAndValidate(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "config")
	for i := 1; i <= 3; i++ {
		path := filepath.Join(dir, "coordinator-"+string(rune('0'+i))+".yaml")
		cfg, _, err := loadCoordinatorConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if want := "coordinator-" + string(rune('0'+i)); cfg.ID != want || cfg.Bootstrap != (i == 1) {
			t.Fatalf("%s: id %q bootstrap %v", path, cfg.ID, cfg.Bootstrap)
		}
		if i > 1 && len(cfg.Seeds) == 0 {
			t.Fatalf("%s: a joining coordinator needs gossip seeds", path)
		}
		if _, err := run(t, "coordinator", "--config", path, "--check"); err != nil {
			t.Fatalf("coordinator --check %s: %v", path, err)
		}
	}
	path := filepath.Join(dir, "worker.yaml")
	cfg, _, err := loadWorkerConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(cfg.Seeds) != 3 || len(cfg.Coordinators) != 3 || cfg.DrainGrace != 30*time.Second {
		t.Fatalf("%s: %+v", path, cfg)
	}
	out, err := run(t, "worker", "--config", path, "--check", "--id", "w9", "--slots", "7", "--pool", "gpu")
	if err != nil {
		t.Fatalf("worker --check: %v", err)
	}
	if !strings.Contains(out, "worker w9, pool gpu, 7 slots") {
		t.Fatalf("flags did not override the file: %s", out)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCoordinatorFieldsAndDefaults(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIA-from-env")
	path := writeConfig(t, `
id: c1
data_dir: /tmp/x
gossip_key: AAECAwQFBgcICQoLDA0ODw==
lease_ttl: 4s
heartbeat_interval: 500ms
tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
storage:
  s3_endpoint: https://minio:9000
  file_root: /srv
speculation:
  multiplier: 3
raft:
  election_timeout: 2s
  snapshot_threshold: 100
log: {level: debug, format: json}
`)
	cfg, f, err := loadCoordinatorConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	def := coordinator.DefaultConfig()
	switch {
	case cfg.ID != "c1" || cfg.DataDir != "/tmp/x" || len(cfg.GossipKey) != 16:
		t.Fatalf("scalars: %+v", cfg)
	case cfg.LeaseTTL != 4*time.Second || cfg.HeartbeatInterval != 500*time.Millisecond || cfg.RaftElectionTimeout != 2*time.Second:
		t.Fatalf("durations: %+v", cfg)
	case cfg.RetryBackoff != def.RetryBackoff || cfg.GRPCAddr != def.GRPCAddr || cfg.MaxAttempts != def.MaxAttempts:
		t.Fatalf("a field left out lost its default: %+v", cfg)
	case cfg.SpeculationMultiplier != 3 || cfg.SpeculationQuantile != def.SpeculationQuantile || cfg.SnapshotThreshold != 100:
		t.Fatalf("nested: %+v", cfg)
	case cfg.TLS.CAFile != "ca.pem" || cfg.TLS.KeyFile != "k.pem":
		t.Fatalf("tls: %+v", cfg.TLS)
	case cfg.Storage.S3.Endpoint != "minio:9000" || !cfg.Storage.S3.Secure || cfg.Storage.FileRoot != "/srv":
		t.Fatalf("storage: %+v", cfg.Storage)
	case cfg.Storage.S3.AccessKey.Reveal() != "AKIA-from-env":
		t.Fatal("credentials were not taken from the environment")
	case !f.Log.Level.set || f.Log.Format != "json":
		t.Fatalf("log: %+v", f.Log)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigWorkerFields(t *testing.T) {
	path := writeConfig(t, `
id: w1
pool: gpu
slots: 8
labels: {zone: a, gpu: h100}
memory_bytes: 4GiB
coordinators: [127.0.0.1:7100]
drain_grace: 1m
rpc_timeout: 3s
`)
	cfg, _, err := loadWorkerConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	def := worker.DefaultConfig()
	if cfg.ID != "w1" || cfg.Pool != "gpu" || cfg.Slots != 8 || cfg.Labels["gpu"] != "h100" || cfg.MemoryBytes != 4<<30 ||
		cfg.DrainGrace != time.Minute || cfg.RPCTimeout != 3*time.Second || cfg.LeaseWait != def.LeaseWait || cfg.GRPCAddr != def.GRPCAddr {
		t.Fatalf("%+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigErrorsNameFieldAndLine checks that every kind of bad file is
// reported with the file, the line and the field.
func TestConfigErrorsNameFieldAndLine(t *testing.T) {
	cases := []struct {
		name, kind, body string
		want             []string
	}{
		{"unknown field", "coordinator", "id: c1\nbootstrapp: true\n", []string{"line 2", `unknown field "bootstrapp"`}},
		{"unknown nested field", "coordinator", "id: c1\nstorage:\n  s3_endpoint: x:1\n  s3_bucket: b\n", []string{"line 4", `unknown field "storage.s3_bucket"`}},
		{"credentials in the file", "worker", "storage:\n  secret_key: x\n", []string{"line 2", `"storage.secret_key"`, "environment only"}},
		{"bad duration", "coordinator", "id: c1\nlease_ttl: 10\n", []string{"line 2", "lease_ttl", `"10" is not a duration`}},
		{"bad nested duration", "coordinator", "raft:\n  election_timeout: soon\n", []string{"line 2", "raft.election_timeout", `"soon"`}},
		{"bad byte size", "worker", "id: w\nmemory_bytes: lots\n", []string{"line 2", "memory_bytes", "byte size"}},
		{"bad integer", "worker", "id: w\n\nslots: many\n", []string{"line 3", "slots", "want an integer", `"many"`}},
		{"float for an integer", "worker", "id: w\nslots: 2.5\n", []string{"line 2", "slots", "want an integer", `"2.5"`}},
		{"bad bool", "coordinator", "bootstrap: maybe\n", []string{"line 1", "bootstrap", "true or false"}},
		{"bad list item", "worker", "seeds:\n  - a:1\n  - [x]\n", []string{"line 3: seeds[1]: want a string"}},
		{"bad base64", "coordinator", "gossip_key: '!!'\n", []string{"line 1", "gossip_key", "base64"}},
		{"bad log level", "worker", "log:\n  level: loud\n", []string{"line 2", "log.level"}},
		{"two errors at once", "coordinator", "lease_ttl: x\nretry_backoff: y\n", []string{"line 1", "lease_ttl", "line 2", "retry_backoff"}},
		{"syntax", "coordinator", "id: [c1\n", []string{"line"}},
		{"two documents", "worker", "id: a\n---\nid: b\n", []string{"one YAML document"}},
		{"invalid after parsing", "coordinator", "id: c1\n", []string{"data_dir is required"}},
		{"bad gossip key length", "coordinator", "id: c1\ndata_dir: /x\ngossip_key: AAAA\n", []string{"gossip_key must be 16, 24 or 32 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.body)
			_, err := run(t, c.kind, "--config", path, "--check")
			if err == nil {
				t.Fatal("bad config accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range append(c.want, path) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestConfigEmptyFileKeepsDefaultsAndFlagsOverride(t *testing.T) {
	path := writeConfig(t, "")
	out, err := run(t, "coordinator", "--config", path, "--id", "c7", "--data-dir", t.TempDir(), "--bootstrap", "--check")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "coordinator c7") || !strings.Contains(out, "bootstrap true") || !strings.Contains(out, "api 127.0.0.1:7100") {
		t.Fatalf("unexpected: %s", out)
	}
	if _, err := run(t, "coordinator", "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestConfigRefusesAnOpenCoordinator: beyond loopback without tls the
// coordinator and the worker refuse to start, naming the listener and the
// two ways out; with insecure: true they start and have the warning they
// log and show in /readyz. The compose files, open on 0.0.0.0 on purpose,
// say insecure: true.
func TestConfigRefusesAnOpenCoordinator(t *testing.T) {
	open := writeConfig(t, "id: c1\ndata_dir: /tmp/x\ngrpc_addr: 0.0.0.0:7100\nraft_addr: 127.0.0.1:7101\n")
	cfg, _, err := loadCoordinatorConfig(open)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "grpc_addr 0.0.0.0:7100 listens beyond loopback without mutual TLS") {
		t.Fatalf("coordinator: %v", err)
	}
	if _, err := run(t, "coordinator", "--config", open, "--check"); err == nil || !strings.Contains(err.Error(), "insecure: true") {
		t.Fatalf("coordinator --check: %v", err)
	}
	insecure := writeConfig(t, "id: c1\ndata_dir: /tmp/x\ngrpc_addr: 0.0.0.0:7100\ninsecure: true\n")
	if cfg, _, err = loadCoordinatorConfig(insecure); err != nil || cfg.Validate() != nil || !strings.HasPrefix(cfg.InsecureWarning(), "INSECURE: grpc_addr 0.0.0.0:7100") {
		t.Fatalf("insecure coordinator: %v %v %q", err, cfg.Validate(), cfg.InsecureWarning())
	}
	w := writeConfig(t, "id: w1\npool: default\ncoordinators: [c1:7100]\ngrpc_addr: 0.0.0.0:7200\n")
	wcfg, _, err := loadWorkerConfig(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := wcfg.Validate(); err == nil || !strings.Contains(err.Error(), "grpc_addr 0.0.0.0:7200 listens beyond loopback") {
		t.Fatalf("worker: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "compose", "*-*.yaml"))
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(body), "insecure: true") {
			t.Errorf("%s listens on 0.0.0.0 without tls and must say insecure: true (%v)", f, err)
		}
	}
	if len(files) == 0 {
		t.Error("no compose configs found")
	}
}
