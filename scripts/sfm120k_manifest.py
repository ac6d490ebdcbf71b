#!/usr/bin/env python3
"""Training manifest of retrieval-SfM-120k (cirtorch's retrieval-SfM-120k.pkl) for `mda train`.

    sfm120k_manifest.py retrieval-SfM-120k.pkl OUT.tsv [--split train|val]

Each image becomes a row "ab/cd/ef/<cid><TAB><cluster>" (cirtorch's folder scheme under ims/),
the label being the 3D model the image belongs to. Train with
    --set training.manifest=OUT.tsv --set training.image_folder=<SfM-120k>/ims
    --set training.image_extension=''
Difference to cirtorch: mda draws a query's positive among all images of its 3D model, where
cirtorch uses the pre-computed (qidxs, pidxs) pairs with enough 3D overlap.
Standard library only.
"""
import argparse
import pickle


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pkl")
    parser.add_argument("out")
    parser.add_argument("--split", default="train", choices=["train", "val"])
    args = parser.parse_args()
    with open(args.pkl, "rb") as f:
        db = pickle.load(f)[args.split]
    cids, clusters = db["cids"], db["cluster"]
    if len(cids) != len(clusters):
        raise SystemExit(f"{args.pkl}: {len(cids)} cids but {len(clusters)} cluster ids")
    with open(args.out, "w") as f:
        f.write("name\tlabel\n")
        for cid, cluster in zip(cids, clusters):
            f.write(f"{cid[-2:]}/{cid[-4:-2]}/{cid[-6:-4]}/{cid}\t{int(cluster)}\n")
    print(f"wrote {args.out}: {len(cids)} images of {len(set(clusters))} 3D models")


if __name__ == "__main__":
    main()
