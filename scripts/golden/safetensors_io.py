"""Minimal, independent safetensors reader/writer (json + struct + numpy) for the golden-data
generators and for cross-checking mmtrain's C++ writer. Follows the format exactly: 8-byte
little-endian header length, JSON header padded with spaces to 8-byte alignment, tensors
contiguous in offset order."""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (a torch bfloat16 tensor is written as BF16, its raw
    bits). Names sorted, data in name order, metadata (if any) last in the header."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr, code = tensors[name], None
        if hasattr(arr, "detach"):
            arr = arr.detach().cpu().contiguous()
            if str(arr.dtype) == "torch.bfloat16":  # numpy has no bfloat16: the raw 16 bits
                import torch  # only here: the other callers need no torch
                arr, code = arr.view(torch.int16), "BF16"
            arr = arr.numpy()
        arr = np.asarray(arr)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)  # (ascontiguousarray alone would turn 0-d into shape [1])
        data = arr.tobytes()
        header[name] = {"dtype": code or _NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> numpy array, metadata dict). BF16 comes back as uint16 raw bits."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out, base = {}, 8 + n
    for name, info in header.items():
        s, e = info["data_offsets"]
        dt = np.uint16 if info["dtype"] == "BF16" else _DTYPES[info["dtype"]]
        out[name] = np.frombuffer(raw[base + s:base + e], dtype=dt).reshape(info["shape"])
    return out, meta
