"""The Python package over the public C++ API: every binding on tiny data, cross-checked against
the mda program; errors carry the C++ message; a closed index raises instead of crashing."""
import json
import os
import threading

import numpy as np
import pytest

import mda
import mda.asmk
from conftest import run_mda, write_feature_folder


@pytest.fixture(scope="module")
def codebook(data):
    return mda.Codebook.train(data["db_vecs"], size=48, seed=7)


def test_every_binding_has_a_docstring():
    for owner in (mda.Extractor, mda.Codebook, mda.Index):
        assert owner.__doc__
        for name in dir(owner):
            if not name.startswith("_"):
                assert getattr(owner, name).__doc__, f"{owner.__name__}.{name}"
    assert mda.evaluate.__doc__ and mda.asmk.ASMKMethod.query_ivf.__doc__


def test_codebook_trains_saves_loads_and_shares_its_centroids(codebook, tmp_path):
    assert (codebook.size, codebook.dim) == (48, 32)
    centroids = codebook.centroids
    assert centroids.shape == (48, 32) and centroids.dtype == np.float32
    assert not centroids.flags.writeable and not centroids.flags.owndata  # a view, not a copy
    path = str(tmp_path / "centroids.npy")
    codebook.save(path)
    np.testing.assert_array_equal(np.load(path), centroids)
    loaded = mda.Codebook.load(path)
    assert loaded.fingerprint == codebook.fingerprint
    assert mda.Codebook.from_centroids(np.load(path)).fingerprint == codebook.fingerprint


def test_index_ranks_the_same_object_first_and_equals_mda_search(data, codebook, tmp_path):
    index = mda.Index(codebook)
    index.add(data["db_vecs"], data["db_ids"])
    assert len(index) == 18 and index.names[:3] == ["0", "1", "2"]
    ranks, scores = index.search(data["q_vecs"], data["q_ids"], topk=5)
    assert ranks.shape == scores.shape == (6, 5)
    assert ranks.dtype == np.int64 and scores.dtype == np.float32
    assert all(data["db_labels"][ranks[q, 0]] == data["q_labels"][q] for q in range(6))
    assert np.all(np.diff(scores, axis=1) <= 0)

    # The program on the same features and codebook gives the same rankings and scores.
    codebook.save(str(tmp_path / "c.npy"))
    write_feature_folder(str(tmp_path / "db"), data["db_vecs"], data["db_ids"])
    write_feature_folder(str(tmp_path / "q"), data["q_vecs"], data["q_ids"])
    run_mda("build-index", "--codebook", tmp_path / "c.npy", "--features", tmp_path / "db", "--out", tmp_path / "i.mdai")
    run_mda("search", "--index", tmp_path / "i.mdai", "--features", tmp_path / "q", "--out", tmp_path / "s",
            "--topk", 5)
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "ranks.npy").T, ranks)
    np.testing.assert_allclose(np.load(tmp_path / "s" / "scores.npy").T, scores, rtol=1e-6)

    # save/open round trip; the file is the program's index format
    index.save(str(tmp_path / "py.mdai"))
    reopened = mda.Index.open(str(tmp_path / "py.mdai"))
    np.testing.assert_array_equal(reopened.search(data["q_vecs"], data["q_ids"], topk=5)[0], ranks)
    assert reopened.stats["images"] == 18 and reopened.stats["file_bytes"] > 0


def test_ungrouped_ids_float16_and_remove(data, codebook):
    index = mda.Index(codebook)
    index.add(data["db_vecs"], data["db_ids"])
    want = index.search(data["q_vecs"], data["q_ids"])[0]
    order = np.random.default_rng(1).permutation(len(data["q_ids"]))  # descriptors shuffled
    got = index.search(data["q_vecs"][order], data["q_ids"][order])[0]
    np.testing.assert_array_equal(got, want)
    half = data["q_vecs"].astype(np.float16)
    ranks16 = index.search(half, data["q_ids"], topk=3)[0]
    ranks32 = index.search(half.astype(np.float32), data["q_ids"], topk=3)[0]
    np.testing.assert_array_equal(ranks16, ranks32)
    index.remove(["0", "5"])
    assert len(index) == 16 and "0" not in index.names


