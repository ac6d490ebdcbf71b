"""scripts/controlled_comparison.sh's bookkeeping across sessions, with a stand-in for `mda` that
records every call and writes a run's history from its settings (no network is trained): the
ledger keeps finished runs and a later session with a fresh disk skips them, an interrupted run
goes first, the learning rate is chosen per arm from the ledger, the shared stage varies each
shared choice once (the runs the rule needs first), the final stage's shared settings follow the
rule fixed in the script, and runs from different pipelines stop the script."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "controlled_comparison.sh")

# The stand-in's validation: epoch 0 depends on the arm (and on T's initialisation), epoch 1 on the
# rate, so that HOW's best rate is 2e-4 and MDA's 1e-4; FAKE_GAINS ({"how": {"model.smoothing=true":
# 2.0}, ...}) adds to epoch 1 of the runs with that setting.
FAKE_MDA = textwrap.dedent("""\
    import json, os, sys
    args = sys.argv[1:]
    settings = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--set")
    with open(os.environ["FAKE_MDA_CALLS"], "a") as f:
        f.write(json.dumps({"settings": settings, "resume": "--resume" in args}) + "\\n")
    if args[0] == "train":
        out = settings["training.out"]
        os.makedirs(out, exist_ok=True)
        lr = float(settings["training.optimizer.lr"])
        how = settings["model.attention"] == "l2"
        start = (65.0 if how else 64.0) + (1.0 if settings["training.reduction.init"] == "keep" else 0.0)
        gains = json.loads(os.environ.get("FAKE_GAINS", "{}")).get("how" if how else "mda", {})
        gain = sum(g for setting, g in gains.items()
                   if settings.get(setting.split("=")[0]) == setting.split("=")[1])
        trained = round(start + (lr * 1e5 if how else 20.0 - lr * 1e5) + gain, 2)
        history = {"epochs": [], "validation": [{"epoch": 0, "medium": start},
                                                {"epoch": 1, "medium": trained}]}
        json.dump(history, open(os.path.join(out, "history.json"), "w"))
        with open(os.path.join(out, "train.config.yaml"), "w") as f:
            f.writelines(f"{k}: {v}\\n" for k, v in sorted(settings.items()))
    else:
        sys.exit("the stand-in mda does not do " + args[0])
    """)


def install_stand_in(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mda").write_text(f"#!{sys.executable}\n" + FAKE_MDA)
    (bin_dir / "python3").symlink_to(sys.executable)  # the script's python3: this test's
    (bin_dir / "mda").chmod(0o755)
    (bin_dir / "mda-net").write_text("the program that trained the runs\n")
    (tmp_path / "data").mkdir()


def fresh_disk(tmp_path, name):
    """A session's working folder, empty but for the validation split (made from shared data)."""
    out = tmp_path / name
    (out / "data" / "grocery_val").mkdir(parents=True)
    (out / "data" / "grocery_val" / "train.tsv").write_text("")
    return out


