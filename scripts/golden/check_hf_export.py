#!/usr/bin/python3
"""Independent check of an `mmtrain export` folder: HF Llama / Mistral / Qwen2 / Mixtral / Qwen2-MoE, and CLIP or
SigLIP vision (hf_vision_ref.py), written here in plain torch from the definitions of HF transformers'
modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_mixtral.py, modeling_qwen2_moe.py,
modeling_rope_utils.py (llama3 rope_scaling), modeling_clip.py and modeling_siglip.py (RMSNorm in float32,
rotate_half RoPE with rope_theta, GQA by repeating kv heads, SwiGLU, Mixtral routing = softmax over all router
logits, top-k, renormalise; Qwen2-MoE: q/k/v biases, layer i sparse iff i not in mlp_only_layers
and (i + 1) % decoder_sparse_step == 0, top-k weights renormalised only with norm_topk_prob, plus
sigmoid(shared_expert_gate(x)) * shared_expert(x); CLIP pre-norm blocks, q scaled before q k^T).
It reads only the exported folder (llm/ and vision/ config.json + model.safetensors), checks that
the tensor names are exactly those the HF model builds from its config.json, and compares the
outputs with what the C++ test computed.

Usage: /usr/bin/python3 check_hf_export.py EXPORT_DIR GOLDEN.safetensors
GOLDEN holds input_ids (B, T) int64, logits (B, T, V), pixels (N, 3, r, r), features (N, P, D).
Prints the errors and OK; exits 1 when a relative error (max |a-b| / max |b|) exceeds 1e-4.

vision/config.json's mm_class_token / mm_pre_norm (mmtrain's deviations from CLIP) are honoured:
without a class token the zero padding row 0 of the position table is skipped and no class token
is prepended (stock HF CLIPVisionModel would prepend one)."""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_vision_ref  # noqa: E402
import safetensors_io  # noqa: E402

TOL = 1e-4


def load_tensors(path):
    arrays, _ = safetensors_io.load(path)
    out = {}
    for name, a in arrays.items():
        if a.dtype == np.uint16:  # BF16 raw bits
            a = (a.astype(np.uint32) << 16).view(np.float32)
        t = torch.from_numpy(np.array(a))
        out[name] = t.float() if t.is_floating_point() else t
    return out


# ---- HF Llama / Mixtral ------------------------------------------------------------------------

def rms_norm(x, w, eps):
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama3_inv_freq(inv_freq, rs):
    """transformers' _compute_llama3_parameters (modeling_rope_utils.py)."""
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_len = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rope_cos_sin(positions, head_dim, theta, rope_scaling=None):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if rope_scaling is not None:
        kind = rope_scaling.get("rope_type", rope_scaling.get("type"))
        assert kind == "llama3", kind
        inv_freq = llama3_inv_freq(inv_freq, rope_scaling)
    freqs = positions.float()[..., None] * inv_freq  # (B, T, hd/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # (B, T, hd)


