"""The PyTorch DistributedDataParallel peer of issue 4's training benchmark:
gloo backend, one thread per process, Adam, the same synthetic data
trainbench wrote (X.f32, y.f32), batch per member, epochs. Each step every
member takes its slice of the next global batch. Rank 0 prints a Markdown
row: samples/s and the final logloss over all rows.

    python3 ddp_torch.py RANK WORLD DATA_DIR MODEL(logistic|mlp) BATCH EPOCHS ROWS"""
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn


def main():
    rank, world, data, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    batch, epochs, rows = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    torch.set_num_threads(1)
    torch.manual_seed(1)
    X = torch.from_numpy(np.fromfile(f"{data}/X.f32", dtype=np.float32)).view(-1, 64)[:rows]
    y = torch.from_numpy(np.fromfile(f"{data}/y.f32", dtype=np.float32))[:rows]
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29512", rank=rank, world_size=world)
    if kind == "mlp":
        net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    else:
        net = nn.Linear(64, 1)
    model = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    glob = batch * world
    steps = 0
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for lo in range(0, rows - glob + 1, glob):
            s = lo + rank * batch
            opt.zero_grad()
            loss = loss_fn(model(X[s:s + batch]).squeeze(1), y[s:s + batch])
            loss.backward()
            opt.step()
            steps += 1
    dist.barrier()
    el = time.perf_counter() - t0
    with torch.no_grad():
        final = loss_fn(net(X).squeeze(1), y).item()
    if rank == 0:
        print(f"| PyTorch DDP gloo ({world} member{'s' if world > 1 else ''}) | {kind} | {steps} | {steps * glob / el:.0f} | {final:.4f} |", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
