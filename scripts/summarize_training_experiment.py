#!/usr/bin/env python3
"""Markdown table of scripts/train_grocery_experiment.sh's results: Medium mAP on grocery and
ukbench1k (mean and standard deviation over seeds) and the best validation mAP of every model.

    summarize_training_experiment.py EXPERIMENT_FOLDER
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


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
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


if __name__ == "__main__":
    main()
