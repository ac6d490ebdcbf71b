"""Copies the controlled comparison's final models into models/ with a model card each (issue 17,
docs/training.md): for each arm, the seed whose best validation epoch scored highest on
grocery_val (the test sets play no part in the choice), its best.mdam, and a card with the
training data, schedule, validation and test mAP, per-head feature counts and the licence of the
starting weights.

  /usr/bin/python3 scripts/ship_models.py CC_DIR [MODELS_DIR] [--arms how mda]

CC_DIR is the output folder of scripts/controlled_comparison.sh ... final: it holds
final-ARM-sSEED/{best.mdam,history.json,train.config.yaml,done,eval/metrics_*.json}; a run without
its done marker is still training and is left out. A run restored
from the comparison's ledger (trained in an earlier session) has no best.mdam: when it is the best
seed, the model models/ already holds must be that run's (its card names it), and is kept.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import sys

ARM_NAMES = {"how": "HOW (l2 attention, one head)", "mda": "MDA (dynamic attention heads)"}
# The starting weights of each backbone the comparison uses, and their licence (the shipped weights
# derive from them).
STARTS = {
    "mobilenet_v1": ("the Coral ImageNet MobileNetV1 (uint8 TFLite embedding extractor, "
                     "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite)", "Apache-2.0"),
}


def best_validation(run):
    history = json.load(open(os.path.join(run, "history.json")))
    return max(history["validation"], key=lambda v: v["medium"]), history


def config_value(text, dotted):
    """A scalar of the effective YAML configuration mda writes (two-space indents, one key a line)."""
    path = dotted.split(".")
    depth = 0
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        indent = (len(stripped) - len(stripped.lstrip())) // 2
        key, _, value = stripped.strip().partition(":")
        if indent < depth:
            return None
        if indent == depth and key == path[depth]:
            if depth == len(path) - 1:
                return value.strip()
            depth += 1
    return None


def test_map(run, dataset):
    path = os.path.join(run, "eval", "metrics_%s.json" % dataset)
    if not os.path.exists(path):
        return None
    return 100 * json.load(open(path))["protocols"]["medium"]["map"]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card(arm, run, seeds, model_file, model_sha256):
    best, history = best_validation(run)
    config = open(os.path.join(run, "train.config.yaml")).read()
    get = lambda key: config_value(config, key)  # noqa: E731
    backbone = get("model.backbone")
    lines = [
        "# %s, %s, trained on grocery" % (ARM_NAMES.get(arm, arm), backbone),
        "",
        "`%s`: an mda model file (`mda extract --model %s ...`). Produced by "
        "`scripts/controlled_comparison.sh ../shared/data OUT final` and chosen by "
        "`scripts/ship_models.py` as the seed with the best validation mAP of its arm." % (model_file, model_file),
        "",
        "Run: `%s`" % os.path.basename(os.path.normpath(run)),
        "",
        "sha256 of the model file: `%s`" % model_sha256,
        "",
        "## Architecture",
        "",
        "backbone %s (skip_layer %s), attention %s, %s head(s), %s-d descriptors, channel mapping %s, "
        "smoothing %s" % (backbone, get("model.skip_layer"), get("model.attention"), get("model.heads"),
        get("model.dim"), get("model.channel_mapping"), get("model.smoothing")),
        "",
        "## Training",
        "",
        "- data: grocery's training manifest without the products held out for validation "
        "(`grocery_val`, made by scripts/grocery_common.sh); grocery's test products and ukbench1k unseen",
        "- schedule: %d epochs of %s tuples (%s-pixel images), learning rate %s (attention %s), "
        "diversity weight %s, seed %s" % (len(history["epochs"]), get("training.qsize"), get("training.image_size"),
                                          get("training.optimizer.lr"), get("training.optimizer.attention_lr"),
                                          get("training.diversity_weight"), get("training.seed")),
        "- starting weights: %s, licence %s" % STARTS.get(backbone, ("model.pretrained of the configuration",
                                                                     "that of those weights")),
        "",
        "## Results (ASMK* Medium mAP, scripts/grocery_common.sh `evaluate`)",
        "",
        "| seed | validation (grocery_val, best epoch) | grocery | ukbench1k |",
        "| --- | --- | --- | --- |",
    ]
    for seed_run in seeds:
        v, _ = best_validation(seed_run)
        g, u = test_map(seed_run, "grocery"), test_map(seed_run, "ukbench1k")
        mark = " (shipped)" if os.path.samefile(seed_run, run) else ""
        lines.append("| %s%s | %.2f (epoch %d) | %s | %s |" % (
            re.sub(r".*-s", "", seed_run), mark, v["medium"], v["epoch"],
            "n/a" if g is None else "%.2f" % g, "n/a" if u is None else "%.2f" % u))
    selection = os.path.join(run, "eval", "selection.txt")
    if os.path.exists(selection):
        mode = open(selection).read().strip()
        lines += ["", "Test features selected by `evaluation.selection: %s` (for MDA chosen on grocery_val "
                      "among the modes by scripts/controlled_comparison.sh). The model file does not record "
                      "it: extract as tested with `mda extract --model %s --set evaluation.selection=%s ...` "
                      "(the default is joint)." % (mode, model_file, mode)]
    heads = best.get("heads", {}).get("features_per_head")
    if heads:
        total = sum(heads)
        lines += ["", "Features per head on grocery_val at the shipped epoch (joint selection): %s "
                      "(largest %.1f%%)." % (" / ".join(str(h) for h in heads), 100.0 * max(heads) / max(total, 1))]
    lines += ["", "Licence of the model file: %s, that of the starting weights it derives from." %
              STARTS.get(backbone, (None, "that of the starting weights"))[1], ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cc_dir")
    parser.add_argument("models_dir", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    parser.add_argument("--arms", nargs="+", default=["how", "mda"])
    args = parser.parse_args()
    os.makedirs(args.models_dir, exist_ok=True)
    for arm in args.arms:
        # Only finished runs (the done marker): a run still training has no final best epoch.
        seeds = sorted(r for r in glob.glob(os.path.join(args.cc_dir, "final-%s-s*" % arm))
                       if all(os.path.exists(os.path.join(r, f)) for f in ("history.json", "train.config.yaml", "done")))
        if not seeds:
            sys.exit("%s: no finished final-%s-s* run (history.json, train.config.yaml, done)" % (args.cc_dir, arm))
        run = max(seeds, key=lambda r: best_validation(r)[0]["medium"])
        config = open(os.path.join(run, "train.config.yaml")).read()
        name = "%s_%s_grocery" % (arm, config_value(config, "model.backbone"))
        model_file = os.path.join(args.models_dir, name + ".mdam")
        card_file = os.path.join(args.models_dir, name + ".md")
        run_line = "Run: `%s`" % os.path.basename(os.path.normpath(run))
        if os.path.exists(os.path.join(run, "best.mdam")):
            temporary = model_file + ".tmp"
            shutil.copyfile(os.path.join(run, "best.mdam"), temporary)
            os.replace(temporary, model_file)
        elif not (os.path.exists(model_file) and os.path.exists(card_file)
                  and run_line in open(card_file).read().splitlines()):
            sys.exit("%s: the best seed %s has no best.mdam here and %s does not hold its model; "
                     "train it again" % (args.cc_dir, run, model_file))
        temporary = card_file + ".tmp"
        with open(temporary, "w") as out:
            out.write(card(arm, run, seeds, "models/" + name + ".mdam", sha256(model_file)))
        os.replace(temporary, card_file)
        print("%s: %s from %s (%.1f MB)" % (arm, model_file, run, os.path.getsize(model_file) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
