"""Data for the Spread page: answer distributions as temperature or thinking budget grows, per prompt and overall,
and the overthinking curve (accuracy against forced thinking length)."""
from __future__ import annotations

import pandas as pd

from backend.analysis import data, selection
from backend.analysis import spread as S
from backend.explore import store
from backend.explore.common import all_runs
from backend.explore.derived import memo, saved_table

AXES = {"temperature": "sampling temperature",
        "thinking": "forced thinking length (s1: 'wait' extends, the answer marker cuts)",
        "cap": "thinking cap (the model may stop earlier; the answer marker cuts at the cap)"}


@memo  # shared by the page's curve, prompt list and answer shares, and across k
def _pools(model: str, axis: str) -> list[tuple[float, data.Pool]]:
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")
    runs = selection.spread_runs(all_runs(), model, axis)
    return [(cond, data.load_pool(store(), key)) for cond, key in runs]


def curve_runs(model: str, axis: str) -> list[str]:
    """The runs a spread curve reads: its saved rows stay valid while these do (a live greedy run touches none)."""
    return [key for _, key in selection.spread_runs(all_runs(), model, axis)]


@memo
def axes_of(model: str) -> list[str]:
    """The axes (of AXES, in order) along which the model has runs to compare."""
    return [a for a in AXES if selection.spread_runs(all_runs(), model, a)]


K_OPTIONS = (2, 4, 8)  # the page's choices of k, precomputed for every final CoT model


def all_curves() -> pd.DataFrame:
    """Every final CoT model's spread curves for every axis and k in K_OPTIONS (saved with the derived data)."""
    from backend.explore.common import all_final_models

    parts = []
    for model in all_final_models("cot"):
        for axis in AXES:
            pools = _pools(model, axis)
            for k in K_OPTIONS if pools else ():
                parts.append(S.spread_curve(pools, k).assign(model=model, axis=axis, k_asked=k))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", "axis", "k_asked"])


@memo
def spread_curve(model: str, axis: str, k: int = 8) -> pd.DataFrame:
    """Each spread metric with its CI per condition; empty when the model has no such runs."""
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")
    saved = saved_table("spread")
    if saved is not None and k in K_OPTIONS:
        hit = saved[(saved["model"] == model) & (saved["axis"] == axis) & (saved["k_asked"] == k)]
        if len(hit):
            return hit.drop(columns=["model", "axis", "k_asked"]).reset_index(drop=True)
    pools = _pools(model, axis)
    return S.spread_curve(pools, k) if pools else pd.DataFrame()


@memo
def prompt_options(model: str, axis: str) -> pd.DataFrame:
    """Prompts of these pools, with how far apart their conditions are (to surface interesting ones first); the
    per-prompt accuracies are counted in DuckDB (data.pool_counts), not read from the pools' rows."""
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")
    runs = selection.spread_runs(all_runs(), model, axis)
    if not runs:
        return pd.DataFrame()
    parts = []
    for cond, key in runs:
        keys, n, right = data.pool_counts(store(), key)
        parts.append(pd.DataFrame({"prompt_key": keys, "condition": cond, "acc": right / n}))
    df = pd.concat(parts, ignore_index=True).pivot_table(index="prompt_key", columns="condition", values="acc")
    swing = (df.max(axis=1) - df.min(axis=1)).rename("swing")
    return swing.sort_values(ascending=False).reset_index()


@memo
def greedy_accuracy(model: str) -> float | None:
    """The model's one greedy answer's accuracy (no thinking budget): the baseline the spread curves are read against;
    None without a greedy run."""
    import numpy as np

    from backend.explore.derived import points

    pts = points()
    try:
        row = selection.series(pts.meta, model, "greedy")
    except ValueError:
        return None
    return float(np.nanmean(pts.acc[int(row.index[0])]))


def answer_shares(model: str, axis: str, prompt_key: str) -> pd.DataFrame:
    return S.answer_shares(_pools(model, axis), prompt_key)
