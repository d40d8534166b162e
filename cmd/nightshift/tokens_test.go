package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/storage"
)

// TestTokensCommands drives `nightshift tokens` against a dev cluster that
// requires tokens: a call without one is refused with the hint; bootstrap
// prints the first admin token once; an admin makes a read token, which
// lists jobs but cannot drain a worker; list shows both without secrets;
// a revoked token is refused.
func TestTokensCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev cluster")
	}
	dir := t.TempDir()
	dev, err := cluster.StartDev(context.Background(), cluster.DevOptions{Workers: 1, Slots: 1, DataDir: dir, GRPCAddr: "127.0.0.1:0",
		Storage: storage.Config{FileRoot: dir}, Tokens: coordinator.TokensRequired})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	at := []string{"--coordinator", dev.Addr()}
	cli := func(token string, args ...string) (string, error) {
		t.Helper()
		return run(t, append(append(args, at...), "--token", token)...)
	}

	if _, err := cli("", "jobs", "list"); err == nil || !strings.Contains(err.Error(), "missing or invalid bearer token (set NIGHTSHIFT_TOKEN") {
		t.Fatalf("jobs list without a token: %v", err)
	}
	out, err := cli("", "tokens", "bootstrap", "--name", "ops", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var boot struct {
		Token  struct{ ID, Name, Role string } `json:"token"`
		Secret string                          `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &boot); err != nil || boot.Token.Role != "admin" || !strings.HasPrefix(boot.Secret, "nst_") {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	if _, err := cli("", "tokens", "bootstrap"); err == nil || !strings.Contains(err.Error(), "has tokens already") {
		t.Fatalf("a second bootstrap: %v", err)
	}
	out, err = cli(boot.Secret, "tokens", "create", "rita", "--role", "read")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "for rita, role read, no expiry") || !strings.HasPrefix(lines[1], "nst_") {
		t.Fatalf("create printed:\n%s", out)
	}
	rita := lines[1]
	if _, err := cli(rita, "jobs", "list"); err != nil {
		t.Fatalf("a read token lists jobs: %v", err)
	}
	if _, err := cli(rita, "workers", "drain", "worker-1"); err == nil || !strings.Contains(err.Error(), "needs a token of role operate") {
		t.Fatalf("a read token drains: %v", err)
	}
	out, err = cli(boot.Secret, "tokens", "list")
	if err != nil || !strings.Contains(out, "rita") || !strings.Contains(out, "ops") || strings.Contains(out, rita[len(rita)-10:]) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	ritaID := strings.SplitN(strings.TrimPrefix(rita, "nst_"), "_", 2)[0]
	if out, err := cli(boot.Secret, "tokens", "revoke", ritaID); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if _, err := cli(rita, "jobs", "list"); err == nil || !strings.Contains(err.Error(), "missing or invalid bearer token") {
		t.Fatalf("a revoked token: %v", err)
	}
	if out, _ := cli(boot.Secret, "tokens", "list"); !strings.Contains(out, "revoked (by ops)") {
		t.Fatalf("list after revoke:\n%s", out)
	}
}
