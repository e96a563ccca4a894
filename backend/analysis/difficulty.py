"""How hard a prompt is: by construction (operators × digits), by the model's own pool (oracle bins, Snell et al.
2024) or predicted by a verifier from a few samples (what a deployed system can afford).

Every binning returns an ordered categorical Series indexed by prompt_key, easiest bin first, so the frontier
functions can restrict to one bin by label.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis.estimators import pass_at_k_curve

__all__ = ["BANDS", "N_BINS", "MATH_LEVELS", "band_of", "construction_bins", "quantile_bins", "oracle_bins",
           "predicted_bins", "check_bin"]

BANDS = {"easy": (1, 2), "medium": (3, 4), "hard": (5, 6)}  # operator counts per band (as in the zoo's evaluation)
N_BINS = 5  # Snell et al.: five difficulty levels, 1 = easiest
MATH_LEVELS = (1, 2, 3, 4, 5)  # Hendrycks et al. 2021: MATH problems by level, 1 = easiest


def band_of(n_ops: int) -> str:
    """The band ("easy", "medium", "hard") of a prompt with n_ops operators."""
    for band, ops in BANDS.items():
        if n_ops in ops:
            return band
    raise ValueError(f"n_ops={n_ops!r} is outside 1..6, so it has no difficulty band.")


def construction_bins(prompts: pd.DataFrame, by: str = "band") -> pd.Series:
    """Difficulty by construction of a prompts frame (prompt_key, n_ops, digits): "band" or "cell" ("ops,digits")
    for arith prompts, or "level" for MATH prompts (their level 1-5, stored in n_ops; 1 = easiest)."""
    need = {"prompt_key", "n_ops"} | ({"digits"} if by != "level" else set())
    missing = need - set(prompts.columns)
    if missing:
        raise ValueError(f"prompts lacks columns {sorted(missing)}; pass rows of the prompts table.")
    if prompts[sorted(need - {"prompt_key"})].isna().any().any():
        what = "a MATH level" if by == "level" else "n_ops/digits (not arith prompts)"
        raise ValueError(f"some prompts have no {what}; bin them by oracle or prediction.")
    keys = prompts["prompt_key"].to_numpy()
    if by == "level":
        labels = [int(n) for n in prompts["n_ops"]]
        if not set(labels) <= set(MATH_LEVELS):
            raise ValueError(f"MATH levels run 1-5; these prompts have {sorted(set(labels) - set(MATH_LEVELS))}.")
        cats = list(MATH_LEVELS)
    elif by == "band":
        labels = [band_of(int(n)) for n in prompts["n_ops"]]
        cats = list(BANDS)
    elif by == "cell":
        labels = [f"{int(o)},{int(d)}" for o, d in zip(prompts["n_ops"], prompts["digits"])]
        cats = sorted(set(labels), key=lambda s: tuple(int(x) for x in s.split(",")))
    else:
        raise ValueError(f"unknown construction binning {by!r}; use 'band', 'cell' or 'level'.")
    return pd.Series(pd.Categorical(labels, categories=cats, ordered=True), index=pd.Index(keys, name="prompt_key"),
                     name=by)


def quantile_bins(easiness, n_bins: int = N_BINS, prompt_keys: Sequence | None = None) -> pd.Series:
    """Equal-count bins of a per-prompt easiness score, 1 = easiest (highest score) … n_bins = hardest.

    Ties share a bin: prompts are ranked by descending score and each group of equal scores goes to the bin that
    holds the centre of its rank span. So a large tie block (typically prompts never solved, score 0) lands in one
    bin, and a neighbouring bin can then be smaller or empty; look at the counts before reading a bin.
    """
    s = np.asarray(easiness, dtype=float)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("easiness must be a non-empty 1-D array of finite numbers (one per prompt).")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    keys = np.arange(len(s)) if prompt_keys is None else np.asarray(prompt_keys)
    if len(keys) != len(s):
        raise ValueError(f"prompt_keys has {len(keys)} entries but easiness has {len(s)}.")
    p = len(s)
    order = np.argsort(-s, kind="stable")
    sorted_s = s[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], p]
    centre = (starts + ends) / 2 / p  # centre of each tie group's rank span, as a fraction in (0, 1)
    group_bin = np.minimum(np.floor(centre * n_bins).astype(int) + 1, n_bins)
    bins = np.empty(p, dtype=int)
    bins[order] = np.repeat(group_bin, ends - starts)
    return pd.Series(pd.Categorical(bins, categories=list(range(1, n_bins + 1)), ordered=True),
                     index=pd.Index(keys, name="prompt_key"), name="bin")


def oracle_bins(n, c, prompt_keys: Sequence | None = None, n_bins: int = N_BINS) -> pd.Series:
    """Snell et al.'s oracle difficulty: quantile bins of the model's own pass@1 = c/n over its pool, 1 = easiest.

    n, c: pool size and correct samples per prompt. Ties (all-zero prompts above all) share one bin, see quantile_bins.
    "Oracle" because it needs the ground truth of many samples per prompt, which a deployed system does not have.
    The bins are tailored to the model that defines them: its own lucky samples put a prompt in an easy bin and its
    unlucky ones in a hard bin, so scored on the same pool that model looks better on easy bins and worse on hard ones
    than it is, while other models regress to the mean. Compare models on bins one of them defines with care.
    """
    pass1 = pass_at_k_curve(np.asarray(n), np.asarray(c), [1])[0]
    return quantile_bins(pass1, n_bins, prompt_keys)


def predicted_bins(scores, sample_flops, verifier_flops, *, prompt_keys: Sequence | None = None,
                   n_bins: int = N_BINS) -> pd.DataFrame:
    """Predicted difficulty: quantile bins of a verifier's mean score over a few samples per prompt, and what it cost.

    scores, sample_flops, verifier_flops: [prompts, m] (m samples generated and scored per prompt). Returns one row
    per prompt: prompt_key, pred_score, bin (1 = easiest) and flops = generation plus verifier FLOPs of the m samples
    (as recorded, compute.py) — the price of the estimate, to add to any budget it steers.
    """
    s = np.asarray(scores, dtype=float)
    f = np.asarray(sample_flops, dtype=float)
    v = np.asarray(verifier_flops, dtype=float)
    if s.ndim != 2 or s.size == 0:
        raise ValueError("scores must be a non-empty [prompts, samples] array.")
    if f.shape != s.shape or v.shape != s.shape:
        raise ValueError(f"sample_flops {f.shape} and verifier_flops {v.shape} must match scores {s.shape}.")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(f)) and np.all(np.isfinite(v))):
        raise ValueError("scores, sample_flops and verifier_flops must be finite.")
    if np.any(f < 0) or np.any(v < 0):
        raise ValueError("sample_flops and verifier_flops must be non-negative.")
    pred = s.mean(axis=1)
    bins = quantile_bins(pred, n_bins, prompt_keys)
    return pd.DataFrame({"prompt_key": bins.index, "pred_score": pred, "bin": bins.to_numpy(),
                         "flops": f.sum(axis=1) + v.sum(axis=1)})


def check_bin(bins: pd.Series, label) -> np.ndarray:
    """Prompt keys in bin `label`; ValueError naming the known bins when the label is not one of them."""
    if not isinstance(bins, pd.Series):
        raise ValueError("bins must be a pandas Series indexed by prompt_key (from backend.analysis.difficulty).")
    known = list(bins.cat.categories) if isinstance(bins.dtype, pd.CategoricalDtype) else sorted(bins.unique())
    if label not in known:
        raise ValueError(f"unknown bin {label!r}; known bins: {', '.join(map(str, known))}.")
    return bins.index[(bins == label).to_numpy()].to_numpy()
