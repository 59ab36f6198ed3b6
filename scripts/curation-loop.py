#!/usr/bin/env python3
"""The curation loop of docs/model.md ("The curation experiment"): for one policy and seed, round
after round, freeze a sub-epoch of K samples from the catalog, train on it from the previous
round's weights, read the validation off the run's summary, and (hard-example policy) score
candidates of the pool with the new weights so the next freeze can pick the hard ones.

    python3 scripts/curation-loop.py --policy random|hard|stratified --seed S --rounds N \\
        [--catalog data/generated/curation/catalog] [--round-samples 2048] [--batch 16] \\
        [--pool SQL] [--strata SQL] [--score-candidates C] \\
        [--validation NAME,NAME,...] [--out curation.jsonl] [--run-root runs/curation] [--set KEY=VALUE ...]

Everything it needs is in the catalog: the pool is a predicate over `samples`, the validation
manifests are frozen in the same catalog (never selected from: the pool must not hold them, and
`coordinator run` refuses an overlap). Round r of (policy P, seed S) trains in RUN_ROOT/P-sS/round-r
on the manifest `cur-P-sS-rR`, with `training.init_from` the checkpoint of round r-1 (the first
round starts from the seeded initialisation); optimizer moments carry over
(`training.init_optimizer: checkpoint`).

Samples are counted as the design says: committed training samples, plus a third of a sample for
each forward-only sample of a score pass (CanopyNet's forward is 338 of 1007 MFLOP of a training
sample); `samples` is the count at the round's evaluation, so a pass is charged to the round it
selected for. One JSON line per round goes to --out: policy, seed, round, samples, train_samples,
score_samples (every pass so far, the one after this round included), the manifest and its hash,
and per validation manifest its canopy IoU, all-canopy IoU, loss and tree F1.

The loop can be stopped and started again: a round whose run directory holds a complete
summary.json, or whose manifest is already frozen, is reused, not redone.
"""
import argparse
import json
import os
import subprocess
import sys
import time

# The design's pool: the synthetic training split (RGB; the model is built for 3 bands) and the
# real YELL tiles left of the quick start's held-out region and its 128 px margin.
DEFAULT_POOL = ("bands = 3 AND (synthetic = 1 AND split = 'train' "
                "OR source = 'aerial-sample' AND site = 'YELL' AND tile_x + width <= 896 - 128)")
# Strata for the coverage policy: crop, netting, GSD in 5 cm bands, dense or sparse tiles.
DEFAULT_STRATA = "crop, netting, CAST(gsd_m * 20 AS INT), tree_count > 40"
DEFAULT_VALIDATION = "curation-val,same-image-unseen-region,unseen-site"
FORWARD_COST = 1 / 3


def order(seed, offset=0):
    """A seeded pseudo-random order of the samples: a slice of their content hash."""
    return f"substr(content_hash, {1 + (seed + offset) % 48}, 16)"


def freeze_query(policy, seed, round_index, k, pool, strata, score_step):
    if policy == "random":
        # One seeded order of the pool, K at a time: no sample twice until the pool is used up.
        return f"SELECT id FROM samples WHERE {pool} ORDER BY {order(seed)} LIMIT {k} OFFSET {k * round_index}"
    if policy == "stratified":
        # Round-robin over the strata in a seeded order: every stratum's first sample, then every
        # stratum's second, ...; K at a time.
        return (f"WITH ranked AS (SELECT id, ROW_NUMBER() OVER (PARTITION BY {strata} ORDER BY {order(seed)}) AS turn, "
                f"{order(seed)} AS tie FROM samples WHERE {pool}) "
                f"SELECT id FROM ranked ORDER BY turn, tie LIMIT {k} OFFSET {k * round_index}")
    if policy == "hard":
        if score_step is None:
            return freeze_query("random", seed, 0, k, pool, strata, None)
        # Half the highest losses of the last score pass (the candidates this loop just scored),
        # half the next unvisited slice of the random policy's seeded order, so that new parts
        # of the pool keep being looked at. The slices follow round 0's K samples; which samples
        # other loops on the same catalog trained on does not matter.
        half = k // 2
        return (f"WITH hard AS (SELECT id FROM samples WHERE {pool} AND last_seen_step = {score_step} "
                f"ORDER BY last_loss DESC, id LIMIT {half}), "
                f"fresh AS (SELECT id FROM samples WHERE {pool} ORDER BY {order(seed)} "
                f"LIMIT {k - half} OFFSET {k + (k - half) * (round_index - 1)}) "
                f"SELECT id FROM hard UNION ALL SELECT id FROM fresh WHERE id NOT IN (SELECT id FROM hard)")
    raise SystemExit(f"unknown policy {policy}")


