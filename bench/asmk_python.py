"""mda.asmk (the Python drop-in for asmk's ASMKMethod, C++ underneath) against a straightforward
numpy ASMK* (bench/asmk_query.py's, written for these benchmarks: the asmk library itself cannot
be installed here), in one Python process, on the same features and codebook (issue 12).

Both sides use a codebook given as centroids (mda.asmk's train_codebook step is replaced by
Codebook.from_centroids, so no k-means time is counted), build an inverted file of the database
(quantize MA 1, aggregate, binarize) and run the queries one at a time (MA 5, alpha 3, tau 0,
every image ranked). Threads: one on both sides (OMP/OpenBLAS 1, mda threads 1). The ratio is
numpy seconds / mda seconds; rankings are checked to agree on the top result where numpy's top
two are not tied.

  /usr/bin/python3 bench/asmk_python.py [--configs 2000x1024,2000x65536] [--queries 50]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asmk_query import NumpyIvf, make_data  # noqa: E402  (sets one BLAS thread)
from cpu_info import cpu_model  # noqa: E402

import numpy as np  # noqa: E402

import mda  # noqa: E402
from mda import asmk as asmk_method  # noqa: E402

PARAMS = {"build_ivf": {"kernel": {"binary": True}, "quantize": {"multiple_assignment": 1}},
          "query_ivf": {"quantize": {"multiple_assignment": 5}, "search": {"topk": None},
                        "similarity": {"similarity_threshold": 0.0, "alpha": 3.0}}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", default="2000x1024,2000x65536")
    parser.add_argument("--db-descriptors", type=int, default=300)
    parser.add_argument("--queries", type=int, default=50)
    a = parser.parse_args()
    asmk_method.threads = 1
    print(f"cpu: {cpu_model()}; one thread on both sides; numpy {np.__version__}")
    print("| images x words | build numpy s | build mda.asmk s | ratio | query numpy ms | query mda.asmk ms | ratio | top-1 agree |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in a.configs.split(","):
        images, words = map(int, config.split("x"))
        rng = np.random.default_rng(0)
        centroids, db = make_data(rng, images, words, a.db_descriptors)
        _, queries = make_data(np.random.default_rng(1), a.queries, words, a.db_descriptors)
        vecs = np.concatenate(db)
        imids = np.concatenate([np.full(len(d), i, dtype=np.int64) for i, d in enumerate(db)])

        start = time.perf_counter()
        numpy_ivf = NumpyIvf(centroids, db)
        numpy_build = time.perf_counter() - start
        start = time.perf_counter()
        method = asmk_method.ASMKMethod(PARAMS, {}, codebook=mda.Codebook.from_centroids(centroids))
        indexed = method.build_ivf(vecs, imids)
        mda_build = time.perf_counter() - start

        timings = np.zeros(3)
        start = time.perf_counter()
        numpy_top = [numpy_ivf.search(q, timings) for q in queries]
        numpy_query = (time.perf_counter() - start) / len(queries)
        start = time.perf_counter()
        mda_top = [indexed.query_ivf(q, np.zeros(len(q), np.int64))[2][0] for q in queries]
        mda_query = (time.perf_counter() - start) / len(queries)

        agree = checked = 0
        for (ranking, scores), ours in zip(numpy_top, mda_top):
            best, second = scores[ranking[0]], scores[ranking[1]]
            if best - second > 1e-6 * max(1.0, best):
                checked += 1
                agree += int(ours[0] == ranking[0])
        print(f"| {images} x {words} | {numpy_build:.2f} | {mda_build:.2f} | {numpy_build / mda_build:.1f}x | "
              f"{1000 * numpy_query:.1f} | {1000 * mda_query:.2f} | {numpy_query / mda_query:.1f}x | {agree}/{checked} |")


if __name__ == "__main__":
    main()
