"""An independent numpy implementation of ASMK* scoring (method.md 4.4), to cross-check the
`mda build-index` / `mda search` rankings on the same .npy inputs.

  asmk_reference.py make DIR          writes DIR/db, DIR/q (HOW-layout feature folders) and
                                      DIR/data/toy/gnd_toy.json (objects x views)
  asmk_reference.py check DIR CENTROIDS.npy OUTDIR [binary] [alpha] [tau] [query_ma] [db_ma]
"""
import json
import os
import sys

import numpy as np


def write_folder(folder, descriptors_per_image, names):
    os.makedirs(folder, exist_ok=True)
    vecs = np.concatenate(descriptors_per_image).astype(np.float32)
    imids = np.concatenate([np.full(len(d), i) for i, d in enumerate(descriptors_per_image)]).astype(np.int64)
    np.save(os.path.join(folder, "vecs.npy"), vecs)
    np.save(os.path.join(folder, "imids.npy"), imids)
    with open(os.path.join(folder, "images.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))


def make(folder):
    rng = np.random.default_rng(0)
    objects, views, dim, parts = 12, 3, 32, 40
    prototypes = rng.normal(size=(objects, parts, dim))
    db, names, gnd_easy = [], [], []
    for o in range(objects):
        for v in range(views):
            keep = rng.choice(parts, 30, replace=False)
            db.append(prototypes[o, keep] + 0.3 * rng.normal(size=(30, dim)))
            names.append("o%02d_v%d" % (o, v))
    queries, qnames = [], []
    for o in range(objects):
        keep = rng.choice(parts, 25, replace=False)
        queries.append(prototypes[o, keep] + 0.3 * rng.normal(size=(25, dim)))
        qnames.append("q%02d" % o)
        gnd_easy.append([o * views + v for v in range(views)])
    write_folder(os.path.join(folder, "db"), db, names)
    write_folder(os.path.join(folder, "q"), queries, qnames)
    gnd = {"imlist": names, "qimlist": qnames,
           "gnd": [{"easy": e, "hard": [], "junk": []} for e in gnd_easy]}
    os.makedirs(os.path.join(folder, "data", "toy"), exist_ok=True)
    json.dump(gnd, open(os.path.join(folder, "data", "toy", "gnd_toy.json"), "w"))


def aggregate(x, centroids, ma, binary):
    distances = ((x[:, None, :].astype(np.float64) - centroids[None, :, :]) ** 2).sum(-1)
    order = np.argsort(distances, axis=1, kind="stable")[:, :ma]
    words = {}
    for i in range(len(x)):
        for w in order[i]:
            words.setdefault(int(w), np.zeros(x.shape[1]))
            words[int(w)] += x[i].astype(np.float64) - centroids[w]
    if binary:
        return {w: v > 0 for w, v in words.items()}
    return {w: v / (np.linalg.norm(v) + 1e-6) for w, v in words.items()}


def load(folder):
    vecs, imids = np.load(os.path.join(folder, "vecs.npy")), np.load(os.path.join(folder, "imids.npy"))
    return [vecs[imids == i] for i in range(imids.max() + 1)]


def check(folder, centroids_path, out, binary=True, alpha=3.0, tau=0.0, query_ma=5, db_ma=1):
    centroids = np.load(centroids_path).astype(np.float64)
    db = [aggregate(x, centroids, db_ma, binary) for x in load(os.path.join(folder, "db"))]
    queries = [aggregate(x, centroids, query_ma, binary) for x in load(os.path.join(folder, "q"))]
    ranks, scores = np.load(os.path.join(out, "ranks.npy")), np.load(os.path.join(out, "scores.npy"))
    failures = 0
    for q, query in enumerate(queries):
        reference = np.zeros(len(db))
        for i, image in enumerate(db):
            total = 0.0
            for w, v in query.items():
                if w not in image:
                    continue
                if binary:
                    s = 1.0 - 2.0 * np.count_nonzero(v != image[w]) / len(v)
                else:
                    s = float(v @ image[w])
                if s >= tau:
                    total += s ** alpha
            reference[i] = total / np.sqrt(len(image)) / np.sqrt(len(query))
        got = reference[ranks[:, q]]
        if np.abs(scores[:, q] - got).max() > 1e-5:
            print("query %d: scores differ by %g" % (q, np.abs(scores[:, q] - got).max()))
            failures += 1
        if np.any(np.diff(got) > 1e-6):
            print("query %d: ranking is not in descending reference score" % q)
            failures += 1
        want = np.argsort(-reference, kind="stable")
        if not np.allclose(reference[want[: len(got)]], got, atol=1e-6):
            print("query %d: ranked scores differ from the reference's best" % q)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
        sys.exit(0)
    extra = sys.argv[5:]
    kwargs = {}
    if extra:
        kwargs = dict(binary=extra[0] == "1", alpha=float(extra[1]), tau=float(extra[2]), query_ma=int(extra[3]),
                      db_ma=int(extra[4]))
    sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], **kwargs))
