"""A drop-in for the asmk library's `asmk_method` module, on mda's C++ ASMK*.

    from mda import asmk as asmk_method        # instead of: from asmk import asmk_method

    asmk = asmk_method.ASMKMethod.initialize_untrained(params)
    asmk = asmk.train_codebook(vecs, cache_path="codebook.npy")
    asmk_dataset = asmk.build_ivf(vecs, imids, cache_path="ivf.mdai")
    metadata, images, ranks, scores = asmk_dataset.query_ivf(qvecs, qimids)

`params` is asmk's nested dictionary (HOW's and FIRe's `asmk` YAML section). Supported keys:
index.gpu_id (accepted; mda quantizes on the CPU, and says so once), train_codebook.codebook.size
(an integer or "64k"), build_ivf.kernel.binary, build_ivf.ivf.use_idf,
build_ivf.quantize.multiple_assignment, query_ivf.quantize.multiple_assignment,
query_ivf.search.topk, query_ivf.similarity.similarity_threshold, query_ivf.similarity.alpha. Any
other key is a ValueError naming it. Return values have asmk's shapes and orientation: ranks and
scores have one row per query (the query ids ascending, as `images`), database ids best first.
A `cache_path` that exists is loaded instead of recomputed (mda's own formats: a centroids .npy
for the codebook, an index file for the inverted file); one that does not is written.
"""
import copy
import os
import sys
import time

import numpy as np

from ._mda import Codebook, Index

_SCHEMA = {
    "index": {"gpu_id": None},
    "train_codebook": {"codebook": {"size": None}},
    "build_ivf": {"kernel": {"binary": None}, "ivf": {"use_idf": None},
                  "quantize": {"multiple_assignment": None}},
    "query_ivf": {"quantize": {"multiple_assignment": None}, "search": {"topk": None},
                  "similarity": {"similarity_threshold": None, "alpha": None}},
}
_DEFAULTS = {
    "index": {"gpu_id": None},
    "train_codebook": {"codebook": {"size": "64k"}},
    "build_ivf": {"kernel": {"binary": True}, "ivf": {"use_idf": False},
                  "quantize": {"multiple_assignment": 1}},
    "query_ivf": {"quantize": {"multiple_assignment": 5}, "search": {"topk": None},
                  "similarity": {"similarity_threshold": 0.0, "alpha": 3.0}},
}
_warned_gpu = [False]
# Threads of the inverted file's construction and of the searches (asmk has no such setting).
threads = os.cpu_count() or 1


def _check(params, schema, prefix):
    if not isinstance(params, dict):
        raise ValueError(f"asmk params: '{prefix or 'params'}' must be a dictionary, found {type(params).__name__}")
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if key not in schema:
            raise ValueError(f"asmk params: '{name}' is not supported by mda.asmk (supported: "
                             f"{', '.join(sorted(_flatten(_SCHEMA)))})")
        if isinstance(schema[key], dict):
            _check(value, schema[key], name)


def _flatten(schema, prefix=""):
    for key, value in schema.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _flatten(value, name)
        else:
            yield name


def _merge(base, override):
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _codebook_size(size):
    if isinstance(size, str):
        text = size.strip().lower()
        multiplier = 1024 if text.endswith("k") else 1
        try:
            return int(text[:-1] if text.endswith("k") else text) * multiplier
        except ValueError:
            raise ValueError(f"asmk params: 'train_codebook.codebook.size' is '{size}', not a size like 65536 or '64k'")
    if isinstance(size, (int, np.integer)) and size > 0:
        return int(size)
    raise ValueError(f"asmk params: 'train_codebook.codebook.size' must be positive, found {size!r}")


