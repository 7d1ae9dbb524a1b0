#!/usr/bin/python3
"""Golden data for tests/data_pipeline/test_image_golden.cpp: small deterministic PNGs and the
tiles the reference pipeline of scripts/reference/image_split_ref.py (python3-opencv + numpy,
written independently of the C++) makes of them. PNG is lossless, so both sides decode the same
pixels; the resize filters are OpenCV's on both sides.

  /usr/bin/python3 scripts/golden/gen_image_golden.py   # writes tests/data/golden/image_split.safetensors
"""
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import safetensors_io  # noqa: E402
from image_split_ref import choose_grid, process  # noqa: E402

R, NMIN, NMAX = 8, 4, 9
# (h, w): 12 x 21 fits without downscaling (upscaled, bicubic); 50 x 15 and 45 x 38 need
# downscaling (case 2, area filter).
SIZES = [(12, 21), (50, 15), (45, 38)]


def image(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1)
    noise = rng.integers(0, 64, size=(h, w, 3))
    return ((base + noise) % 256).astype(np.uint8)  # BGR for cv2.imencode


def main():
    out = {}
    for n, (h, w) in enumerate(SIZES):
        ok, png = cv2.imencode(".png", image(h, w, n))
        assert ok
        data = png.tobytes()
        rows, cols, _, _, _ = choose_grid(h, w, R, NMIN, NMAX)
        out[f"png_{n}"] = np.frombuffer(data, np.uint8).copy()
        out[f"grid_{n}"] = np.array([rows, cols], np.int64)
        out[f"tiles_{n}"] = process(data, R, NMIN, NMAX)  # (N, 3, R, R) float32
    path = os.path.join(HERE, "..", "..", "tests", "data", "golden", "image_split.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.save(path, out, {"tile": str(R), "nmin": str(NMIN), "nmax": str(NMAX)})
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
