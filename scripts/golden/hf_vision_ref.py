"""Independent plain-torch CLIP and SigLIP image encoders, written from the definitions of HF transformers'
modeling_clip.py (CLIPVisionEmbeddings, CLIPVisionTransformer, CLIPEncoderLayer, CLIPAttention) and
modeling_siglip.py (SiglipVisionEmbeddings, SiglipVisionTransformer, SiglipEncoderLayer, SiglipAttention,
SiglipMultiheadAttentionPoolingHead), with the defaults of CLIPVisionConfig / SiglipVisionConfig for keys a
config.json leaves out. Used by check_hf_export.py (an `mmtrain export` folder) and gen_hf_folders.py (the
golden image features of tests/data/golden/hf/).

hidden_states as transformers returns them with output_hidden_states=True: [0] is the embeddings (after
CLIP's pre_layrnorm), [k] the output of encoder layer k; post_layernorm is never applied to them (CLIP
applies it to the pooled class token only, SigLIP to last_hidden_state; LLaVA-style models read
hidden_states[vision_feature_layer]). Position embeddings are interpolated as interpolate_pos_encoding does
(bicubic, align_corners=False, to the patch grid of the input) when the input is not the config's grid."""
import json
import os

import torch
import torch.nn.functional as F

CLIP_VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                        "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32,
                        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
SIGLIP_VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16,
                          "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, "vision_use_head": True}
FAMILY = {"clip": "clip", "clip_vision_model": "clip", "siglip": "siglip", "siglip_vision_model": "siglip"}
ACT = {"gelu": F.gelu, "quick_gelu": lambda v: v * torch.sigmoid(1.702 * v),
       "gelu_pytorch_tanh": lambda v: F.gelu(v, approximate="tanh")}


def vision_config(cfg):
    """(family, the vision config with the config class's defaults) of a CLIPModel, CLIPVisionModel,
    SiglipModel or SiglipVisionModel config.json."""
    family = FAMILY[cfg["model_type"]]
    v = cfg["vision_config"] if cfg["model_type"] in ("clip", "siglip") else cfg
    out = dict(CLIP_VISION_DEFAULTS if family == "clip" else SIGLIP_VISION_DEFAULTS)
    out.update(v)
    return family, out


def _encoder_layer_names(p, d, f):
    n = {}
    for ln in ("layer_norm1", "layer_norm2"):
        n.update({p + ln + ".weight": (d,), p + ln + ".bias": (d,)})
    for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
        n.update({p + "self_attn." + proj + ".weight": (d, d), p + "self_attn." + proj + ".bias": (d,)})
    n.update({p + "mlp.fc1.weight": (f, d), p + "mlp.fc1.bias": (f,), p + "mlp.fc2.weight": (d, f),
              p + "mlp.fc2.bias": (d,)})
    return n


