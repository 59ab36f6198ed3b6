#!/usr/bin/env python3
"""Trains the quick start's run once per (recipe, seed), one run at a time, and prints a markdown
table of the generalisation validation (docs/model.md, "Training recipe"): canopy IoU and tree F1
on each held-out manifest, mean and spread over the seeds, next to the all-canopy IoU.

Run scripts/quickstart.sh first (it builds the catalog and freezes the manifests).

    python3 scripts/measure-recipe.py [--seeds 1,2,3] [--recipes baseline,flip-rot90,...] [--steps 150]
                                      [--train data/catalog/manifests/OTHER.json]

Each run is `coordinator run` with the quick start's manifests and the recipe's `--set` flags, in
runs/recipe/RECIPE-MANIFEST-STEPS-sSEED (started from scratch). Results are bitwise reproducible (reduce.mode
exact), so only the wall times depend on the machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CATALOG = "data/catalog/manifests"
VALIDATION = f"{CATALOG}/same-image-unseen-region.json,{CATALOG}/unseen-site.json"
TRAIN = f"{CATALOG}/quickstart-blocked-train-m128.json"

GEOMETRIC = ["training.augment_flip=true", "training.augment_rotate90=true"]
PHOTOMETRIC = ["training.augment_brightness=0.1", "training.augment_contrast=0.2", "training.augment_band_gain=0.1"]
COSINE = ["training.schedule=cosine", "training.min_learning_rate=0.0005"]
RECIPES = {
    "baseline": [],
    "flip-rot90": GEOMETRIC,
    "photometric": PHOTOMETRIC,
    "flip-rot90-photometric": GEOMETRIC + PHOTOMETRIC,
    "cosine": COSINE,
    "flip-rot90-photometric-cosine": GEOMETRIC + PHOTOMETRIC + COSINE,
}


def run(recipe, seed, steps, train):
    run_dir = f"runs/recipe/{recipe}-{os.path.basename(train)[:-5]}-{steps}-s{seed}"
    command = [".build/release/coordinator", "run", "--config", "cluster.yaml", "--run-dir", run_dir, "--from-scratch",
               "--set", f"dataset.manifest={train}", "--set", f"dataset.validation_manifests={VALIDATION}",
               "--set", f"training.seed={seed}", "--set", f"training.steps={steps}", "--set", "logging.level=warning"]
    for setting in RECIPES[recipe]:
        command += ["--set", setting]
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    with open(f"{run_dir}/summary.json") as f:
        summary = json.load(f)
    splits = {s["name"]: s for s in summary["validation"]["splits"]}
    return wall, splits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--train", default=TRAIN, help="the training manifest (default: the quick start's)")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    seeds = [int(s) for s in args.seeds.split(",")]
    recipes = args.recipes.split(",")
    for recipe in recipes:
        if recipe not in RECIPES:
            sys.exit(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    rows = []
    for recipe in recipes:
        results = []
        for seed in seeds:
            wall, splits = run(recipe, seed, args.steps, args.train)
            results.append((wall, splits))
            line = "  ".join(f"{name} IoU {s['canopy_iou']:.3f} F1 {s['trees']['f1']:.2f}" for name, s in splits.items())
            print(f"{recipe} seed {seed}: {line}  ({wall:.1f} s)", file=sys.stderr, flush=True)
        rows.append((recipe, results))

    def cell(values, digits):
        if len(values) == 1:
            return f"{values[0]:.{digits}f}"
        return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

    names = list(rows[0][1][0][1])
    header = ["recipe"] + [f"{n} {m}" for n in names for m in ("IoU", "F1")] + ["wall s"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    baseline = rows[0][1][0][1]
    print("| all-canopy prediction | " + " | ".join(f"{baseline[n]['all_canopy_iou']:.3f} | –" for n in names) + " | – |")
    for recipe, results in rows:
        cells = [recipe]
        for n in names:
            cells.append(cell([r[1][n]["canopy_iou"] for r in results], 3))
            cells.append(cell([r[1][n]["trees"]["f1"] for r in results], 2))
        cells.append(cell([r[0] for r in results], 1))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
