"""docs/python.md's code blocks, run in order in one namespace, in a folder holding the demo's
output as demo_out: the walk-through must work as written."""
import os
import re

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")


def test_python_md_runs_as_written(demo, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", open(SOURCE).read(), re.S)
    assert len(blocks) >= 5
    os.symlink(demo, tmp_path / "demo_out")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, SOURCE, "exec"), namespace)
    assert namespace["ranks"].shape[0] == len(namespace["gnd"]["qimlist"])
    assert set(namespace["metrics"]) >= {"easy", "medium", "hard"}
