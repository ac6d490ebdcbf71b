"""mda.asmk, the drop-in for asmk's asmk_method: HOW's calls run unchanged, rankings equal
`mda search` on the same inputs, cache paths are loaded instead of recomputed, and parameters mda
does not support are errors naming them."""
import os

import numpy as np
import pytest

from mda import asmk as asmk_method
from conftest import run_mda, write_feature_folder

HOW_PARAMS = {  # HOW's eval YAML "asmk" section, with a codebook for tiny data
    "index": {"gpu_id": 0},
    "train_codebook": {"codebook": {"size": 48}},
    "build_ivf": {"kernel": {"binary": True}, "ivf": {"use_idf": False}, "quantize": {"multiple_assignment": 1}},
    "query_ivf": {"quantize": {"multiple_assignment": 5}, "search": {"topk": None},
                  "similarity": {"similarity_threshold": 0.0, "alpha": 3.0}},
}


def test_how_calls_give_the_rankings_of_mda_search(data, tmp_path):
    asmk = asmk_method.ASMKMethod.initialize_untrained(HOW_PARAMS)
    asmk = asmk.train_codebook(data["db_vecs"], cache_path=str(tmp_path / "codebook.npy"))
    asmk_dataset = asmk.build_ivf(data["db_vecs"], data["db_ids"], cache_path=str(tmp_path / "ivf.mdai"))
    metadata, images, ranks, scores = asmk_dataset.query_ivf(data["q_vecs"], data["q_ids"])
    assert "search_time" in metadata
    np.testing.assert_array_equal(images, np.arange(6))
    assert ranks.shape == scores.shape == (6, 18)  # one row per query, every database image

    write_feature_folder(str(tmp_path / "db"), data["db_vecs"], data["db_ids"])
    write_feature_folder(str(tmp_path / "q"), data["q_vecs"], data["q_ids"])
    run_mda("build-index", "--codebook", tmp_path / "codebook.npy", "--features", tmp_path / "db",
            "--out", tmp_path / "i.mdai")
    run_mda("search", "--index", tmp_path / "i.mdai", "--features", tmp_path / "q", "--out", tmp_path / "s")
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "ranks.npy"), ranks.T)
    np.testing.assert_allclose(np.load(tmp_path / "s" / "scores.npy"), scores.T, rtol=1e-6)

    # topk and the other query parameters, per step
    _, _, top3, _ = asmk_dataset.query_ivf(data["q_vecs"], data["q_ids"], step_params={"search": {"topk": 3}})
    np.testing.assert_array_equal(top3, ranks[:, :3])


def test_cached_steps_are_loaded_not_recomputed(data, tmp_path):
    asmk = asmk_method.ASMKMethod.initialize_untrained(HOW_PARAMS)
    first = asmk.train_codebook(data["db_vecs"], cache_path=str(tmp_path / "c.npy"))
    stamp = os.stat(tmp_path / "c.npy").st_mtime_ns
    again = asmk.train_codebook(cache_path=str(tmp_path / "c.npy"))  # no data: must come from the cache
    assert again.codebook.fingerprint == first.codebook.fingerprint
    assert os.stat(tmp_path / "c.npy").st_mtime_ns == stamp
    built = first.build_ivf(data["db_vecs"], data["db_ids"], cache_path=str(tmp_path / "i.mdai"))
    cached = first.build_ivf(cache_path=str(tmp_path / "i.mdai"))
    np.testing.assert_array_equal(cached.query_ivf(data["q_vecs"], data["q_ids"])[2],
                                  built.query_ivf(data["q_vecs"], data["q_ids"])[2])
    other = asmk.train_codebook(data["db_vecs"], step_params={"codebook": {"size": 40}})
    with pytest.raises(ValueError, match="another codebook"):
        other.build_ivf(cache_path=str(tmp_path / "i.mdai"))


def test_database_ids_are_returned_as_given(data):
    asmk = asmk_method.ASMKMethod.initialize_untrained(HOW_PARAMS).train_codebook(data["db_vecs"])
    shifted = asmk.build_ivf(data["db_vecs"], data["db_ids"] + 100)
    plain = asmk.build_ivf(data["db_vecs"], data["db_ids"])
    np.testing.assert_array_equal(shifted.query_ivf(data["q_vecs"], data["q_ids"])[2],
                                  plain.query_ivf(data["q_vecs"], data["q_ids"])[2] + 100)


def test_unsupported_parameters_are_errors_naming_them(data):
    with pytest.raises(ValueError, match="'build_ivf.kernel.foo' is not supported"):
        asmk_method.ASMKMethod.initialize_untrained({"build_ivf": {"kernel": {"foo": 1}}})
    with pytest.raises(ValueError, match="'train_codebook.codebook.size' is '12q'"):
        asmk_method.ASMKMethod.initialize_untrained(
            {"train_codebook": {"codebook": {"size": "12q"}}}).train_codebook(data["db_vecs"])
    asmk = asmk_method.ASMKMethod.initialize_untrained(HOW_PARAMS).train_codebook(data["db_vecs"])
    with pytest.raises(ValueError, match="'query_ivf.search.k' is not supported"):
        asmk.build_ivf(data["db_vecs"], data["db_ids"]).query_ivf(
            data["q_vecs"], data["q_ids"], step_params={"search": {"k": 3}})
    with pytest.raises(ValueError, match="distractors_path"):
        asmk.build_ivf(data["db_vecs"], data["db_ids"], distractors_path="d.pkl")
    with pytest.raises(ValueError, match="train_codebook first"):
        asmk_method.ASMKMethod.initialize_untrained(HOW_PARAMS).build_ivf(data["db_vecs"], data["db_ids"])


def test_codebook_sizes_as_asmk_writes_them():
    assert asmk_method._codebook_size("64k") == 65536
    assert asmk_method._codebook_size("1K") == 1024
    assert asmk_method._codebook_size(4096) == 4096
