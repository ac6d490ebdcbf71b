#!/usr/bin/env python3
"""How each attention head's scale develops over a training run, read from its history.json.

    scripts/head_trajectories.py RUN_FOLDER [RUN_FOLDER ...] [--fade 0.01]

For every validation (epoch 0 is the untrained model): Medium mAP, each head's mean peak attention
(mean over the validation images of the head's largest value), the overlap of the heads' maps and
the epoch's mean diversity loss. A head has faded at the best epoch when its peak is below FADE
times the strongest head's. The run's last line names the first epoch from which the faded heads
were already the weakest ones for good: every faded head below every other head at that epoch and
at every later validation (docs/training.md, "The heads split in two").
"""
import argparse
import json
import os
import sys


def load(folder):
    path = os.path.join(folder, "history.json")
    try:
        with open(path) as f:
            history = json.load(f)
    except OSError as e:
        sys.exit(f"head_trajectories: cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        sys.exit(f"head_trajectories: {path} is not JSON: {e}")
    validations = [v for v in history.get("validation", []) if v.get("heads")]
    if not validations:
        sys.exit(f"head_trajectories: {path} has no validation with per-head statistics")
    diversity = {e["epoch"]: e.get("diversity") for e in history.get("epochs", [])}
    return validations, diversity


def gap(validation, faded):
    """(the strongest faded head's peak, the weakest other head's peak) at one validation; faded
    is non-empty and never holds the strongest head, so both exist."""
    peaks = validation["heads"]["mean_peak_attention"]
    return (max(peaks[h] for h in faded),
            min(p for h, p in enumerate(peaks) if h not in faded))


def separated_from(validations, faded):
    """The first validation from which every faded head stays below every other head, or None."""
    first = None
    for v in validations:
        faded_peak, other_peak = gap(v, faded)
        if faded_peak >= other_peak:
            first = None
        elif first is None:
            first = v
    return first


def report(folder, fade):
    validations, diversity = load(folder)
    heads = len(validations[0]["heads"]["mean_peak_attention"])
    best = max(validations, key=lambda v: v["medium"])
    best_peaks = best["heads"]["mean_peak_attention"]
    faded = {h for h, p in enumerate(best_peaks) if p < fade * max(best_peaks)}
    print(f"## {folder}\n")
    print("| epoch | Medium mAP | " + " | ".join(f"head {h + 1}" for h in range(heads)) +
          " | overlap | diversity loss |")
    print("|" + " --- |" * (heads + 4))
    for v in validations:
        peaks = v["heads"]["mean_peak_attention"]
        cells = [(f"**{p:.2f}**" if h in faded else f"{p:.2f}") for h, p in enumerate(peaks)]
        loss = diversity.get(v["epoch"])
        print(f"| {v['epoch']} | {v['medium']:.2f} | " + " | ".join(cells) +
              f" | {v['heads']['overlap']:.3f} | {'-' if loss is None else f'{loss:.4f}'} |")
    names = ", ".join(str(h + 1) for h in sorted(faded)) or "none"
    print(f"\nbest epoch {best['epoch']} ({best['medium']:.2f}); faded there (peak below "
          f"{fade:g} x the strongest head's): heads {names}")
    if faded:
        first = separated_from(validations, faded)
        if first is None:
            print("the faded heads were not the weakest at the last validation")
        else:
            faded_peak, other_peak = gap(first, faded)
            print(f"the faded heads are the weakest from epoch {first['epoch']} on (there: at most "
                  f"{faded_peak:.2f}, the others at least {other_peak:.2f})")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="training output folders (with history.json)")
    parser.add_argument("--fade", type=float, default=0.01,
                        help="a head has faded when its peak is below this times the strongest's")
    args = parser.parse_args()
    if not 0 < args.fade < 1:
        sys.exit(f"head_trajectories: --fade must lie in (0, 1), got {args.fade}")
    for run in args.runs:
        report(run, args.fade)


if __name__ == "__main__":
    main()
