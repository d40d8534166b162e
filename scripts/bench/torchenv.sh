# Sourced by the benchmarks that run PyTorch beside nightshift (train.sh,
# kernels.sh): one home for a fair PyTorch on this machine. It installs
# Debian's python3-torch and OpenBLAS when missing (as root), holds BLAS
# and OpenMP to one thread, and sets OPENBLAS_CORETYPE from the CPU flags
# unless set (OpenBLAS 0.3.21 takes unknown virtual CPUs for Prescott and
# runs SSE3 kernels). It sets PY (the Python with torch), CORES (before
# OMP_NUM_THREADS, which nproc honours) and AVX512 (yes or no).
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
if [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread >/dev/null
fi
CORES=$(nproc)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
AVX512=no
grep -qw avx512f /proc/cpuinfo && AVX512=yes
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if [ $AVX512 = yes ]; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
