#!/usr/bin/env bash
# Full-batch L-BFGS logistic regression, nightshift against scikit-learn,
# in one run on the same data (issue 4, "Correctness against a peer"):
# holdout log loss must agree within 1e-4.
#
#   scripts/bench/lbfgs.sh [lbfgsbench flags]      e.g. -rows 200000 -dim 64 -l2 1e-4
#
# lbfgsbench generates the synthetic data, splits the deterministic
# holdout, writes both to a temporary folder and fits with worker/train's
# L-BFGS; lbfgs_sklearn.py fits LogisticRegression (lbfgs, same L2
# strength: C = 1/(λ·n_train), tol 1e-10) on the same files. It prints
# both holdout log losses, |Δ|, both fit times and a PASS/FAIL line.
# Needs numpy and scikit-learn ($PYTHON, python3 or Debian's
# /usr/bin/python3 with python3-sklearn, installed with apt-get when
# missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/../.."

py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, sklearn' 2>/dev/null; then
		py=$p
		break
	fi
done
if [[ -z $py && $(id -u) = 0 ]] && command -v apt-get >/dev/null; then
	echo "lbfgs.sh: installing Debian's python3-sklearn" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >/dev/null || true
	/usr/bin/python3 -c 'import numpy, sklearn' 2>/dev/null && py=/usr/bin/python3
fi
if [[ -z $py ]]; then
	echo "lbfgs.sh: no Python with numpy and scikit-learn (apt-get install python3-sklearn)" >&2
	exit 1
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p .tools/bin
go build -o .tools/bin/lbfgsbench ./scripts/bench/lbfgsbench
gojson=$(.tools/bin/lbfgsbench -dir "$dir" "$@")
skjson=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$py" scripts/bench/lbfgs_sklearn.py "$dir")

"$py" - "$gojson" "$skjson" <<'PY'
import json, sys
g, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = abs(g["go_holdout_logloss"] - s["sk_holdout_logloss"])
dg = abs(g["group_holdout_logloss"] - s["sk_holdout_logloss"])
print(f"# L-BFGS logistic regression: {g['train_rows']} train / {g['test_rows']} holdout rows, "
      f"{g['dim']} features, lambda {g['l2']:g} (sklearn C {g['C']:.6g}), sklearn {s['sklearn']}")
print()
print("| | holdout logloss | train objective | fit s | iterations |")
print("|---|---|---|---|---|")
print(f"| nightshift L-BFGS | {g['go_holdout_logloss']:.8f} | {g['go_train_objective']:.10f} | {g['go_fit_s']:.3f} | {g['go_iterations']} ({g['go_evaluations']} evals, {g['go_reason']}) |")
print(f"| nightshift training group, 2 members (ring all-reduce) | {g['group_holdout_logloss']:.8f} | | {g['group_fit_s']:.3f} | {g['group_iterations']} ({g['group_evaluations']} evals) |")
print(f"| scikit-learn lbfgs | {s['sk_holdout_logloss']:.8f} | {s['sk_train_objective']:.10f} | {s['sk_fit_s']:.3f} | {s['sk_iterations']} |")
print()
ok = d <= 1e-4 and dg <= 1e-4
print(f"|Δ holdout logloss| = {d:.3g} (one process), {dg:.3g} (2-member group) (target <= 1e-4): {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
