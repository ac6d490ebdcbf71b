"""mda: deep local features with multiple dynamic attentions (MDA) and ASMK* image retrieval,
implemented in C++ (docs/python.md).

    import mda
    extractor = mda.Extractor("model.mdam", image_size=1024)
    features = extractor.extract("image.jpg")          # dict of numpy arrays: vecs, strengths, ...
    codebook = mda.Codebook.train(vecs, size=65536)
    index = mda.Index(codebook)
    index.add(vecs, imids)
    ranks, scores = index.search(query_vecs, query_imids, topk=100)
    metrics = mda.evaluate("gnd_roxford5k.pkl", ranks.T)

`from mda import asmk as asmk_method` replaces the asmk library's module of the same role.
"""
import json
import os
import tempfile

import numpy as np

from ._mda import Codebook, Error, Extractor, Index, evaluate_file

__all__ = ["Codebook", "Error", "Extractor", "Index", "evaluate"]


def _plain(value):
    """The revisitop ground-truth dict with numpy arrays turned into lists, for JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def evaluate(gnd, ranks, kappas=(1, 5, 10)):
    """Revisited Oxford/Paris mAP (Easy/Medium/Hard) and mP@k, the numbers of `mda evaluate`.

    gnd: the path of a gnd_*.pkl / gnd_*.json file, or the revisitop dict (with "imlist",
    "qimlist" and "gnd"). ranks: (database images, queries) integers, column q the database
    indices best first (revisitop's orientation; asmk's ranks are its transpose).
    Returns {"easy"|"medium"|"hard": {"map", "mp", "evaluated_queries", "ap"}, "kappas"}.
    """
    if isinstance(gnd, (str, os.PathLike)):
        return evaluate_file(os.fspath(gnd), np.asarray(ranks), list(kappas))
    if not isinstance(gnd, dict):
        raise TypeError("gnd must be a path or the revisitop ground-truth dict")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "gnd_python.json")
        with open(path, "w") as f:
            json.dump(_plain(gnd), f)
        return evaluate_file(path, np.asarray(ranks), list(kappas))
