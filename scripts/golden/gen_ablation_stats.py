#!/usr/bin/python3
"""Reference values for the sweep report's statistics (eval/ablation_report/stats.h), computed
independently with mpmath (Debian's python3-mpmath; 30 significant digits): Student t CDF from the
regularised incomplete beta function, t quantiles by root finding, 95% t-intervals of means, Welch's
t-test (Welch-Satterthwaite degrees of freedom, two-sided p) and Holm-Bonferroni adjusted p-values.

    /usr/bin/python3 scripts/golden/gen_ablation_stats.py   # writes tests/data/golden/ablation_stats.json
"""
import json
import os

import mpmath as mp

mp.mp.dps = 30


def t_cdf(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    x = df / (df + t * t)
    tail = mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2  # P(T > |t|)
    return 1 - tail if t >= 0 else tail


def t_quantile(p, df):
    return mp.findroot(lambda t: t_cdf(t, df) - p, mp.mpf(2))


def mean_sd(v):
    n = len(v)
    m = mp.fsum(v) / n
    sd = mp.sqrt(mp.fsum((x - m) ** 2 for x in v) / (n - 1))
    return m, sd


def interval(v):
    m, sd = mean_sd(v)
    half = t_quantile(mp.mpf("0.975"), len(v) - 1) * sd / mp.sqrt(len(v))
    return {"values": v, "mean": float(m), "sd": float(sd), "lo": float(m - half), "hi": float(m + half)}


def welch(a, b):
    ma, sa = mean_sd(a)
    mb, sb = mean_sd(b)
    va, vb = sa**2 / len(a), sb**2 / len(b)
    t = (ma - mb) / mp.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    p = 2 * t_cdf(-abs(t), df)
    return {"a": a, "b": b, "diff": float(ma - mb), "t": float(t), "df": float(df), "p": float(p)}


def holm(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return {"p": p, "adjusted": adj}


quantiles = [{"p": p, "df": df, "t": float(t_quantile(mp.mpf(p), df))}
             for p, df in [(0.975, 1), (0.975, 2), (0.975, 3), (0.975, 4), (0.975, 5), (0.975, 7.5), (0.975, 10),
                           (0.975, 29), (0.975, 100), (0.9, 3), (0.995, 6), (0.6, 2.5)]]
cdfs = [{"t": t, "df": df, "cdf": float(t_cdf(t, df))}
        for t, df in [(0.0, 3), (1.0, 1), (-2.5, 4), (3.2, 7.5), (0.4, 30), (-0.1, 1.5), (6.0, 2)]]
intervals = [interval(v) for v in [[0.41, 0.45, 0.43], [0.2, 0.5], [0.61, 0.58, 0.66, 0.63, 0.6]]]
welchs = [welch(a, b) for a, b in [([0.41, 0.45, 0.43], [0.30, 0.33, 0.29]),
                                   ([0.5, 0.62, 0.44], [0.47, 0.55, 0.51, 0.40]),
                                   ([0.1, 0.1, 0.2], [0.3, 0.35, 0.5])]]
holms = [holm([0.01, 0.04, 0.03, 0.2]), holm([0.001, 0.02, 0.5, 0.015, 0.04, 0.3]), holm([0.049])]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "golden",
                   "ablation_stats.json")
with open(out, "w") as f:
    json.dump({"generator": "scripts/golden/gen_ablation_stats.py (mpmath %s)" % mp.__version__,
               "t_quantile": quantiles, "t_cdf": cdfs, "interval": intervals, "welch": welchs, "holm": holms},
              f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(out))
