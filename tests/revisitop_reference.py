"""An independent Python implementation of the Revisited Oxford/Paris evaluation (method.md 4.5),
used to cross-check `mda evaluate`.

  revisitop_reference.py rank GND_JSON OUT.npy MODE SEED   write a ranking (identity|reverse|random)
  revisitop_reference.py check GND_JSON RANKS.npy MDA_JSON compare mda's JSON with this reference
"""
import json
import sys

import numpy as np


def average_precision(positions, n_positives):
    ap = 0.0
    for j, rank in enumerate(positions):
        before = 1.0 if rank == 0 else j / rank
        at = (j + 1) / (rank + 1)
        ap += (before + at) / 2.0 / n_positives
    return ap


def evaluate(ranks, gnd, kappas):
    aps, prs = [], []
    for q, entry in enumerate(gnd):
        ok = np.array(entry["ok"], dtype=np.int64)
        if len(ok) == 0:
            continue
        junk = np.array(entry["junk"], dtype=np.int64)
        column = ranks[:, q]
        pos = np.sort(np.nonzero(np.isin(column, ok))[0])
        junk_pos = np.sort(np.nonzero(np.isin(column, junk))[0])
        adjusted = np.array([p - np.sum(junk_pos < p) for p in pos])
        aps.append(average_precision(adjusted, len(ok)))
        one_based = adjusted + 1
        row = []
        for k in kappas:
            kq = min(one_based.max(), k)
            row.append(np.sum(one_based <= kq) / kq)
        prs.append(row)
    if not aps:
        return None
    return float(np.mean(aps)), [float(x) for x in np.mean(np.array(prs), axis=0)], len(aps)


def protocols(gnd):
    out = {}
    out["easy"] = [{"ok": g["easy"], "junk": g.get("junk", []) + g["hard"]} for g in gnd]
    out["medium"] = [{"ok": g["easy"] + g["hard"], "junk": g.get("junk", [])} for g in gnd]
    out["hard"] = [{"ok": g["hard"], "junk": g.get("junk", []) + g["easy"]} for g in gnd]
    return out


def main():
    mode = sys.argv[1]
    cfg = json.load(open(sys.argv[2]))
    n_db, n_q = len(cfg["imlist"]), len(cfg["qimlist"])
    if mode == "rank":
        kind, seed = sys.argv[4], int(sys.argv[5])
        rng = np.random.default_rng(seed)
        if kind == "identity":
            ranks = np.tile(np.arange(n_db)[:, None], (1, n_q))
        elif kind == "reverse":
            ranks = np.tile(np.arange(n_db)[::-1, None], (1, n_q))
        else:
            ranks = np.stack([rng.permutation(n_db) for _ in range(n_q)], axis=1)
        np.save(sys.argv[3], ranks.astype(np.int64))
        return 0
    ranks = np.load(sys.argv[3])
    result = json.load(open(sys.argv[4]))["protocols"]
    failures = 0
    for name, gnd in protocols(cfg["gnd"]).items():
        reference = evaluate(ranks, gnd, [1, 5, 10])
        got = result[name]
        if reference is None:
            if got["applicable"] or got["map"] is not None:
                print("%s: expected not applicable, got %s" % (name, got["map"]))
                failures += 1
            continue
        want_map, want_pr, count = reference
        values = [(got["map"], want_map)] + [(got["mp@%d" % k], p) for k, p in zip([1, 5, 10], want_pr)]
        for have, want in values:
            if abs(have - want) > 1e-9:
                print("%s: mda %.12f, reference %.12f" % (name, have, want))
                failures += 1
        if got["queries"] != count:
            print("%s: %d queries evaluated, reference %d" % (name, got["queries"], count))
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
