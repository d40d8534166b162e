#!/usr/bin/env bash
# The README's test command (`make test`): vet, the race-enabled test suite
# against a real MinIO server (installed pinned, started on loopback, stopped
# after), then each fuzz target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export NIGHTSHIFT_REQUIRE_MINIO=1   # S3 suites fail rather than skip without MinIO

scripts/tools.sh minio
scripts/tools.sh chromium   # the console's browser tests; they skip, saying so, without it
echo "== go vet" >&2
go vet ./...
echo "== go test -race (with MinIO)" >&2
scripts/with-minio.sh go test -race -count=1 -timeout 20m ./...
echo "== the SIMD kernels of training and scoring (GOEXPERIMENT=simd, AVX2/AVX-512 when the CPU has them)" >&2
GOEXPERIMENT=simd go test -count=1 ./worker/kernels/ ./worker/train/ ./worker/model/
echo "== the Helm chart: rendered for several value sets, every manifest checked against the Kubernetes schemas" >&2
scripts/chart-test.sh
echo "== end to end: 3 coordinator processes from deploy/config, leader killed mid-job" >&2
scripts/e2e/cluster.sh
echo "== end to end on Docker (skipped without an engine): compose cluster, leader container killed" >&2
scripts/e2e/docker.sh
echo "== fuzz (${FUZZTIME:-5s} per target)" >&2
FUZZTIME=${FUZZTIME:-5s} scripts/fuzz.sh
echo "== all tests passed" >&2