def test_errors_carry_the_cpp_message(data, codebook):
    index = mda.Index(codebook)
    with pytest.raises(TypeError, match="float32 or float16, found float64"):
        index.add(data["db_vecs"].astype(np.float64), data["db_ids"])
    with pytest.raises(ValueError, match="C-contiguous"):
        index.add(np.asfortranarray(data["db_vecs"]), data["db_ids"])
    with pytest.raises(ValueError, match="32"):  # the codebook's dimension, from the C++ check
        index.add(np.ones((4, 8), np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="image ids"):
        index.add(data["db_vecs"], data["db_ids"][:-1])
    index.add(data["db_vecs"], data["db_ids"])
    with pytest.raises(mda.Error, match="already indexed"):
        index.add(data["db_vecs"][:40], np.zeros(40, np.int64), names=["0"])
    with pytest.raises(mda.Error, match="no image 'missing'"):
        index.remove(["missing"])
    with pytest.raises(mda.Error, match="alpha"):
        index.search(data["q_vecs"], data["q_ids"], alpha=-1)
    with pytest.raises(mda.Error, match="needs n >= |points|k"):
        mda.Codebook.train(data["db_vecs"][:10], size=48)
    with pytest.raises(mda.Error, match="missing.npy"):
        mda.Codebook.load("missing.npy")


def test_a_closed_or_moved_index_raises_instead_of_crashing(data, codebook):
    index = mda.Index(codebook)
    index.add(data["db_vecs"], data["db_ids"])
    alias = index
    index.close()
    for call in (lambda: alias.search(data["q_vecs"], data["q_ids"]), lambda: len(alias),
                 lambda: alias.add(data["db_vecs"], data["db_ids"]), lambda: alias.names):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_searches_run_in_threads_beside_each_other(data, codebook):
    index = mda.Index(codebook)
    index.add(data["db_vecs"], data["db_ids"])
    want = index.search(data["q_vecs"], data["q_ids"])[0]
    results = [None] * 4

    def worker(i):
        results[i] = index.search(data["q_vecs"], data["q_ids"])[0]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_evaluate_matches_mda_evaluate_from_a_path_and_a_dict(tmp_path):
    run_mda("synthetic", "--root", tmp_path, "--name", "syn", "--objects", 5)
    gnd_path = tmp_path / "syn" / "gnd_syn.json"
    gnd = json.load(open(gnd_path))
    n_db, n_q = len(gnd["imlist"]), len(gnd["qimlist"])
    ranks = np.stack([np.random.default_rng(q).permutation(n_db) for q in range(n_q)], axis=1)
    np.save(tmp_path / "ranks.npy", ranks)
    run_mda("evaluate", "--data-root", tmp_path, "--dataset", "syn", "--ranks", tmp_path / "ranks.npy",
            "--json", tmp_path / "m.json")
    want = json.load(open(tmp_path / "m.json"))["protocols"]
    for source in (str(gnd_path), gnd):
        got = mda.evaluate(source, ranks)
        for protocol in ("easy", "medium", "hard"):
            assert got[protocol]["map"] == pytest.approx(want[protocol]["map"], abs=1e-12)
            assert got[protocol]["mp"] == pytest.approx([want[protocol][f"mp@{k}"] for k in (1, 5, 10)])
            np.testing.assert_allclose(got[protocol]["ap"], want[protocol]["ap"])


def test_extractor_from_paths_bytes_and_arrays(demo):
    extractor = mda.Extractor(str(demo / "train" / "best.mdam"), image_size=128, scales=[1.0],
                              features_num=50, threads=1)
    jpg = demo / "data" / "synthetic" / "jpg"
    path = str(sorted(jpg.iterdir())[0])
    from_path = extractor.extract(path)
    assert from_path["vecs"].shape[1] == extractor.dim and from_path["vecs"].dtype == np.float32
    assert from_path.vecs is from_path["vecs"] and from_path.heads.max() < extractor.heads
    assert len(from_path["vecs"]) == len(from_path["strengths"]) == len(from_path["locs"]) <= 50
    from_bytes = extractor.extract(open(path, "rb").read())
    np.testing.assert_array_equal(from_bytes["vecs"], from_path["vecs"])
    from PIL import Image
    pixels = np.asarray(Image.open(path).convert("RGB"))
    from_array = extractor.extract(pixels)
    np.testing.assert_array_equal(from_array["vecs"], from_path["vecs"])  # same JPEG decoder
    cropped = extractor.extract(path, bbox=(0, 0, 64, 48))
    assert 0 < len(cropped["vecs"]) <= 50
    many = extractor.extract_many([path, path], progress=False)
    np.testing.assert_array_equal(many[1]["vecs"], from_path["vecs"])
    with pytest.raises(ValueError, match="H x W x 3"):
        extractor.extract(np.zeros((4, 4), np.uint8))
    with pytest.raises(mda.Error, match="nothing.jpg"):
        extractor.extract("nothing.jpg")
    # int8 extraction is for MobileNetV1 backbones only (the demo's model is a ResNet).
    with pytest.raises(mda.Error, match="evaluation.precision int8 is not available"):
        mda.Extractor(str(demo / "train" / "best.mdam"), precision="int8")
    with pytest.raises(mda.Error, match="must be float, bf16 or int8"):
        mda.Extractor(str(demo / "train" / "best.mdam"), precision="fp16")
