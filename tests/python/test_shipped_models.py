"""The models shipped in models/ (issue 17): each file is the one its card describes (sha256), the
card's figures are those of its run in the comparison's ledger (results/controlled_comparison), and
the current mda reads the file and extracts features of the card's architecture."""
import glob
import hashlib
import json
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import MDA, skip_without_libtorch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
LEDGER = os.path.join(ROOT, "results", "controlled_comparison")
MODELS = sorted(glob.glob(os.path.join(ROOT, "models", "*.mdam")))


def shipped(model):
    card = open(model[: -len(".mdam")] + ".md").read()
    run = re.search(r"^Run: `([^`]+)`$", card, re.M).group(1)
    return card, run


@pytest.fixture(params=MODELS or [None], ids=lambda m: os.path.basename(m) if m else "none")
def model(request):
    if request.param is None:
        pytest.skip("models/ holds no shipped model yet")
    return request.param


def test_the_file_is_the_one_its_card_describes(model):
    card, _ = shipped(model)
    with open(model, "rb") as f:  # a model file is a few MB
        assert "sha256 of the model file: `%s`" % hashlib.sha256(f.read()).hexdigest() in card


def test_the_card_reports_its_run_as_the_ledger_has_it(model):
    card, run = shipped(model)
    ledger_run = os.path.join(LEDGER, run)
    history = json.load(open(os.path.join(ledger_run, "history.json")))
    best = max(history["validation"], key=lambda v: v["medium"])
    row = re.search(r"^\| (\d+) \(shipped\) \| ([\d.]+) \(epoch (\d+)\) \| (\S+) \| (\S+) \|$", card, re.M)
    assert row, "no shipped seed in the card of %s" % model
    assert run.endswith("-s" + row.group(1))
    assert row.group(2) == "%.2f" % best["medium"] and int(row.group(3)) == best["epoch"]
    for dataset, figure in (("grocery", row.group(4)), ("ukbench1k", row.group(5))):
        metrics = json.load(open(os.path.join(ledger_run, "eval", "metrics_%s.json" % dataset)))
        assert figure == "%.2f" % (100 * metrics["protocols"]["medium"]["map"]), dataset
    # The arm named by the file is the arm that was trained.
    config = open(os.path.join(ledger_run, "train.config.yaml")).read()
    attention = {"how": "l2", "mda": "da"}[os.path.basename(model).split("_")[0]]
    assert re.search(r"^  attention: %s$" % attention, config, re.M)


def test_mda_extracts_features_of_the_cards_architecture(model, tmp_path):
    skip_without_libtorch()
    card, _ = shipped(model)
    architecture = re.search(r"attention (\w+), (\d+) head\(s\), (\d+)-d descriptors", card)
    heads, dim = int(architecture.group(2)), int(architecture.group(3))
    subprocess.run([MDA, "synthetic", "--root", str(tmp_path), "--objects", "2", "--width", "96",
                    "--height", "72", "--quiet"], check=True)
    images = sorted(glob.glob(str(tmp_path / "synthetic" / "jpg" / "*.jpg")))[:3]
    (tmp_path / "images.txt").write_text("".join(path + "\n" for path in images))
    subprocess.run([MDA, "extract", "--model", model, "--images", str(tmp_path / "images.txt"),
                    "--out", str(tmp_path / "features"), "--set", "evaluation.scales=[1.0]",
                    "--set", "evaluation.features_num=50", "--quiet"], check=True)
    vecs = np.load(tmp_path / "features" / "vecs.npy")
    imids = np.load(tmp_path / "features" / "imids.npy")
    assert vecs.shape[1] == dim and np.isfinite(vecs).all()
    assert (np.linalg.norm(vecs, axis=1) > 0).all()
    assert sorted(set(imids.tolist())) == list(range(len(images)))
    assert np.load(tmp_path / "features" / "heads.npy").max() < heads
