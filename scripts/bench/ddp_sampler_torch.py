"""The PyTorch peer of issue 14's streaming benchmark: DistributedDataParallel
(gloo, one thread per process) fed by a DataLoader with a DistributedSampler
(shuffle, seed 1) over the same training rows nightshift trains on, read
from files: X.f32 and y.f32 (the pipeline's float32 inputs and the labels,
written by `streambench -export`), memory-mapped, so the sampler's indices
fetch rows from the page cache or the disk. Batches come from a
BatchSampler, so a batch is one fancy-indexed read rather than 1024
__getitem__ calls. Logistic regression, Adam, one pass. Each rank prints
a Markdown row: samples/s (all ranks' rows over the pass) and its peak
resident memory.

    python3 ddp_sampler_torch.py RANK WORLD DIR DIM BATCH"""
import resource
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler


class Rows(Dataset):
    def __init__(self, d, dim):
        self.X = np.memmap(f"{d}/X.f32", dtype=np.float32, mode="r").reshape(-1, dim)
        self.y = np.memmap(f"{d}/y.f32", dtype=np.float32, mode="r")

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):  # a list of indices: one batch
        idx = np.sort(np.asarray(idx))
        return torch.from_numpy(np.ascontiguousarray(self.X[idx])), torch.from_numpy(np.ascontiguousarray(self.y[idx]))


def main():
    rank, world, d, dim, batch = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(1)
    torch.manual_seed(1)
    ds = Rows(d, dim)
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=1)
    loader = DataLoader(ds, sampler=BatchSampler(sampler, batch, drop_last=False), batch_size=None, num_workers=0)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29513", rank=rank, world_size=world)
    model = nn.parallel.DistributedDataParallel(nn.Linear(dim, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    dist.barrier()
    t0 = time.perf_counter()
    n = 0
    for X, y in loader:
        opt.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        n += len(y)
    dist.barrier()
    el = time.perf_counter() - t0
    total = torch.tensor([n], dtype=torch.int64)
    dist.all_reduce(total)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| PyTorch DDP + DistributedSampler, files | {len(ds)} | rank {rank} | {total.item() / el:.0f} | {rss:.0f} | rows seen {total.item()} (padded: {total.item() - len(ds)}) |", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
