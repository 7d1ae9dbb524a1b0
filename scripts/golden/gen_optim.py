"""Golden data for the trainer's optimizers (tests/trainers/test_optim_golden.cpp).

AdamW: torch.optim.AdamW itself (Debian's python3-torch). Adafactor: a reference written here from
Shazeer & Stern 2018 (Algorithms 4/5 with update clipping, decay beta2_t = 1 - t^-0.8, the
factored estimate V = R C / sum(R) with row/column *sums*, eps1 added to g^2), in the
configuration of HF transformers' Adafactor(relative_step=False, scale_parameter=False,
warmup_init=False): the learning rate is given per step, applied before the optional first
moment, weight decay p -= wd * lr * p before the update.

Each file holds, for parameters of a few shapes: init.<name>, grad.<t>.<name> (the fixed gradient
of step t = 1..T) and param.<t>.<name> (the parameter after step t); its metadata holds the
hyperparameters and the per-step learning rates. Run: /usr/bin/python3 scripts/golden/gen_optim.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "golden")
STEPS = 5
LRS = [1e-2, 2e-2, 3e-2, 2e-2, 1e-2]  # a warmup/decay-like sequence, given per step


def make_case(shapes, seed, grad_scale):
    g = torch.Generator().manual_seed(seed)
    init = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    grads = [{n: torch.randn(s, generator=g) * grad_scale[n] for n, s in shapes.items()}
             for _ in range(STEPS)]
    return init, grads


def write(name, init, grads, params_after, meta):
    tensors = {}
    for n, t in init.items():
        tensors["init." + n] = t
    for t, (gs, ps) in enumerate(zip(grads, params_after), start=1):
        for n in gs:
            tensors[f"grad.{t}.{n}"] = gs[n]
            tensors[f"param.{t}.{n}"] = ps[n]
    meta = dict(meta, steps=STEPS, lrs=json.dumps(LRS))
    safetensors_io.save(os.path.join(OUT, name), {k: v.float() for k, v in tensors.items()},
                        {k: str(v) for k, v in meta.items()})
    print("wrote", name, len(tensors), "tensors")


def gen_adamw():
    shapes = {"w": (4, 3), "b": (3,)}
    init, grads = make_case(shapes, 1, {"w": 1.0, "b": 0.5})
    params = {n: t.clone().requires_grad_(True) for n, t in init.items()}
    # group 0: w, weight decay 0.1, lr multiplier 1; group 1: b, no decay, lr multiplier 0.5
    opt = torch.optim.AdamW([{"params": [params["w"]], "weight_decay": 0.1},
                             {"params": [params["b"]], "weight_decay": 0.0}],
                            lr=LRS[0], betas=(0.9, 0.95), eps=1e-8, foreach=False)
    mults = [1.0, 0.5]
    after = []
    for t in range(STEPS):
        for group, m in zip(opt.param_groups, mults):
            group["lr"] = LRS[t] * m
        for n, p in params.items():
            p.grad = grads[t][n].clone()
        opt.step()
        after.append({n: p.detach().clone() for n, p in params.items()})
    write("optim_adamw.safetensors", init, grads, after,
          {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "wd_w": 0.1, "wd_b": 0.0, "mult_w": 1.0, "mult_b": 0.5})


def adafactor_reference(init, grads, beta1, weight_decay, eps1=1e-30, clip=1.0, decay=-0.8):
    """Shazeer & Stern 2018, factored over the last two dims for >= 2-d parameters."""
    x = {n: t.clone() for n, t in init.items()}
    R, C, V, M = {}, {}, {}, {}
    after = []
    for t in range(1, STEPS + 1):
        lr = LRS[t - 1]
        beta2 = 1.0 - t ** decay
        for n, g in grads[t - 1].items():
            G = g * g + eps1
            if g.dim() >= 2:
                row_sum, col_sum = G.sum(dim=-1), G.sum(dim=-2)           # (..., n), (..., m)
                R[n] = row_sum if t == 1 else beta2 * R[n] + (1 - beta2) * row_sum
                C[n] = col_sum if t == 1 else beta2 * C[n] + (1 - beta2) * col_sum
                vhat = R[n].unsqueeze(-1) * C[n].unsqueeze(-2) / R[n].sum(dim=-1)[..., None, None]
            else:
                V[n] = G if t == 1 else beta2 * V[n] + (1 - beta2) * G
                vhat = V[n]
            u = g / torch.sqrt(vhat)
            rms = math.sqrt(float((u.double() ** 2).mean()))
            u = u / max(1.0, rms / clip)
            step = lr * u
            if beta1 is not None:
                M[n] = (1 - beta1) * step if t == 1 else beta1 * M[n] + (1 - beta1) * step
                step = M[n]
            x[n] = x[n] - weight_decay * lr * x[n] - step
        after.append({n: v.clone() for n, v in x.items()})
    return after


def gen_adafactor():
    # w2: a matrix (factored), w3: a stack of matrices (factored per leading index), b: a vector.
    shapes = {"w2": (5, 4), "w3": (2, 3, 4), "b": (6,)}
    init, grads = make_case(shapes, 2, {"w2": 1.0, "w3": 0.3, "b": 2.0})
    # Make the update RMS exceed the threshold at some steps (clipping exercised): a few spikes.
    for t in range(STEPS):
        grads[t]["w2"][0, 0] *= 20.0
    after = adafactor_reference(init, grads, beta1=None, weight_decay=0.0)
    write("optim_adafactor.safetensors", init, grads, after, {"beta1": 0.0, "weight_decay": 0.0})
    after = adafactor_reference(init, grads, beta1=0.9, weight_decay=0.05)
    write("optim_adafactor_beta1.safetensors", init, grads, after, {"beta1": 0.9, "weight_decay": 0.05})


if __name__ == "__main__":
    torch.manual_seed(0)
    gen_adamw()
    gen_adafactor()
