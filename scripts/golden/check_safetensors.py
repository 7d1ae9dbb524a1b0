"""Cross-checks mmtrain's safetensors reader/writer against the independent Python one
(safetensors_io.py: json + struct + numpy). Run by tests/core/test_safetensors.cpp.

  check_safetensors.py dump FILE    read FILE with safetensors_io.load, print it as JSON
  check_safetensors.py write FILE   write a fixture of every dtype with safetensors_io.save,
                                    print what was written as JSON (the C++ test reads FILE back)

JSON printed: {"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}, values
flattened in C order; floating values as repr() strings of the exact float64 ("nan", "-0.0", ...),
integers and booleans as JSON integers.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# safetensors_io has no bfloat16 (numpy lacks it) and reads BF16 back as uint16 raw bits; here a
# uint16 array stands for BF16 bits in both directions.
safetensors_io._NAMES[np.dtype(np.uint16)] = "BF16"


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def describe(arr):
    dtype = safetensors_io._NAMES[arr.dtype]
    flat = arr.reshape(-1)
    if dtype == "BF16":
        values = [repr(float(v)) for v in bf16_bits_to_f32(flat)]
    elif arr.dtype.kind == "f":
        values = [repr(float(v)) for v in flat]
    else:
        values = [int(v) for v in flat]
    return {"dtype": dtype, "shape": list(arr.shape), "values": values}


def fixture():
    rng = np.random.default_rng(1234)
    special = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-30, 65504.0, 6e-8]
    t = {
        "f64": np.array(special + [np.pi, 1e300], dtype=np.float64).reshape(3, 4),
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f16": np.array(special[:8] + [65504.0, 6e-8], dtype=np.float16).reshape(5, 2),
        "i64": np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max], dtype=np.int64),
        "i32": rng.integers(-2**31, 2**31, size=(4, 2), dtype=np.int32),
        "i16": rng.integers(-2**15, 2**15, size=(3,), dtype=np.int16),
        "i8": np.arange(-128, 128, 17, dtype=np.int8),
        "u8": np.arange(0, 256, 7, dtype=np.uint8).reshape(-1, 1),
        "bool": rng.integers(0, 2, size=(2, 5)).astype(np.bool_),
        # BF16 bits of 1.0, -2.5, 3.140625, inf, nan, -0.0, the smallest subnormal.
        "bf16": np.array([0x3F80, 0xC020, 0x4049, 0x7F80, 0x7FC0, 0x8000, 0x0001], dtype=np.uint16),
        # No 0-d arrays: safetensors_io.save passes them through np.ascontiguousarray, which
        # returns shape (1,). The C++ -> Python direction covers 0-d tensors.
        "empty_f32": np.zeros((0,), dtype=np.float32),
        "empty_i32": np.zeros((3, 0, 2), dtype=np.int32),
        "odd_f16": np.array([1.0, 2.0, 3.0], dtype=np.float16),  # 6 bytes: misaligns what follows
    }
    meta = {"format": "pt", "note": "written by safetensors_io.py", "unicode": "\u00e9\u4e2d"}
    return t, meta


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "write"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "dump":
        tensors, meta = safetensors_io.load(path)
    else:
        tensors, meta = fixture()
        safetensors_io.save(path, tensors, meta)
    out = {"metadata": meta, "tensors": {k: describe(v) for k, v in sorted(tensors.items())}}
    json.dump(out, sys.stdout, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
