#!/usr/bin/python3
"""Golden tensors for the vision encoder and the connectors (tests/models/test_*_golden.cpp).

An independent reference written with torch.nn.functional only (it does not import mmtrain code):
a CLIP ViT block, a whole CLIP ViT with bicubic position-embedding interpolation, Honeybee's
C-Abstractor (timm RegNet bottlenecks), the average-pooling and the MLP connectors. Computed in
float64 from fixed seeds, stored as float32: inputs, weights ("w.<name>", module names of the C++
side), outputs, the upstream gradient "grad_output" (loss = sum(output * grad_output)), and the
gradients of the input ("grad_input") and of every weight ("g.<name>").

Run with Debian's python3-torch:  /usr/bin/python3 scripts/golden/gen_vision.py
Writes tests/data/golden/{vision_block,vision_vit,connector_c_abstractor,connector_avg_pool,
connector_mlp}.safetensors (deterministic: same bytes on every run).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "golden"))
DT = torch.float64


class Weights:
    """Named random weights drawn from one seeded generator."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.w = {}

    def randn(self, *shape, scale=1.0):
        return torch.randn(*shape, generator=self.gen, dtype=DT) * scale

    def add(self, name, *shape, kind="weight"):
        if kind == "norm":      # LayerNorm gain near 1
            t = 1.0 + self.randn(*shape, scale=0.1)
        elif kind == "bias":
            t = self.randn(*shape, scale=0.1)
        else:                   # fan-in scaled
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
            t = self.randn(*shape, scale=1.0 / math.sqrt(fan_in))
        self.w[name] = t.requires_grad_(True)
        return self.w[name]

    def linear(self, name, n_in, n_out, bias=True):
        self.add(name + ".weight", n_out, n_in)
        if bias:
            self.add(name + ".bias", n_out, kind="bias")

    def norm(self, name, n):
        self.add(name + ".weight", n, kind="norm")
        self.add(name + ".bias", n, kind="bias")

    def __getitem__(self, name):
        return self.w[name]


def lin(W, name, x):
    return F.linear(x, W[name + ".weight"], W.w.get(name + ".bias"))


def ln(W, name, x, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), W[name + ".weight"], W[name + ".bias"], eps)


# ---------------------------------------------------------------------------------------------
# CLIP ViT (HF CLIPVisionTransformer semantics)

def act_fn(kind, x):
    if kind == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    return F.gelu(x)


def vit_block_weights(W, p, d, mlp):
    W.norm(p + "layer_norm1", d)
    for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
        W.linear(p + "self_attn." + proj, d, d)
    W.norm(p + "layer_norm2", d)
    W.linear(p + "mlp.fc1", d, mlp)
    W.linear(p + "mlp.fc2", mlp, d)


def vit_block(W, p, x, heads, act, eps):
    n, t, d = x.shape
    hd = d // heads
    h = ln(W, p + "layer_norm1", x, eps)

    def split(y):
        return y.view(n, t, heads, hd).transpose(1, 2)

    q = split(lin(W, p + "self_attn.q_proj", h))
    k = split(lin(W, p + "self_attn.k_proj", h))
    v = split(lin(W, p + "self_attn.v_proj", h))
    att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)
    o = (att @ v).transpose(1, 2).reshape(n, t, d)
    x = x + lin(W, p + "self_attn.out_proj", o)
    h = ln(W, p + "layer_norm2", x, eps)
    return x + lin(W, p + "mlp.fc2", act_fn(act, lin(W, p + "mlp.fc1", h)))


