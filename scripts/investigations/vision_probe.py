#!/usr/bin/python3
"""How fast does an image encoder learn the synthetic world's shapes from scratch?

A diagnostic for the demo's vision gap (docs/investigations/how-large-shapes-and-glyphs-must-be.md):
trains the debug preset's ViT (3 blocks, width 128, 64 px tiles, 8 px patches) or a variant directly on the pretraining caption scenes of a
synthetic world, to predict which colours and which shape kinds are present (10 labels, read from
the captions), and prints held-out per-label accuracy every 200 steps. Colour is learned in about
200 steps whatever the stem; shape kind is what separates the stems.

    mmtrain data synth --out /tmp/vw --set synth.counts.caption=16000 --set synth.tokenizer=false
    /usr/bin/python3 scripts/investigations/vision_probe.py --world /tmp/vw --stem patch --head max

Debian's python3-torch and python3-pil; a diagnostic, not part of the build or the runtime.
"""
import argparse
import glob
import io
import math
import re
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
KINDS = ["circle", "square", "triangle", "star"]
WORDS = ["open", "stop", "exit", "sale", "cafe", "north", "south", "east", "west", "hotel", "park", "bank", "gate",
         "shop", "bus", "taxi", "river", "hill", "lake", "road", "farm", "city", "mail", "book"]  # data_pipeline/synth/tasks.h kSignWords
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def set_recipe_lr(opt, base_lr, step, steps):
    """The debug recipe's schedule at `step` (1-based) of `steps`: 30 warmup steps, cosine to 0.1."""
    lr = base_lr * min(1.0, step / 30) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / steps)))
    for g in opt.param_groups:
        g["lr"] = lr


def decode(png, res):
    """An RGB array (res, res, 3) of a PNG, resized bilinearly as a single tile is."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((res, res), Image.BILINEAR))


def load_scenes(world, res, limit, task="shapes"):
    """Caption scenes: pixels (N, 3, res, res) and labels. shapes: the shape scenes (signs skipped),
    10 presence labels; signs: the sign scenes, the index of the sign's word in WORDS."""
    xs, ys = [], []
    for shard in sorted(glob.glob(f"{world}/pretrain/captions-*.tar")):
        members = {}
        with tarfile.open(shard) as tf:
            for m in tf.getmembers():
                key, ext = m.name.rsplit(".", 1)
                members.setdefault(key, {})[ext] = tf.extractfile(m).read()
        for parts in members.values():
            caption = parts["txt"].decode()
            if task == "signs":
                m = re.fullmatch(r"a sign that says (\w+)\.", caption)
                if m and m.group(1) in WORDS:
                    xs.append(decode(parts["png"], res))
                    ys.append(WORDS.index(m.group(1)))
                continue
            pairs = re.findall(r"(red|green|blue|yellow|purple|orange) (circle|square|triangle|star)", caption)
            if not pairs:
                continue
            y = np.zeros(10, np.float32)
            for colour, kind in pairs:
                y[COLOURS.index(colour)] = 1
                y[6 + KINDS.index(kind)] = 1
            xs.append(decode(parts["png"], res))
            ys.append(y)
        if len(xs) >= limit:
            break
    assert xs, f"no caption scenes under {world}/pretrain"
    x = torch.tensor(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    x = (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return x, torch.tensor(np.stack(ys)) if task == "shapes" else torch.tensor(ys)


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, mlp), nn.GELU(), nn.Linear(mlp, d))

    def forward(self, x):
        y = self.n1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.n2(x))


def make_stem(kind, patch, d):
    if kind == "patch":  # CLIP: one p x p convolution
        return nn.Conv2d(3, d, patch, patch, bias=False)
    layers, cin = [], 3  # vision.stem = conv: log2(p) x [3x3 stride 2, GroupNorm(1), ReLU], then 1x1
    stages = int(math.log2(patch))
    for i in range(stages):
        cout = d >> (stages - 1 - i)
        layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.GroupNorm(1, cout), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.Conv2d(d, d, 1, bias=False))


