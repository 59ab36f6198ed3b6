#!/usr/bin/env python3
"""The curation experiment of docs/model.md end to end: builds its catalog, runs
scripts/curation-loop.py for every policy and seed, and reports samples-to-target with a plot.

    python3 scripts/curation-experiment.py setup  [--pool-count 20000] [--negatives 2048] [--val 500]
    python3 scripts/curation-experiment.py run    [--policies random,hard,stratified] [--seeds 1,2,3] [--rounds 10] \\
                                                  [--round-samples 2048] [--score-candidates 0] [--set KEY=VALUE ...]
    python3 scripts/curation-experiment.py report [--target-fraction 0.9] [--svg docs/curation.svg]

`setup` makes a catalog of its own (default data/generated/curation/catalog, so the quick start's
catalog and manifests are untouched): the vendored tiles, `synth --count POOL --seed 7`, the
negative sites `synth --negatives --count NEG --seed 7`, and the fixed validation, frozen once:
`curation-val` (VAL RGB tiles of the synthetic `split = 'val'` sites, in a seeded order) and the
quick start's two real held-out manifests. `run` appends to the JSONL (default
runs/curation/curation.jsonl), seed after seed, every policy for each; a stopped run continues where
it stopped. `report` takes the target from the random policy (the pilot of the design):
TARGET_FRACTION of its plateau, the mean over seeds of its last two rounds' `curation-val` IoU;
then, per policy, the counted samples at the first round at or above the target, per seed, and
writes the figure.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from collections import defaultdict

C = ".build/release/coordinator"
PALETTE = {"random": "#1f77b4", "hard": "#d62728", "stratified": "#2ca02c"}
DASHES = ["", "6,3", "2,2", "8,2,2,2"]


def coordinator(catalog, *arguments):
    subprocess.run([C, *arguments, "--catalog", catalog], check=True)


def freeze(catalog, name, query):
    if os.path.exists(os.path.join(catalog, "manifests", f"{name}.json")):
        print(f"manifest {name} exists")
        return
    coordinator(catalog, "dataset", "freeze", "--name", name, "--query", query)


def setup(args):
    coordinator(args.catalog, "dataset", "import", "data/aerial-sample")
    coordinator(args.catalog, "dataset", "synth", "--count", str(args.pool_count), "--seed", "7")
    if args.negatives > 0:
        coordinator(args.catalog, "dataset", "synth", "--negatives", "--count", str(args.negatives), "--seed", "7")
    freeze(args.catalog, "curation-val",
           f"SELECT id FROM samples WHERE bands = 3 AND synthetic = 1 AND split = 'val' "
           f"ORDER BY substr(content_hash, 33, 16) LIMIT {args.val}")
    freeze(args.catalog, "same-image-unseen-region", "source = 'aerial-sample' AND site = 'YELL' AND tile_x >= 896")
    freeze(args.catalog, "unseen-site", "source = 'aerial-sample' AND site = 'SJER'")


def run(args):
    # Seeds outer: a stopped experiment has every policy at the same number of seeds.
    for seed in args.seeds.split(","):
        for policy in args.policies.split(","):
            command = [sys.executable, "scripts/curation-loop.py", "--policy", policy, "--seed", seed,
                       "--rounds", str(args.rounds), "--catalog", args.catalog, "--round-samples", str(args.round_samples),
                       "--score-candidates", str(args.score_candidates), "--out", args.out, "--run-root", args.run_root]
            for setting in args.set:
                command += ["--set", setting]
            subprocess.run(command, check=True)


def load(path, rounds=None):
    rows = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if rounds is not None and row["round"] >= rounds:
                continue
            rows[(row["policy"], row["seed"], row["round"])] = row  # a rerun's line replaces the first
    curves = defaultdict(list)
    for (policy, seed, _), row in sorted(rows.items()):
        curves[(policy, seed)].append(row)
    # The samples a round's evaluation cost: its own and earlier training, and the score passes
    # before it (the pass after round r picks round r + 1's samples: it is charged there).
    for curve in curves.values():
        scored_before = 0
        for row in curve:
            row["samples"] = row["train_samples"] + scored_before / 3
            scored_before = row["score_samples"]
    return curves


def iou(row, split):
    value = row["validation"].get(split, {}).get("canopy_iou")
    return float("nan") if value is None else value


def mean_sd(values):
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def samples_to_target(curve, target, split):
    for row in curve:
        if iou(row, split) >= target:
            return row["samples"]
    return None


def nice_step(raw):
    """1, 2 or 5 times a power of ten, at least `raw`."""
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def svg(curves, target, split, others, title, note):
    """Two panels: `split` IoU per policy and seed with the target; each of `others` per policy (mean over seeds)."""
    width, height = 980, 420
    panels = [(20, 480, [split]), (500, 960, others)]
    xs = [r["samples"] for c in curves.values() for r in c]
    x1 = max(xs) * 1.05 if xs else 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    for left, right, splits in panels:
        left += 50
        top, bottom = 40, height - 40
        values = [iou(r, s) for c in curves.values() for r in c for s in splits] + ([target] if splits == [split] else [])
        baselines = {}
        if splits != [split]:
            # Predicting canopy everywhere: what a model must beat to have learnt these tiles.
            first = next(iter(curves.values()))[0]["validation"]
            baselines = {s: first[s]["all_canopy_iou"] for s in splits if first.get(s, {}).get("all_canopy_iou") is not None}
            values += list(baselines.values())
        values = [v for v in values if not math.isnan(v)]
        y0, y1 = (math.floor(min(values) * 20 - 1) / 20, math.ceil(max(values) * 20 + 0.5) / 20) if values else (0, 1)
        y0 = max(y0, 0.0)
        px = lambda x: left + x / x1 * (right - left)
        py = lambda y: bottom - (y - y0) / (y1 - y0) * (bottom - top)
        out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>')
        out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="black"/>')
        step = nice_step(x1 / 5)
        for i in range(int(x1 / step) + 1):
            xv = step * i
            out.append(f'<text x="{px(xv):.1f}" y="{bottom + 15}" text-anchor="middle">{xv:.0f}</text>')
        for i in range(6):
            yv = y0 + (y1 - y0) * i / 5
            out.append(f'<text x="{left - 5}" y="{py(yv) + 4:.1f}" text-anchor="end">{yv:.2f}</text>')
            out.append(f'<line x1="{left}" y1="{py(yv):.1f}" x2="{right}" y2="{py(yv):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{(left + right) / 2}" y="{bottom + 32}" text-anchor="middle">samples (trained + scored / 3)</text>')
        label = f"canopy IoU on {split}, per seed" if splits == [split] else "canopy IoU on the real held-out tiles, mean over seeds"
        out.append(f'<text x="{left}" y="{top - 6}">{label}</text>')
        if splits == [split]:
            out.append(f'<line x1="{left}" y1="{py(target):.1f}" x2="{right}" y2="{py(target):.1f}" stroke="black" stroke-dasharray="4,4"/>')
            out.append(f'<text x="{right}" y="{py(target) - 4:.1f}" text-anchor="end">target {target:.3f}</text>')
            for (policy, seed), curve in sorted(curves.items()):
                points = " ".join(f"{px(r['samples']):.1f},{py(iou(r, split)):.1f}" for r in curve if not math.isnan(iou(r, split)))
                dash = DASHES[(seed - 1) % len(DASHES)]
                out.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE.get(policy, "gray")}" stroke-width="1.5"'
                           + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        else:
            for s_index, s in enumerate(splits):
                for policy in sorted({p for p, _ in curves}):
                    seeds = [c for (p, _), c in curves.items() if p == policy]
                    rounds = min(len(c) for c in seeds)
                    points = []
                    for r in range(rounds):
                        ys = [iou(c[r], s) for c in seeds if not math.isnan(iou(c[r], s))]
                        if ys:
                            points.append(f"{px(statistics.mean(c[r]['samples'] for c in seeds)):.1f},{py(statistics.mean(ys)):.1f}")
                    dash = DASHES[s_index % len(DASHES)]
                    out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE.get(policy, "gray")}" stroke-width="1.5"'
                               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            for s_index, s in enumerate(splits):
                out.append(f'<text x="{left + 10}" y="{top + 14 + 14 * s_index}">{"solid" if s_index == 0 else "dashed"}: {s}</text>')
                if s in baselines:
                    dash = DASHES[s_index % len(DASHES)]
                    out.append(f'<line x1="{left}" y1="{py(baselines[s]):.1f}" x2="{right}" y2="{py(baselines[s]):.1f}" stroke="gray"'
                               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
                    out.append(f'<text x="{right}" y="{py(baselines[s]) - 4:.1f}" text-anchor="end" fill="gray">all canopy, {s} {baselines[s]:.3f}</text>')
    for i, policy in enumerate(sorted({p for p, _ in curves})):
        out.append(f'<line x1="{80 + 130 * i}" y1="{height + 5}" x2="{105 + 130 * i}" y2="{height + 5}" stroke="{PALETTE.get(policy, "gray")}" stroke-width="2"/>')
        out.append(f'<text x="{110 + 130 * i}" y="{height + 9}">{policy}</text>')
    out.append(f'<text x="80" y="{height + 28}">left: one line per seed (solid 1, dashed 2, dotted 3)</text>')
    out.append(f'<text x="80" y="{height + 46}" font-size="10">{note}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(args):
    curves = load(args.out, args.report_rounds)
    split = "curation-val"
    lengths = {len(c) for c in curves.values()}
    if len(lengths) > 1:
        print(f"note: the curves have {sorted(lengths)} rounds; --report-rounds N cuts them to the same length")
    pilot = [c for (p, _), c in curves.items() if p == "random"]
    if not pilot:
        raise SystemExit("no random-policy rounds: the target comes from them")
    plateau = statistics.mean(statistics.mean(iou(r, split) for r in c[-2:]) for c in pilot)
    final = statistics.mean(iou(c[-1], split) for c in pilot)
    print(f"random: plateau (mean over {len(pilot)} seeds of the last two rounds' {split} IoU) {plateau:.4f}, "
          f"last round {final:.4f}, at {statistics.mean(c[-1]['samples'] for c in pilot):.0f} samples")
    if args.target is not None:
        target = args.target
        title = f"target {target:.3f}"
    elif args.target_fraction > 0:
        target = args.target_fraction * plateau
        title = f"target = {args.target_fraction:g} x random's plateau"
    else:
        # Random's own last round: what the others must match, and with how many samples.
        target = final
        title = "target = random's IoU at its last round"
    print(f"target {target:.4f}\n")
    print("| policy | seeds | samples to target, per seed | mean | vs random | final curation-val IoU | "
          "final unseen region IoU | final unseen site IoU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    means = {}
    for policy in [p for p in ["random", "hard", "stratified"] if any(q == p for q, _ in curves)]:
        seeds = sorted(s for p, s in curves if p == policy)
        reached = [samples_to_target(curves[(policy, s)], target, split) for s in seeds]
        numbers = [r for r in reached if r is not None]
        means[policy] = statistics.mean(numbers) if len(numbers) == len(reached) else None
        finals = {name: mean_sd([iou(curves[(policy, s)][-1], name) for s in seeds])
                  for name in [split, "same-image-unseen-region", "unseen-site"]}
        per_seed = ", ".join("not reached" if r is None else f"{r:.0f}" for r in reached)
        ratio = (f"{means[policy] / means['random']:.2f}x" if means.get(policy) and means.get("random") else "–")
        mean = f"{means[policy]:.0f}" if means[policy] is not None else f"not reached by {len(reached) - len(numbers)} seed(s)"
        print(f"| {policy} | {','.join(map(str, seeds))} | {per_seed} | {mean} | {ratio} | "
              + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in finals.values()) + " |")
    rounds = min(len(c) for c in curves.values())
    print(f"\n{split} canopy IoU per round, mean ± sd over seeds (samples at the evaluation):\n")
    print("| policy | " + " | ".join(f"round {r}" for r in range(rounds)) + " |")
    print("| --- |" + " --- |" * rounds)
    for policy in [p for p in ["random", "hard", "stratified"] if any(q == p for q, _ in curves)]:
        cells = []
        for r in range(rounds):
            seeds = [c[r] for (p, _), c in sorted(curves.items()) if p == policy]
            m, sd = mean_sd([iou(row, split) for row in seeds])
            cells.append(f"{m:.3f} ± {sd:.3f} ({statistics.mean(row['samples'] for row in seeds):.0f})")
        print(f"| {policy} | " + " | ".join(cells) + " |")
    if args.svg:
        note = args.note or "machine, load and commands: docs/model.md"
        with open(args.svg, "w") as f:
            f.write(svg(curves, target, split, ["same-image-unseen-region", "unseen-site"],
                        f"Curation: canopy IoU against samples ({title})", note))
        print(f"\nwrote {args.svg}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["setup", "run", "report"])
    parser.add_argument("--catalog", default="data/generated/curation/catalog")
    parser.add_argument("--pool-count", type=int, default=20000)
    parser.add_argument("--negatives", type=int, default=2048)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--policies", default="random,hard,stratified")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--round-samples", type=int, default=2048)
    parser.add_argument("--score-candidates", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--run-root", default="runs/curation")
    parser.add_argument("--out", default="runs/curation/curation.jsonl")
    parser.add_argument("--target-fraction", type=float, default=0.9,
                        help="target = this times random's plateau; 0 = random's mean IoU at its last round")
    parser.add_argument("--target", type=float, default=None, help="a fixed curation-val IoU target instead")
    parser.add_argument("--svg", default="")
    parser.add_argument("--report-rounds", type=int, default=None, help="report only the first N rounds of every curve")
    parser.add_argument("--note", default="", help="a line under the figure: machine, load, command")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    {"setup": setup, "run": run, "report": report}[args.step](args)


if __name__ == "__main__":
    main()
