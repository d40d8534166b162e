#!/usr/bin/env bash
# All-reduce bus bandwidth, side by side in one run: nightshift's ring
# all-reduce over gRPC (scripts/bench/allreducebench, one process per
# member) and torch.distributed.all_reduce on gloo (one thread per
# process), 2 members on loopback, at 4 KiB, 1 MiB, 16 MiB and 64 MiB.
# Each side prints per size the median time, the bus bandwidth and the CPU
# time rank 0's process spent per all-reduce (less at the mercy of other
# load on the machine than the time).
#
#   scripts/bench/allreduce.sh [REPS]
#
# The torch side needs Debian's python3-torch (installed with apt-get when
# missing, as root); without it only nightshift's figures print.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${1:-20}
SIZES=4096,1048576,16777216,67108864
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go env GOVERSION) $(nproc) cores, 2 members on loopback, median of $REPS"
go build -o .tools/bin/allreducebench ./scripts/bench/allreducebench
echo; echo "## nightshift ring all-reduce (gRPC)"
.tools/bin/allreducebench -rank 1 -reps "$REPS" -sizes "$SIZES" &
p1=$!
.tools/bin/allreducebench -rank 0 -reps "$REPS" -sizes "$SIZES"
wait $p1
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "allreduce.sh: installing Debian's python3-torch" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null || true
fi
if "$PY" -c 'import torch' 2>/dev/null; then
  echo; echo "## torch.distributed all_reduce, gloo, $("$PY" -c 'import torch; print(torch.__version__)')"
  OMP_NUM_THREADS=1 "$PY" scripts/bench/allreduce_torch.py 1 2 "$SIZES" "$REPS" &
  p1=$!
  OMP_NUM_THREADS=1 "$PY" scripts/bench/allreduce_torch.py 0 2 "$SIZES" "$REPS"
  wait $p1
else
  echo "allreduce.sh: no torch; gloo figures skipped" >&2
fi
