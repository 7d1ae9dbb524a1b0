#!/usr/bin/python3
"""Tiny pretrained folders as the Hugging Face hub ships them, for mmtrain's `model.llm.from: hf:DIR`
(tests/models/test_hf_import.cpp) and `model.vision.from: hf:DIR` (tests/models/test_hf_import_vision.cpp). Each folder holds config.json and model.safetensors, or shards plus
model.safetensors.index.json, with random weights under exactly the names and shapes transformers builds
from that config.json (check_hf_export.expected_llm_names). Next to each folder, NAME.golden.safetensors
holds input_ids (B, T) int64 and the logits (B, T, V) fp32 of check_hf_export.llm_logits, the independent
plain-torch implementation of each architecture (weights read back from the folder, computed in fp32).
The image encoders (CLIPModel, CLIPVisionModel, SiglipModel; hf_vision_ref.expected_vision_names) get the
image features of check_hf_export.clip_features / siglip_features instead (write_vision_golden).

Usage: /usr/bin/python3 gen_hf_folders.py [OUT_DIR]   (default tests/data/golden/hf)
       /usr/bin/python3 gen_hf_folders.py --big DIR     (a Llama-3.2-1B-sized bf16 folder, no golden: the
                                                         memory measurement of docs/pretrained.md)
Deterministic: the same script writes byte-identical files."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_hf_export  # noqa: E402
import hf_vision_ref  # noqa: E402
import safetensors_io  # noqa: E402

DTYPE_NAMES = {torch.float32: ("F32", "float32"), torch.float16: ("F16", "float16"),
               torch.bfloat16: ("BF16", "bfloat16")}


def save_safetensors(path, tensors):
    """As transformers' save_pretrained writes them: names sorted, metadata {"format": "pt"}, bf16 as BF16."""
    safetensors_io.save(path, tensors, {"format": "pt"})


def base_config(arch, model_type, dtype, **kw):
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": 96, "hidden_size": 32,
           "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "hidden_act": "silu", "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "rope_scaling": None, "tie_word_embeddings": False, "torch_dtype": DTYPE_NAMES[dtype][1],
           "bos_token_id": 1, "eos_token_id": 2, "attention_dropout": 0.0, "initializer_range": 0.02,
           "use_cache": True, "transformers_version": "4.46.0"}
    cfg.update(kw)
    return cfg


def random_weights(cfg, dtype, gen):
    """Every tensor the HF model builds: norms near 1, biases and matrices ~ N(0, 0.2)."""
    out = {}
    for name, shape in sorted(check_hf_export.expected_llm_names(cfg).items()):
        t = torch.randn(shape, generator=gen) * 0.2
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            t = 1.0 + t * 0.5
        out[name] = t.to(dtype)
    return out


def write_folder(folder, cfg, dtype, shards, gen, weights=random_weights):
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(os.path.join(folder, f))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    W = weights(cfg, dtype, gen)
    if shards == 1:
        save_safetensors(os.path.join(folder, "model.safetensors"), W)
        return
    names = sorted(W)
    per = (len(names) + shards - 1) // shards
    weight_map, total = {}, 0
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: W[n] for n in names[s * per:(s + 1) * per]}
        save_safetensors(os.path.join(folder, file), part)
        for n, t in part.items():
            weight_map[n] = file
            total += t.numel() * t.element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


