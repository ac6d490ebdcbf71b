"""scripts/ship_models.py: the seed with the best validation is shipped, with a card that reports
every seed's figures and the starting weights' licence."""
import hashlib
import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "ship_models.py")
CONFIG = """# effective mda configuration
model:
  backbone: mobilenet_v1
  skip_layer: 1
  heads: 8
  dim: 128
  attention: da
  channel_mapping: true
  smoothing: false
training:
  seed: {seed}
  qsize: 500
  image_size: 320
  diversity_weight: 1.0
  optimizer:
    lr: 1e-05
    attention_lr: 0.0001
"""


def make_run(root, seed, validation, grocery):
    run = root / ("final-mda-s%d" % seed)
    (run / "eval").mkdir(parents=True)
    (run / "best.mdam").write_bytes(b"model of seed %d" % seed)
    (run / "train.config.yaml").write_text(CONFIG.format(seed=seed))
    history = {"epochs": [{"epoch": e} for e in range(1, 11)],
               "validation": [{"epoch": e, "medium": v, "heads": {"features_per_head": [10, 30]}}
                              for e, v in enumerate(validation)]}
    (run / "history.json").write_text(json.dumps(history))
    (run / "done").write_text("")
    for dataset, value in (("grocery", grocery), ("ukbench1k", 0.9)):
        metrics = {"protocols": {"medium": {"map": value}}}
        (run / "eval" / ("metrics_%s.json" % dataset)).write_text(json.dumps(metrics))


def test_ships_the_best_validated_seed_with_its_card(tmp_path):
    make_run(tmp_path, 0, [60.0, 70.0], 0.40)
    make_run(tmp_path, 1, [60.0, 72.5, 71.0], 0.35)  # best validation, not best on the test set
    make_run(tmp_path, 2, [69.0], 0.45)
    make_run(tmp_path, 3, [80.0], 0.50)
    (tmp_path / "final-mda-s3" / "done").unlink()  # still training: neither shipped nor listed
    models = tmp_path / "models"
    subprocess.run([sys.executable, SCRIPT, str(tmp_path), str(models), "--arms", "mda"], check=True)
    assert (models / "mda_mobilenet_v1_grocery.mdam").read_bytes() == b"model of seed 1"
    card = (models / "mda_mobilenet_v1_grocery.md").read_text()
    assert "| 1 (shipped) | 72.50 (epoch 1) | 35.00 | 90.00 |" in card
    assert "sha256 of the model file: `%s`" % hashlib.sha256(b"model of seed 1").hexdigest() in card
    assert "| 2 | 69.00 (epoch 0) | 45.00 | 90.00 |" in card and "| 3 " not in card
    assert "10 epochs of 500 tuples (320-pixel images), learning rate 1e-05" in card
    assert "Apache-2.0" in card and "10 / 30 (largest 75.0%)" in card


def test_a_missing_arm_is_an_error(tmp_path):
    make_run(tmp_path, 0, [60.0], 0.4)
    result = subprocess.run([sys.executable, SCRIPT, str(tmp_path), str(tmp_path / "m"), "--arms", "how"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "no finished final-how-s*" in result.stderr


def test_a_best_seed_from_an_earlier_session_keeps_the_shipped_model(tmp_path):
    make_run(tmp_path, 0, [70.0], 0.40)
    models = tmp_path / "models"
    subprocess.run([sys.executable, SCRIPT, str(tmp_path), str(models), "--arms", "mda"], check=True)
    # A later session: seed 0 restored from the ledger without its model, seed 1 trained here.
    (tmp_path / "final-mda-s0" / "best.mdam").unlink()
    make_run(tmp_path, 1, [65.0], 0.45)
    subprocess.run([sys.executable, SCRIPT, str(tmp_path), str(models), "--arms", "mda"], check=True)
    assert (models / "mda_mobilenet_v1_grocery.mdam").read_bytes() == b"model of seed 0"
    card = (models / "mda_mobilenet_v1_grocery.md").read_text()
    assert "Run: `final-mda-s0`" in card and "| 1 | 65.00 (epoch 0) | 45.00 | 90.00 |" in card


def test_a_best_seed_whose_model_is_lost_is_an_error(tmp_path):
    make_run(tmp_path, 0, [70.0], 0.40)
    (tmp_path / "final-mda-s0" / "best.mdam").unlink()
    result = subprocess.run([sys.executable, SCRIPT, str(tmp_path), str(tmp_path / "m"), "--arms", "mda"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "train it again" in result.stderr
