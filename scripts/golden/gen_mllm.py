#!/usr/bin/python3
"""Golden tensors for the whole multimodal forward + loss (tests/models/test_mllm_golden.cpp).

An independent reference with torch.nn.functional only: the CLIP ViT and the C-Abstractor of
gen_vision.py, the Llama/MoE blocks of gen_llm.py (both import no mmtrain code), the image tokens
written into the token embeddings at the image slots, the packed next-token loss as a sum and a
count, plus the MoE load-balancing and z-losses. The config equals tests/models/
test_mllm_helpers.h: tiny_model_config(moe=true). Computed in float64 from fixed seeds, stored as
float32. Names: "in.*" inputs, "w.<param name>" weights (MultimodalModel's names: vision.*,
connector.*, llm.*), "out.*" outputs, "grad.<param name>" / "grad.in.tiles" gradients of
out.loss = loss_sum / loss_count + aux_loss + z_loss for a few tensors.

Run from anywhere:  /usr/bin/python3 scripts/golden/gen_mllm.py
Writes tests/data/golden/mllm_forward.safetensors (deterministic).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_llm as gl  # noqa: E402
import gen_vision as gv  # noqa: E402
import safetensors_io  # noqa: E402

OUT = gv.OUT
D64 = torch.float64

VISION = dict(image_size=16, patch_size=4, width=16, layers=2, heads=2, mlp_dim=32, class_token=0, act="gelu",
              feature_layer=-1, pre_norm=1, norm_eps=1e-5)
CONNECTOR = dict(type="c_abstractor", num_tokens=4, hidden=16, depth=1, se_ratio=0.25, grid=4)
LLM = dict(vocab_size=64, dim=32, layers=2, heads=4, kv_heads=2, ffn_hidden=48, rope_theta=10000.0, norm_eps=1e-5,
           num_experts=4, top_k=2, every=2, expert_hidden=16, aux_loss_coef=0.01, z_loss_coef=0.001)
B, T, M = 2, 12, 4
LLM_SEED = 704  # chosen so that no token's top-2 routing is a near-tie
TILE_STARTS = [[1, 6], [2]]  # row 0: two tiles, row 1: one tile (as tiny_batch in the C++ helpers)
GRADS = ["vision.embeddings.patch_embedding.weight", "vision.encoder.layers.1.mlp.fc2.weight", "connector.pos_emb",
         "connector.readout.2.weight", "llm.embed_tokens.weight", "llm.layers.1.block_sparse_moe.gate.weight",
         "llm.layers.0.self_attn.q_proj.weight", "llm.norm.weight"]


def vision_weights():
    v = VISION
    g, d = v["image_size"] // v["patch_size"], v["width"]
    W = gv.Weights(701)
    W.add("embeddings.patch_embedding.weight", d, 3, v["patch_size"], v["patch_size"])
    W.w["embeddings.position_embedding.weight"] = W.randn(g * g, d, scale=0.5).requires_grad_(True)
    W.norm("pre_layrnorm", d)
    for i in range(v["layers"]):
        gv.vit_block_weights(W, f"encoder.layers.{i}.", d, v["mlp_dim"])
    return W


def connector_weights():
    c, dv, h = CONNECTOR, VISION["width"], CONNECTOR["hidden"]
    W = gv.Weights(702)
    W.w["pos_emb"] = W.randn(1, c["grid"] ** 2, dv, scale=0.5).requires_grad_(True)
    for s, cin in ((0, dv), (2, h)):
        for b in range(c["depth"]):
            gv.bottleneck_weights(W, f"net.{s}.b{b + 1}.", cin if b == 0 else h, h, c["se_ratio"])
    gv.readout_weights(W, h, LLM["dim"])
    return W


def llm_weights():
    c = LLM
    torch.manual_seed(LLM_SEED)
    d, hd = c["dim"], c["dim"] // c["heads"]
    p = {"embed_tokens.weight": gl.leaf(gl.rnd(c["vocab_size"], d, scale=0.5))}
    for i in range(c["layers"]):
        pre = f"layers.{i}."
        p[pre + "input_layernorm.weight"] = gl.leaf(1 + gl.rnd(d, scale=0.1))
        p[pre + "post_attention_layernorm.weight"] = gl.leaf(1 + gl.rnd(d, scale=0.1))
        p[pre + "self_attn.q_proj.weight"] = gl.leaf(gl.rnd(c["heads"] * hd, d, scale=0.2))
        p[pre + "self_attn.k_proj.weight"] = gl.leaf(gl.rnd(c["kv_heads"] * hd, d, scale=0.2))
        p[pre + "self_attn.v_proj.weight"] = gl.leaf(gl.rnd(c["kv_heads"] * hd, d, scale=0.2))
        p[pre + "self_attn.o_proj.weight"] = gl.leaf(gl.rnd(d, c["heads"] * hd, scale=0.2))
        if (i + 1) % c["every"] == 0:
            gl.moe_params(p, pre + "block_sparse_moe.", d, c["expert_hidden"], c["num_experts"], None)
        else:
            p[pre + "mlp.gate_proj.weight"] = gl.leaf(gl.rnd(c["ffn_hidden"], d, scale=0.2))
            p[pre + "mlp.up_proj.weight"] = gl.leaf(gl.rnd(c["ffn_hidden"], d, scale=0.2))
            p[pre + "mlp.down_proj.weight"] = gl.leaf(gl.rnd(d, c["ffn_hidden"], scale=0.2))
    p["norm.weight"] = gl.leaf(1 + gl.rnd(d, scale=0.1))
    return p


def batch():
    gen = torch.Generator().manual_seed(704)
    ids = torch.randint(0, LLM["vocab_size"], (B, T), generator=gen)
    doc = torch.zeros(B, T, dtype=torch.long)
    pos = torch.arange(T).repeat(B, 1)
    doc[1, 7:10], doc[1, 10:] = 1, -1
    pos[1, 7:10], pos[1, 10:] = torch.arange(3), 0
    slots = torch.tensor([r * T + s + j for r, starts in enumerate(TILE_STARTS) for s in starts for j in range(M)])
    labels = ids.clone()
    labels.view(-1)[slots] = -100
    labels[0, 11] = -100  # one more ignored text target
    n_tiles = sum(len(s) for s in TILE_STARTS)
    tiles = torch.randn(n_tiles, 3, 16, 16, generator=gen, dtype=D64)
    return ids, labels, pos, doc, slots, tiles


def decoder(p, x, pos, doc):
    c = LLM
    aux, z = torch.zeros((), dtype=D64), torch.zeros((), dtype=D64)
    for i in range(c["layers"]):
        pre = f"layers.{i}."
        x = x + gl.attention(gl.rms_norm(x, p[pre + "input_layernorm.weight"], c["norm_eps"]), p, pre + "self_attn.",
                             pos, doc, c["heads"], c["kv_heads"], c["rope_theta"])
        h = gl.rms_norm(x, p[pre + "post_attention_layernorm.weight"], c["norm_eps"])
        if pre + "block_sparse_moe.gate.weight" in p:
            y, a, zz, _ = gl.moe(h, p, pre + "block_sparse_moe.", c["num_experts"], c["top_k"], c["aux_loss_coef"],
                                 c["z_loss_coef"])
            aux, z = aux + a, z + zz
        else:
            y = gl.swiglu(h, p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"],
                          p[pre + "mlp.down_proj.weight"])
        x = x + y
    h = gl.rms_norm(x, p["norm.weight"], c["norm_eps"])
    return F.linear(h, p["embed_tokens.weight"]), aux, z  # tied head


def loss_sum_count(logits, labels, doc):
    pred, tgt = logits[:, :-1], labels[:, 1:].clone()
    keep = (doc[:, :-1] == doc[:, 1:]) & (doc[:, :-1] >= 0) & (tgt != -100)
    tgt[~keep] = -100
    s = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), tgt.reshape(-1), ignore_index=-100, reduction="sum")
    return s, int(keep.sum())


def main():
    Wv, Wc, p = vision_weights(), connector_weights(), llm_weights()
    ids, labels, pos, doc, slots, tiles = batch()
    tiles.requires_grad_(True)
    feats = gv.vit(Wv, tiles, VISION)                                 # (N, P, Dv)
    img = gv.c_abstractor(Wc, feats, CONNECTOR)                        # (N, M, d)
    emb = p["embed_tokens.weight"][ids].reshape(B * T, LLM["dim"])   # (B*T, d)
    mask = torch.zeros(B * T, dtype=torch.bool)
    mask[slots] = True
    placed = torch.zeros_like(emb).index_put((slots,), img.reshape(-1, LLM["dim"]))  # tile i -> slots[iM:(i+1)M]
    x = torch.where(mask[:, None], placed, emb).reshape(B, T, LLM["dim"])
    logits, aux, z = decoder(p, x, pos, doc)
    s, count = loss_sum_count(logits, labels, doc)
    loss = s / count + aux + z
    loss.backward()

    params = {}
    params.update({"vision." + k: v for k, v in Wv.w.items()})
    params.update({"connector." + k: v for k, v in Wc.w.items()})
    params.update({"llm." + k: v for k, v in p.items()})
    t = {"in.ids": ids, "in.labels": labels, "in.positions": pos, "in.doc_ids": doc, "in.image_slots": slots,
         "in.tiles": tiles.detach().float(), "grad.in.tiles": tiles.grad.float()}
    for k, v in params.items():
        t["w." + k] = v.detach().float()
    for k in GRADS:
        assert params[k].grad is not None, k
        t["grad." + k] = params[k].grad.float()
    t.update({"out.image_tokens": img.detach().float(), "out.logits": logits.detach().float(),
              "out.loss_sum": s.detach().float(), "out.loss_count": torch.tensor(count),
              "out.aux_loss": aux.detach().float(), "out.z_loss": z.detach().float(),
              "out.loss": loss.detach().float()})
    meta = {"vision." + k: v for k, v in VISION.items()}
    meta.update({"connector." + k: v for k, v in CONNECTOR.items()})
    meta.update({"llm." + k: v for k, v in LLM.items()})
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "mllm_forward.safetensors")
    safetensors_io.save(path, t, meta)
    size = os.path.getsize(path)
    assert size < 200_000, f"{path} is {size} bytes"
    print(f"{path}: {len(t)} tensors, {size} bytes, loss {loss.item():.6f} (ce sum {s.item():.4f} / {count}, "
          f"aux {aux.item():.6f}, z {z.item():.6f})")


if __name__ == "__main__":
    main()
