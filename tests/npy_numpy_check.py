"""Cross-checks mda's .npy files against numpy.

  write DIR   writes one file per dtype and header version, values v[i] = (3 i + 1) * scale
  verify DIR  checks the files that mda wrote into DIR (same names and values)
"""
import os
import sys

import numpy as np

DTYPES = ["float32", "float16", "float64", "int32", "int64", "uint8", "uint16"]
VERSIONS = [(1, 0), (2, 0), (3, 0)]


def expected(dtype):
    values = np.arange(12).reshape(3, 4) * 3 + 1
    if dtype.startswith("float"):
        values = values * 0.25
    return values.astype(dtype)


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    if mode == "write":
        for dtype in DTYPES:
            for major, minor in VERSIONS:
                path = os.path.join(folder, "%s_v%d.npy" % (dtype, major))
                with open(path, "wb") as f:
                    np.lib.format.write_array(f, expected(dtype), version=(major, minor))
        np.save(os.path.join(folder, "fortran.npy"), np.asfortranarray(expected("float32")))
        np.save(os.path.join(folder, "bigendian.npy"), expected("float32").astype(">f4"))
        np.save(os.path.join(folder, "empty.npy"), np.zeros((0, 128), np.float32))
        return 0
    failures = 0
    for dtype in DTYPES:
        path = os.path.join(folder, "mda_%s.npy" % dtype)
        array = np.load(path)
        if array.dtype != np.dtype(dtype) or array.shape != (3, 4) or not np.array_equal(array, expected(dtype)):
            print("mismatch in", path, array.dtype, array.shape, array)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
