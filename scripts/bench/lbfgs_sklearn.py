#!/usr/bin/env python3
"""scikit-learn's side of scripts/bench/lbfgs.sh.

Reads the dataset lbfgsbench wrote to DIR (raw little-endian float32
train/test matrices and meta.json), fits LogisticRegression(penalty="l2",
solver="lbfgs", C=meta["C"]) -- C = 1/(lambda * n_train), the same optimum
as nightshift's mean log loss + lambda/2 |w|^2, intercept unpenalised --
with a tight tolerance, and prints one JSON line: holdout log loss, fit
time, iterations.

    lbfgs_sklearn.py DIR
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    dim = meta["dim"]

    def load(name, rows, cols):
        a = np.fromfile(os.path.join(d, name), dtype="<f4").astype(np.float64)
        return a.reshape(rows, cols) if cols > 1 else a

    Xtr = load("train_X.f32", meta["train_rows"], dim)
    ytr = load("train_y.f32", meta["train_rows"], 1)
    Xte = load("test_X.f32", meta["test_rows"], dim)
    yte = load("test_y.f32", meta["test_rows"], 1)

    clf = LogisticRegression(penalty="l2", C=meta["C"], solver="lbfgs", tol=1e-10, max_iter=10000)
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    fit = time.perf_counter() - t0

    z = Xte @ clf.coef_[0] + clf.intercept_[0]
    ll = float(np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - yte * z))
    ztr = Xtr @ clf.coef_[0] + clf.intercept_[0]
    obj = float(np.mean(np.maximum(ztr, 0) + np.log1p(np.exp(-np.abs(ztr))) - ytr * ztr)
                + meta["l2"] / 2 * np.dot(clf.coef_[0], clf.coef_[0]))
    import sklearn
    print(json.dumps({
        "sk_holdout_logloss": ll,
        "sk_train_objective": obj,
        "sk_fit_s": fit,
        "sk_iterations": int(clf.n_iter_[0]),
        "sklearn": sklearn.__version__,
    }))


if __name__ == "__main__":
    main()
