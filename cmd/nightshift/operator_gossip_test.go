package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestGossipKeyringCommands rotates a cluster's gossip key with the CLI:
// list shows the configured key, install adds one, use waits for the
// members and switches, remove drops the old key, and bad keys are
// refused before any call.
func TestGossipKeyringCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	oldKey := bytes.Repeat([]byte("k"), 16)
	c, err := cluster.Start(context.Background(), cluster.Options{Coordinators: 1, Workers: 1, Slots: 1, DataDir: t.TempDir(), Fast: true,
		Coordinator: func(_ int, cfg *coordinator.Config) { cfg.GossipKey = oldKey },
		Worker:      func(_ int, cfg *worker.Config) { cfg.GossipKey = oldKey }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cli := func(args ...string) (string, error) {
		t.Helper()
		return run(t, append(append([]string{"operator", "gossip", "keyring"}, args...), "--coordinator", c.Addr())...)
	}
	oldID := gossip.KeyID(oldKey)
	out, err := cli("list")
	if err != nil || !strings.Contains(out, oldID) || !strings.Contains(out, "config") {
		t.Fatalf("list before any rotation: %v\n%s", err, out)
	}
	if _, err := cli("install", "not base64!"); err == nil || !strings.Contains(err.Error(), "not standard base64") {
		t.Fatalf("a bad key: %v", err)
	}
	if _, err := cli("install", base64.StdEncoding.EncodeToString([]byte("seven b"))); err == nil || !strings.Contains(err.Error(), "16, 24 or 32 bytes") {
		t.Fatalf("a 7-byte key: %v", err)
	}
	newKey := bytes.Repeat([]byte("n"), 32)
	newID := gossip.KeyID(newKey)
	if out, err = cli("install", base64.StdEncoding.EncodeToString(newKey)); err != nil || !strings.Contains(out, newID) {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if out, err = cli("use", newID, "--wait", "30s"); err != nil {
		t.Fatalf("use: %v\n%s", err, out)
	}
	if out, err = cli("remove", base64.StdEncoding.EncodeToString(oldKey), "--wait", "30s"); err != nil || strings.Contains(out, oldID) {
		t.Fatalf("remove by key: %v\n%s", err, out)
	}
	out, err = cli("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], newID) || !strings.Contains(lines[1], "yes") || !strings.Contains(lines[1], "2/2") {
		t.Fatalf("list after the rotation:\n%s", out)
	}
	if _, err := cli("remove", newID, "--wait", "0s"); err == nil || !strings.Contains(err.Error(), "is the primary") {
		t.Fatalf("removing the primary: %v", err)
	}
}
