#!/usr/bin/python3
"""Generate the tiny .npz fixtures that test sct's npz reader against numpy itself.

Run with Debian's system python (numpy only):

    /usr/bin/python3 tools/make_npz_fixtures.py

Writes into tests/fixtures/npz/:
  stored.npz      np.savez            (zip entries stored, method 0)
  deflated.npz    np.savez_compressed (zip entries deflated, method 8)
  zip64.npz       np.savez with zipfile forced to write zip64 end records and extra fields
  versions.npz    the same array as npy format versions 1.0, 2.0 and 3.0
  expected.json   for every archive its keys; for every key numpy's dtype, shape and
                  values flattened in C order, which the C++ test compares against

Deterministic: fixed values and a fixed zip timestamp, so reruns give identical files
(deflate output may still differ across zlib versions).
"""

import json
import os
import time
import zipfile
from unittest import mock

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "npz")
FIXED_TIME = time.struct_time((2020, 1, 1, 0, 0, 0, 2, 1, 0))


def arrays():
    """Every dtype and layout the reader supports, with values that probe edge cases."""
    return {
        "f32": np.array([[1.5, -2.25, 3.0e-8], [3.4028235e38, -0.0, 1.4e-45]], dtype="<f4"),
        "f64": np.array([np.pi, -1e300, 5e-324, 0.1], dtype="<f8"),
        "f16": np.array([1.0, -0.5, 65504.0, 6e-8, 0.333], dtype="<f2"),
        "i64": np.array([-2**63, 2**62 + 1, 0, 7], dtype="<i8"),
        "i32": np.array([-2**31, 2**31 - 1, 3], dtype="<i4"),
        "i16": np.array([-32768, 32767, -1], dtype="<i2"),
        "i8": np.array([-128, 127, 0], dtype="|i1"),
        "u8": np.array([0, 255, 128], dtype="|u1"),
        "bool": np.array([True, False, True, True], dtype="|b1"),
        "scalar": np.array(3.5, dtype="<f8"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "fortran2d": np.asfortranarray(np.arange(6, dtype="<i2").reshape(2, 3)),
        "fortran3d": np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)),
        "big_f4": np.array([1.5, -2.0, 1e-3], dtype=">f4"),
        "big_i8": np.array([[1, -2], [2**40, -(2**50)]], dtype=">i8"),
        "big_f2": np.array([0.25, -3.0], dtype=">f2"),
        "a/b/c": np.array([10, 20, 30], dtype="<i4"),
    }


def describe(array):
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "values": array.ravel(order="C").tolist(),
    }


def write_savez(path, data, compressed):
    # np.savez stamps entries with the current time; pin it so reruns are byte-identical.
    with mock.patch("time.localtime", return_value=FIXED_TIME):
        (np.savez_compressed if compressed else np.savez)(path, **data)


def write_zip64(path, data):
    # Python's zipfile writes zip64 records only past 4 GiB / 65535 entries; lower its limits so a
    # tiny archive gets zip64 end records and zip64 extra fields in the central directory.
    with mock.patch.object(zipfile, "ZIP64_LIMIT", 0), mock.patch.object(zipfile, "ZIP_FILECOUNT_LIMIT", 0):
        write_savez(path, data, compressed=False)


def write_versions(path, array):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for version in [(1, 0), (2, 0), (3, 0)]:
            info = zipfile.ZipInfo("v%d.npy" % version[0], date_time=FIXED_TIME[:6])
            with archive.open(info, "w") as entry:
                np.lib.format.write_array(entry, array, version=version)


def check(path, expected):
    """The files must read back through numpy exactly as written."""
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted(expected), path
        for key, array in expected.items():
            loaded = archive[key]
            assert loaded.dtype == array.dtype and loaded.shape == array.shape, (path, key)
            assert np.array_equal(loaded, array), (path, key)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    data = arrays()
    zip64_data = {k: data[k] for k in ["f32", "i64", "scalar", "a/b/c"]}
    version_data = {"v1": data["f32"], "v2": data["f32"], "v3": data["f32"]}
    archives = {
        "stored.npz": data,
        "deflated.npz": data,
        "zip64.npz": zip64_data,
        "versions.npz": version_data,
    }
    write_savez(os.path.join(OUT_DIR, "stored.npz"), data, compressed=False)
    write_savez(os.path.join(OUT_DIR, "deflated.npz"), data, compressed=True)
    write_zip64(os.path.join(OUT_DIR, "zip64.npz"), zip64_data)
    write_versions(os.path.join(OUT_DIR, "versions.npz"), data["f32"])
    for name, contents in archives.items():
        check(os.path.join(OUT_DIR, name), contents)

    expected = {
        "archives": {name: sorted(contents) for name, contents in archives.items()},
        "arrays": {key: describe(array) for key, array in data.items()},
    }
    expected["arrays"].update({key: describe(array) for key, array in version_data.items()})
    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
