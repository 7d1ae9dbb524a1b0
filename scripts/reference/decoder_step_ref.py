#!/usr/bin/python3
"""Eager python3-torch reference of `mmtrain bench --decoder-only`'s training step, for the C++/Python
tokens/s ratio that `mmtrain bench --python-ref` prints.

The decoder is written here independently of the C++ code: Llama blocks with RMSNorm, RoPE (rotate-half),
grouped-query attention (scores masked to the causal, same-document pairs of packed sequences), SwiGLU MLP,
tied or untied LM head. One step = forward, next-token cross-entropy within documents (mean over counted
targets), backward, global-norm clipping (when > 0), torch.optim.AdamW. Batches: B x T random ids packed as
`docs_per_seq` equal documents with positions restarting per document (as the C++ synthetic batches).

  /usr/bin/python3 scripts/reference/decoder_step_ref.py --spec '{"vocab_size": 4096, "dim": 512, ...}'

Prints one JSON line: {"tokens_per_s", "step_s", "step_cpu_s" (process CPU time), "tokens_per_cpu_s", "steps",
"warmup", "threads", "torch", "loss_first", "loss_last"}. Set OMP_NUM_THREADS
(and OPENBLAS_NUM_THREADS) to the thread count, as mmtrain does for this child.
"""
import argparse
import json
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    print(json.dumps({"error": "python3-torch is not installed for " + sys.executable}))
    sys.exit(3)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(positions, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))  # (hd/2)
    ang = positions.to(torch.float32)[..., None] * inv                                    # (B, T, hd/2)
    ang = torch.cat([ang, ang], dim=-1)                                                   # (B, T, hd)
    return ang.cos()[:, None], ang.sin()[:, None]                                         # (B, 1, T, hd)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class Attention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.h, self.kv, self.hd = s["heads"], s["kv_heads"], s["dim"] // s["heads"]
        self.q_proj = nn.Linear(s["dim"], self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(s["dim"], self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(s["dim"], self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, s["dim"], bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask  # (B, H, T, T)
        out = scores.softmax(-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.hd))


class MLP(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.gate_proj = nn.Linear(s["dim"], s["ffn_hidden"], bias=False)
        self.up_proj = nn.Linear(s["dim"], s["ffn_hidden"], bias=False)
        self.down_proj = nn.Linear(s["ffn_hidden"], s["dim"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.input_layernorm = RMSNorm(s["dim"], s["norm_eps"])
        self.self_attn = Attention(s)
        self.post_attention_layernorm = RMSNorm(s["dim"], s["norm_eps"])
        self.mlp = MLP(s)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.embed_tokens = nn.Embedding(s["vocab_size"], s["dim"])
        self.layers = nn.ModuleList([Block(s) for _ in range(s["layers"])])
        self.norm = RMSNorm(s["dim"], s["norm_eps"])
        self.lm_head = None if s["tie_embeddings"] else nn.Linear(s["dim"], s["vocab_size"], bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, ids, positions, doc_ids):
        x = self.embed_tokens(ids)
        cos, sin = rope_cos_sin(positions, self.s["dim"] // self.s["heads"], self.s["rope_theta"])
        t = ids.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        allowed = causal & (doc_ids[:, :, None] == doc_ids[:, None, :]) & (doc_ids[:, None, :] >= 0)  # (B, T, T)
        mask = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, float("-inf"))[:, None]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        w = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return x @ w.t()


def packed_batch(s, gen):
    b, t, docs = s["batch"], s["seq_len"], s["docs_per_seq"]
    ids = torch.randint(0, s["vocab_size"], (b, t), generator=gen)
    doc_len = t // docs
    doc = torch.clamp(torch.arange(t) // doc_len, max=docs - 1)
    pos = torch.arange(t) - doc * doc_len
    return ids, pos.expand(b, t).contiguous(), doc.expand(b, t).contiguous()


def loss_fn(logits, labels, doc_ids):
    v = logits.shape[-1]
    target = labels[:, 1:].clone()
    keep = (doc_ids[:, :-1] == doc_ids[:, 1:]) & (doc_ids[:, :-1] >= 0) & (target != -100)
    target[~keep] = -100
    total = F.cross_entropy(logits[:, :-1].reshape(-1, v), target.reshape(-1), ignore_index=-100, reduction="sum")
    return total / keep.sum().clamp_min(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True, help="JSON: decoder sizes, batch, seq_len, steps, optimizer")
    s = json.loads(ap.parse_args().spec)
    s.setdefault("docs_per_seq", 2)
    s.setdefault("rope_theta", 10000.0)
    s.setdefault("norm_eps", 1e-5)
    s.setdefault("tie_embeddings", True)
    threads = int(s.get("threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(int(s.get("seed", 0)))
    model = Decoder(s)
    model.train()
    betas = s.get("betas", [0.9, 0.95])
    opt = torch.optim.AdamW(model.parameters(), lr=s.get("lr", 1e-3), betas=(betas[0], betas[1]),
                            eps=s.get("eps", 1e-8), weight_decay=s.get("weight_decay", 0.0))
    gen = torch.Generator().manual_seed(int(s.get("seed", 0)))
    batches = [packed_batch(s, gen) for _ in range(2)]
    clip = float(s.get("clip_grad_norm", 0.0))
    warmup, steps = int(s.get("warmup", 1)), int(s.get("steps", 3))
    timed = 0.0
    timed_cpu = 0.0
    losses = []
    for step in range(warmup + steps):
        ids, pos, doc = batches[step % 2]
        t0 = time.perf_counter()
        c0 = time.process_time()
        loss = loss_fn(model(ids, pos, doc), ids, doc)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step >= warmup:
            timed += time.perf_counter() - t0
            timed_cpu += time.process_time() - c0
    step_s, step_cpu_s = timed / steps, timed_cpu / steps
    tokens = s["batch"] * s["seq_len"]
    print(json.dumps({"tokens_per_s": tokens / step_s, "step_s": step_s, "step_cpu_s": step_cpu_s,
                      "tokens_per_cpu_s": tokens / step_cpu_s if step_cpu_s > 0 else 0.0, "steps": steps,
                      "warmup": warmup, "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "loss_first": losses[0], "loss_last": losses[-1]}))


if __name__ == "__main__":
    main()
