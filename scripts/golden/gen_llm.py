#!/usr/bin/python3
"""Golden tensors for the Llama-style decoder and MoE (tests/models/test_llm*.cpp, test_moe*.cpp).

An independent reference written with torch.nn.functional only (no mmtrain code): RMSNorm,
SwiGLU, RoPE (HF rotate-half), grouped-query attention with the causal + same-document mask,
the top-k MoE with Switch load-balancing loss and router z-loss, and a 2-layer decoder with the
packed next-token loss. Inputs and weights are drawn in float32 with fixed seeds; the reference
runs in float64 and everything is stored as float32. Names: "in.*" inputs, "w.<param name>"
weights (the C++ module's parameter names), "out.*" outputs, "grad.in.*" / "grad.<param name>"
gradients of loss = sum(out * in.g) (+ the auxiliary losses where stated).

Run from the repo root:  /usr/bin/python3 scripts/golden/gen_llm.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "golden")
D64 = torch.float64


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).to(torch.float32)


def leaf(t):
    return t.to(D64).clone().requires_grad_(True)


# ---------------------------------------------------------------- reference blocks
def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def swiglu(x, wg, wu, wd):
    return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)


def rope(x, positions, theta):
    """x (B, H, T, hd), positions (B, T): HF Llama rotate-half."""
    hd = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=D64) / hd))
    ang = positions.to(D64)[..., None] * inv_freq            # (B, T, hd/2)
    ang = torch.cat([ang, ang], -1)[:, None]                  # (B, 1, T, hd)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * ang.cos() + torch.cat([-x2, x1], -1) * ang.sin()


def doc_mask(doc):
    """(B, T) -> (B, T, T) bool: causal AND same doc (doc >= 0); the diagonal always allowed."""
    b, t = doc.shape
    m = torch.zeros(b, t, t, dtype=torch.bool)
    for bi in range(b):
        for i in range(t):
            for j in range(t):
                m[bi, i, j] = (j <= i and doc[bi, i] == doc[bi, j] and doc[bi, i] >= 0) or i == j
    return m


def attention(x, p, pre, positions, doc, heads, kv_heads, theta):
    b, t, _ = x.shape
    hd = p[pre + "q_proj.weight"].shape[0] // heads
    q = F.linear(x, p[pre + "q_proj.weight"]).view(b, t, heads, hd).transpose(1, 2)
    k = F.linear(x, p[pre + "k_proj.weight"]).view(b, t, kv_heads, hd).transpose(1, 2)
    v = F.linear(x, p[pre + "v_proj.weight"]).view(b, t, kv_heads, hd).transpose(1, 2)
    q, k = rope(q, positions, theta), rope(k, positions, theta)
    rep = heads // kv_heads
    k = k.repeat_interleave(rep, dim=1)                        # HF repeat_kv
    v = v.repeat_interleave(rep, dim=1)
    s = q @ k.transpose(-1, -2) / (hd ** 0.5)
    s = s.masked_fill(~doc_mask(doc)[:, None], float("-inf"))
    o = F.softmax(s, -1) @ v                                   # (B, H, T, hd)
    return F.linear(o.transpose(1, 2).reshape(b, t, heads * hd), p[pre + "o_proj.weight"])


def moe(x, p, pre, num_experts, top_k, aux_coef, z_coef):
    """Dense reference: every expert on every token, combined with the sparse gate matrix."""
    d = x.shape[-1]
    xf = x.reshape(-1, d)
    logits = F.linear(xf, p[pre + "gate.weight"])               # (N, E)
    probs = F.softmax(logits, -1)
    top = probs.topk(top_k, -1)
    srt = probs.sort(-1, descending=True).values
    assert (srt[:, top_k - 1] - srt[:, top_k]).min() > 1e-4, "near-tie in routing; change the seed"
    w = top.values / top.values.sum(-1, keepdim=True)
    gates = torch.zeros_like(probs).scatter(1, top.indices, w)  # (N, E)
    out = torch.zeros_like(xf)
    for e in range(num_experts):
        ep = pre + f"experts.{e}."
        y = F.linear(F.silu(F.linear(xf, p[ep + "w1.weight"])) * F.linear(xf, p[ep + "w3.weight"]),
                     p[ep + "w2.weight"])
        out = out + gates[:, e:e + 1] * y
    counts = F.one_hot(top.indices, num_experts).sum((0, 1))    # (E)
    frac = counts.to(D64) / (xf.shape[0] * top_k)
    aux = aux_coef * num_experts * (frac * probs.mean(0)).sum()
    z = z_coef * torch.logsumexp(logits, -1).pow(2).mean()
    return out.view_as(x), aux, z, counts


def lm_loss(logits, labels, doc):
    pred, tgt = logits[:, :-1], labels[:, 1:].clone()
    keep = (doc[:, :-1] == doc[:, 1:]) & (doc[:, :-1] >= 0) & (tgt != -100)
    tgt[~keep] = -100
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), tgt.reshape(-1), ignore_index=-100)


# ---------------------------------------------------------------- writers
def finish(name, inputs, params, outputs, loss, meta):
    loss.backward()
    t = {}
    for k, v in inputs.items():
        t["in." + k] = v.detach().to(torch.float32) if v.is_floating_point() else v
        if v.is_floating_point() and v.grad is not None:
            t["grad.in." + k] = v.grad.to(torch.float32)
    for k, v in params.items():
        t["w." + k] = v.detach().to(torch.float32)
        t["grad." + k] = v.grad.to(torch.float32)
    for k, v in outputs.items():
        t["out." + k] = v.detach().to(torch.float32) if v.is_floating_point() else v
    path = os.path.join(OUT, name + ".safetensors")
    safetensors_io.save(path, t, {k: str(v) for k, v in meta.items()})
    size = os.path.getsize(path)
    assert size < 200_000, f"{path} is {size} bytes"
    print(f"{path}: {len(t)} tensors, {size} bytes")


def packed_docs():
    doc = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 2], [5, 5, 5, 5, 5, -1, -1, -1]])
    pos = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 0], [0, 1, 2, 3, 4, 0, 0, 0]])
    return doc, pos


def gen_rms_norm():
    torch.manual_seed(1)
    x, w, g = leaf(rnd(2, 5, 16)), leaf(1 + rnd(16, scale=0.1)), rnd(2, 5, 16).to(D64)
    y = rms_norm(x, w, 1e-5)
    finish("llm_rms_norm", {"x": x, "g": g}, {"weight": w}, {"y": y}, (y * g).sum(), {"eps": 1e-5})


def gen_swiglu():
    torch.manual_seed(2)
    dim, hidden = 16, 24
    x, g = leaf(rnd(2, 5, dim)), rnd(2, 5, dim).to(D64)
    p = {"gate_proj.weight": leaf(rnd(hidden, dim, scale=0.2)),
         "up_proj.weight": leaf(rnd(hidden, dim, scale=0.2)),
         "down_proj.weight": leaf(rnd(dim, hidden, scale=0.2))}
    y = swiglu(x, p["gate_proj.weight"], p["up_proj.weight"], p["down_proj.weight"])
    finish("llm_swiglu", {"x": x, "g": g}, p, {"y": y}, (y * g).sum(), {"dim": dim, "hidden": hidden})


def gen_attention(name, heads, kv_heads, seed):
    torch.manual_seed(seed)
    dim, theta = 32, 500.0
    hd = dim // heads
    doc, pos = packed_docs()
    x, g = leaf(rnd(2, 8, dim)), rnd(2, 8, dim).to(D64)
    p = {"q_proj.weight": leaf(rnd(heads * hd, dim, scale=0.3)),
         "k_proj.weight": leaf(rnd(kv_heads * hd, dim, scale=0.3)),
         "v_proj.weight": leaf(rnd(kv_heads * hd, dim, scale=0.3)),
         "o_proj.weight": leaf(rnd(dim, heads * hd, scale=0.3))}
    y = attention(x, p, "", pos, doc, heads, kv_heads, theta)
    finish(name, {"x": x, "g": g, "positions": pos, "doc_ids": doc}, p, {"y": y}, (y * g).sum(),
           {"dim": dim, "heads": heads, "kv_heads": kv_heads, "rope_theta": theta})


def moe_params(p, pre, dim, hidden, num_experts, starve):
    gate = rnd(num_experts, dim, scale=0.5)
    if starve is not None:
        gate[starve] = -2.0  # with positive inputs this expert's logit is always the lowest
    p[pre + "gate.weight"] = leaf(gate)
    for e in range(num_experts):
        p[pre + f"experts.{e}.w1.weight"] = leaf(rnd(hidden, dim, scale=0.3))
        p[pre + f"experts.{e}.w2.weight"] = leaf(rnd(dim, hidden, scale=0.3))
        p[pre + f"experts.{e}.w3.weight"] = leaf(rnd(hidden, dim, scale=0.3))


def gen_moe(name, seed, starve):
    torch.manual_seed(seed)
    dim, hidden, num_experts, top_k, aux_coef, z_coef = 16, 12, 4, 2, 0.01, 0.001
    x = rnd(2, 6, dim)
    if starve is not None:
        x = x.abs()
    x, g = leaf(x), rnd(2, 6, dim).to(D64)
    p = {}
    moe_params(p, "", dim, hidden, num_experts, starve)
    y, aux, z, counts = moe(x, p, "", num_experts, top_k, aux_coef, z_coef)
    if starve is not None:
        assert counts[starve] == 0
    else:
        assert (counts > 0).all()
    # aux and z are scaled up so that their gradients are well above the tolerance
    loss = (y * g).sum() + 100.0 * aux + 100.0 * z
    finish(name, {"x": x, "g": g}, p, {"y": y, "aux_loss": aux, "z_loss": z, "counts": counts}, loss,
           {"dim": dim, "hidden": hidden, "num_experts": num_experts, "top_k": top_k,
            "aux_loss_coef": aux_coef, "z_loss_coef": z_coef, "loss": "sum(y*g) + 100*aux + 100*z"})


def gen_decoder(name, seed, moe_cfg, tie):
    torch.manual_seed(seed)
    vocab, dim, heads, kv_heads, ffn, layers, theta, eps = 48, 32, 4, 2, 32, 2, 10000.0, 1e-5
    hd = dim // heads
    p = {"embed_tokens.weight": leaf(rnd(vocab, dim, scale=0.5))}
    for i in range(layers):
        pre = f"layers.{i}."
        p[pre + "input_layernorm.weight"] = leaf(1 + rnd(dim, scale=0.1))
        p[pre + "post_attention_layernorm.weight"] = leaf(1 + rnd(dim, scale=0.1))
        p[pre + "self_attn.q_proj.weight"] = leaf(rnd(heads * hd, dim, scale=0.2))
        p[pre + "self_attn.k_proj.weight"] = leaf(rnd(kv_heads * hd, dim, scale=0.2))
        p[pre + "self_attn.v_proj.weight"] = leaf(rnd(kv_heads * hd, dim, scale=0.2))
        p[pre + "self_attn.o_proj.weight"] = leaf(rnd(dim, heads * hd, scale=0.2))
        if moe_cfg and (i + 1) % moe_cfg["every"] == 0:
            moe_params(p, pre + "block_sparse_moe.", dim, moe_cfg["expert_hidden"], moe_cfg["num_experts"], None)
        else:
            p[pre + "mlp.gate_proj.weight"] = leaf(rnd(ffn, dim, scale=0.2))
            p[pre + "mlp.up_proj.weight"] = leaf(rnd(ffn, dim, scale=0.2))
            p[pre + "mlp.down_proj.weight"] = leaf(rnd(dim, ffn, scale=0.2))
    p["norm.weight"] = leaf(1 + rnd(dim, scale=0.1))
    if not tie:
        p["lm_head.weight"] = leaf(rnd(vocab, dim, scale=0.2))
    doc, pos = packed_docs()
    ids = torch.randint(0, vocab, (2, 8))
    labels = ids.clone()
    labels[0, 1] = -100
    x = p["embed_tokens.weight"][ids]
    aux_total, z_total = torch.zeros((), dtype=D64), torch.zeros((), dtype=D64)
    for i in range(layers):
        pre = f"layers.{i}."
        x = x + attention(rms_norm(x, p[pre + "input_layernorm.weight"], eps), p, pre + "self_attn.",
                          pos, doc, heads, kv_heads, theta)
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        if pre + "block_sparse_moe.gate.weight" in p:
            y, aux, z, _ = moe(h, p, pre + "block_sparse_moe.", moe_cfg["num_experts"], 2, 0.01, 0.001)
            aux_total, z_total = aux_total + aux, z_total + z
        else:
            y = swiglu(h, p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"],
                       p[pre + "mlp.down_proj.weight"])
        x = x + y
    h = rms_norm(x, p["norm.weight"], eps)
    logits = F.linear(h, p["embed_tokens.weight"] if tie else p["lm_head.weight"])
    ce = lm_loss(logits, labels, doc)
    loss = ce + aux_total + z_total
    meta = {"vocab_size": vocab, "dim": dim, "heads": heads, "kv_heads": kv_heads, "ffn_hidden": ffn,
            "layers": layers, "rope_theta": theta, "norm_eps": eps, "tie_embeddings": int(tie),
            "loss": "lm + aux + z"}
    if moe_cfg:
        meta.update({"moe." + k: v for k, v in moe_cfg.items()})
    finish(name, {"ids": ids, "labels": labels, "positions": pos, "doc_ids": doc}, p,
           {"logits": logits, "lm_loss": ce, "aux_loss": aux_total, "z_loss": z_total, "loss": loss},
           loss, meta)


def main():
    torch.set_num_threads(1)  # byte-identical reruns (threaded reductions reorder sums)
    os.makedirs(OUT, exist_ok=True)
    gen_rms_norm()
    gen_swiglu()
    gen_attention("llm_attention_mha", heads=4, kv_heads=4, seed=3)
    gen_attention("llm_attention_gqa", heads=4, kv_heads=2, seed=4)
    gen_moe("moe_layer", seed=5, starve=None)
    gen_moe("moe_layer_starved", seed=6, starve=3)
    gen_decoder("llm_decoder_dense", seed=7, moe_cfg=None, tie=True)
    gen_decoder("llm_decoder_moe", seed=8, moe_cfg={"num_experts": 4, "every": 2, "expert_hidden": 16},
                tie=False)


if __name__ == "__main__":
    main()
