#!/usr/bin/env bash
# Bulk-scoring throughput against a local MinIO, side by side with raw GET
# throughput and with scikit-learn (issue: score at close to raw GET speed;
# the per-core predictor against predict_proba).
#
#   scripts/bench/score.sh [scorebench flags]      e.g. -files 8 -rows 250000 -reps 5
#
# Starts a throwaway MinIO on loopback (scripts/with-minio.sh), generates a
# 64-feature sample dataset, ingests it into shards, then prints a Markdown
# table: (a) raw GET of every shard, (b) score.Shard over every shard from
# MinIO to MinIO with GOMAXPROCS goroutines, (c) model.Predictor alone in
# memory on one goroutine, (d) scikit-learn LogisticRegression.predict_proba
# on the same rows on one thread, with the ratios (b)/(a) and (c)/(d).
# Copy it into BENCHMARKS.md.
#
# (d) needs a Python with numpy and scikit-learn: $PYTHON, else python3 or
# /usr/bin/python3 if either imports sklearn, else Debian's python3-sklearn
# is installed with apt-get (as root). With none, (d) is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

find_python() {
	local p
	for p in ${PYTHON:-} python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, sklearn' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

if ! py=$(find_python); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "score.sh: installing python3-sklearn with apt-get" >&2
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >&2
	fi
	py=$(find_python) || py=""
fi
[[ -n $py ]] || echo "score.sh: no Python with scikit-learn; skipping (d)" >&2

go build -o .tools/bin/scorebench ./scripts/bench/scorebench
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version | cut -d' ' -f3) $(nproc) cores, $(uname -m)" >&2
exec scripts/with-minio.sh .tools/bin/scorebench -python "$py" "$@"
