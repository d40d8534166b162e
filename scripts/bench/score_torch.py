#!/usr/bin/env python3
"""PyTorch side of scripts/bench/kernels.sh: single-thread inference of the
same MLP 64->256->256->1 (binary) and softmax 64->10 models as
BenchmarkScoreVsTorch in worker/model, with the same weights and rows.

    score_torch.py FIXTURE [--runs N] [--batches 1024,4096,16384,65536]

FIXTURE is the folder TestWriteTorchFixture wrote (NIGHTSHIFT_TORCH_FIXTURE):
the 64 float64 input columns, the features' means and stds, the weights in
weights.bin layout (W row-major [in x out], then the bias, per layer) and
Go's outputs. The script first checks that PyTorch's probabilities agree
with Go's (max |diff| must be <= 1e-5) and its softmax classes too, then
times two things per model, each pass over all 65536 rows in batches:

  pipeline   the same work as Go's Predict: from the float64 columns
             (column-major, as Arrow holds them), standardise
             (x - mean) * (1/std) in float64, to float32 rows, the model,
             probabilities out as float64 (and the arg max for softmax)
  model      from a ready float32 row-major tensor of standardised
             features to float32 probabilities (and the arg max): the
             model alone, PyTorch's best case

under torch.no_grad() with torch.set_num_threads(1), for each batch size;
it prints, per model, variant and batch size, the rows/s of every run and
their median, as lines "torch MODEL VARIANT batch=B median=R runs=r1,r2,..",
and "torch-best MODEL VARIANT B R" for the batch size with the highest
median (the figure kernels.sh compares with Go's).
"""
import argparse
import ctypes
import os
import re
import statistics
import sys
import time

import numpy as np
import torch

F, ROWS, CLASSES = 64, 65536, 10


def blas_info():
    libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if re.search(r"blas", l)})
    core = "?"
    for lib in libs:
        try:
            f = ctypes.CDLL(lib).openblas_get_corename
            f.restype = ctypes.c_char_p
            core = f().decode()
            break
        except (OSError, AttributeError):
            pass
    return libs, core


def load(fx, name, dtype, shape=None):
    a = np.fromfile(os.path.join(fx, name), dtype=np.dtype(dtype).newbyteorder("<"))
    return a.reshape(shape) if shape else a


def linear(w, off, n_in, n_out):
    """A torch Linear from weights.bin's W (row-major in x out) and bias at off."""
    l = torch.nn.Linear(n_in, n_out)
    W = w[off:off + n_in * n_out].reshape(n_in, n_out)
    b = w[off + n_in * n_out:off + n_in * n_out + n_out]
    with torch.no_grad():
        l.weight.copy_(torch.from_numpy(W.T.copy()))
        l.bias.copy_(torch.from_numpy(b.copy()))
    return l, off + n_in * n_out + n_out


def models(fx):
    w = load(fx, "mlp.f32", "f4")
    l1, off = linear(w, 0, F, 256)
    l2, off = linear(w, off, 256, 256)
    l3, off = linear(w, off, 256, 1)
    assert off == len(w), "mlp weights: %d of %d" % (off, len(w))
    mlp = torch.nn.Sequential(l1, torch.nn.ReLU(), l2, torch.nn.ReLU(), l3).eval()
    w = load(fx, "softmax.f32", "f4")
    ls, off = linear(w, 0, F, CLASSES)
    assert off == len(w)
    return mlp, ls.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batches", default="1024,4096,16384,65536")
    args = ap.parse_args()
    torch.set_num_threads(1)
    libs, core = blas_info()
    print("# torch %s, threads %d, BLAS %s, OpenBLAS core %s, OPENBLAS_CORETYPE=%s, CPU capability %s" % (
        torch.__version__, torch.get_num_threads(), ",".join(libs) or "none found", core,
        os.environ.get("OPENBLAS_CORETYPE", "auto"), torch.backends.cpu.get_cpu_capability()
        if hasattr(torch.backends, "cpu") else "?"))
    fx = args.fixture
    xcols = torch.from_numpy(load(fx, "x.f64", "f8", (F, ROWS)))  # column-major, as Arrow holds it
    mean = torch.from_numpy(load(fx, "mean.f64", "f8")).unsqueeze(1)
    inv = 1 / torch.from_numpy(load(fx, "std.f64", "f8")).unsqueeze(1)
    mlp, soft = models(fx)

    def mlp_pipeline(xc):
        z = ((xc - mean) * inv).to(torch.float32).t()
        return torch.sigmoid(mlp(z)).to(torch.float64)

    def soft_pipeline(xc):
        z = ((xc - mean) * inv).to(torch.float32).t()
        p = torch.softmax(soft(z), dim=1)
        return p.to(torch.float64), p.argmax(dim=1)

    def mlp_model(x):
        return torch.sigmoid(mlp(x))

    def soft_model(x):
        p = torch.softmax(soft(x), dim=1)
        return p, p.argmax(dim=1)

    with torch.no_grad():
        # Same probabilities as Go's Predict?
        go = load(fx, "mlp.out.f64", "f8")
        got = mlp_pipeline(xcols).squeeze(1).numpy()
        dm = float(np.max(np.abs(got - go)))
        gos = load(fx, "softmax.out.f64", "f8", (CLASSES, ROWS)).T
        ps, cls = soft_pipeline(xcols)
        ds = float(np.max(np.abs(ps.numpy() - gos)))
        gocls = load(fx, "softmax.cls.i32", "i4")
        srt = np.sort(gos, axis=1)
        clear = srt[:, -1] - srt[:, -2] > 1e-5  # not a near tie
        mismatch = int(np.sum((cls.numpy() != gocls) & clear))
        print("# agreement with Go: mlp max|dp| %.2e, softmax max|dp| %.2e, softmax classes differing (no near tie) %d" % (dm, ds, mismatch))
        if not (dm <= 1e-5 and ds <= 1e-5 and mismatch == 0):
            sys.exit("score_torch.py: PyTorch and Go disagree")

        xrows = ((xcols - mean) * inv).to(torch.float32).t().contiguous()
        for name, fns in (("mlp", (mlp_pipeline, mlp_model)), ("softmax", (soft_pipeline, soft_model))):
            best = {}
            for variant, fn, src in (("pipeline", fns[0], xcols), ("model", fns[1], xrows)):
                for bs in [int(b) for b in args.batches.split(",")]:
                    if variant == "pipeline":
                        batches = [src[:, lo:lo + bs] for lo in range(0, ROWS, bs)]
                    else:
                        batches = [src[lo:lo + bs] for lo in range(0, ROWS, bs)]

                    def one_pass():
                        for b in batches:
                            fn(b)
                    one_pass()  # warm-up
                    rates = []
                    for _ in range(args.runs):
                        t = time.perf_counter()
                        one_pass()
                        rates.append(ROWS / (time.perf_counter() - t))
                    med = statistics.median(rates)
                    print("torch %s %s batch=%d median=%.0f runs=%s" % (
                        name, variant, bs, med, ",".join("%.0f" % r for r in rates)))
                    if med > best.get(variant, (0, 0))[1]:
                        best[variant] = (bs, med)
            for variant, (bs, med) in best.items():
                print("torch-best %s %s %d %.0f" % (name, variant, bs, med))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
