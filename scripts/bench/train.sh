#!/usr/bin/env bash
# Training step throughput, side by side: nightshift's training math in one
# process (scripts/bench/trainbench: objective + optimiser, no group), the real
# training member as a group of 1 and 2 processes (scripts/bench/ddpbench:
# train.Trainer, the epoch's block permutation, the gradient summed by the
# ring all-reduce over gRPC), and PyTorch DistributedDataParallel
# on gloo (scripts/bench/ddp_torch.py, one thread per process, 1 and 2
# members), on the same synthetic data, model, batch per member and epochs.
#   scripts/bench/train.sh        (needs Debian's python3-torch and OpenBLAS; installs them as root when missing)
#
# Fairness: trainbench is built with GOEXPERIMENT=simd, as release builds
# are (vectorised kernels, chosen at run time). PyTorch's matrix products go
# through the system BLAS: with Debian's default reference libblas the MLP
# step is ~15× slower than with OpenBLAS, so OpenBLAS is installed (and
# used single-threaded); and
# OpenBLAS's CPU detection falls back to its SSE3 kernels on virtual CPUs
# it does not recognise, so unless OPENBLAS_CORETYPE is set it is set from
# the CPU flags (SkylakeX with AVX-512, Haswell with AVX2). On an AVX-512
# machine the MLP also runs with both sides held to AVX2
# (NIGHTSHIFT_KERNELS=avx2, OPENBLAS_CORETYPE=Haswell), for comparison
# with AVX2-only machines.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(mktemp -d); trap 'rm -rf "$DATA"' EXIT
source scripts/bench/torchenv.sh
BLAS=$("$PY" -c 'import torch, re; print(next((l.split()[-1] for l in open("/proc/self/maps") if re.search(r"blas", l)), "?"))')
GOEXPERIMENT=simd go build -o .tools/bin/trainbench ./scripts/bench/trainbench
GOEXPERIMENT=simd go build -o .tools/bin/ddpbench ./scripts/bench/ddpbench
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go env GOVERSION) $CORES cores, AVX-512 $AVX512; Adam lr 0.01, batch 1024 per member"
echo "# PyTorch BLAS: $BLAS, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
echo "| who | model | steps | samples/s | final logloss |"
echo "|---|---|---|---|---|"
run_ddp() { # world model epochs rows
  for r in $(seq 1 $(($1 - 1))); do "$PY" scripts/bench/ddp_torch.py "$r" "$1" "$DATA" "$2" 1024 "$3" "$4" & done
  "$PY" scripts/bench/ddp_torch.py 0 "$1" "$DATA" "$2" 1024 "$3" "$4"
  wait
}
run_group() { # world model epochs rows: nightshift's training group, one process per member
  for r in $(seq 1 $(($1 - 1))); do .tools/bin/ddpbench -rank "$r" -world "$1" -data "$DATA" -model "$2" -epochs "$3" -rows "$4" & done
  .tools/bin/ddpbench -rank 0 -world "$1" -data "$DATA" -model "$2" -epochs "$3" -rows "$4"
  wait
}
.tools/bin/trainbench -model logistic -rows 262144 -epochs 2 -data "$DATA"
run_ddp 1 logistic 2 262144
run_ddp 2 logistic 2 262144
run_group 1 logistic 2 262144
run_group 2 logistic 2 262144
.tools/bin/trainbench -model mlp -rows 65536 -epochs 1
run_ddp 1 mlp 1 65536
run_ddp 2 mlp 1 65536
run_group 1 mlp 1 65536
run_group 2 mlp 1 65536
if [ $AVX512 = yes ]; then
  NIGHTSHIFT_KERNELS=avx2 .tools/bin/trainbench -model mlp -rows 65536 -epochs 1 | sed 's/Go)/Go, AVX2)/'
  OPENBLAS_CORETYPE=Haswell run_ddp 1 mlp 1 65536 | sed 's/member)/member, OpenBLAS Haswell)/'
fi
