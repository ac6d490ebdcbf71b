"""Writes the pickles that pickle_test.cpp reads: one object at protocols 2 to 5, plus a pickle
that would run a command if it were executed (the reader must refuse it, not run it)."""
import os
import pickle
import sys

import numpy as np


class RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def main():
    folder = sys.argv[1]
    shared = [7, 8]
    obj = {
        "imlist": ["a", "b", "\u00fcn\u00ef"],
        "qimlist": ["q"],
        "gnd": [{"bbx": [0.5, 1.0, 10.0, 20.25], "easy": np.array([0, 2], dtype=np.int64),
                 "hard": np.array([], dtype=np.int64), "junk": [1]}],
        "flags": (True, False, None),
        "big": 2 ** 40,
        "neg": -7,
        "neg_big": -(2 ** 33),
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "u8": np.array([1, 2, 255], np.uint8),
        "i32": np.array([-1, 5], np.int32),
        "scalar_i": np.int64(5),
        "scalar_f": np.float64(2.5),
        "shared_a": shared,
        "shared_b": shared,
        "long": "x" * 300,
    }
    for protocol in (2, 3, 4, 5):
        with open(os.path.join(folder, "case_p%d.pkl" % protocol), "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    with open(os.path.join(folder, "evil.pkl"), "wb") as f:
        pickle.dump({"x": RunsACommand()}, f, protocol=2)
    with open(os.path.join(folder, "object_array.pkl"), "wb") as f:
        pickle.dump(np.array(["a", 1], dtype=object), f, protocol=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
