#!/usr/bin/python3
"""Python reference of mmtrain's image pipeline for the benchmark (and a cross-check of the grid
choice): decode with python3-opencv, the MM1.5 dynamic split (docs/images.md: case 1 least
padding, case 2 largest scale; ties: fewer tiles, then fewer rows; image top-left, padding
right/bottom = 0 after normalisation), tiles row-major + overview, CLIP mean/std into float32
(N, 3, r, r) with numpy. One core (cv2.setNumThreads(1)). Prints images_per_s=X (per CPU second).

  /usr/bin/python3 scripts/reference/image_split_ref.py --image IMG.jpg [--seconds 5]
  /usr/bin/python3 scripts/reference/image_split_ref.py --plan H W [--nmin 4 --nmax 9 --tile 672]
"""
import argparse
import math
import time

import cv2
import numpy as np

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def choose_grid(h, w, r, nmin, nmax):
    best = None
    for rows in range(1, nmax + 1):
        for cols in range(1, nmax // rows + 1):
            if rows * cols < nmin:
                continue
            s = min(rows * r / h, cols * r / w)
            pad = rows * cols * r * r - s * s * h * w
            cand = (rows, cols, s, pad, 1 if s >= 1 else 2)
            if best is None or better(cand, best):
                best = cand
    return best


def better(a, b):
    if a[4] != b[4]:
        return a[4] < b[4]
    if a[4] == 1 and not close(a[3], b[3]):
        return a[3] < b[3]
    if a[4] == 2 and not close(a[2], b[2]):
        return a[2] > b[2]
    if a[0] * a[1] != b[0] * b[1]:
        return a[0] * a[1] < b[0] * b[1]
    return a[0] < b[0]


def scaled_size(h, w, r, rows, cols):
    ch, cw = rows * r, cols * r
    if rows * w <= cols * h:  # height limits the scale
        return ch, min(max((2 * w * ch + h) // (2 * h), 1), cw)
    return min(max((2 * h * cw + w) // (2 * w), 1), ch), cw


def resize(img, h, w):
    if img.shape[0] == h and img.shape[1] == w:
        return img
    shrink = h <= img.shape[0] and w <= img.shape[1]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def normalize(img):  # (H, W, 3) uint8 RGB -> (H, W, 3) float32
    return (img.astype(np.float32) * np.float32(1 / 255) - MEAN) / STD


def process(data, r=672, nmin=4, nmax=9):
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    rows, cols, _, _, _ = choose_grid(h, w, r, nmin, nmax)
    sh, sw = scaled_size(h, w, r, rows, cols)
    canvas = np.zeros((rows * r, cols * r, 3), np.float32)
    canvas[:sh, :sw] = normalize(resize(rgb, sh, sw))
    tiles = canvas.reshape(rows, r, cols, r, 3).transpose(0, 2, 4, 1, 3).reshape(rows * cols, 3, r, r)
    overview = normalize(resize(rgb, r, r)).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(np.concatenate([tiles, overview], axis=0))  # (N, 3, r, r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--plan", type=int, nargs=2, metavar=("H", "W"))
    ap.add_argument("--tile", type=int, default=672)
    ap.add_argument("--nmin", type=int, default=4)
    ap.add_argument("--nmax", type=int, default=9)
    a = ap.parse_args()
    if a.plan:
        rows, cols, s, pad, case = choose_grid(a.plan[0], a.plan[1], a.tile, a.nmin, a.nmax)
        print(f"grid={rows}x{cols} scale={s:.6f} case={case} scaled={scaled_size(*a.plan, a.tile, rows, cols)}")
        return
    cv2.setNumThreads(1)
    data = open(a.image, "rb").read()
    out = process(data, a.tile, a.nmin, a.nmax)
    assert out.shape[1:] == (3, a.tile, a.tile) and math.isfinite(float(out.sum()))
    # CPU time of this (single-threaded) process, like Google Benchmark's default, so a busy
    # machine does not skew the comparison; wall time is printed too.
    n, c0, t0 = 0, time.process_time(), time.perf_counter()
    while time.process_time() - c0 < a.seconds:
        process(data, a.tile, a.nmin, a.nmax)
        n += 1
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(f"python reference: {n} images, {1000 * cpu / n:.1f} ms CPU/image ({1000 * wall / n:.1f} ms wall), "
          f"tiles {tuple(out.shape)}")
    print(f"images_per_s={n / cpu:.3f}")


if __name__ == "__main__":
    main()
