#!/usr/bin/env bash
# MLP and softmax scoring per core against PyTorch single-thread inference,
# side by side, same models, same weights, same rows:
#
#   scripts/bench/kernels.sh [ROUNDS]      (default 3; needs Debian's python3-torch and
#                                           OpenBLAS, installed as root when missing)
#
# Models: mlp 64→256→256→1 (binary) and softmax 64→10, on 64 numeric float64
# columns, 65536 rows (worker/model bench_test.go, torchBenchModels).
# Go: `go test -run '^$' -bench ScoreVsTorch -cpu 1 ./worker/model`, i.e.
# Predictor.Predict on one goroutine (GOEXPERIMENT=simd, as release builds:
# worker/kernels' AVX-512 or AVX2 GEMM chosen at run time). PyTorch:
# scripts/bench/score_torch.py, torch.no_grad(), torch.set_num_threads(1),
# on the weights and rows Go wrote (TestWriteTorchFixture), after checking
# its probabilities agree with Go's to 1e-5. Both sides time the same work:
# float64 columns in (the feature pipeline, standardisation to float32
# rows, included on both sides) → float64 probabilities out (and the class
# for softmax); PyTorch at its best batch size (1024 to 65536 rows per
# call). PyTorch's model alone (float32 tensor in, float32 out) is printed
# too. Each round runs Go then PyTorch; the table gives every round and the
# medians, rows/s per core.
#
# Fairness (BENCHMARKS.md, training section): Debian's torch multiplies
# through the system libblas.so.3; the script installs OpenBLAS
# (libopenblas0-pthread), runs it single-threaded, sets OPENBLAS_CORETYPE
# from the CPU flags unless set (OpenBLAS 0.3.21 takes unknown virtual CPUs
# for Prescott, SSE3 kernels), and prints the BLAS torch loaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
source scripts/bench/torchenv.sh
echo "# libblas.so.3 alternative: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
export GOEXPERIMENT=simd
FX=$(mktemp -d); trap 'rm -rf "$FX"' EXIT
NIGHTSHIFT_TORCH_FIXTURE=$FX go test -count=1 -run '^TestWriteTorchFixture$' ./worker/model >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(go env GOVERSION) GOEXPERIMENT=simd, $CORES cores, AVX-512 $AVX512, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
declare -A GO TP TM
for r in $(seq 1 "$ROUNDS"); do
  echo "# round $r: go test -run '^\$' -bench ScoreVsTorch -cpu 1 ./worker/model"
  out=$(go test -count=1 -run '^$' -bench ScoreVsTorch -cpu 1 ./worker/model)
  echo "$out" | grep '^Benchmark' | sed 's/^/#   /'
  for m in mlp softmax; do
    GO[$m,$r]=$(echo "$out" | awk -v m="$m" '$1 == "BenchmarkScoreVsTorch/" m { for (i = 2; i < NF; i++) if ($(i+1) == "rows/s") printf "%.0f", $i }')
  done
  echo "# round $r: $PY scripts/bench/score_torch.py FIXTURE --runs 5"
  tout=$("$PY" scripts/bench/score_torch.py "$FX" --runs 5)
  echo "$tout" | sed 's/^/#   /'
  for m in mlp softmax; do
    TP[$m,$r]=$(echo "$tout" | awk -v m="$m" '$1 == "torch-best" && $2 == m && $3 == "pipeline" { print $5 }')
    TM[$m,$r]=$(echo "$tout" | awk -v m="$m" '$1 == "torch-best" && $2 == m && $3 == "model" { print $5 }')
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fmt() { printf '%.0f' "$1"; }
echo
echo "| model | round | Go Predict, rows/s/core | PyTorch same work, rows/s | Go / PyTorch | PyTorch model only, rows/s | Go / PyTorch model only |"
echo "|---|---|---|---|---|---|---|"
for m in mlp softmax; do
  g=() p=() q=()
  for r in $(seq 1 "$ROUNDS"); do
    g+=("${GO[$m,$r]}") p+=("${TP[$m,$r]}") q+=("${TM[$m,$r]}")
    echo "| $m | $r | $(fmt "${GO[$m,$r]}") | $(fmt "${TP[$m,$r]}") | $(ratio "${GO[$m,$r]}" "${TP[$m,$r]}") | $(fmt "${TM[$m,$r]}") | $(ratio "${GO[$m,$r]}" "${TM[$m,$r]}") |"
  done
  mg=$(median "${g[@]}") mp=$(median "${p[@]}") mq=$(median "${q[@]}")
  echo "| **$m** | **median** | **$(fmt "$mg")** | **$(fmt "$mp")** | **$(ratio "$mg" "$mp")×** | $(fmt "$mq") | $(ratio "$mg" "$mq")× |"
done
