#!/usr/bin/python3
"""Does an image encoder that already sees the world's shapes and glyphs make the demo read?

A diagnostic for the demo's vision gap
(docs/investigations/does-an-encoder-that-reads-help.md), standing in for the paper's CLIP start:
trains the debug preset's ViT (the same layers as src/models/vision/vit.cpp) with direct labels on a
synthetic world written with another seed than the demo's, then writes its weights, under the
checkpoint's HF CLIP names, into a copy of an mmtrain checkpoint (MANIFEST checksums updated), so
that a recipe can start from it with `train.init_from`.

Labels: which colours and shape kinds a caption scene holds (10, binary), which of the 24 sign words
or a number a sign shows, and a number's three digits. Scenes and signs are read as one 64 px tile
(the pretraining view and the overview); OCR signs also at 128 px, the full resolution the tiles of
the dynamic split show (position table resized to 16 x 16 there).

    mmtrain data synth --out runs/world-enc --set synth.seed=4321 --set synth.counts.caption=16000 \
        --set synth.counts.ocr=4000 --set synth.tokenizer=false   (other counts 0)
    /usr/bin/python3 scripts/investigations/encoder_warmstart.py --world runs/world-enc \
        --checkpoint runs/enc-init/pretrain/checkpoints/step_000001 --out runs/enc-ckpt
    /usr/bin/python3 scripts/investigations/encoder_warmstart.py --world runs/world-enc --linear-probe CKPT...
    /usr/bin/python3 scripts/investigations/encoder_warmstart.py --encoder-from runs/enc-ckpt \
        --checkpoint OTHER_CKPT --out runs/enc-ckpt-other

Debian's python3-torch and python3-pil; a diagnostic, not part of the build or the runtime.
"""
import argparse
import json
import os
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vision_probe import WORDS, CLIP_MEAN, CLIP_STD, Block, decode, load_scenes, set_recipe_lr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import safetensors_io  # noqa: E402  (scripts/golden: the project's independent safetensors reader/writer)