def expected_vision_names(cfg, position_ids=False):
    """Every tensor name and shape the HF model of config.json builds (the text tower and projections too for
    CLIPModel / SiglipModel). position_ids: the int64 buffers transformers before 4.31 saved (CLIP)."""
    family, v = vision_config(cfg)
    d, f, p, g = v["hidden_size"], v["intermediate_size"], v["patch_size"], v["image_size"] // v["patch_size"]
    e = "vision_model.embeddings."
    names = {e + "patch_embedding.weight": (d, v["num_channels"], p, p),
             "vision_model.post_layernorm.weight": (d,), "vision_model.post_layernorm.bias": (d,)}
    if family == "clip":
        names.update({e + "class_embedding": (d,), e + "position_embedding.weight": (g * g + 1, d),
                      "vision_model.pre_layrnorm.weight": (d,), "vision_model.pre_layrnorm.bias": (d,)})
        if position_ids:
            names[e + "position_ids"] = (1, g * g + 1)
    else:
        names.update({e + "patch_embedding.bias": (d,), e + "position_embedding.weight": (g * g, d)})
        if v.get("vision_use_head", True):
            h = "vision_model.head."
            names.update({h + "probe": (1, 1, d), h + "attention.in_proj_weight": (3 * d, d),
                          h + "attention.in_proj_bias": (3 * d,), h + "attention.out_proj.weight": (d, d),
                          h + "attention.out_proj.bias": (d,), h + "layernorm.weight": (d,),
                          h + "layernorm.bias": (d,), h + "mlp.fc1.weight": (f, d), h + "mlp.fc1.bias": (f,),
                          h + "mlp.fc2.weight": (d, f), h + "mlp.fc2.bias": (d,)})
    for i in range(v["num_hidden_layers"]):
        names.update(_encoder_layer_names(f"vision_model.encoder.layers.{i}.", d, f))
    if cfg["model_type"] in ("clip", "siglip"):  # the whole model: text tower, projections, logit scale
        t = cfg["text_config"]
        td, tf = t["hidden_size"], t["intermediate_size"]
        te = "text_model.embeddings."
        names.update({te + "token_embedding.weight": (t["vocab_size"], td),
                      te + "position_embedding.weight": (t["max_position_embeddings"], td),
                      "text_model.final_layer_norm.weight": (td,), "text_model.final_layer_norm.bias": (td,)})
        for i in range(t["num_hidden_layers"]):
            names.update(_encoder_layer_names(f"text_model.encoder.layers.{i}.", td, tf))
        if family == "clip":
            pd = cfg["projection_dim"]
            names.update({"visual_projection.weight": (pd, d), "text_projection.weight": (pd, td), "logit_scale": ()})
            if position_ids:
                names[te + "position_ids"] = (1, t["max_position_embeddings"])
        else:
            ps = t.get("projection_size") or td
            names.update({"text_model.head.weight": (ps, td), "text_model.head.bias": (ps,), "logit_scale": (1,),
                          "logit_bias": (1,)})
    return names


def _interpolate(patch_pos, g, h, w):
    """interpolate_pos_encoding's patch part: (g*g, D) -> (h*w, D); unchanged on the config's grid."""
    if (h, w) == (g, g):
        return patch_pos
    d = patch_pos.shape[-1]
    grid = patch_pos.reshape(1, g, g, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(h * w, d)


def _layer(x, W, q_, v, siglip):
    d, heads, eps = v["hidden_size"], v["num_attention_heads"], v["layer_norm_eps"]
    n, t, _ = x.shape
    hd = d // heads
    lin = lambda y, name: y @ W[q_ + name + ".weight"].T + W[q_ + name + ".bias"]  # noqa: E731
    y = F.layer_norm(x, (d,), W[q_ + "layer_norm1.weight"], W[q_ + "layer_norm1.bias"], eps)
    k = lin(y, "self_attn.k_proj").view(n, t, heads, hd).transpose(1, 2)
    val = lin(y, "self_attn.v_proj").view(n, t, heads, hd).transpose(1, 2)
    if siglip:  # SiglipAttention: softmax(q k^T * scale) in float32
        q = lin(y, "self_attn.q_proj").view(n, t, heads, hd).transpose(1, 2)
        a = torch.softmax((q @ k.transpose(2, 3)) * hd ** -0.5, dim=-1, dtype=torch.float32) @ val
    else:  # CLIPAttention: q scaled before q k^T
        q = (lin(y, "self_attn.q_proj") * hd ** -0.5).view(n, t, heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(2, 3), dim=-1) @ val
    x = x + lin(a.transpose(1, 2).reshape(n, t, d), "self_attn.out_proj")
    y = F.layer_norm(x, (d,), W[q_ + "layer_norm2.weight"], W[q_ + "layer_norm2.bias"], eps)
    return x + lin(ACT[v["hidden_act"]](lin(y, "mlp.fc1")), "mlp.fc2")


def hidden_states(cfg, W, pixels):
    """(hidden_states list, whether a class token leads each). mmtrain's own exports (mm_class_token false,
    mm_pre_norm false) skip the zero class token / position row 0 and the identity pre_layrnorm."""
    family, v = vision_config(cfg)
    siglip = family == "siglip"
    cls = not siglip and v.get("mm_class_token", True)
    p, g = v["patch_size"], v["image_size"] // v["patch_size"]
    e = "vision_model.embeddings."
    x = F.conv2d(pixels, W[e + "patch_embedding.weight"], W.get(e + "patch_embedding.bias"), stride=p)
    h, w = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)  # (N, h*w, D)
    pos = W[e + "position_embedding.weight"]
    x = x + _interpolate(pos if siglip else pos[1:], g, h, w)
    if cls:
        c = (W[e + "class_embedding"] + pos[0]).expand(x.shape[0], 1, -1)
        x = torch.cat([c, x], dim=1)
    if not siglip and v.get("mm_pre_norm", True):
        d = v["hidden_size"]
        x = F.layer_norm(x, (d,), W["vision_model.pre_layrnorm.weight"], W["vision_model.pre_layrnorm.bias"],
                         v["layer_norm_eps"])
    out = [x]
    for i in range(v["num_hidden_layers"]):
        x = _layer(x, W, f"vision_model.encoder.layers.{i}.", v, siglip)
        out.append(x)
    return out, cls


