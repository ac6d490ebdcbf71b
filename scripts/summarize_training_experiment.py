#!/usr/bin/env python3
"""Markdown table of scripts/train_grocery_experiment.sh's results: Medium mAP on grocery and
ukbench1k (mean and standard deviation over seeds) and the best validation mAP of every model.

    summarize_training_experiment.py EXPERIMENT_FOLDER
    summarize_training_experiment.py --paired RUN_A RUN_B EXPERIMENT_FOLDER
        (runs RUN_A-s<seed> and RUN_B-s<seed>; adds B - A per seed, and whether the mean
        difference exceeds the seed spread)
"""
import glob
import json
import os
import statistics
import sys

MODELS = [
    ("a_how_untrained", "(a) HOW, no training (l2, N=1, T = PCA-whitening)"),
    ("b_how", "(b) HOW trained (N=1, l2)"),
    ("c_mda_nodiv", "(c) MDA N=8, without diversity (lambda 0)"),
    ("c_mda", "(c) MDA N=8, with diversity (lambda 1)"),
]


def medium_map(path):
    with open(path) as f:
        return 100.0 * json.load(f)["protocols"]["medium"]["map"]


def best_validation(folder):
    with open(os.path.join(folder, "history.json")) as f:
        history = json.load(f)
    entries = history["validation"]
    best = max(entries, key=lambda e: e["medium"])
    return best["medium"], best["epoch"]


def cell(values):
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def run_maps(root, key):
    """{seed: (grocery, ukbench1k)} of the evaluated runs KEY-s<seed>."""
    out = {}
    for run in glob.glob(os.path.join(root, f"{key}-s*")):
        g = os.path.join(run, "eval", "metrics_grocery.json")
        u = os.path.join(run, "eval", "metrics_ukbench1k.json")
        if os.path.isdir(run) and os.path.exists(g) and os.path.exists(u):
            out[int(run.rsplit("-s", 1)[1])] = (medium_map(g), medium_map(u))
    return out


def paired(root, a, b):
    ra, rb = run_maps(root, a), run_maps(root, b)
    seeds = sorted(set(ra) & set(rb))
    print(f"\n| dataset | {b} - {a}, per seed | mean ± std | seed spread of {a} / {b} | larger than the spread? |")
    print("| --- | --- | --- | --- | --- |")
    for i, name in enumerate(["grocery", "ukbench1k"]):
        diffs = [rb[s][i] - ra[s][i] for s in seeds]
        spread_a = statistics.stdev([ra[s][i] for s in seeds]) if len(seeds) > 1 else float("nan")
        spread_b = statistics.stdev([rb[s][i] for s in seeds]) if len(seeds) > 1 else float("nan")
        mean = statistics.mean(diffs) if diffs else float("nan")
        larger = "yes" if diffs and abs(mean) > max(spread_a, spread_b) else "no"
        print(f"| {name} | {', '.join(f'{d:+.2f}' for d in diffs)} | {cell(diffs)} "
              f"| {spread_a:.2f} / {spread_b:.2f} | {larger} |")


def main():
    global MODELS
    args = sys.argv[1:]
    pair = None
    if args[:1] == ["--paired"]:
        pair = args[1:3]
        args = args[3:]
        MODELS = [(pair[0], pair[0]), (pair[1], pair[1])]
    root = args[0] if args else "."
    print("| model | seeds | validation mAP (best epoch) | grocery mAP | ukbench1k mAP |")
    print("| --- | --- | --- | --- | --- |")
    for key, title in MODELS:
        runs = sorted(glob.glob(os.path.join(root, f"{key}-s*")))
        runs = [r for r in runs if os.path.isdir(r)]
        grocery, ukbench, validation, epochs = [], [], [], []
        for run in runs:
            g = os.path.join(run, "eval", "metrics_grocery.json")
            u = os.path.join(run, "eval", "metrics_ukbench1k.json")
            if os.path.exists(g):
                grocery.append(medium_map(g))
            if os.path.exists(u):
                ukbench.append(medium_map(u))
            if os.path.exists(os.path.join(run, "history.json")):
                v, e = best_validation(run)
                validation.append(v)
                epochs.append(str(e))
        print(f"| {title} | {len(runs)} | {cell(validation)} ({', '.join(epochs)}) | "
              f"{cell(grocery)} | {cell(ukbench)} |")
    if pair:
        paired(root, *pair)


if __name__ == "__main__":
    main()