class ASMKMethod:
    """asmk's ASMKMethod: each step returns a new object holding what the steps so far made."""

    def __init__(self, params, metadata, *, codebook=None, index=None, database_ids=None):
        _check(params, _SCHEMA, "")
        self.params = _merge(_DEFAULTS, params)
        self.metadata = metadata
        self.codebook = codebook
        self.index = index
        self.database_ids = database_ids
        if self.params["index"].get("gpu_id") is not None and not _warned_gpu[0]:
            _warned_gpu[0] = True
            print("mda.asmk: index.gpu_id is accepted for compatibility; mda quantizes on the CPU",
                  file=sys.stderr)

    @classmethod
    def initialize_untrained(cls, params):
        return cls(params, {})

    def _step(self, name, step_params):
        if step_params is not None:
            _check(step_params, _SCHEMA[name], name)
        return _merge(self.params[name], step_params)

    def train_codebook(self, *columns, cache_path=None, step_params=None):
        """columns: (vecs,) float32 (n, d). Returns a new ASMKMethod with the codebook."""
        params = self._step("train_codebook", step_params)
        start = time.time()
        if cache_path and os.path.exists(cache_path):
            codebook = Codebook.load(os.fspath(cache_path))
        else:
            if not columns:
                raise ValueError("train_codebook needs the training descriptors (vecs)")
            codebook = Codebook.train(columns[0], _codebook_size(params["codebook"]["size"]))
            if cache_path:
                codebook.save(os.fspath(cache_path))
        metadata = {"train_time": time.time() - start}
        return self.__class__({**self.params, "train_codebook": params}, {"train_codebook": metadata},
                              codebook=codebook)

    def build_ivf(self, *columns, distractors_path=None, cache_path=None, step_params=None):
        """columns: (vecs, imids, ...) database descriptors and their image ids."""
        if self.codebook is None:
            raise ValueError("build_ivf needs a trained codebook (call train_codebook first)")
        if distractors_path is not None:
            raise ValueError("build_ivf: distractors_path is not supported by mda.asmk "
                             "(add the distractor images with build_ivf's columns)")
        params = self._step("build_ivf", step_params)
        start = time.time()
        if cache_path and os.path.exists(cache_path):
            index = Index.open(os.fspath(cache_path))
            if index.codebook.fingerprint != self.codebook.fingerprint:
                raise ValueError(f"build_ivf: the cached index '{cache_path}' was built with another codebook")
            database_ids = np.array([int(name) for name in index.names], dtype=np.int64)
        else:
            if len(columns) < 2:
                raise ValueError("build_ivf needs the database descriptors and their image ids (vecs, imids)")
            vecs, imids = columns[0], np.asarray(columns[1])
            index = Index(self.codebook, binary=bool(params["kernel"]["binary"]),
                          multiple_assignment=int(params["quantize"]["multiple_assignment"]))
            database_ids = np.unique(imids).astype(np.int64)
            index.add(vecs, imids, names=[str(i) for i in database_ids], threads=threads)
            if cache_path:
                index.save(os.fspath(cache_path))
        metadata = {"index_time": time.time() - start, "stats": index.stats}
        return self.__class__({**self.params, "build_ivf": params},
                              {**self.metadata, "build_ivf": metadata},
                              codebook=self.codebook, index=index, database_ids=database_ids)

    def query_ivf(self, *columns, step_params=None, progress=None):
        """columns: (qvecs, qimids, ...). Returns (metadata, images, ranks, scores): images the
        query ids ascending; ranks (queries, topk) database ids best first; scores alike."""
        if self.index is None:
            raise ValueError("query_ivf needs an inverted file (call build_ivf first)")
        if progress is not None and not isinstance(progress, int):
            raise ValueError(f"query_ivf: progress must be None or an int, found {progress!r}")
        params = self._step("query_ivf", step_params)
        if len(columns) < 2:
            raise ValueError("query_ivf needs the query descriptors and their image ids (qvecs, qimids)")
        qvecs, qimids = columns[0], np.asarray(columns[1])
        topk = params["search"]["topk"]
        start = time.time()
        positions, scores = self.index.search(
            qvecs, qimids, topk=None if topk is None else int(topk),
            multiple_assignment=int(params["quantize"]["multiple_assignment"]),
            alpha=float(params["similarity"]["alpha"]),
            similarity_threshold=float(params["similarity"]["similarity_threshold"]),
            use_idf=bool(self.params["build_ivf"]["ivf"]["use_idf"]), threads=threads)
        metadata = {"search_time": time.time() - start}
        if progress:
            print(f"mda.asmk: {len(positions)} queries in {metadata['search_time']:.2f} s", file=sys.stderr)
        return metadata, np.unique(qimids), self.database_ids[positions], scores
