#!/usr/bin/env python3
"""Holds whole labels of a training manifest out as a Revisited-layout validation dataset.

    make_validation_split.py MANIFEST IMAGE_FOLDER OUT_ROOT NAME [--labels K] [--queries Q] [--seed S]

Writes OUT_ROOT/NAME/gnd_NAME.json (Q queries per held-out label, the label's other images as its
positives in the database), OUT_ROOT/NAME/jpg -> IMAGE_FOLDER (a symbolic link) and
OUT_ROOT/NAME/train.tsv, the manifest without the held-out labels. Training on that manifest and
validating on NAME never shows a validation image, nor a validation product, to training.
Standard library only.
"""
import argparse
import json
import os
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("image_folder")
    parser.add_argument("out_root")
    parser.add_argument("name")
    parser.add_argument("--labels", type=int, default=6, help="labels held out (default 6)")
    parser.add_argument("--queries", type=int, default=2, help="queries per held-out label")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with open(args.manifest) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if not lines or lines[0] != "name\tlabel":
        raise SystemExit(f"{args.manifest}: header must be 'name<TAB>label'")
    rows = [line.split("\t") for line in lines[1:]]
    by_label = {}
    for name, label in rows:
        by_label.setdefault(label, []).append(name)
    usable = sorted(label for label, names in by_label.items() if len(names) > args.queries)
    if len(usable) < args.labels:
        raise SystemExit(f"only {len(usable)} labels have more than {args.queries} images")
    held = sorted(random.Random(args.seed).sample(usable, args.labels))

    queries, database, gnd = [], [], []
    for label in held:
        names = by_label[label]
        first = len(database)
        database.extend(names[args.queries:])
        positives = list(range(first, len(database)))
        for name in names[: args.queries]:
            queries.append(name)
            gnd.append({"bbx": None, "easy": positives, "hard": [], "junk": []})
    folder = os.path.join(args.out_root, args.name)
    os.makedirs(folder, exist_ok=True)
    for entry in gnd:
        del entry["bbx"]  # whole images: no query box
    with open(os.path.join(folder, f"gnd_{args.name}.json"), "w") as f:
        json.dump({"imlist": database, "qimlist": queries, "gnd": gnd}, f)
    link = os.path.join(folder, "jpg")
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(args.image_folder), link)
    with open(os.path.join(folder, "train.tsv"), "w") as f:
        f.write("name\tlabel\n")
        for name, label in rows:
            if label not in held:
                f.write(f"{name}\t{label}\n")
    print(f"held out {len(held)} labels ({', '.join(held)}): {len(queries)} queries, "
          f"{len(database)} database images; training manifest {folder}/train.tsv")


if __name__ == "__main__":
    main()