def interp_pos(pos, g, h, w):
    """HF interpolate_pos_encoding for the patch part: (g*g, D) -> (h*w, D)."""
    if h == g and w == g:
        return pos
    d = pos.shape[-1]
    grid = pos.reshape(1, g, g, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(h * w, d)


def vit(W, px, cfg):
    p, g = cfg["patch_size"], cfg["image_size"] // cfg["patch_size"]
    x = F.conv2d(px, W["embeddings.patch_embedding.weight"], stride=p)   # (N, D, h, w)
    n, d, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    pos = W["embeddings.position_embedding.weight"]
    off = 1 if cfg["class_token"] else 0
    x = x + interp_pos(pos[off:], g, h, w)
    if cfg["class_token"]:
        cls = (W["embeddings.class_embedding"] + pos[0]).expand(n, 1, d)
        x = torch.cat([cls, x], dim=1)
    x = ln(W, "pre_layrnorm", x, cfg["norm_eps"])
    hidden = [x]
    for i in range(cfg["layers"]):
        if f"encoder.layers.{i}.layer_norm1.weight" not in W.w:
            break
        x = vit_block(W, f"encoder.layers.{i}.", x, cfg["heads"], cfg["act"], cfg["norm_eps"])
        hidden.append(x)
    # HF hidden_states indexing over the full depth: 0 = embeddings, k = block k, -1 = last.
    fl = cfg["feature_layer"]
    idx = fl if fl >= 0 else cfg["layers"] + 1 + fl
    assert idx < len(hidden), "weights missing for the blocks feeding feature_layer"
    return hidden[idx][:, off:]


# ---------------------------------------------------------------------------------------------
# C-Abstractor (Honeybee: timm RegStage, stride 1, SiLU, LayerNorm2d, bottle_ratio 1, group_size 1)

def ln2d(W, name, x):
    return ln(W, name, x.permute(0, 2, 3, 1), 1e-5).permute(0, 3, 1, 2)


def conv_norm_act(W, name, x, groups=1, act=True):
    wt = W[name + ".conv.weight"]
    y = F.conv2d(x, wt, padding=wt.shape[-1] // 2, groups=groups)
    y = ln2d(W, name + ".bn", y)
    return F.silu(y) if act else y


def bottleneck_weights(W, p, cin, cout, se_ratio):
    W.add(p + "conv1.conv.weight", cout, cin, 1, 1)
    W.norm(p + "conv1.bn", cout)
    W.add(p + "conv2.conv.weight", cout, 1, 3, 3)        # depthwise (group_size 1)
    W.norm(p + "conv2.bn", cout)
    se = int(round(cin * se_ratio))                       # timm: from the block's input width
    W.add(p + "se.fc1.weight", se, cout, 1, 1)
    W.add(p + "se.fc1.bias", se, kind="bias")
    W.add(p + "se.fc2.weight", cout, se, 1, 1)
    W.add(p + "se.fc2.bias", cout, kind="bias")
    W.add(p + "conv3.conv.weight", cout, cout, 1, 1)
    W.norm(p + "conv3.bn", cout)
    if cin != cout:
        W.add(p + "downsample.conv.weight", cout, cin, 1, 1)
        W.norm(p + "downsample.bn", cout)


def bottleneck(W, p, x):
    c = W[p + "conv2.conv.weight"].shape[0]
    y = conv_norm_act(W, p + "conv1", x)
    y = conv_norm_act(W, p + "conv2", y, groups=c)
    s = y.mean((2, 3), keepdim=True)
    s = F.conv2d(F.silu(F.conv2d(s, W[p + "se.fc1.weight"], W[p + "se.fc1.bias"])),
                 W[p + "se.fc2.weight"], W[p + "se.fc2.bias"])
    y = y * torch.sigmoid(s)
    y = conv_norm_act(W, p + "conv3", y, act=False)
    short = conv_norm_act(W, p + "downsample", x, act=False) if (p + "downsample.conv.weight") in W.w else x
    return F.silu(y + short)


def readout_weights(W, d_in, d_out):
    W.linear("readout.0", d_in, d_out)
    W.linear("readout.2", d_out, d_out)


def readout(W, x, act):
    h = lin(W, "readout.0", x)
    h = F.silu(h) if act == "silu" else F.gelu(h)
    return lin(W, "readout.2", h)


def c_abstractor(W, x, cfg):
    n, p, d = x.shape
    h = int(round(math.sqrt(p)))
    x = x + interp_pos(W["pos_emb"][0], cfg["grid"], h, h)
    y = x.transpose(1, 2).reshape(n, d, h, h)
    for b in range(cfg["depth"]):
        y = bottleneck(W, f"net.0.b{b + 1}.", y)
    s = int(round(math.sqrt(cfg["num_tokens"])))
    y = F.adaptive_avg_pool2d(y, (s, s))
    for b in range(cfg["depth"]):
        y = bottleneck(W, f"net.2.b{b + 1}.", y)
    return readout(W, y.flatten(2).transpose(1, 2), "silu")


def avg_pool(W, x, cfg):
    n, p, d = x.shape
    h = int(round(math.sqrt(p)))
    s = int(round(math.sqrt(cfg["num_tokens"])))
    y = F.adaptive_avg_pool2d(x.transpose(1, 2).reshape(n, d, h, h), (s, s))
    return readout(W, y.flatten(2).transpose(1, 2), "gelu")


def mlp(W, x, cfg):
    return readout(W, x, "gelu")


# ---------------------------------------------------------------------------------------------

def finish(name, W, inp, out, gen, extra=None, meta=None, input_grad=True):
    """Backward of sum(out * grad_output); write everything as float32."""
    g_out = torch.randn(out.shape, generator=gen, dtype=DT)
    (out * g_out).sum().backward()
    t = {"input": inp, "output": out, "grad_output": g_out}
    if input_grad:
        t["grad_input"] = inp.grad
    for k, v in W.w.items():
        t["w." + k] = v
        t["g." + k] = v.grad
    t.update(extra or {})
    missing = [k for k, v in t.items() if v is None]
    assert not missing, f"no gradient for {missing}"
    t = {k: v.detach().to(torch.float32).numpy() for k, v in t.items()}
    path = os.path.join(OUT, name + ".safetensors")
    safetensors_io.save(path, t, {k: str(v) for k, v in (meta or {}).items()})
    print(f"{path}: {os.path.getsize(path)} bytes, {len(t)} tensors")
    assert os.path.getsize(path) < 200_000, "golden files must stay small"


def gen_block():
    cfg = dict(width=16, heads=2, mlp_dim=32, act="gelu", norm_eps=1e-5)
    W = Weights(101)
    vit_block_weights(W, "", 16, 32)
    gen = torch.Generator().manual_seed(102)
    x = torch.randn(2, 17, 16, generator=gen, dtype=DT).requires_grad_(True)
    out = vit_block(W, "", x, cfg["heads"], cfg["act"], cfg["norm_eps"])
    finish("vision_block", W, x, out, gen, meta=cfg)


def gen_vit():
    # Trained at 32x32 (4x4 patches), run at 48x48 (6x6 patches): bicubic position interpolation.
    cfg = dict(image_size=32, patch_size=8, width=16, layers=3, heads=2, mlp_dim=32, class_token=1,
               act="quick_gelu", feature_layer=-2, pre_norm=1, norm_eps=1e-5, run_resolution=48)
    W = Weights(201)
    W.add("embeddings.patch_embedding.weight", 16, 3, 8, 8)
    W.add("embeddings.class_embedding", 16, kind="bias")
    W.w["embeddings.position_embedding.weight"] = W.randn(17, 16, scale=0.5).requires_grad_(True)
    W.norm("pre_layrnorm", 16)
    for i in range(2):  # feature_layer -2 of 3 layers: blocks 0 and 1 feed the features
        vit_block_weights(W, f"encoder.layers.{i}.", 16, 32)
    gen = torch.Generator().manual_seed(202)
    with torch.no_grad():
        px32 = torch.randn(2, 3, 32, 32, generator=gen, dtype=DT)
        out32 = vit(W, px32, cfg)
        pos48 = interp_pos(W["embeddings.position_embedding.weight"][1:], 4, 6, 6)
    px = torch.randn(1, 3, 48, 48, generator=gen, dtype=DT).requires_grad_(True)
    out = vit(W, px, cfg)
    finish("vision_vit", W, px, out, gen, meta=cfg, input_grad=False,
           extra={"input_32": px32, "output_32": out32, "pos_resized_48": pos48})


def gen_c_abstractor():
    cfg = dict(type="c_abstractor", num_tokens=16, hidden=24, depth=2, se_ratio=0.25, vision_width=16, grid=6,
               llm_dim=20)
    W = Weights(301)
    W.w["pos_emb"] = W.randn(1, 36, 16, scale=0.5).requires_grad_(True)
    for s, cin in ((0, 16), (2, 24)):
        for b in range(cfg["depth"]):
            bottleneck_weights(W, f"net.{s}.b{b + 1}.", cin if b == 0 else 24, 24, cfg["se_ratio"])
    readout_weights(W, 24, 20)
    gen = torch.Generator().manual_seed(302)
    with torch.no_grad():  # an 8x8 grid: the position embedding is resized 6x6 -> 8x8
        x_hr = torch.randn(2, 64, 16, generator=gen, dtype=DT)
        out_hr = c_abstractor(W, x_hr, cfg)
    x = torch.randn(2, 36, 16, generator=gen, dtype=DT).requires_grad_(True)
    out = c_abstractor(W, x, cfg)
    finish("connector_c_abstractor", W, x, out, gen, meta=cfg, extra={"input_hr": x_hr, "output_hr": out_hr})


def gen_avg_pool():
    cfg = dict(type="avg_pool", num_tokens=9, vision_width=16, grid=6, llm_dim=20)
    W = Weights(401)
    readout_weights(W, 16, 20)
    gen = torch.Generator().manual_seed(402)
    x = torch.randn(2, 36, 16, generator=gen, dtype=DT).requires_grad_(True)
    finish("connector_avg_pool", W, x, avg_pool(W, x, cfg), gen, meta=cfg)


def gen_mlp():
    cfg = dict(type="mlp", num_tokens=36, vision_width=16, grid=6, llm_dim=20)
    W = Weights(501)
    readout_weights(W, 16, 20)
    gen = torch.Generator().manual_seed(502)
    x = torch.randn(2, 36, 16, generator=gen, dtype=DT).requires_grad_(True)
    finish("connector_mlp", W, x, mlp(W, x, cfg), gen, meta=cfg)


if __name__ == "__main__":
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    gen_block()
    gen_vit()
    gen_c_abstractor()
    gen_avg_pool()
    gen_mlp()
