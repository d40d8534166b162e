#!/usr/bin/env python3
"""(d) of scripts/bench/score.sh: scikit-learn LogisticRegression.predict_proba
on the rows scorebench wrote, on one thread.

    score_sklearn.py DIR

DIR holds x.f64 (row-major float64 matrix), go_proba.f64 (the Go
predictor's probabilities for the same rows) and params.json (coef,
intercept, rows, cols, reps). Prints one JSON object: the wall and thread
CPU seconds of each repetition, the largest |p_go - p_sklearn|, the
library version and the thread limit in force.
"""
import json
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # the env vars set by scorebench still hold
    threadpool_limits = None


def main(d):
    with open(os.path.join(d, "params.json")) as f:
        p = json.load(f)
    rows, cols = p["rows"], p["cols"]
    X = np.fromfile(os.path.join(d, "x.f64"), dtype="<f8").reshape(rows, cols)
    go = np.fromfile(os.path.join(d, "go_proba.f64"), dtype="<f8")

    clf = LogisticRegression()
    clf.coef_ = np.asarray(p["coef"], dtype=np.float64).reshape(1, cols)
    clf.intercept_ = np.asarray([p["intercept"]], dtype=np.float64)
    clf.classes_ = np.asarray([0, 1])

    limit = threadpool_limits(limits=1) if threadpool_limits else None
    clf.predict_proba(X)  # warm up
    seconds, cpu_seconds = [], []
    for _ in range(p["reps"]):
        t0, c0 = time.perf_counter(), time.thread_time()
        proba = clf.predict_proba(X)[:, 1]
        cpu_seconds.append(time.thread_time() - c0)
        seconds.append(time.perf_counter() - t0)
    threads = "threadpoolctl limit 1" if limit else "OMP/OPENBLAS/MKL_NUM_THREADS=1"
    json.dump({
        "rows": rows,
        "cols": cols,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "max_abs_diff": float(np.max(np.abs(proba - go))),
        "sklearn_version": sklearn.__version__,
        "threads": threads,
    }, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
