"""The exchange rate between a small and a large model (how many samples of the small one match one answer of the
large one, or never) and lifetime compute (pretraining + queries × inference) at that rate. The small model's
method must be deployable: an upper bound (oracle selection, a gold-reading verifier) has no exchange rate."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import compute
from backend.analysis.curves import bin_labels, select_bin
from backend.analysis.points import Points
from backend.analysis.selection import series

__all__ = ["exchange_rate", "exchange_table", "lifetime_table", "small_vs_large_lifetime"]


def _resampled_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Prompt means of values [points, prompts] under n_boot resamplings of prompts (same indices for every point)."""
    p = values.shape[1]
    idx = np.random.default_rng(seed).integers(0, p, size=(n_boot, p))
    w = np.bincount((idx + np.arange(n_boot)[:, None] * p).ravel(), minlength=n_boot * p).reshape(n_boot, p)
    return values @ w.T / p


def exchange_rate(points: Points, small: str, large: str, *, method: str = "maj@k", verifier: str | None = None,
                  temperature: float | None = None, target: str = "greedy", bins: pd.Series | None = None, bin=None,
                  n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """How many samples of the small model (with a deployable method: "maj@k", "best-of-k" with a model verifier, …)
    match the large model's target ("greedy", or "pass@1" from its pool): the smallest k of the small model's curve
    whose accuracy reaches the target. The curve is the biggest one of that method (and verifier / temperature, when
    given).

    Returns k (None = never within the pool), its bootstrap CI over prompts (paired: one resampling for both models;
    k_hi None = the upper end is "never"), p_never (share of resamples that never reach it), the target and the small
    model's accuracy at k, its ceiling at the largest k, coverage (pass@n, the upper bound), the FLOPs ratio
    small-at-k / large, the rows of the matched points, and reason: "reached", "plateau" (coverage ≥ target but the
    method falls short) or "coverage" (pass@n < target).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}.")
    if target not in ("greedy", "pass@1"):
        raise ValueError(f"unknown target {target!r}; use 'greedy' or 'pass@1'.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}.")
    pts = select_bin(points, bins, bin)
    curve = series(pts.meta, small, method, verifier=verifier, temperature=temperature)
    if not curve["deployable"].all():
        raise ValueError(f"{method} of {small} with verifier {curve['verifier'].iloc[0]!r} is an upper bound (it reads "
                         "the gold answer), not a way to match a larger model.")
    t = float(curve["temperature"].iloc[0])
    tgt = series(pts.meta, large, "greedy") if target == "greedy" else series(pts.meta, large, "pass@k").iloc[:1]
    try:
        cov = series(pts.meta, small, "pass@k", temperature=t)
    except ValueError:
        cov = curve.iloc[:0]
    ci, ti = curve.index.to_numpy(), int(tgt.index[0])
    rows = np.r_[ci, ti, cov.index.to_numpy()[-1:]]
    keep = np.all(~np.isnan(pts.acc[rows]), axis=0)
    if not keep.any():
        raise ValueError(f"{small!r} and {large!r} share no prompts here, so they cannot be compared.")
    acc = pts.acc[:, keep]
    ks = curve["k"].to_numpy()
    small_acc, tgt_acc = acc[ci].mean(axis=1), float(acc[ti].mean())
    hit = np.flatnonzero(small_acc >= tgt_acc - 1e-12)
    k = int(ks[hit[0]]) if len(hit) else None
    boot = _resampled_means(np.vstack([acc[ci], acc[ti]]), int(n_boot), seed)
    reach = boot[:-1] >= boot[-1] - 1e-12
    kb = np.where(reach.any(axis=0), ks[reach.argmax(axis=0)], np.inf)
    k_lo, k_hi = np.quantile(kb, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    coverage = float(acc[cov.index[-1]].mean()) if len(cov) else float("nan")
    flops = pts.flops[:, keep]
    reason = "reached" if k is not None else ("coverage" if coverage < tgt_acc - 1e-12 else "plateau")
    return {"small": small, "large": large, "method": method, "verifier": curve["verifier"].iloc[0],
            "temperature": t, "target": target, "target_acc": tgt_acc, "k": k,
            "k_lo": None if np.isinf(k_lo) else int(k_lo), "k_hi": None if np.isinf(k_hi) else int(k_hi),
            "never": k is None, "p_never": float(np.isinf(kb).mean()),
            "acc_at_k": float(small_acc[hit[0]]) if k is not None else None, "ceiling": float(small_acc[-1]),
            "max_k": int(ks[-1]), "coverage": coverage, "reason": reason,
            "flops_ratio": float(np.nanmean(flops[ci[hit[0]]]) / np.nanmean(flops[ti])) if k is not None else None,
            "row": int(ci[hit[0]]) if k is not None else None, "target_row": ti, "n_prompts": int(keep.sum())}


def exchange_table(points: Points, small: str, large: str, bins: pd.Series | None = None, **kw) -> pd.DataFrame:
    """exchange_rate over all prompts ("all") and per bin of bins, one row each (bins with no shared prompt skipped)."""
    rows = [{"bin": "all", **exchange_rate(points, small, large, **kw)}]
    if bins is not None:
        for label in bin_labels(bins):
            try:
                rows.append({"bin": label, **exchange_rate(points, small, large, bins=bins, bin=label, **kw)})
            except ValueError as e:
                if "share no prompts" not in str(e) and "holds none" not in str(e):
                    raise
    return pd.DataFrame(rows)


def lifetime_table(models: pd.DataFrame, queries: Sequence[float]) -> pd.DataFrame:
    """Total lifetime compute per model and query volume: training FLOPs + queries × per-query inference FLOPs.

    models: rows with model, training_flops, flops_per_query (e.g. the large model's greedy and the small model's
    FLOPs at the exchange rate). Tidy rows: model, queries, training_flops, inference_flops, total_flops.
    """
    need = {"model", "training_flops", "flops_per_query"}
    if not isinstance(models, pd.DataFrame) or need - set(models.columns):
        raise ValueError(f"models must be a DataFrame with columns {sorted(need)}.")
    q = np.asarray(queries, dtype=float)
    if q.ndim != 1 or q.size == 0 or not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError("queries must be a non-empty 1-D array of non-negative query counts.")
    rows = []
    for m in models.itertuples(index=False):
        for n in q:
            total = compute.lifetime_flops(float(m.training_flops), float(n), float(m.flops_per_query))
            rows.append({"model": m.model, "queries": float(n), "training_flops": float(m.training_flops),
                         "inference_flops": total - float(m.training_flops), "total_flops": total})
    return pd.DataFrame(rows)


def small_vs_large_lifetime(points: Points, models: pd.DataFrame, small: str, large: str, queries: Sequence[float],
                            **exchange_kw) -> pd.DataFrame:
    """Lifetime compute of the small model with enough deployable TTC to match the large one (at the exchange rate)
    vs the large model's target, over query volumes, with the break-even volume on every row.

    models: the model table (name, training_flops; data.model_table). ValueError when the small model never matches:
    then there is no small+TTC option to put a price on.
    """
    r = exchange_rate(points, small, large, **exchange_kw)
    if r["never"]:
        raise ValueError(f"{small} never matches {large} within its pool ({r['reason']}), so small+TTC has no price.")
    train = models.set_index("name")["training_flops"] if "name" in models.columns else pd.Series(dtype=float)
    missing = [m for m in (small, large) if m not in train.index or pd.isna(train.get(m))]
    if missing:
        raise ValueError(f"no training FLOPs for {missing}; pass the zoo's model table (data.model_table).")
    f_small = float(np.nanmean(points.flops[r["row"]]))
    f_large = float(np.nanmean(points.flops[r["target_row"]]))
    table = lifetime_table(pd.DataFrame({"model": [f"{small} + {r['method']} k={r['k']}", f"{large} ({r['target']})"],
                                         "training_flops": [float(train[small]), float(train[large])],
                                         "flops_per_query": [f_small, f_large]}), queries)
    table["break_even_queries"] = compute.break_even_queries(float(train[small]), f_small, float(train[large]),
                                                             f_large)
    return table
