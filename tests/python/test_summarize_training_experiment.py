"""scripts/summarize_training_experiment.py --paired: the controlled comparison's result table, with
per-seed differences between the arms and whether their mean exceeds the seed spread."""
import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "summarize_training_experiment.py")


def make_run(root, name, validation, grocery=None, ukbench=None):
    run = root / name
    (run / "eval").mkdir(parents=True)
    entries = [{"epoch": epoch, "medium": value, "easy": value, "hard": None} for epoch, value in enumerate(validation)]
    (run / "history.json").write_text(json.dumps({"validation": entries}))
    for dataset, value in (("grocery", grocery), ("ukbench1k", ukbench)):
        if value is not None:
            metrics = {"protocols": {"medium": {"map": value / 100.0}}}
            (run / "eval" / f"metrics_{dataset}.json").write_text(json.dumps(metrics))


def summarize(root):
    result = subprocess.run([sys.executable, SCRIPT, "--paired", "final-how", "final-mda", str(root)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_paired_differences_per_seed_against_the_seed_spread(tmp_path):
    make_run(tmp_path, "final-how-s0", [60.0, 80.0, 79.0], grocery=80.0, ukbench=90.0)
    make_run(tmp_path, "final-how-s1", [61.0, 82.0], grocery=82.0, ukbench=91.0)
    make_run(tmp_path, "final-how-s2", [62.0, 81.0], grocery=81.0, ukbench=92.0)
    make_run(tmp_path, "final-mda-s0", [59.0, 84.0], grocery=85.0, ukbench=90.5)
    make_run(tmp_path, "final-mda-s1", [58.0, 85.0, 86.0], grocery=86.0, ukbench=90.0)
    make_run(tmp_path, "final-mda-s2", [57.0, 83.0], grocery=84.0, ukbench=93.0)
    # An unevaluated seed of one arm counts in its own row but pairs with nothing.
    make_run(tmp_path, "final-mda-s3", [50.0, 70.0])
    (tmp_path / "final-mda-s0.log").write_text("a log beside the folders is not a run\n")
    lines = summarize(tmp_path)
    assert lines[2] == "| final-how | 3 | 81.00 ± 1.00 (1, 1, 1) | 81.00 ± 1.00 | 91.00 ± 1.00 |"
    assert lines[3] == "| final-mda | 4 | 80.75 ± 7.27 (1, 2, 1, 1) | 85.00 ± 1.00 | 91.17 ± 1.61 |"
    # grocery: +5, +4, +3 (mean 4 above both arms' spread of 1); ukbench1k: +0.5, -1, +1.
    assert "| grocery | +5.00, +4.00, +3.00 | 4.00 ± 1.00 | 1.00 / 1.00 | yes |" in lines
    assert "| ukbench1k | +0.50, -1.00, +1.00 | 0.17 ± 1.04 | 1.00 / 1.61 | no |" in lines


def test_one_seed_has_no_spread_and_is_never_called_larger(tmp_path):
    make_run(tmp_path, "final-how-s0", [80.0], grocery=80.0, ukbench=90.0)
    make_run(tmp_path, "final-mda-s0", [84.0], grocery=95.0, ukbench=99.0)
    lines = summarize(tmp_path)
    assert "| grocery | +15.00 | 15.00 | nan / nan | no |" in lines