def attention(x, W, p, cfg, cos, sin):
    b, t, _ = x.shape
    h, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // h
    def proj(name):  # Qwen2-MoE: q/k/v have biases (qkv_bias); Llama / Mixtral: none
        y = x @ W[p + name + ".weight"].T
        return y + W[p + name + ".bias"] if qkv_bias(cfg) else y

    q = proj("q_proj").view(b, t, h, hd).transpose(1, 2)
    k = proj("k_proj").view(b, t, kv, hd).transpose(1, 2)
    v = proj("v_proj").view(b, t, kv, hd).transpose(1, 2)
    c, s = cos[:, None], sin[:, None]  # unsqueeze_dim=1
    q = q * c + rotate_half(q) * s
    k = k * c + rotate_half(k) * s
    k = k.repeat_interleave(h // kv, dim=1)  # repeat_kv
    v = v.repeat_interleave(h // kv, dim=1)
    scores = (q @ k.transpose(2, 3)) / math.sqrt(hd)
    causal = torch.full((t, t), float("-inf")).triu(1)
    probs = torch.softmax((scores + causal).float(), dim=-1).to(q.dtype)
    out = (probs @ v).transpose(1, 2).reshape(b, t, h * hd)
    return out @ W[p + "o_proj.weight"].T


def swiglu(x, gate, up, down):
    return (F.silu(x @ gate.T) * (x @ up.T)) @ down.T


def mixtral_moe(x, W, p, cfg):
    b, t, d = x.shape
    xf = x.reshape(-1, d)
    logits = xf @ W[p + "gate.weight"].T  # (N, E)
    weights = torch.softmax(logits, dim=1, dtype=torch.float)
    weights, experts = torch.topk(weights, cfg["num_experts_per_tok"], dim=-1)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(xf)
    for e in range(cfg["num_local_experts"]):
        tok, slot = torch.where(experts == e)
        if tok.numel() == 0:
            continue
        q = p + f"experts.{e}."
        y = swiglu(xf[tok], W[q + "w1.weight"], W[q + "w3.weight"], W[q + "w2.weight"])
        out.index_add_(0, tok, y * weights[tok, slot, None].to(x.dtype))
    return out.view(b, t, d)


def qwen2_moe_block(x, W, p, cfg):
    """Qwen2MoeSparseMoeBlock: routed experts (mlp.experts.E.{gate,up,down}_proj) + shared expert."""
    b, t, d = x.shape
    xf = x.reshape(-1, d)
    logits = xf @ W[p + "gate.weight"].T  # (N, E)
    weights = torch.softmax(logits, dim=1, dtype=torch.float)
    weights, experts = torch.topk(weights, cfg["num_experts_per_tok"], dim=-1)
    if cfg.get("norm_topk_prob", False):
        weights = weights / weights.sum(dim=-1, keepdim=True)
    weights = weights.to(x.dtype)
    out = torch.zeros_like(xf)
    for e in range(cfg["num_experts"]):
        tok, slot = torch.where(experts == e)
        if tok.numel() == 0:
            continue
        q = p + f"experts.{e}."
        y = swiglu(xf[tok], W[q + "gate_proj.weight"], W[q + "up_proj.weight"], W[q + "down_proj.weight"])
        out.index_add_(0, tok, y * weights[tok, slot, None])
    s = p + "shared_expert."
    shared = swiglu(xf, W[s + "gate_proj.weight"], W[s + "up_proj.weight"], W[s + "down_proj.weight"])
    out = out + torch.sigmoid(xf @ W[p + "shared_expert_gate.weight"].T) * shared
    return out.view(b, t, d)


def qkv_bias(cfg):
    """Qwen2 always has q/k/v biases; Qwen2-MoE unless qkv_bias is false; Llama/Mistral/Mixtral none."""
    return cfg["model_type"] == "qwen2" or (cfg["model_type"] == "qwen2_moe" and cfg.get("qkv_bias", True))


def qwen2_sparse_layer(cfg, i):
    """Qwen2MoeDecoderLayer's choice between Qwen2MoeSparseMoeBlock and a dense Qwen2MoeMLP."""
    return (i not in cfg.get("mlp_only_layers", [])) and cfg["num_experts"] > 0 and \
        (i + 1) % cfg.get("decoder_sparse_step", 1) == 0


def expected_llm_names(cfg):
    """The parameter names (and shapes) the HF model builds from config.json."""
    d, v, h = cfg["hidden_size"], cfg["vocab_size"], cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // h
    mt = cfg["model_type"]
    names = {"model.embed_tokens.weight": (v, d), "model.norm.weight": (d,)}
    if not cfg["tie_word_embeddings"]:
        names["lm_head.weight"] = (v, d)

    def mlp(prefix, f):
        names.update({prefix + "gate_proj.weight": (f, d), prefix + "up_proj.weight": (f, d),
                      prefix + "down_proj.weight": (d, f)})

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        names.update({p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
                      p + "self_attn.q_proj.weight": (h * hd, d), p + "self_attn.k_proj.weight": (kv * hd, d),
                      p + "self_attn.v_proj.weight": (kv * hd, d), p + "self_attn.o_proj.weight": (d, h * hd)})
        if qkv_bias(cfg):
            names.update({p + "self_attn.q_proj.bias": (h * hd,), p + "self_attn.k_proj.bias": (kv * hd,),
                          p + "self_attn.v_proj.bias": (kv * hd,)})
        if mt == "mixtral":
            f, e = cfg["intermediate_size"], cfg["num_local_experts"]
            names[p + "block_sparse_moe.gate.weight"] = (e, d)
            for j in range(e):
                q = p + f"block_sparse_moe.experts.{j}."
                names.update({q + "w1.weight": (f, d), q + "w3.weight": (f, d), q + "w2.weight": (d, f)})
        elif mt == "qwen2_moe" and qwen2_sparse_layer(cfg, i):
            e = cfg["num_experts"]
            names[p + "mlp.gate.weight"] = (e, d)
            for j in range(e):
                mlp(p + f"mlp.experts.{j}.", cfg["moe_intermediate_size"])
            mlp(p + "mlp.shared_expert.", cfg["shared_expert_intermediate_size"])
            names[p + "mlp.shared_expert_gate.weight"] = (1, d)
        else:
            mlp(p + "mlp.", cfg["intermediate_size"])
    return names


def load_folder_tensors(folder):
    """model.safetensors, or the shards listed by model.safetensors.index.json."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return load_tensors(os.path.join(folder, "model.safetensors"))
    weight_map = json.load(open(index))["weight_map"]
    W = {}
    for shard in sorted(set(weight_map.values())):
        part = load_tensors(os.path.join(folder, shard))
        assert all(weight_map.get(n) == shard for n in part), f"{shard}: tensors not in the index"
        W.update(part)
    assert set(W) == set(weight_map), "index and shards disagree"
    return W


def llm_logits(folder, ids):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    W = load_folder_tensors(folder)
    mt = cfg["model_type"]
    assert mt in ("llama", "mistral", "qwen2", "mixtral", "qwen2_moe"), mt
    expected = expected_llm_names(cfg)
    missing, unexpected = set(expected) - set(W), set(W) - set(expected)
    assert not missing and not unexpected, f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
    for name, shape in expected.items():
        assert tuple(W[name].shape) == shape, f"{name}: shape {tuple(W[name].shape)}, expected {shape}"
    h = cfg["num_attention_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // h
    b, t = ids.shape
    positions = torch.arange(t).unsqueeze(0).expand(b, t)
    cos, sin = rope_cos_sin(positions, hd, cfg["rope_theta"], cfg.get("rope_scaling"))
    eps = cfg["rms_norm_eps"]
    x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(rms_norm(x, W[p + "input_layernorm.weight"], eps), W, p + "self_attn.", cfg, cos, sin)
        y = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if mt == "mixtral":
            x = x + mixtral_moe(y, W, p + "block_sparse_moe.", cfg)
        elif mt == "qwen2_moe" and qwen2_sparse_layer(cfg, i):
            x = x + qwen2_moe_block(y, W, p + "mlp.", cfg)
        else:
            x = x + swiglu(y, W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"], W[p + "mlp.down_proj.weight"])
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


# ---- HF CLIP / SigLIP vision (hf_vision_ref.py) -------------------------------------------------

def clip_features(folder, pixels, layer=-1):
    """CLIPModel / CLIPVisionModel folder: hidden_states[layer] without the class token (N, P, D)."""
    return hf_vision_ref.clip_features(folder, pixels, layer, load_folder_tensors)


def siglip_features(folder, pixels, layer=-1):
    """SiglipModel / SiglipVisionModel folder: hidden_states[layer] (N, P, D), the pooling head unused."""
    return hf_vision_ref.siglip_features(folder, pixels, layer, load_folder_tensors)


def vision_features(folder, pixels, layer=-1):
    """clip_features or siglip_features, by the folder's model_type."""
    mt = json.load(open(os.path.join(folder, "config.json")))["model_type"]
    return (siglip_features if hf_vision_ref.FAMILY[mt] == "siglip" else clip_features)(folder, pixels, layer)


def rel_err(a, b):
    return (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out_dir, golden_path = sys.argv[1], sys.argv[2]
    golden = load_tensors(golden_path)
    torch.set_grad_enabled(False)
    ok = True
    logits = llm_logits(os.path.join(out_dir, "llm"), golden["input_ids"].long())
    e = rel_err(logits, golden["logits"])
    print(f"llm logits {tuple(logits.shape)}: max abs diff {(logits - golden['logits']).abs().max().item():.3g}, "
          f"relative error {e:.3g}")
    ok &= logits.shape == golden["logits"].shape and e < TOL
    feats = vision_features(os.path.join(out_dir, "vision"), golden["pixels"])
    e = rel_err(feats, golden["features"])
    print(f"vision features {tuple(feats.shape)}: max abs diff {(feats - golden['features']).abs().max().item():.3g}, "
          f"relative error {e:.3g}")
    ok &= feats.shape == golden["features"].shape and e < TOL
    top = json.load(open(os.path.join(out_dir, "config.json")))
    assert top["format"] == "mmtrain-export", top.get("format")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