FOLDERS = {
    # Llama 3.x: rope_scaling llama3, head_dim 16 != hidden_size / heads (8), untied, bf16, two shards.
    "llama3_bf16_sharded": (base_config(
        "LlamaForCausalLM", "llama", torch.bfloat16, head_dim=16, rope_theta=500000.0, attention_bias=False,
        mlp_bias=False, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
        torch.bfloat16, 2),
    # Qwen2 / Qwen2.5: q/k/v biases, tied embeddings, fp32, one file.
    "qwen2_tied_fp32": (base_config(
        "Qwen2ForCausalLM", "qwen2", torch.float32, tie_word_embeddings=True, rope_theta=1000000.0,
        rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=64, max_window_layers=2), torch.float32, 1),
    # Mistral: fp16 on disk, sliding window as long as the context.
    "mistral_fp16": (base_config("MistralForCausalLM", "mistral", torch.float16, sliding_window=64),
                     torch.float16, 1),
    # Mixtral: 4 experts, top 2, fp32, three shards.
    "mixtral_fp32": (base_config("MixtralForCausalLM", "mixtral", torch.float32, num_local_experts=4,
                                 num_experts_per_tok=2, router_aux_loss_coef=0.01, sliding_window=None,
                                 output_router_logits=False), torch.float32, 3),
}


# ---- image encoders (model.vision.from) -----------------------------------------------------------

def random_vision_weights(cfg, dtype, gen):
    """Every tensor of hf_vision_ref.expected_vision_names: norms near 1, the patch embedding ~ N(0, 0.05), the
    rest ~ N(0, 0.2); CLIP's old int64 position_ids buffers hold 0..n-1."""
    old_buffers = cfg.get("transformers_version", "") < "4.31"
    out = {}
    for name, shape in sorted(hf_vision_ref.expected_vision_names(cfg, position_ids=old_buffers).items()):
        if name.endswith("position_ids"):
            out[name] = torch.arange(shape[1], dtype=torch.int64).unsqueeze(0)
            continue
        t = torch.randn(shape, generator=gen) * (0.05 if "patch_embedding.weight" in name else 0.2)
        if "norm" in name and name.endswith(".weight"):
            t = 1.0 + t * 0.5
        out[name] = t.to(dtype)
    return out


def clip_vision_config(**kw):
    v = {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
         "num_attention_heads": 4, "num_channels": 3, "image_size": 32, "patch_size": 8, "hidden_act": "quick_gelu",
         "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0, "initializer_range": 0.02,
         "initializer_factor": 1.0, "projection_dim": 16}
    v.update(kw)
    return v


VISION_FOLDERS = {
    # CLIPModel as openai/clip-vit-large-patch14-336 ships it (a transformers 4.2x save): the text tower, the
    # projections, the int64 position_ids buffers; quick_gelu, class token, pre_layrnorm; fp32.
    "clip_fp32": ({"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 16,
                   "logit_scale_init_value": 2.6592, "initializer_factor": 1.0,
                   "text_config": {"model_type": "clip_text_model", "vocab_size": 50, "hidden_size": 16,
                                   "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                   "max_position_embeddings": 12, "hidden_act": "quick_gelu",
                                   "layer_norm_eps": 1e-5, "projection_dim": 16},
                   "vision_config": clip_vision_config(), "torch_dtype": "float32",
                   "transformers_version": "4.21.3"}, torch.float32, 1),
    # CLIPVisionModel with gelu (as DFN / MetaCLIP conversions may use), fp16, two shards.
    "clip_vision_gelu_fp16": (dict(clip_vision_config(hidden_act="gelu"), architectures=["CLIPVisionModel"],
                                   torch_dtype="float16", transformers_version="4.46.0"), torch.float16, 2),
    # SiglipModel as google/siglip-so400m-patch14-384 ships it: vision_config holds only what differs from
    # SiglipVisionConfig (hidden_act gelu_pytorch_tanh and layer_norm_eps 1e-6 come from its defaults), image_size
    # not a multiple of patch_size (36 / 8: a 4x4 grid, as 384 / 14 is 27x27), the attention-pooling head, bf16.
    "siglip_bf16": ({"architectures": ["SiglipModel"], "model_type": "siglip", "initializer_factor": 1.0,
                     "text_config": {"model_type": "siglip_text_model", "vocab_size": 50, "hidden_size": 16,
                                     "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                     "max_position_embeddings": 12},
                     "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 32, "image_size": 36,
                                       "intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 3,
                                       "patch_size": 8},
                     "torch_dtype": "bfloat16", "transformers_version": "4.46.0"}, torch.bfloat16, 1),
}


def write_vision_golden(out, i, name, cfg, dtype, shards):
    """The folder, and NAME.golden.safetensors: pixels (2, 3, 32, 32) with features_m1 / features_m2
    (hidden_states[-1] / [-2] without a class token), pixels_tile (2, 3, 48, 48) with features_tile_m2
    (the position table interpolated from the 4x4 grid to 6x6)."""
    gen = torch.Generator().manual_seed(2000 + i)
    folder = os.path.join(out, name)
    write_folder(folder, cfg, dtype, shards, gen, random_vision_weights)
    family, v = hf_vision_ref.vision_config(cfg)
    r = (v["image_size"] // v["patch_size"]) * v["patch_size"]
    pixels = torch.randn(2, 3, r, r, generator=gen)
    tile = torch.randn(2, 3, r + 2 * v["patch_size"], r + 2 * v["patch_size"], generator=gen)
    feats = check_hf_export.clip_features if family == "clip" else check_hf_export.siglip_features
    g = {"pixels": pixels, "features_m1": feats(folder, pixels, -1), "features_m2": feats(folder, pixels, -2),
         "pixels_tile": tile, "features_tile_m2": feats(folder, tile, -2)}
    safetensors_io.save(os.path.join(out, name + ".golden.safetensors"), {k: t.float() for k, t in g.items()})
    print(f"{name}: {sum(1 for _ in os.listdir(folder))} files, features {tuple(g['features_m1'].shape)}, "
          f"at 48 px {tuple(g['features_tile_m2'].shape)}")


def main():
    args = sys.argv[1:]
    torch.set_grad_enabled(False)
    if args[:1] == ["--big"]:
        # Llama 3.2 1B's sizes (1.24 B parameters, tied), bf16, two shards; random weights.
        cfg = base_config("LlamaForCausalLM", "llama", torch.bfloat16, vocab_size=128256, hidden_size=2048,
                          intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                          num_key_value_heads=8, head_dim=64, tie_word_embeddings=True, max_position_embeddings=2048)
        write_folder(args[1], cfg, torch.bfloat16, 2, torch.Generator().manual_seed(0))
        return
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "golden", "hf")
    for i, (name, (cfg, dtype, shards)) in enumerate(FOLDERS.items()):
        gen = torch.Generator().manual_seed(1000 + i)
        folder = os.path.join(out, name)
        write_folder(folder, cfg, dtype, shards, gen)
        ids = torch.randint(0, cfg["vocab_size"], (2, 12), generator=gen)
        logits = check_hf_export.llm_logits(folder, ids)
        safetensors_io.save(os.path.join(out, name + ".golden.safetensors"),
                            {"input_ids": ids.numpy().astype(np.int64), "logits": logits.float().numpy()})
        print(f"{name}: {sum(1 for _ in os.listdir(folder))} files, logits {tuple(logits.shape)}")
    for i, (name, (cfg, dtype, shards)) in enumerate(VISION_FOLDERS.items()):
        write_vision_golden(out, i, name, cfg, dtype, shards)


if __name__ == "__main__":
    main()
