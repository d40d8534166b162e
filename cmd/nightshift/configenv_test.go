package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigEnvAndSecretFiles: ${VAR} expands from the environment (an
// unset one fails naming its line, $${ stays literal), and gossip_key_file
// and initial_token_file read mounted secrets.
func TestConfigEnvAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("key", "  MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
	tokFile := write("token", "nst_admin_"+strings.Repeat("x", 40)+"\n")
	t.Setenv("POD_NAME", "nightshift-coordinator-1")
	cfgFile := write("c.yaml", `id: ${POD_NAME}
data_dir: `+dir+`/$${literal}
bootstrap_expect: 3
seeds: [nightshift-coordinator-headless:7102]
gossip_key_file: `+keyFile+`
initial_token_file: `+tokFile+`
autopilot: {dead_server_grace: 5m, min_quorum: 3}
autoscale: {pools: {gpu: {min_workers: 1, max_workers: 4, slots_per_worker: 2}}}
`)
	cfg, _, err := loadCoordinatorConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "nightshift-coordinator-1" || !strings.HasSuffix(cfg.DataDir, "/${literal}") || cfg.BootstrapExpect != 3 {
		t.Errorf("id %q, data_dir %q, bootstrap_expect %d", cfg.ID, cfg.DataDir, cfg.BootstrapExpect)
	}
	if len(cfg.GossipKey) != 32 || !strings.HasPrefix(cfg.InitialToken, "nst_admin_") {
		t.Errorf("gossip key %d bytes, initial token %q", len(cfg.GossipKey), cfg.InitialToken)
	}
	if cfg.Autopilot.DeadServerGrace.Minutes() != 5 || cfg.Autopilot.MinQuorum != 3 || cfg.Autoscale.Pools["gpu"].MaxWorkers != 4 {
		t.Errorf("autopilot %+v, autoscale %+v", cfg.Autopilot, cfg.Autoscale)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	for name, tc := range map[string]struct{ body, want string }{
		"unset variable": {"id: a\ndata_dir: ${NIGHTSHIFT_TEST_UNSET_VAR}\n", "line 2: ${NIGHTSHIFT_TEST_UNSET_VAR} is not set"},
		"key twice":      {"gossip_key: MDEyMzQ1Njc4OWFiY2RlZg==\ngossip_key_file: " + keyFile + "\n", "exclude each other"},
		"missing file":   {"initial_token_file: " + dir + "/none\n", "initial_token_file: open"},
		"bad pool field": {"autoscale: {pools: {gpu: {max: 3}}}\n", `unknown field "autoscale.pools.gpu.max"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := loadCoordinatorConfig(write(name+".yaml", tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