def _features(folder, pixels, layer, family, load):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    assert FAMILY[cfg["model_type"]] == family, cfg["model_type"]
    W = load(folder)
    names = expected_vision_names(cfg, position_ids=any(n.endswith("position_ids") for n in W))
    missing, unexpected = set(names) - set(W), set(W) - set(names)
    assert not missing and not unexpected, f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
    for name, shape in names.items():
        assert tuple(W[name].shape) == shape, f"{name}: shape {tuple(W[name].shape)}, expected {shape}"
    hs, cls = hidden_states(cfg, W, pixels)
    return hs[layer][:, 1:] if cls else hs[layer]


def clip_features(folder, pixels, layer=-1, load=None):
    """CLIP patch features: hidden_states[layer] without the class token (N, h*w, D)."""
    return _features(folder, pixels, layer, "clip", load)


def siglip_features(folder, pixels, layer=-1, load=None):
    """SigLIP patch features: hidden_states[layer] (N, h*w, D); the attention-pooling head is not run."""
    return _features(folder, pixels, layer, "siglip", load)


def main():
    """hf_vision_ref.py FOLDER GOLDEN PIXELS_KEY FEATURES_KEY LAYER: the features of FOLDER (its names checked
    against what transformers builds) against GOLDEN[FEATURES_KEY]; prints the error, exits 1 above 1e-5."""
    import sys

    import numpy as np

    import safetensors_io
    folder, golden, pixels_key, features_key, layer = sys.argv[1:6]
    arrays, _ = safetensors_io.load(golden)
    pixels, want = (torch.from_numpy(np.array(arrays[k])).float() for k in (pixels_key, features_key))

    def load(d):
        index = os.path.join(d, "model.safetensors.index.json")
        files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
            else ["model.safetensors"]
        W = {}
        for f in files:
            for name, a in safetensors_io.load(os.path.join(d, f))[0].items():
                if a.dtype == np.uint16:  # BF16 raw bits
                    a = (a.astype(np.uint32) << 16).view(np.float32)
                t = torch.from_numpy(np.array(a))
                W[name] = t.float() if t.is_floating_point() else t
        return W

    with torch.no_grad():
        mt = json.load(open(os.path.join(folder, "config.json")))["model_type"]
        got = (clip_features if FAMILY[mt] == "clip" else siglip_features)(folder, pixels, int(layer), load)
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)
    print(f"{folder}: features {tuple(got.shape)}, relative error {err:.3g}")
    sys.exit(0 if got.shape == want.shape and err < 1e-5 else 1)


if __name__ == "__main__":
    main()