def sincos_2d(grid, d):
    """MAE's fixed 2D sine-cosine table (grid*grid, d): a quarter of the channels per axis and function."""
    q = d // 4
    omega = 1.0 / 10000 ** (torch.arange(q, dtype=torch.float32) / q)
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32), indexing="ij")
    out = []
    for coord in (ys.flatten(), xs.flatten()):
        a = coord[:, None] * omega[None]
        out += [a.sin(), a.cos()]
    return torch.cat(out, 1)


class Probe(nn.Module):
    """The debug ViT (ln_pre, pre-norm blocks) with a linear head over pooled patch features."""

    def __init__(self, stem, head, res=64, patch=8, d=128, layers=3, pos="random", outputs=10):
        super().__init__()
        self.stem, self.head_kind = make_stem(stem, patch, d), head
        init = sincos_2d(res // patch, d) if pos == "sincos" else torch.randn((res // patch) ** 2, d) * 0.02
        self.pos = nn.Parameter(init)
        self.ln_pre = nn.LayerNorm(d)
        self.blocks = nn.ModuleList([Block(d, 4, 4 * d) for _ in range(layers)])
        self.head = nn.Linear(d, outputs)

    def forward(self, x):
        x = self.ln_pre(self.stem(x).flatten(2).transpose(1, 2) + self.pos)
        for b in self.blocks:
            x = b(x)
        return self.head(x.max(1).values if self.head_kind == "max" else x.mean(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", required=True, help="output folder of mmtrain data synth")
    ap.add_argument("--stem", choices=["patch", "conv"], default="patch")
    ap.add_argument("--head", choices=["mean", "max"], default="max",
                    help="pooling before the linear head (max: presence, as a decoder can attend to one token)")
    ap.add_argument("--pos", choices=["random", "sincos"], default="random",
                    help="initial position embeddings: CLIP's N(0, 0.02) or MAE's 2D sine-cosine table (still learned)")
    ap.add_argument("--task", choices=["shapes", "signs"], default="shapes",
                    help="shapes: colour and kind presence in shape scenes; signs: which of the 24 sign words "
                         "a sign scene shows (read at --res, 128 = the 2 x 2 split of a 128 px scene)")
    ap.add_argument("--res", type=int, default=64, help="pixels the scenes are resized to (8 px patches)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--images", type=int, default=14000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    x, y = load_scenes(a.world, a.res, a.images, a.task)
    n_test = min(1000, len(x) // 5)
    xtr, ytr, xte, yte = x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:]
    print(f"{len(xtr)} training scenes, {n_test} held out; stem {a.stem}, head {a.head}, pos {a.pos}", flush=True)
    torch.manual_seed(0)
    model = Probe(a.stem, a.head, res=a.res, pos=a.pos, outputs=10 if a.task == "shapes" else len(WORDS))
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    start = time.time()
    for step in range(1, a.steps + 1):
        set_recipe_lr(opt, a.lr, step, a.steps)
        idx = torch.randint(0, len(xtr), (a.batch,))
        out = model(xtr[idx])
        loss = (F.binary_cross_entropy_with_logits(out, ytr[idx]) if a.task == "shapes"
                else F.cross_entropy(out, ytr[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == a.steps:
            model.eval()
            with torch.no_grad():
                out = model(xte)
            model.train()
            if a.task == "signs":
                print(f"step {step}: sign word accuracy {(out.argmax(1) == yte).float().mean():.3f} (of {len(WORDS)} words) "
                      f"| {time.time() - start:.0f} s", flush=True)
                continue
            acc = ((out > 0).float() == yte).float().mean(0)
            kinds = " ".join(f"{k} {acc[6 + i]:.2f}" for i, k in enumerate(KINDS))
            print(f"step {step}: colour presence {acc[:6].mean():.3f} | kind presence {kinds} "
                  f"(majority {torch.maximum(yte[:, 6:].mean(0), 1 - yte[:, 6:].mean(0)).mean():.2f}) | {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
