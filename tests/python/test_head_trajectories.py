"""scripts/head_trajectories.py: which heads faded at the best epoch, and from which epoch on they
were the weakest for good."""
import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "head_trajectories.py")


def write_run(folder, peaks_per_epoch, maps):
    folder.mkdir()
    validation = [{"epoch": e, "medium": m,
                   "heads": {"mean_peak_attention": p, "overlap": 0.5, "features_per_head": [1] * len(p)}}
                  for e, (p, m) in enumerate(zip(peaks_per_epoch, maps))]
    epochs = [{"epoch": e, "diversity": -0.1 * e} for e in range(1, len(maps))]
    (folder / "history.json").write_text(json.dumps({"validation": validation, "epochs": epochs}))


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True)


def test_faded_heads_and_the_epoch_they_became_the_weakest(tmp_path):
    # Heads 2 and 3 fall behind head 1 in epoch 1, head 2 rises above it again in epoch 2, and
    # both stay below it from epoch 3 on.
    peaks = [[1.0, 2.0, 1.5],
             [5.0, 1.2, 1.0],
             [2.0, 3.0, 0.5],
             [30.0, 0.2, 0.1],
             [50.0, 0.1, 0.2]]
    write_run(tmp_path / "r", peaks, [60.0, 61.0, 62.0, 70.0, 65.0])
    result = run(tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "best epoch 3 (70.00); faded there (peak below 0.01 x the strongest head's): heads 2, 3" in result.stdout
    assert "the faded heads are the weakest from epoch 3 on (there: at most 0.20, the others at least 30.00)" in result.stdout
    assert "| 3 | 70.00 | 30.00 | **0.20** | **0.10** | 0.500 | -0.3000 |" in result.stdout


def test_no_faded_head_and_a_looser_threshold(tmp_path):
    write_run(tmp_path / "r", [[1.0, 1.1], [4.0, 1.0]], [50.0, 55.0])
    assert "heads none" in run(tmp_path / "r").stdout
    loose = run(tmp_path / "r", "--fade", "0.5").stdout
    assert "heads 2" in loose and "weakest from epoch 1 on" in loose


def test_bad_input_names_the_file(tmp_path):
    result = run(tmp_path / "missing")
    assert result.returncode != 0 and "missing" in result.stderr and "history.json" in result.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "history.json").write_text("{")
    result = run(tmp_path / "broken")
    assert result.returncode != 0 and "is not JSON" in result.stderr
    assert run(tmp_path / "broken", "--fade", "2").returncode != 0
