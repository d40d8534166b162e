#!/usr/bin/env bash
# Shard throughput against a local MinIO, side by side with the raw GET
# throughput of the same shard bytes (issue: reading shards at >= 0.8x raw GET).
#
#   scripts/bench/shard.sh [shardbench flags]      e.g. -files 16 -rows 125000 -reps 9
#
# Starts a throwaway MinIO on loopback (scripts/with-minio.sh), generates the
# sample dataset as CSV and Parquet, then prints a Markdown table: ingest
# MB/s and rows/s per format, and for each shard compression the median raw
# GET and shard-scan throughput with their ratio. Copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o .tools/bin/shardbench ./scripts/bench/shardbench
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version | cut -d' ' -f3) $(nproc) cores, $(uname -m)" >&2
exec scripts/with-minio.sh .tools/bin/shardbench "$@"
