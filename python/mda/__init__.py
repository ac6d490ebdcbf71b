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

from . import _mda
from ._mda import Codebook, Error, Index, evaluate_file

__all__ = ["Codebook", "Error", "Extractor", "Features", "Index", "evaluate"]


class Features(dict):
    """One image's local features: `vecs` (n, dim) float32 descriptors (not normalised, as HOW
    keeps them), `strengths` (n,) attention scores divided by the image's maximum, `locs` (n, 2)
    int32 feature-map x, y at their scale, `scales` (n,) float32, `heads` (n,) int32 (the head
    that selected each). Attributes and keys both work: f.vecs is f["vecs"]."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Extractor(_mda.Extractor):
    __doc__ = _mda.Extractor.__doc__

    def extract(self, image, bbox=None):
        """Local features of one image: a path, encoded bytes (JPEG, PNG, BMP) or an H x W x 3
        uint8 RGB array; `bbox` (x1, y1, x2, y2) crops it, keeping the full image's scale (as
        revisitop's queries). Returns Features."""
        return Features(super().extract(image, bbox))

    def extract_many(self, paths, progress=True):
        """Features of every image of a list, decoded ahead on threads, in list order; a
        progress bar with ETA on stderr unless progress=False."""
        return [Features(f) for f in super().extract_many(list(paths), progress)]


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
