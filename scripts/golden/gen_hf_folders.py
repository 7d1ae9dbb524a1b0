#!/usr/bin/python3
"""Tiny pretrained-decoder folders as the Hugging Face hub ships them, for mmtrain's `model.llm.from: hf:DIR`
(tests/models/test_hf_import.cpp). Each folder holds config.json and model.safetensors, or shards plus
model.safetensors.index.json, with random weights under exactly the names and shapes transformers builds
from that config.json (check_hf_export.expected_llm_names). Next to each folder, NAME.golden.safetensors
holds input_ids (B, T) int64 and the logits (B, T, V) fp32 of check_hf_export.llm_logits, the independent
plain-torch implementation of each architecture (weights read back from the folder, computed in fp32).

Usage: /usr/bin/python3 gen_hf_folders.py [OUT_DIR]   (default tests/data/golden/hf)
       /usr/bin/python3 gen_hf_folders.py --big DIR     (a Llama-3.2-1B-sized bf16 folder, no golden: the
                                                         memory measurement of docs/pretrained.md)
Deterministic: the same script writes byte-identical files."""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_hf_export  # noqa: E402
import safetensors_io  # noqa: E402

DTYPE_NAMES = {torch.float32: ("F32", "float32"), torch.float16: ("F16", "float16"),
               torch.bfloat16: ("BF16", "bfloat16")}


def save_safetensors(path, tensors):
    """safetensors_io.save with bf16 support (raw bits), names sorted, offsets in name order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code = DTYPE_NAMES[t.dtype][0]
        data = (t.view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.numpy()).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


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


def write_folder(folder, cfg, dtype, shards, gen):
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(os.path.join(folder, f))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    W = random_weights(cfg, dtype, gen)
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


if __name__ == "__main__":
    main()
