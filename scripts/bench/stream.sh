#!/usr/bin/env bash
# Issue 14's training data path, side by side in one run: a 2-member group
# (one process per member, scripts/bench/streambench: the real worker/train
# member, ring all-reduce over gRPC) training a logistic model for one pass
# over generated datasets of 4M and 16M rows (17 columns, 62 model inputs),
#   - on the memory path (every member holds the dataset),
#   - on the stream path under a 256 MiB budget per member,
#   - from MinIO (on loopback, scripts/with-minio.sh) against local disk,
# and PyTorch DDP (gloo) fed by a DataLoader with a DistributedSampler over
# the same training rows, read from memory-mapped files
# (scripts/bench/ddp_sampler_torch.py). Every member prints samples/s and
# its peak resident memory (VmHWM; ru_maxrss for PyTorch, which counts the
# mapped file's pages).
#
#   scripts/bench/stream.sh [ROUNDS]       (default 3)
#
# DATA (default /tmp/nightshift-streambench) keeps the datasets between
# runs: about 4.5 GB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
DATA=${DATA:-/tmp/nightshift-streambench}
source scripts/bench/torchenv.sh
go build -o .tools/bin/streambench ./scripts/bench/streambench
SB=.tools/bin/streambench
for n in 4 16; do
  [ -e "$DATA/ds${n}m/manifest.json" ] || $SB -write "file://$DATA/ds${n}m" -rows $((n << 20))
done
[ -e "$DATA/x4m/X.f32" ] || $SB -export "$DATA/x4m" -dataset "file://$DATA/ds4m"

group() { # dataset path budget
  $SB -rank 1 -world 2 -dataset "$1" -path "$2" -budget "$3" &
  $SB -rank 0 -world 2 -dataset "$1" -path "$2" -budget "$3"
  wait
}
torch_group() {
  "$PY" scripts/bench/ddp_sampler_torch.py 1 2 "$DATA/x4m" 62 1024 &
  "$PY" scripts/bench/ddp_sampler_torch.py 0 2 "$DATA/x4m" 62 1024
  wait
}
echo "# $(date -u +%FT%TZ) $(go env GOVERSION) $CORES cores; logistic, Adam, batch 1024 per member, 1 epoch, holdout 0.1"
echo "| path | rows | budget MiB | rank | samples/s | peak RSS MiB | held (own estimate) MiB | holdout logloss |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  echo "# round $r"
  group "file://$DATA/ds4m" memory 8192
  group "file://$DATA/ds4m" stream 256
  group "file://$DATA/ds16m" stream 256
  torch_group
done
echo
echo "# MinIO (loopback, data in /dev/shm when it has room) against local disk, stream path, 4M rows"
export SB DATA ROUNDS
scripts/with-minio.sh bash -c '
  set -euo pipefail
  $SB -write s3://bench/ds4m -rows $((4 << 20))
  group() { $SB -rank 1 -world 2 -dataset "$1" -path stream -budget 256 & $SB -rank 0 -world 2 -dataset "$1" -path stream -budget 256; wait; }
  for r in $(seq 1 "$ROUNDS"); do
    echo "# round $r: MinIO, then disk"
    group s3://bench/ds4m
    group "file://$DATA/ds4m"
  done'
