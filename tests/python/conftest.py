"""Fixtures of the Python package tests: the mda program (for cross-checks), tiny procedural
descriptors, and a small trained model made once by `mda demo`."""
import os
import subprocess

import numpy as np
import pytest

MDA = os.environ.get("MDA_BINARY", "mda")


def run_mda(*args):
    result = subprocess.run([MDA, *map(str, args), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def object_parts(rng, objects, parts_per_object, dim):
    """Each object is a set of random directions (its parts)."""
    return [rng.standard_normal((parts_per_object, dim)).astype(np.float32) for _ in range(objects)]


def object_features(rng, parts, per_image, images_per_object, noise=0.3):
    """Images of the objects: each view a noisy subset of an object's parts. Returns vecs
    (float32, unit rows, grouped by image), imids and each image's object."""
    objects = len(parts)
    vecs, imids, labels = [], [], []
    image = 0
    for view in range(images_per_object):
        for o in range(objects):
            chosen = parts[o][rng.choice(len(parts[o]), per_image, replace=False)]
            x = chosen + noise * rng.standard_normal(chosen.shape).astype(np.float32)
            vecs.append(x / np.linalg.norm(x, axis=1, keepdims=True))
            imids.append(np.full(per_image, image, dtype=np.int64))
            labels.append(o)
            image += 1
    return np.concatenate(vecs).astype(np.float32), np.concatenate(imids), np.array(labels)


@pytest.fixture(scope="session")
def data():
    rng = np.random.default_rng(0)
    parts = object_parts(rng, 6, 80, 32)
    db_vecs, db_ids, db_labels = object_features(rng, parts, 40, 3)
    q_vecs, q_ids, q_labels = object_features(rng, parts, 30, 1)
    return dict(db_vecs=db_vecs, db_ids=db_ids, db_labels=db_labels, q_vecs=q_vecs, q_ids=q_ids,
                q_labels=q_labels)


def skip_without_libtorch():
    """Skips the calling test when mda was built without libtorch (no demo command: no model)."""
    help_text = subprocess.run([MDA, "--help"], capture_output=True, text=True).stdout
    if "\n  demo " not in help_text:
        pytest.skip("mda was built without libtorch: it cannot run a model")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A small trained model and its procedural dataset (mda demo, about half a minute)."""
    skip_without_libtorch()
    out = tmp_path_factory.mktemp("demo")
    subprocess.run([MDA, "demo", "--out", str(out), "--objects", "4", "--epochs", "1", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def write_feature_folder(folder, vecs, imids):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "vecs.npy"), vecs)
    np.save(os.path.join(folder, "imids.npy"), imids)
    with open(os.path.join(folder, "images.txt"), "w") as f:
        f.write("".join(f"{i}\n" for i in np.unique(imids)))
