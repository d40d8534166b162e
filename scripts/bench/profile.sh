#!/usr/bin/env bash
# Dataset profiling throughput, side by side with the shard scan it rides on
# (issue: the statistics pass runs at >= 0.5x the shard scan rate of the same
# dataset on the same workers).
#
#   scripts/bench/profile.sh [go test flags]      e.g. -count 9 -cpu 4
#
# Runs, in one `go test` invocation, BenchmarkScanShard (ds.Scan over every
# batch of one 300k-row shard, touching nothing else) and
# BenchmarkProfileShard (profile.Shard on the same shard: the scan plus every
# column's statistics) of shard/profile, 5 times each by default, then prints
# a Markdown table of the median rows/s of each and their ratio. Copy it into
# BENCHMARKS.md. The dataset (six float and four int columns, a region of 8
# values and a unique string id) is built on local disk in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version | cut -d' ' -f3) $(nproc) cores, $(uname -m)" >&2
go test -run '^$' -bench 'ScanShard|ProfileShard' -count 5 "$@" ./shard/profile/ | tee "$out" >&2
awk '
	# The value before the "rows/s" unit, per benchmark.
	/^Benchmark(ScanShard|ProfileShard)/ {
		name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
		for (i = 2; i <= NF; i++) if ($i == "rows/s") v[name, ++n[name]] = $(i - 1)
	}
	function median(name,   k, i, j, t, a) {
		k = n[name]
		for (i = 1; i <= k; i++) a[i] = v[name, i]
		for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		if (!n["ScanShard"] || !n["ProfileShard"]) { print "profile.sh: no results" > "/dev/stderr"; exit 1 }
		scan = median("ScanShard"); prof = median("ProfileShard")
		printf "| pass | runs | median rows/s |\n|---|---|---|\n"
		printf "| shard scan (BenchmarkScanShard) | %d | %.0f |\n", n["ScanShard"], scan
		printf "| profile.Shard (BenchmarkProfileShard) | %d | %.0f |\n", n["ProfileShard"], prof
		printf "\nprofile / scan = %.2f (target >= 0.5)\n", prof / scan
	}
' "$out"
