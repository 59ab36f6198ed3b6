#!/usr/bin/env python3
"""CanopyNet's PyTorch twin trained data-parallel with DistributedDataParallel over gloo.

One process per rank; scripts/bench-ddp-multihost.py starts one on each test host. The network,
losses and Adam are those of canopynet_torch.py (the twin of Grove's default CanopyNet); each
rank trains on its own random tiles, `--batch` samples per step, and DDP averages the gradients
over the ranks with gloo's all-reduce before every Adam step, as Grove's ring does.

A run is `--warmup` untimed steps, a barrier, `--steps` timed steps, a barrier. Rank 0 prints one
`RESULT {json}` line: the timed wall time between the barriers (rank 0's clock), samples per
second over all ranks, and per-step times of the forward pass, the backward pass (which includes
waiting for DDP's all-reduce: DDP launches it from autograd hooks and waits at the end of
backward) and the optimizer step, as medians.

    canopynet_ddp.py --rank R --world N --master HOST:PORT [--batch 4] [--warmup 5] [--steps 30]
                     [--threads 1] [--fp16]

`--fp16` registers DDP's `fp16_compress_hook` (the gradients travel as float16), the
counterpart of Grove's `reduce.mode: fp16`. Set GLOO_SOCKET_IFNAME to the interface the ranks
meet on.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from canopynet_torch import BAND_MEANS, CanopyNet, canopy_loss, random_tiles  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--master", required=True, help="rank 0's HOST:PORT (the rendezvous)")
    parser.add_argument("--batch", type=int, default=4, help="samples per rank and step")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--fp16", action="store_true", help="DDP's fp16_compress_hook")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (Grove's default)")
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--bands", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds any collective may take")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{args.master}", rank=args.rank,
                            world_size=args.world, timeout=datetime.timedelta(seconds=args.timeout))
    torch.manual_seed(1)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
    model = CanopyNet(args.bands, args.width, args.depth, args.groups)
    parameters = sum(p.numel() for p in model.parameters())
    model = DistributedDataParallel(model)
    if args.fp16:
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
        model.register_comm_hook(None, default_hooks.fp16_compress_hook)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    pixels, canopy, centres = random_tiles(args.batch, args.bands, args.side, torch.Generator().manual_seed(1 + args.rank))
    means = torch.tensor(BAND_MEANS[:args.bands]).view(1, -1, 1, 1)

    def step(times):
        t0 = time.perf_counter()
        x = pixels.float() * (1 / 255) - means
        loss = canopy_loss(model(x), canopy, centres)
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        value = loss.item()
        t3 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        return value

    for _ in range(args.warmup):
        step([])
    times = []
    dist.barrier()
    wall0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step(times)
    dist.barrier()
    wall = time.perf_counter() - wall0
    if args.rank == 0:
        def median(i):
            return statistics.median(t[i] for t in times)
        print("RESULT " + json.dumps({
            "impl": "pytorch-ddp", "version": torch.__version__, "world": args.world, "batch": args.batch,
            "threads": torch.get_num_threads(), "fp16": args.fp16, "parameters": parameters,
            "warmup": args.warmup, "steps": args.steps, "wall": wall,
            "samples_per_s": args.world * args.batch * args.steps / wall, "step_seconds": wall / args.steps,
            "forward_median": median(0), "backward_median": median(1), "optimizer_median": median(2),
            "step_median": median(3), "loss": loss}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