def run_stage(tmp_path, out, stage, **extra_env):
    calls = tmp_path / "calls.jsonl"
    calls.write_text("")
    env = dict(os.environ, MDA=str(tmp_path / "bin" / "mda"), LEDGER=str(tmp_path / "ledger"),
               MODELS=str(tmp_path / "models"), LRS="1e-4 2e-4", FAKE_MDA_CALLS=str(calls),
               PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", **extra_env)
    result = subprocess.run(["bash", SCRIPT, str(tmp_path / "data"), str(out), stage],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    logged = [json.loads(line) for line in calls.read_text().splitlines()]
    trained = [(call["settings"]["training.out"], call["resume"], call["settings"]) for call in logged]
    return result, trained


def test_lr_stage_records_runs_and_a_fresh_disk_skips_them(tmp_path):
    install_stand_in(tmp_path)
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")
    assert result.returncode == 0, result.stderr
    # Rate by rate with the arms alternating.
    assert [name for name, _, _ in trained] == ["lr-how-1e-4-s0", "lr-mda-1e-4-s0",
                                                 "lr-how-2e-4-s0", "lr-mda-2e-4-s0"]
    for name, _, settings in trained:
        assert settings["training.reduction.init"] == "pca"
        folder = tmp_path / "ledger" / name
        assert sorted(os.listdir(folder)) == ["done", "history.json", "mda-net.sha256", "train.config.yaml"]
    assert "lr-mda-1e-4-s0: best validation Medium mAP 74.0" in result.stdout

    # The next session's disk is empty: every run comes from the ledger, none is trained again.
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session2"), "lr")
    assert result.returncode == 0, result.stderr
    assert trained == []
    assert "lr-how-2e-4-s0: best validation Medium mAP 85.0" in result.stdout


def test_an_interrupted_trial_goes_first_and_resumes(tmp_path):
    install_stand_in(tmp_path)
    out = fresh_disk(tmp_path, "session")
    (out / "lr-mda-2e-4-s0").mkdir()
    (out / "lr-mda-2e-4-s0" / "checkpoint.pt").write_text("")
    result, trained = run_stage(tmp_path, out, "lr")
    assert result.returncode == 0, result.stderr
    assert trained[0][:2] == ("lr-mda-2e-4-s0", True)
    assert [resumed for _, resumed, _ in trained[1:]] == [False, False, False]


def test_shared_stage_varies_each_shared_choice_once_at_each_arms_rate(tmp_path):
    install_stand_in(tmp_path)
    assert run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")[0].returncode == 0
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session2"), "shared")
    assert result.returncode == 0, result.stderr
    project = {"model.smoothing": "false", "model.channel_mapping": "true", "model.stop_gradient": "true",
               "training.reduction.freeze": "false", "training.reduction.init": "pca"}
    other = {"smoothing": ("model.smoothing", "true"), "nomapping": ("model.channel_mapping", "false"),
             "nostopgrad": ("model.stop_gradient", "false"), "frozenT": ("training.reduction.freeze", "true"),
             "randomT": ("training.reduction.init", "keep")}
    expected = [f"shared-{arm}-{lr}-{choice}-s0" for arm, lr in (("how", "2e-4"), ("mda", "1e-4")) for choice in other]
    assert sorted(name for name, _, _ in trained) == sorted(expected)
    for name, _, settings in trained:
        arm_and_lr, choice, _ = name.rsplit("-", 2)
        key, value = other[choice]
        assert {k: settings[k] for k in project} == dict(project, **{key: value}), name
        assert arm_and_lr.endswith("-" + settings["training.optimizer.lr"]), name
    assert (tmp_path / "ledger" / "shared-mda-1e-4-randomT-s0" / "done").exists()


def test_runs_of_different_pipelines_stop_the_script(tmp_path):
    install_stand_in(tmp_path)
    assert run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")[0].returncode == 0
    # One HOW trial measured its untrained model differently (another session's binary).
    history_file = tmp_path / "ledger" / "lr-how-2e-4-s0" / "history.json"
    history = json.loads(history_file.read_text())
    history["validation"][0]["medium"] = 67.19
    history_file.write_text(json.dumps(history))
    for stage in ("lr", "shared"):
        result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session-" + stage), stage)
        assert result.returncode != 0 and trained == [], stage
        assert "were made by different pipelines" in result.stderr and "67.1900" in result.stderr


def test_a_missing_ledger_run_is_trained_again(tmp_path):
    install_stand_in(tmp_path)
    assert run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")[0].returncode == 0
    shutil.rmtree(tmp_path / "ledger" / "lr-mda-1e-4-s0")
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session2"), "lr")
    assert result.returncode == 0, result.stderr
    assert [(name, resumed) for name, resumed, _ in trained] == [("lr-mda-1e-4-s0", False)]


def test_final_settings_take_a_choice_only_where_both_arms_gain_enough(tmp_path):
    install_stand_in(tmp_path)
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session0"), "settings")
    assert result.returncode != 0 and trained == []
    assert "run the lr stage first" in result.stderr
    assert run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")[0].returncode == 0
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session2"), "settings")
    assert result.returncode != 0 and trained == []
    assert "run the shared stage first" in result.stderr
    assert "SMOOTHING: waits for shared-how-2e-4-smoothing-s0 shared-mda-1e-4-smoothing-s0" in result.stdout
    # Gains over the lr trials: smoothing +2 / +2 (taken), frozen T +1.5 / +1.5 (taken), no
    # stop-gradient +3 / -0.1 (not in both arms, though the mean is 1.45), random T +1 / +0.5 (the
    # stand-in's +1 start; the mean 0.75 is below MIN_GAIN), no channel mapping 0 / 0.
    gains = {"how": {"model.smoothing=true": 2.0, "model.stop_gradient=false": 3.0,
                     "training.reduction.freeze=true": 1.5},
             "mda": {"model.smoothing=true": 2.0, "model.stop_gradient=false": -0.1,
                     "training.reduction.freeze=true": 1.5, "training.reduction.init=keep": -0.5}}
    result, _ = run_stage(tmp_path, fresh_disk(tmp_path, "session3"), "shared", FAKE_GAINS=json.dumps(gains))
    assert result.returncode == 0, result.stderr
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session4"), "settings")
    assert result.returncode == 0, result.stderr
    assert trained == []
    assert result.stdout.splitlines()[-1] == ("shared settings: SMOOTHING=true CHANNEL_MAPPING=true "
                                              "STOP_GRADIENT=true FREEZE_T=true T_INIT=pca")
    assert "SMOOTHING=true: +2.00 (shared-how-2e-4-smoothing-s0) and +2.00 (shared-mda-1e-4-smoothing-s0)" in result.stdout
    assert "T_INIT=pca (the project's): keep gave +1.00 (shared-how-2e-4-randomT-s0) and +0.50" in result.stdout
    # A lower MIN_GAIN takes the random T too; SHARED_SETTINGS=given keeps the environment's.
    result, _ = run_stage(tmp_path, fresh_disk(tmp_path, "session5"), "settings", MIN_GAIN="0.5")
    assert result.stdout.splitlines()[-1].endswith("FREEZE_T=true T_INIT=keep"), result.stdout
    result, _ = run_stage(tmp_path, fresh_disk(tmp_path, "session6"), "settings", SHARED_SETTINGS="given",
                          STOP_GRADIENT="false")
    assert result.stdout.splitlines()[-1] == ("shared settings: SMOOTHING=false CHANNEL_MAPPING=true "
                                              "STOP_GRADIENT=false FREEZE_T=false T_INIT=pca")


def test_a_choice_one_arm_settled_needs_no_run_of_the_other_arm(tmp_path):
    install_stand_in(tmp_path)
    assert run_stage(tmp_path, fresh_disk(tmp_path, "session1"), "lr")[0].returncode == 0
    # HOW's gains: smoothing +2, no channel mapping +1, no stop-gradient -0.5 and frozen T 0 (both
    # settle their choice: keep), random T +1 (the stand-in's start).
    gains = {"how": {"model.smoothing=true": 2.0, "model.channel_mapping=false": 1.0,
                     "model.stop_gradient=false": -0.5},
             "mda": {"model.smoothing=true": 2.0, "model.stop_gradient=false": 5.0}}
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session2"), "shared",
                                SHARED_RUNS="needed", FAKE_GAINS=json.dumps(gains))
    assert result.returncode == 0, result.stderr
    assert [name for name, _, _ in trained] == [
        "shared-how-2e-4-smoothing-s0", "shared-how-2e-4-nomapping-s0", "shared-how-2e-4-nostopgrad-s0",
        "shared-how-2e-4-frozenT-s0", "shared-how-2e-4-randomT-s0",
        "shared-mda-1e-4-smoothing-s0", "shared-mda-1e-4-nomapping-s0", "shared-mda-1e-4-randomT-s0"]
    assert "shared-mda-1e-4-nostopgrad-s0: not run (SHARED_RUNS=needed" in result.stdout
    assert "shared-mda-1e-4-frozenT-s0: not run (SHARED_RUNS=needed" in result.stdout
    # The rule decides without them: MDA's +5 without the stop-gradient cannot outvote HOW's loss.
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session3"), "settings")
    assert result.returncode == 0, result.stderr
    assert ("STOP_GRADIENT=true (the project's): false gave -0.50 (shared-how-2e-4-nostopgrad-s0) over the lr trials; "
            "the other arm's run is not needed") in result.stdout
    assert "FREEZE_T=false (the project's): true gave +0.00 (shared-how-2e-4-frozenT-s0) over the lr trials;" in result.stdout
    # Smoothing +2 / +2 and random T +1 / +1 are taken, no channel mapping +1 / 0 is not.
    assert result.stdout.splitlines()[-1] == ("shared settings: SMOOTHING=true CHANNEL_MAPPING=true "
                                              "STOP_GRADIENT=true FREEZE_T=false T_INIT=keep")
    # SHARED_RUNS=all (the default) runs the two others afterwards, and the rule then reads them.
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session4"), "shared", FAKE_GAINS=json.dumps(gains))
    assert result.returncode == 0, result.stderr
    assert [name for name, _, _ in trained] == ["shared-mda-1e-4-nostopgrad-s0", "shared-mda-1e-4-frozenT-s0"]
    result, _ = run_stage(tmp_path, fresh_disk(tmp_path, "session5"), "settings")
    assert "false gave -0.50 (shared-how-2e-4-nostopgrad-s0) and +5.00 (shared-mda-1e-4-nostopgrad-s0)" in result.stdout
    # The arms are symmetric: with HOW's no-stop-gradient run gone from the ledger, MDA's settles
    # nothing (it gained), so HOW's is needed again; MDA's frozen T (0) settles HOW's if it is gone.
    shutil.rmtree(tmp_path / "ledger" / "shared-how-2e-4-nostopgrad-s0")
    shutil.rmtree(tmp_path / "ledger" / "shared-how-2e-4-frozenT-s0")
    # Meanwhile the rule makes the decisions it can, says which choice waits for which run, and fails.
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session6a"), "settings")
    assert result.returncode != 0 and trained == []
    assert "SMOOTHING=true: +2.00 (shared-how-2e-4-smoothing-s0) and +2.00" in result.stdout
    assert ("FREEZE_T=false (the project's): true gave +0.00 (shared-mda-1e-4-frozenT-s0) over the lr trials; "
            "the other arm's run is not needed") in result.stdout
    assert "STOP_GRADIENT: waits for shared-how-2e-4-nostopgrad-s0" in result.stdout
    assert "shared settings:" not in result.stdout
    assert "controlled_comparison: shared-how-2e-4-nostopgrad-s0 not done: run the shared stage first" in result.stderr
    result, trained = run_stage(tmp_path, fresh_disk(tmp_path, "session6"), "shared",
                                SHARED_RUNS="needed", FAKE_GAINS=json.dumps(gains))
    assert result.returncode == 0, result.stderr
    assert [name for name, _, _ in trained] == ["shared-how-2e-4-nostopgrad-s0"]
    assert "shared-how-2e-4-frozenT-s0: not run (SHARED_RUNS=needed" in result.stdout
