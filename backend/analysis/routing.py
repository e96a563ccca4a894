"""Think / no-think routing: accuracy vs mean FLOPs per query as a confidence threshold sweeps, and the baseline a
router must beat — the FLOPs-matched mixture of the two plain policies (a random share of prompts to each model,
chosen so the mixture spends what the router spends)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import estimators as E

__all__ = ["routing_table", "routing_front", "mixture_at"]


def _check(dc, df_, cc, cf, conf, router_flops, mode):
    dc, df_, cc, cf, conf = (np.asarray(x, dtype=float) for x in (dc, df_, cc, cf, conf))
    if not (dc.ndim == 1 and dc.size and dc.shape == df_.shape == cc.shape == cf.shape == conf.shape):
        raise ValueError("direct/cot correctness, FLOPs and confidence must be 1-D and of the same, non-zero length.")
    if np.any(np.isnan(conf)):
        raise ValueError("confidence must not be NaN (use -inf for 'no confidence').")
    rf = np.broadcast_to(np.asarray(router_flops, dtype=float), dc.shape)
    for name, a in (("direct_flops", df_), ("cot_flops", cf), ("router_flops", rf)):
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name} must be finite and non-negative.")
    for name, a in (("direct_correct", dc), ("cot_correct", cc)):
        if not np.all(np.isfinite(a)) or np.any((a < 0) | (a > 1)):
            raise ValueError(f"{name} must hold values in [0, 1].")
    if mode not in ("cascade", "route"):
        raise ValueError(f"unknown routing mode {mode!r}; use 'cascade' or 'route'.")
    return dc, df_, cc, cf, conf, rf


def routing_table(direct_correct, direct_flops, cot_correct, cot_flops, confidence, *, mode: str = "cascade",
                  router_flops=0.0) -> dict:
    """Every policy as per-prompt arrays: the plain policies "direct" and "cot" and the router at every threshold
    (a prompt keeps the direct answer when confidence ≥ threshold). mode "cascade": the confidence comes from the
    direct model's own answer, so every prompt pays direct_flops (+ cot_flops when sent on); "route": a router
    decides first, so a prompt pays router_flops + the chosen model only. Returns policy, threshold, frac_direct
    [policies] and acc, flops [policies, prompts]."""
    dc, df_, cc, cf, conf, rf = _check(direct_correct, direct_flops, cot_correct, cot_flops, confidence,
                                       router_flops, mode)
    thresholds = np.r_[np.unique(conf[np.isfinite(conf)]), np.inf]
    send_direct = conf[None, :] >= thresholds[:, None]  # [thresholds, prompts]
    acc = np.where(send_direct, dc, cc)
    cost = df_ + np.where(send_direct, 0.0, cf) if mode == "cascade" else rf + np.where(send_direct, df_, cf)
    return {"policy": np.array(["direct", "cot"] + ["route"] * len(thresholds), dtype=object),
            "threshold": np.r_[np.nan, np.nan, thresholds], "frac_direct": np.r_[1.0, 0.0, send_direct.mean(axis=1)],
            "acc": np.vstack([dc, cc, acc]), "flops": np.vstack([df_, cf, cost])}


def routing_front(direct_correct, direct_flops, cot_correct, cot_flops, confidence, *, mode: str = "cascade",
                  router_flops=0.0, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """The Pareto points of routing_table (accuracy vs mean FLOPs per query), with bootstrap CIs. Rows: policy,
    threshold, frac_direct, acc, lo, hi, flops, sorted by flops."""
    t = routing_table(direct_correct, direct_flops, cot_correct, cot_flops, confidence, mode=mode,
                      router_flops=router_flops)
    a_mean, f_mean = t["acc"].mean(axis=1), t["flops"].mean(axis=1)
    order = np.lexsort((-a_mean, f_mean))
    pareto = order[a_mean[order] > np.maximum.accumulate(np.r_[-np.inf, a_mean[order][:-1]])]
    _, lo, hi = E.bootstrap_curve_ci(t["acc"][pareto], n_boot=n_boot, seed=seed, level=level)
    return pd.DataFrame({"policy": t["policy"][pareto], "threshold": t["threshold"][pareto],
                         "frac_direct": t["frac_direct"][pareto], "acc": a_mean[pareto], "lo": lo, "hi": hi,
                         "flops": f_mean[pareto]})


def mixture_at(flops: float, direct_correct, direct_flops, cot_correct, cot_flops) -> tuple[np.ndarray, float]:
    """The best mixture of the two plain policies that spends at most ``flops`` per query on average: a random share
    q of prompts goes to the CoT model (cost (1 − q)·direct + q·CoT, accuracy likewise linear in q, so the best
    affordable q is an end of the affordable range). A budget below both policies gets the cheaper one. Returns
    (expected correctness per prompt, (1 − q)·direct + q·cot; q)."""
    dc, df_, cc, cf = (np.asarray(x, dtype=float) for x in (direct_correct, direct_flops, cot_correct, cot_flops))
    fd, fc = float(df_.mean()), float(cf.mean())
    if fc == fd:
        lo, hi = (0.0, 1.0) if flops >= fd else (0.0, 0.0)
    else:
        edge = float(np.clip((flops - fd) / (fc - fd), 0.0, 1.0))  # the share that spends exactly ``flops``
        lo, hi = (0.0, edge) if fc > fd else (edge, 1.0)
        if flops < min(fd, fc):
            lo = hi = 0.0 if fd < fc else 1.0
    q = hi if cc.mean() > dc.mean() else lo
    return (1 - q) * dc + q * cc, q
