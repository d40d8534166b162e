"""One member of the gloo all-reduce benchmark (torch.distributed, gloo
backend, one thread): the peer of scripts/bench/allreducebench. Rank 0
prints a Markdown row per size: the median time, the bus bandwidth
2*(n-1)/n * bytes / time and the mean CPU time (user and system, all
threads) rank 0's process spent per all-reduce."""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist


def main():
    rank, world = int(sys.argv[1]), int(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3].split(",")]
    reps = int(sys.argv[4])
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29511", rank=rank, world_size=world)
    if rank == 0:
        print("| size | median | bus bandwidth | CPU per all-reduce |\n|---|---|---|---|")
    for size in sizes:
        v = torch.zeros(size // 4, dtype=torch.float32)
        times = []
        cpu = 0.0
        for i in range(reps + 3):
            dist.barrier()
            c0 = time.process_time()
            t0 = time.perf_counter()
            dist.all_reduce(v)
            if i >= 3:
                times.append(time.perf_counter() - t0)
                cpu += time.process_time() - c0
        med = statistics.median(times)
        if rank == 0:
            bus = 2 * (world - 1) / world * size / med / 1e9
            label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
            print(f"| {label} | {med * 1e3:.3f}ms | {bus:.3f} GB/s | {cpu / reps * 1e3:.3f}ms |", flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