def candidates_query(seed, round_index, count, pool):
    """The pool samples scored after round `round_index`: another seeded order each round."""
    return f"SELECT id FROM samples WHERE {pool} ORDER BY {order(seed, 17 + round_index)}, id LIMIT {count}"


class Loop:
    def __init__(self, args):
        self.args = args
        self.coordinator = args.coordinator
        self.catalog = args.catalog
        self.manifests = os.path.join(args.catalog, "manifests")

    def command(self, arguments, capture=True):
        result = subprocess.run([self.coordinator] + arguments, capture_output=capture, text=True)
        if result.returncode != 0:
            sys.stderr.write((result.stdout or "") + (result.stderr or ""))
            raise SystemExit(f"{self.coordinator} {arguments[0]} {arguments[1] if len(arguments) > 1 else ''} exited {result.returncode}")
        return result.stdout

    def freeze(self, name, query):
        """Freezes `name` unless it exists (manifests are immutable): a restarted loop reuses it."""
        path = os.path.join(self.manifests, f"{name}.json")
        if not os.path.exists(path):
            self.command(["dataset", "freeze", "--catalog", self.catalog, "--name", name, "--query", query])
        with open(path) as f:
            manifest = json.load(f)
        return path, manifest

    def train(self, run_dir, manifest_path, init_from):
        a = self.args
        summary_path = os.path.join(run_dir, "summary.json")
        steps = a.round_samples // a.batch
        validation = ",".join(os.path.join(self.manifests, f"{n}.json") for n in a.validation.split(","))
        command = ["run", "--config", a.config, "--run-dir", run_dir,
                   "--set", f"run.name={os.path.basename(os.path.dirname(run_dir))}-{os.path.basename(run_dir)}",
                   "--set", f"dataset.manifest={manifest_path}", "--set", f"dataset.validation_manifests={validation}",
                   "--set", f"training.seed={a.seed}", "--set", f"training.steps={steps}",
                   "--set", f"training.global_batch={a.batch}", "--set", "training.eval_every=0",
                   "--set", "checkpoint.interval=0", "--set", "checkpoint.keep=1",
                   "--set", "coordinator.port=0", "--set", "logging.level=warning", "--set", "logging.tensorboard=false", "--set", "logging.status_port=-1"]
        if init_from:
            command += ["--set", f"training.init_from={init_from}", "--set", "training.init_optimizer=checkpoint"]
        for setting in a.set:
            command += ["--set", setting]
        if os.path.exists(summary_path):
            with open(summary_path) as f:
                summary = json.load(f)
            if summary.get("steps") == steps and not summary.get("stopped"):
                return summary, 0.0
        start = time.monotonic()
        self.command(command + ["--from-scratch"])
        wall = time.monotonic() - start
        with open(summary_path) as f:
            return json.load(f), wall

    def score(self, checkpoint, manifest_path):
        out = self.command(["dataset", "score", "--checkpoint", checkpoint, "--manifest", manifest_path,
                            "--threads", str(self.args.score_threads)])
        # "... recorded at step N"
        return int(out.strip().rsplit(" ", 1)[-1])

    def run(self):
        a = self.args
        name = f"{a.policy}-s{a.seed}"
        init_from = None
        score_step = None
        train_samples = score_samples = 0
        for r in range(a.rounds):
            manifest_path, manifest = self.freeze(f"cur-{name}-r{r}",
                                                  freeze_query(a.policy, a.seed, r, a.round_samples, a.pool, a.strata, score_step))
            run_dir = os.path.join(a.run_root, name, f"round-{r}")
            summary, wall = self.train(run_dir, manifest_path, init_from)
            train_samples += summary["samples"]
            init_from = summary["checkpoint"]
            scored = 0
            score_wall = 0.0
            if a.policy == "hard" and r + 1 < a.rounds:
                candidates, _ = self.freeze(f"cur-{name}-r{r}-candidates",
                                            candidates_query(a.seed, r, a.score_candidates, a.pool))
                # A restarted loop whose next round is frozen already needs no new scores (it
                # is charged for the pass all the same: the pass made that manifest).
                if not os.path.exists(os.path.join(self.manifests, f"cur-{name}-r{r + 1}.json")):
                    began = time.monotonic()
                    score_step = self.score(init_from, candidates)
                    score_wall = time.monotonic() - began
                with open(candidates) as f:
                    scored = json.load(f)["count"]
                score_samples += scored
            row = {
                "policy": a.policy, "seed": a.seed, "round": r,
                # At this round's evaluation: the pass just run picks the next round's samples.
                "samples": train_samples + (score_samples - scored) * FORWARD_COST,
                "train_samples": train_samples, "score_samples": score_samples,
                "manifest": manifest["name"], "manifest_sha256": manifest["sha256"], "manifest_count": manifest["count"],
                "distinct_in_manifest": len({e["id"] for e in manifest["entries"]}),
                "validation": {s["name"]: {"canopy_iou": s.get("canopy_iou"), "all_canopy_iou": s.get("all_canopy_iou"),
                                           "loss": s.get("loss"), "tree_f1": (s.get("trees") or {}).get("f1")}
                               for s in summary["validation"]["splits"]},
                "train_wall_seconds": round(wall, 1), "score_wall_seconds": round(score_wall, 1),
                "weights_sha256": summary["weights_sha256"],
            }
            with open(a.out, "a") as f:
                f.write(json.dumps(row, sort_keys=True) + "\n")
            ious = ", ".join(f"{k} {v['canopy_iou']:.3f}" for k, v in row["validation"].items() if v["canopy_iou"] is not None)
            print(f"{name} round {r}: {row['samples']:.0f} samples ({train_samples} trained, {score_samples} scored); {ious}; "
                  f"train {wall:.0f} s, score {score_wall:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", required=True, choices=["random", "hard", "stratified"])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--catalog", default="data/generated/curation/catalog")
    parser.add_argument("--round-samples", type=int, default=2048, help="K: samples frozen and trained per round")
    parser.add_argument("--batch", type=int, default=16, help="global batch; a round is K / batch steps")
    parser.add_argument("--pool", default=DEFAULT_POOL, help="SQL predicate over samples: what may be selected")
    parser.add_argument("--strata", default=DEFAULT_STRATA, help="SQL expressions the stratified policy partitions by")
    parser.add_argument("--score-candidates", type=int, default=0,
                        help="pool samples scored after each round (hard policy); 0 = the whole pool")
    parser.add_argument("--score-threads", type=int, default=2)
    parser.add_argument("--validation", default=DEFAULT_VALIDATION, help="manifests of the catalog reported apart, never selected from")
    parser.add_argument("--out", default="curation.jsonl")
    parser.add_argument("--run-root", default="runs/curation")
    parser.add_argument("--config", default="cluster.yaml")
    parser.add_argument("--coordinator", default=".build/release/coordinator")
    parser.add_argument("--set", action="append", default=[], help="passed to every `coordinator run`")
    args = parser.parse_args()
    if args.round_samples % args.batch != 0:
        raise SystemExit(f"--round-samples {args.round_samples} is not a multiple of --batch {args.batch}")
    if args.score_candidates == 0:
        args.score_candidates = 1 << 40
    Loop(args).run()


if __name__ == "__main__":
    main()
