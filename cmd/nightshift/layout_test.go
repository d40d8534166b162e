package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportDirection keeps the direction of imports that
// docs/architecture.md §2 describes: each package may import, of the
// module, only the packages listed for it (a prefix ending in "/" allows a
// whole subtree). coordinator and worker never import each other; the
// leaves they share import no more than the table says.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/nightshift-ml/nightshift/"
	allowed := map[string][]string{
		"coordinator":         {"coordinator/alert", "shard", "shard/scoreout", "shard/profile", "shard/datagate", "proto/nightshift/v1", "proto/jobspec", "proto/cron", "proto/gossip", "proto/rpc", "storage"},
		"coordinator/alert":   {"proto/nightshift/v1"},
		"worker":              {"worker/", "shard", "shard/scoreout", "shard/profile", "proto/nightshift/v1", "proto/jobspec", "proto/gossip", "proto/rpc", "storage"},
		"worker/score":        {"worker/model", "shard", "shard/scoreout", "proto/jobspec", "storage"},
		"worker/train":        {"worker/model", "worker/kernels", "shard", "proto/nightshift/v1", "proto/jobspec", "storage"},
		"worker/model":        {"worker/kernels", "shard", "shard/sample", "storage"},
		"worker/kernels":      {},
		"worker/collective":   {"proto/nightshift/v1", "proto/rpc"},
		"shard":               {"storage"},
		"shard/scoreout":      {"storage"},
		"shard/sample":        {"storage"},
		"shard/profile":       {"shard", "proto/nightshift/v1", "storage"},
		"shard/datagate":      {"shard/profile", "proto/nightshift/v1", "proto/jobspec"},
		"proto/jobspec":       {"proto/nightshift/v1", "proto/cron", "shard/scoreout", "storage"},
		"proto/gossip":        {"proto/rpc"},
		"proto/nightshift/v1": {},
		"proto/rpc":           {},
		"proto/rpc/faultnet":  {},
		"proto/cron":          {},
		"proto/testkit":       {},
		"storage":             {},
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		rules, ok := allowed[pkg]
		if !ok {
			continue // cmd, scripts: may import any package
		}
		seen[pkg] = true
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours || permitted(dep, rules) {
				continue
			}
			t.Errorf("%s imports %s, which docs/architecture.md §2 does not allow", pkg, dep)
		}
	}
	for pkg := range allowed {
		if !seen[pkg] {
			t.Errorf("package %s is in the table but not in the module: update the table and docs/architecture.md §2", pkg)
		}
	}
}

func permitted(dep string, rules []string) bool {
	for _, r := range rules {
		if dep == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(dep, r)) {
			return true
		}
	}
	return false
}
