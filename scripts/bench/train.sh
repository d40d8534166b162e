#!/usr/bin/env bash
# Training step throughput, side by side: nightshift's training math (one
# member for now: scripts/bench/trainbench) and PyTorch DistributedDataParallel
# on gloo (scripts/bench/ddp_torch.py, one thread per process, 1 and 2
# members), on the same synthetic data, model, batch per member and epochs.
#   scripts/bench/train.sh        (needs Debian's python3-torch; installs it as root when missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(mktemp -d); trap 'rm -rf "$DATA"' EXIT
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
go build -o .tools/bin/trainbench ./scripts/bench/trainbench
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go env GOVERSION) $(nproc) cores; Adam lr 0.01, batch 1024 per member"
echo "| who | model | steps | samples/s | final logloss |"
echo "|---|---|---|---|---|"
run_ddp() { # world model epochs rows
  for r in $(seq 1 $(($1 - 1))); do OMP_NUM_THREADS=1 "$PY" scripts/bench/ddp_torch.py "$r" "$1" "$DATA" "$2" 1024 "$3" "$4" & done
  OMP_NUM_THREADS=1 "$PY" scripts/bench/ddp_torch.py 0 "$1" "$DATA" "$2" 1024 "$3" "$4"
  wait
}
.tools/bin/trainbench -model logistic -rows 262144 -epochs 2 -data "$DATA"
run_ddp 1 logistic 2 262144
run_ddp 2 logistic 2 262144
.tools/bin/trainbench -model mlp -rows 65536 -epochs 1
run_ddp 1 mlp 1 65536
run_ddp 2 mlp 1 65536
