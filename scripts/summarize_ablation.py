#!/usr/bin/env python3
"""Markdown tables of scripts/ablation_synthetic.sh's results: test Medium mAP (mean ± std over
seeds) per variant, number of heads N and diversity weight lambda; what the heads do (share of the
kept features of the most used head, overlap of the heads' maps, spread of their peak attention);
each selection mode, and the mode that validation alone would choose; paired differences per seed.

    summarize_ablation.py ABLATION_FOLDER
"""
import glob
import json
import os
import re
import statistics
import sys

import numpy as np

from summarize_training_experiment import cell as mean_std

MODES = ["joint", "head_max", "quota"]


def medium(path):
    with open(path) as f:
        return 100.0 * json.load(f)["protocols"]["medium"]["map"]


def load(root):
    runs = {}
    for folder in sorted(glob.glob(os.path.join(root, "runs", "*-n*-l*-s*"))):
        m = re.match(r"(\w+)-n(\d+)-l([\d.]+)-s(\d+)$", os.path.basename(folder))
        if not m or not os.path.isfile(os.path.join(folder, "history.json")):
            continue
        variant, heads, lam, seed = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        with open(os.path.join(folder, "history.json")) as f:
            last = json.load(f)["validation"][-1]
        run = {"heads_stats": last.get("heads", {}), "modes": {}}
        for mode in MODES:
            d = os.path.join(folder, f"eval_{mode}")
            if not os.path.isfile(os.path.join(d, "metrics_test.json")):
                continue
            counts = np.bincount(np.load(os.path.join(d, "test_db", "heads.npy")).ravel(),
                                 minlength=heads)
            run["modes"][mode] = {
                "val": medium(os.path.join(d, "metrics_val.json")),
                "test": medium(os.path.join(d, "metrics_test.json")),
                "largest_share": 100.0 * counts.max() / max(counts.sum(), 1),
            }
        runs.setdefault((variant, heads, lam), {})[seed] = run
    return runs


def main(root):
    runs = load(root)
    print("## Heads, diversity and what the heads do (joint selection)\n")
    print("| data | N | lambda | seeds | test Medium mAP | largest head's share of kept features "
          "| overlap of the heads' maps | peak attention, largest / smallest head |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (variant, heads, lam), seeds in sorted(runs.items()):
        joint = [r["modes"]["joint"] for r in seeds.values() if "joint" in r["modes"]]
        overlaps = [r["heads_stats"].get("overlap", 1.0) for r in seeds.values()]
        spread = []
        for r in seeds.values():
            peaks = r["heads_stats"].get("mean_peak_attention", [])
            if peaks and min(peaks) > 0:
                spread.append(max(peaks) / min(peaks))
        print(f"| {variant} | {heads} | {lam} | {len(joint)} | {mean_std([j['test'] for j in joint])} "
              f"| {mean_std([j['largest_share'] for j in joint])}% "
              f"| {mean_std(overlaps) if heads > 1 else '-'} "
              f"| {mean_std(spread) if heads > 1 else '-'} |")

    print("\n## Selection modes (test Medium mAP; the chosen mode has the best mean validation mAP)\n")
    print("| data | N | lambda | joint | head_max | quota | chosen on validation | its test mAP "
          "| largest share: joint / head_max / quota |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (variant, heads, lam), seeds in sorted(runs.items()):
        if heads == 1:
            continue
        cells, shares, val_means = [], [], {}
        for mode in MODES:
            rs = [r["modes"][mode] for r in seeds.values() if mode in r["modes"]]
            cells.append(mean_std([r["test"] for r in rs]))
            shares.append(f"{statistics.mean([r['largest_share'] for r in rs]):.0f}%" if rs else "-")
            if rs:
                val_means[mode] = statistics.mean([r["val"] for r in rs])
        chosen = max(val_means, key=val_means.get) if val_means else "-"
        chosen_test = cells[MODES.index(chosen)] if chosen != "-" else "-"
        print(f"| {variant} | {heads} | {lam} | {' | '.join(cells)} | {chosen} | {chosen_test} "
              f"| {' / '.join(shares)} |")

    print("\n## Paired differences per seed (test Medium mAP, joint selection)\n")
    print("| data | comparison | seeds | mean difference ± std | per seed |")
    print("| --- | --- | --- | --- | --- |")
    variants = sorted({k[0] for k in runs})
    for variant in variants:
        pairs = []
        for heads in (2, 4, 8):
            pairs.append((f"N={heads}: lambda 1 - lambda 0", (variant, heads, "1"), (variant, heads, "0")))
        for heads in (2, 4, 8):
            pairs.append((f"N={heads} - N=1 (lambda 1 vs 0)", (variant, heads, "1"), (variant, 1, "0")))
        for name, a, b in pairs:
            if a not in runs or b not in runs:
                continue
            common = sorted(set(runs[a]) & set(runs[b]))
            diffs = [runs[a][s]["modes"]["joint"]["test"] - runs[b][s]["modes"]["joint"]["test"]
                     for s in common
                     if "joint" in runs[a][s]["modes"] and "joint" in runs[b][s]["modes"]]
            if diffs:
                print(f"| {variant} | {name} | {len(diffs)} | {mean_std(diffs)} "
                      f"| {', '.join(f'{d:+.2f}' for d in diffs)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
