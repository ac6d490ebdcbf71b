"""What one added image costs in a large index (a live index: `mda serve`'s additions, and
Index::add in batches): opens an index file, then adds single images one at a time (--features
descriptors each, drawn near the index's own centroids), timing each addition, the first search
after it (which recomputes the per-image scales, and with --use-idf the per-word idf from every
entry) and the same search again (scales kept): their difference is the recomputation's cost.
Each --module (a build's Python package folder) runs in its own process on the same index, so two
builds give a same-run ratio. Not a test: timings belong here, with the CPU they ran on.

  /usr/bin/python3 bench/live_add.py --index INDEX.mdai --module build/python \\
      [--module OTHER_BUILD/python] [--adds 20] [--features 300] [--use-idf]

A large index to try it on: `build/bench/mda_bench_million build ... --distractors 1000000`.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_info import cpu_model  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]


def worker(module, index_path, adds, features, use_idf):
    sys.path.insert(0, module)
    import mda  # the build's own module, imported in this process only

    start = time.perf_counter()
    index = mda.Index.open(index_path)
    open_s = time.perf_counter() - start
    centroids = np.asarray(index.codebook.centroids, dtype=np.float32)
    rng = np.random.default_rng(5)
    add_s, search_s, again_s = [], [], []
    query = None
    for k in range(adds):
        words = rng.integers(0, centroids.shape[0], features)
        vecs = centroids[words] + rng.uniform(-0.01, 0.01, (features, centroids.shape[1])).astype(
            np.float32)
        if query is None:
            query = vecs
        start = time.perf_counter()
        index.add(vecs, np.zeros(features, np.int64), [f"live-add-{k}"])
        add_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.search(query, np.zeros(features, np.int64), topk=10, use_idf=use_idf)
        search_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.search(query, np.zeros(features, np.int64), topk=10, use_idf=use_idf)
        again_s.append(time.perf_counter() - start)
    return {
        "module": module,
        "images": len(index),
        "open_s": open_s,
        "add_ms": {"first": add_s[0] * 1e3, "p50": percentile(add_s, 0.5) * 1e3,
                   "p99": percentile(add_s, 0.99) * 1e3},
        "search_after_add_ms": {"p50": percentile(search_s, 0.5) * 1e3,
                                "p99": percentile(search_s, 0.99) * 1e3},
        "search_again_ms": {"p50": percentile(again_s, 0.5) * 1e3,
                            "p99": percentile(again_s, 0.99) * 1e3},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--module", action="append", required=True,
                        help="a build's Python package folder (build/python); repeatable")
    parser.add_argument("--adds", type=int, default=20)
    parser.add_argument("--features", type=int, default=300)
    parser.add_argument("--use-idf", action="store_true", help="search with idf weighting")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.index, args.adds, args.features, args.use_idf)))
        return
    if not os.path.isfile(args.index):
        sys.exit(f"live_add.py: {args.index} does not exist")
    results = []
    for module in args.module:
        out = subprocess.run([sys.executable, __file__, "--index", args.index, "--adds",
                              str(args.adds), "--features", str(args.features), "--worker",
                              module, "--module", module] + (["--use-idf"] if args.use_idf else []),
                             check=True, capture_output=True,
                             text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"cpu: {cpu_model()}; index {args.index}: {results[0]['images']} images; "
          f"{args.adds} single-image additions of {args.features} descriptors; "
          f"idf {'on' if args.use_idf else 'off'}")
    for r in results:
        print(f"{r['module']}: open {r['open_s']:.2f} s; add first {r['add_ms']['first']:.1f} ms, "
              f"p50 {r['add_ms']['p50']:.1f} ms, p99 {r['add_ms']['p99']:.1f} ms; search after "
              f"an add p50 {r['search_after_add_ms']['p50']:.1f} ms, "
              f"p99 {r['search_after_add_ms']['p99']:.1f} ms; the same search again p50 "
              f"{r['search_again_ms']['p50']:.1f} ms, p99 {r['search_again_ms']['p99']:.1f} ms")
    if len(results) > 1:
        base = results[0]
        for r in results[1:]:
            for what in ("add_ms", "search_after_add_ms", "search_again_ms"):
                print(f"{what} p50, {base['module']} / {r['module']}: "
                      f"{base[what]['p50'] / r[what]['p50']:.4g}x")


if __name__ == "__main__":
    main()
