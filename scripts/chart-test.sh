#!/usr/bin/env bash
# The Helm chart's test (deploy/helm, a nested Go module): renders
# deploy/helm/nightshift in process with Helm's Go library for several value
# sets, validates every manifest strictly against the Kubernetes OpenAPI
# schemas and the KEDA and Prometheus Operator CRDs, checks the wiring, and
# runs the real binary's `--check` on the rendered config files.
#
# Offline except for the Go module proxy: the schemas come from module zips
# (pinned below with their go.sum hashes), the binary is built from this
# checkout. Idempotent (the module cache keeps the zips); quiet: one summary
# line, or the test log on failure. Extra arguments go to `go test` (e.g.
# -run TestChart -v).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Schema sources: module@version and the hash of its zip (go.sum's h1:).
# k8s.io/kubernetes follows the k8s.io/api release that helm.sh/helm/v4
# brings (v0.37.x); its zip (21 MB) holds api/openapi-spec/v3.
k8s_mod=k8s.io/kubernetes@v1.37.2
k8s_sum=h1:A2VDEiObzkYqFTKhSsn0ZEb0RlLEXpHWj93gi2HqEwE=
# v2.21.1 needs go 1.27.4; v2.21.0 is the newest this Go takes.
keda_mod=github.com/kedacore/keda/v2@v2.21.0
keda_sum=h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps=
promop_mod=github.com/prometheus-operator/prometheus-operator@v0.85.0
promop_sum=h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# moddir MODULE@VERSION SUM: download the module (a no-op when cached) and
# print its directory. Run outside any module so no go.mod is touched.
moddir() {
	local out dir sum err
	if ! out=$(cd "$tmp" && GOWORK=off GOFLAGS= go mod download -json "$1" 2>&1); then
		echo "chart-test: go mod download $1 failed:" >&2
		echo "$out" >&2
		return 1
	fi
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")
	sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")
	err=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")
	if [[ -n $err || -z $dir ]]; then
		echo "chart-test: go mod download $1: ${err:-no directory}" >&2
		return 1
	fi
	if [[ $sum != "$2" ]]; then
		echo "chart-test: $1 has hash $sum, pinned $2" >&2
		return 1
	fi
	echo "$dir"
}

NIGHTSHIFT_SCHEMA_K8S=$(moddir "$k8s_mod" "$k8s_sum")
NIGHTSHIFT_SCHEMA_KEDA=$(moddir "$keda_mod" "$keda_sum")
NIGHTSHIFT_SCHEMA_PROMOP=$(moddir "$promop_mod" "$promop_sum")
export NIGHTSHIFT_SCHEMA_K8S NIGHTSHIFT_SCHEMA_KEDA NIGHTSHIFT_SCHEMA_PROMOP

# The binary whose strict config check the rendered files must pass.
if ! out=$(CGO_ENABLED=0 go build -o "$tmp/nightshift" ./cmd/nightshift 2>&1); then
	echo "chart-test: go build ./cmd/nightshift failed:" >&2
	echo "$out" >&2
	exit 1
fi
export NIGHTSHIFT_BIN=$tmp/nightshift
# Missing schemas or binary fail the test here instead of skipping it.
export NIGHTSHIFT_CHART_TEST_STRICT=1

log=$tmp/test.log
status=0
(cd "$root/deploy/helm" && GOWORK=off go test -count=1 -v "$@" ./...) >"$log" 2>&1 || status=$?
passed=$(grep -cE '^[[:space:]]*--- PASS:' "$log" || true)
failed=$(grep -cE '^[[:space:]]*--- FAIL:' "$log" || true)
skipped=$(grep -cE '^[[:space:]]*--- SKIP:' "$log" || true)
if [[ $status -ne 0 ]]; then
	# The log without the passing tests' run/pass lines.
	grep -vE '^[[:space:]]*(=== (RUN|PAUSE|CONT|NAME)|--- PASS:)' "$log" >&2 || true
	[[ $failed -gt 0 ]] || failed=1
fi
echo "chart-test: $passed passed, $failed failed, $skipped skipped"
exit "$status"