def load_ocr_signs(world, res, limit):
    """OCR signs: pixels and (word index or len(WORDS) for a number, three digits or -1)."""
    xs, word, digits = [], [], []
    folder = os.path.join(world, "ocr")
    with open(os.path.join(folder, "signs.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            cap = row["caption"]
            if re.fullmatch(r"\d{3}", cap):
                word.append(len(WORDS))
                digits.append([int(c) for c in cap])
            elif cap in WORDS:
                word.append(WORDS.index(cap))
                digits.append([-1, -1, -1])
            else:
                continue
            with open(os.path.join(folder, row["image"]), "rb") as img:
                xs.append(decode(img.read(), res))
            if len(xs) >= limit:
                break
    x = torch.tensor(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    x = (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return x, torch.tensor(word), torch.tensor(digits)


class Encoder(nn.Module):
    """The debug ViT: 8 px patch convolution, learned 8 x 8 positions, ln_pre, 3 pre-norm blocks."""

    def __init__(self, d=128, layers=3, heads=4, grid=8, patch=8):
        super().__init__()
        self.stem = nn.Conv2d(3, d, patch, patch, bias=False)
        self.pos = nn.Parameter(torch.randn(grid * grid, d) * 0.02)
        self.ln_pre = nn.LayerNorm(d)
        self.blocks = nn.ModuleList([Block(d, heads, 4 * d) for _ in range(layers)])
        self.grid = grid
        self.shapes = nn.Linear(d, 10)
        self.word = nn.Linear(d, len(WORDS) + 1)
        self.digits = nn.Linear(d, 30)

    def features(self, x):
        t = self.stem(x)  # (N, d, h, w)
        h = t.shape[-1]
        pos = self.pos
        if h != self.grid:
            pos = F.interpolate(pos.T.reshape(1, -1, self.grid, self.grid), size=(h, h), mode="bicubic",
                                align_corners=False).reshape(-1, h * h).T
        x = self.ln_pre(t.flatten(2).transpose(1, 2) + pos)
        for b in self.blocks:
            x = b(x)
        return x.max(1).values


def fnv1a64(path):
    h = 0xcbf29ce484222325
    data = np.fromfile(path, dtype=np.uint8)
    for b in data.tobytes():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def vision_tensors(model):
    """The Encoder's tensors under the checkpoint's HF CLIP names (q, k, v are views of in_proj)."""
    d = model.ln_pre.weight.shape[0]
    w = {"vision.embeddings.patch_embedding.weight": model.stem.weight,
         "vision.embeddings.position_embedding.weight": model.pos,
         "vision.pre_layrnorm.weight": model.ln_pre.weight, "vision.pre_layrnorm.bias": model.ln_pre.bias}
    for i, b in enumerate(model.blocks):
        p = f"vision.encoder.layers.{i}."
        for j, name in enumerate(["q_proj", "k_proj", "v_proj"]):
            w[p + f"self_attn.{name}.weight"] = b.attn.in_proj_weight[j * d:(j + 1) * d]
            w[p + f"self_attn.{name}.bias"] = b.attn.in_proj_bias[j * d:(j + 1) * d]
        for module, name in [(b.attn.out_proj, "self_attn.out_proj"), (b.n1, "layer_norm1"), (b.n2, "layer_norm2"),
                             (b.mlp[0], "mlp.fc1"), (b.mlp[2], "mlp.fc2")]:
            w[p + name + ".weight"], w[p + name + ".bias"] = module.weight, module.bias
    return w


def write_into_checkpoint(model, src, out):
    """Copies checkpoint `src` to `out` with vision.* replaced by the trained encoder."""
    w = vision_tensors(model)
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(src, out)
    path = os.path.join(out, "model.safetensors")
    tensors, metadata = safetensors_io.load(path)
    names = [k for k in tensors if k.startswith("vision.")]
    assert sorted(names) == sorted(w), f"vision tensors differ: {sorted(set(names) ^ set(w))}"
    for k, t in w.items():
        assert tensors[k].dtype == np.float32 and tensors[k].shape == tuple(t.shape), k
        tensors[k] = t.detach().contiguous().numpy()
    safetensors_io.save(path, tensors, metadata)
    lines = open(os.path.join(out, "MANIFEST")).read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("model.safetensors "):
            lines[i] = f"model.safetensors {os.path.getsize(path)} fnv1a64:{fnv1a64(path):016x}"
    open(os.path.join(out, "MANIFEST"), "w").write("\n".join(lines) + "\n")
    print(f"wrote {len(w)} vision tensors into {out}", flush=True)


def read_encoder(checkpoint):
    """The Encoder with the vision.* tensors of an mmtrain checkpoint (heads left untrained)."""
    tensors, _ = safetensors_io.load(os.path.join(checkpoint, "model.safetensors"))
    m = Encoder()
    with torch.no_grad():
        for k, t in vision_tensors(m).items():
            t.copy_(torch.from_numpy(tensors[k].copy()))
    return m.eval()


def linear_probe(world, checkpoints):
    """How well a linear classifier names the sign word from each checkpoint's frozen encoder
    features (max- and mean-pooled over the patches): fit on the world's caption signs, score 800."""
    x, y = load_scenes(world, 64, 14000, "signs")
    for ck in checkpoints:
        m = read_encoder(ck)
        with torch.no_grad():
            t = m.ln_pre(m.stem(x).flatten(2).transpose(1, 2) + m.pos)
            for b in m.blocks:
                t = b(t)
        scores = []
        for f in (t.max(1).values, t.mean(1)):
            f = (f - f[:-800].mean(0)) / (f[:-800].std(0) + 1e-6)
            torch.manual_seed(0)
            head = nn.Linear(f.shape[1], len(WORDS))
            opt = torch.optim.Adam(head.parameters(), 1e-2)
            for _ in range(500):
                loss = F.cross_entropy(head(f[:-800]), y[:-800])
                opt.zero_grad()
                loss.backward()
                opt.step()
            scores.append((head(f[-800:]).argmax(1) == y[-800:]).float().mean().item())
        print(f"{ck}: sign word from frozen features, linear probe: max-pooled {scores[0]:.3f}, "
              f"mean-pooled {scores[1]:.3f} ({len(x) - 800} fitted, 800 scored, chance {1 / len(WORDS):.3f})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", help="output folder of mmtrain data synth (to train or to --linear-probe)")
    ap.add_argument("--checkpoint", help="an mmtrain checkpoint of the debug preset to copy")
    ap.add_argument("--out", help="folder of the copy with the trained encoder")
    ap.add_argument("--linear-probe", nargs="+", metavar="CKPT",
                    help="instead of training: score these checkpoints' encoders with a linear probe")
    ap.add_argument("--encoder-from", metavar="CKPT",
                    help="instead of training: take the encoder of this checkpoint (e.g. to give it to a "
                         "checkpoint with another connector)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.linear_probe:
        if not a.world:
            ap.error("--world is needed for --linear-probe")
        return linear_probe(a.world, a.linear_probe)
    if not a.checkpoint or not a.out:
        ap.error("--checkpoint and --out are needed to train (or give --linear-probe)")
    if a.encoder_from:
        return write_into_checkpoint(read_encoder(a.encoder_from), a.checkpoint, a.out)
    if not a.world:
        ap.error("--world is needed to train")
    xs, ys = load_scenes(a.world, 64, 14000, "shapes")
    xw, yw = load_scenes(a.world, 64, 14000, "signs")
    xo128, wo, do = load_ocr_signs(a.world, 128, 4000)
    xo64 = F.interpolate(xo128, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)

    def hold_out(*tensors):  # (training part, last min(500, a fifth) held out)
        n = min(500, len(tensors[0]) // 5)
        return [t[:-n] for t in tensors], [t[-n:] for t in tensors]

    (xs, ys), test_shapes = hold_out(xs, ys)
    (xw, yw), test_signs = hold_out(xw, yw)
    (xo128, xo64, wo, do), test_ocr = hold_out(xo128, xo64, wo, do)
    print(f"{len(xs)} shape scenes, {len(xw)} caption signs, {len(xo128)} OCR signs (+ held out)", flush=True)
    torch.manual_seed(0)
    model = Encoder()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)

    def ocr_loss(feat, word, digits):
        loss = F.cross_entropy(model.word(feat), word)
        num = digits[:, 0] >= 0
        if num.any():
            loss = loss + F.cross_entropy(model.digits(feat[num]).view(-1, 10), digits[num].reshape(-1))
        return loss

    start = time.time()
    for step in range(1, a.steps + 1):
        set_recipe_lr(opt, a.lr, step, a.steps)
        i = torch.randint(0, len(xs), (a.batch,))
        loss = F.binary_cross_entropy_with_logits(model.shapes(model.features(xs[i])), ys[i])
        i = torch.randint(0, len(xw), (a.batch // 2,))
        loss = loss + F.cross_entropy(model.word(model.features(xw[i]))[:, :len(WORDS)], yw[i])
        i = torch.randint(0, len(xo128), (a.batch // 2,))
        loss = loss + ocr_loss(model.features(xo64[i]), wo[i], do[i])
        i = torch.randint(0, len(xo128), (a.batch // 2,))
        loss = loss + ocr_loss(model.features(xo128[i]), wo[i], do[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == a.steps:
            model.eval()
            with torch.no_grad():
                xt, yt = test_shapes
                kind = ((model.shapes(model.features(xt)) > 0).float() == yt).float().mean(0)[6:]
                xt, yt = test_signs
                sign64 = (model.word(model.features(xt))[:, :len(WORDS)].argmax(1) == yt).float().mean()
                x128, x64, wt, dt = test_ocr
                res = []
                for x in (x64, x128):
                    f = model.features(x)
                    wp = model.word(f).argmax(1)
                    dp = model.digits(f).view(-1, 3, 10).argmax(2)
                    right = torch.where(wt == len(WORDS), (wp == wt) & (dp == dt).all(1), wp == wt)
                    res.append(right.float().mean())
            model.train()
            print(f"step {step}: loss {loss.item():.3f} | kind presence {' '.join(f'{v:.2f}' for v in kind)} | "
                  f"caption signs at 64 px {sign64:.3f} | OCR signs (word or all 3 digits) at 64 px {res[0]:.3f}, "
                  f"128 px {res[1]:.3f} | {time.time() - start:.0f} s", flush=True)
    write_into_checkpoint(model, a.checkpoint, a.out)


if __name__ == "__main__":
    main()
