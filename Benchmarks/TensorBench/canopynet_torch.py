#!/usr/bin/env python3
"""CanopyNet's PyTorch twin: the reference for Grove's CanopyNet training throughput.

The network, losses and optimizer mirror Grove's `CanopyNet` (docs/model.md) with its default
settings, so the two do the same arithmetic per training sample:

- U-Net of width w (8) and depth D (3), level l with w * 2^l channels; every block is a 3x3
  convolution without bias, GroupNorm (4 groups, reduced to a divisor of the channels, eps 1e-5)
  and ReLU; 2x2 max-pool down, x2 nearest upsampling and concatenation [upsampled, skip] up; a
  1x1 head with bias to 2 channels (canopy logit, tree-centre logit);
- loss per sample: BCE-with-logits(canopy) + soft Dice(canopy, smoothing 1) + BCE-with-logits
  (centre heatmap, positive weight 20); the step minimises the batch mean;
- Adam (lr 3e-3, betas 0.9/0.999, eps 1e-8) on the mean gradient of each micro-batch.

One timed step is what `tensor-bench train` times: turn the batch's uint8 pixels into
`pixel / 255 - band mean`, forward, losses, backward, Adam. The inputs are random tiles with
random canopy masks and Gaussian centre peaks (speed does not depend on the values); the centre
heatmaps are built once, outside the timed loop, whereas Grove rebuilds them every step (a few
thousand exp() per tile, well under 1 % of a step).

Prints a human summary and one `RESULT {json}` line for scripts/bench-canopynet-vs-torch.sh.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BAND_MEANS = (0.530, 0.583, 0.544, 0.5)
CANOPY_PRIOR_LOGIT = -0.85
CENTRE_PRIOR_LOGIT = -4.6


def group_count(channels, requested):
    """The largest group count not above `requested` that divides `channels` (as Grove does)."""
    groups = max(1, min(requested, channels))
    while channels % groups:
        groups -= 1
    return groups


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin, cout, groups):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.GroupNorm(group_count(cout, groups), cout, eps=1e-5),
            nn.ReLU(),
        )


class CanopyNet(nn.Module):
    def __init__(self, bands=3, width=8, depth=3, groups=4):
        super().__init__()
        widths = [width << level for level in range(depth + 1)]
        self.encoder = nn.ModuleList()
        for level in range(depth + 1):
            cin = bands if level == 0 else widths[level - 1]
            self.encoder.append(nn.Sequential(
                ConvNormReLU(cin, widths[level], groups), ConvNormReLU(widths[level], widths[level], groups)))
        # decoder[l] runs at level l; it is applied from l = depth - 1 down to 0.
        self.decoder = nn.ModuleList(
            nn.Sequential(ConvNormReLU(widths[level + 1] + widths[level], widths[level], groups),
                          ConvNormReLU(widths[level], widths[level], groups))
            for level in range(depth))
        self.head = nn.Conv2d(widths[0], 2, 1, bias=True)
        self.reset_parameters()

    def reset_parameters(self):
        """He-normal convolutions, unit scales, zero shifts, head at the prior log-odds (as Grove)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module is not self.head:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.GroupNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.head.weight, std=(1.0 / self.head.in_channels) ** 0.5)
        with torch.no_grad():
            self.head.bias.copy_(torch.tensor([CANOPY_PRIOR_LOGIT, CENTRE_PRIOR_LOGIT]))

    def forward(self, x):
        skips = []
        for level, blocks in enumerate(self.encoder):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = blocks(x)
            skips.append(x)
        for level in reversed(range(len(self.decoder))):
            x = torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skips[level]], dim=1)
            x = self.decoder[level](x)
        return self.head(x)


def canopy_loss(logits, canopy, centres, dice_weight=1.0, centre_weight=1.0, centre_positive_weight=20.0):
    """Mean over the batch of each sample's BCE + Dice + weighted centre BCE (Grove's loss)."""
    canopy_logits, centre_logits = logits[:, 0], logits[:, 1]
    # Equal-sized samples: the mean over all pixels is the mean of the per-sample means.
    bce = F.binary_cross_entropy_with_logits(canopy_logits, canopy)
    p = torch.sigmoid(canopy_logits).flatten(1)
    t = canopy.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    centre = F.binary_cross_entropy_with_logits(
        centre_logits, centres, pos_weight=torch.tensor(centre_positive_weight))
    return bce + dice_weight * dice.mean() + centre_weight * centre


def random_tiles(count, bands, side, generator):
    """uint8 pixels, binary canopy masks (about a third canopy) and Gaussian centre heatmaps."""
    pixels = torch.randint(0, 256, (count, bands, side, side), dtype=torch.uint8, generator=generator)
    canopy = (torch.rand(count, side, side, generator=generator) < 0.3).float()
    ys, xs = torch.meshgrid(torch.arange(side) + 0.5, torch.arange(side) + 0.5, indexing="ij")
    centres = torch.zeros(count, side, side)
    for n in range(count):
        for _ in range(12):
            cy, cx = (torch.rand(2, generator=generator) * side).tolist()
            sigma = max(2.0, 0.25 * float(4 + 12 * torch.rand(1, generator=generator)))
            peak = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma * sigma))
            centres[n] = torch.maximum(centres[n], peak)
    return pixels, canopy, centres


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--batch", type=int, default=4, help="samples per step (default 4, as tensor-bench)")
    parser.add_argument("--side", type=int, default=128, help="tile side in pixels (default 128)")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--bands", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="time the steps for at least this long")
    parser.add_argument("--min-steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (allocator, oneDNN primitives)")
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    model = CanopyNet(args.bands, args.width, args.depth, args.groups)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    pixels, canopy, centres = random_tiles(args.batch, args.bands, args.side, generator)
    means = torch.tensor(BAND_MEANS[:args.bands]).view(1, -1, 1, 1)

    def step():
        x = pixels.float() * (1 / 255) - means
        loss = canopy_loss(model(x), canopy, centres)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    steps = 0
    wall0, thread0, process0 = time.perf_counter(), time.thread_time(), time.process_time()
    while True:
        loss = step()
        steps += 1
        wall = time.perf_counter() - wall0
        if steps >= args.min_steps and wall >= args.seconds:
            break
    thread_cpu, process_cpu = time.thread_time() - thread0, time.process_time() - process0
    samples = steps * args.batch
    if not math.isfinite(loss):
        sys.exit(f"loss became {loss} after {steps} steps: the twin is broken")

    print(f"torch {torch.__version__}: threads {torch.get_num_threads()}, interop {torch.get_num_interop_threads()}, "
          f"MKL-DNN {torch.backends.mkldnn.is_available()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"canopy-net(bands: {args.bands}, width: {args.width}, depth: {args.depth}, groups: {args.groups}): "
          f"{parameters} parameters")
    print(f"train threads={args.threads}: {samples / wall:.2f} samples/s wall, "
          f"{samples / process_cpu:.2f} samples per process CPU-second, {steps} steps x {args.batch}, loss {loss:.4f}")
    print("RESULT " + json.dumps({
        "impl": "pytorch", "version": torch.__version__, "threads": args.threads,
        "torch_threads": torch.get_num_threads(), "batch": args.batch, "steps": steps,
        "parameters": parameters, "wall": wall, "thread_cpu": thread_cpu, "process_cpu": process_cpu,
        "samples_per_s": samples / wall}))


if __name__ == "__main__":
    main()
