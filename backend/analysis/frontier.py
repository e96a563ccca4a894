"""Accuracy at matched compute: budget curves, the FLOPs frontier, the winner map, the exchange rate, compute-optimal
allocation by difficulty, think / no-think routing and lifetime compute.

Everything starts from `Points`: one row per budget point (a model × strategy × setting × k) and, per prompt, the
expected correctness and the spend of that point. Pools are turned into points by the exact estimators at every k
(a budget of k samples costs, for each prompt, k × the mean FLOPs / generated tokens per sample of that prompt's
pool, plus k × the mean verifier FLOPs per sample for verifier-selected strategies). Strategy runs (greedy, beam,
DVTS, budget forcing, adaptive, routing) are one point per run with their measured spend. Accuracies are prompt
means; 95% CIs are percentile bootstraps over prompts (paired where two things are compared).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import compute
from backend.analysis import estimators as E
from backend.analysis.data import Pool
from backend.analysis.difficulty import check_bin

__all__ = [
    "Points", "POOL_STRATEGIES", "ORACLE_VERIFIERS", "default_ks", "pool_points", "result_points", "concat_points",
    "collect_points", "budget_curves", "frontier", "budget_grid", "winner_map", "exchange_rate", "exchange_table",
    "allocate", "crossfit_allocation", "allocation_curve", "routing_front", "lifetime_table",
    "small_vs_large_lifetime",
]

POOL_STRATEGIES = ("pass@k", "maj@k", "best-of-k", "weighted-maj@k")  # computed from a pool at every k ≤ n
ORACLE_VERIFIERS = ("oracle",)  # ground truth: selects like coverage, not deployable
_TOL = 1e-9  # relative slack when comparing FLOPs with a budget
MAIN_TEMPERATURE = "0.8"  # the pools' main sampling temperature, as settings write it
_T_RE = re.compile(r"T=([0-9.]+)")


# ----------------------------------------------------------------------------------------------- points
@dataclass
class Points:
    """Budget points: meta (one row each: model, strategy, setting, verifier, k, oracle, run_key, mc_se) and per-prompt
    arrays [points, prompts] of expected correctness, samples, generated tokens and FLOPs (NaN: prompt not run)."""

    meta: pd.DataFrame
    prompt_keys: np.ndarray
    acc: np.ndarray
    samples: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray

    def __post_init__(self):
        self.meta = self.meta.reset_index(drop=True)
        self.prompt_keys = np.asarray(self.prompt_keys, dtype=object)
        shape = (len(self.meta), len(self.prompt_keys))
        for name in ("acc", "samples", "tokens", "flops"):
            a = np.asarray(getattr(self, name), dtype=float)
            a = a.reshape(shape) if a.size == 0 else a
            if a.shape != shape:
                raise ValueError(f"Points.{name} has shape {a.shape}; expected {shape} (points × prompts).")
            setattr(self, name, a)
        if len(set(self.prompt_keys)) != len(self.prompt_keys):
            raise ValueError("Points.prompt_keys must be unique.")
        a = self.acc[~np.isnan(self.acc)]
        if np.any(a < -1e-9) or np.any(a > 1 + 1e-9):
            raise ValueError("Points.acc must lie in [0, 1].")
        self.acc = np.clip(self.acc, 0.0, 1.0)  # exact estimators can overshoot 1 by rounding
        for name in ("samples", "tokens", "flops"):
            a = getattr(self, name)
            if np.any(a[~np.isnan(a)] < 0):
                raise ValueError(f"Points.{name} must be non-negative.")

    def rows(self, mask) -> "Points":
        """The points where mask (bool per point) holds."""
        m = np.asarray(mask, dtype=bool)
        return Points(self.meta[m], self.prompt_keys, self.acc[m], self.samples[m], self.tokens[m], self.flops[m])

    def columns(self, keys) -> "Points":
        """The same points restricted to the given prompts (all must be known)."""
        idx = pd.Index(self.prompt_keys).get_indexer(np.asarray(keys, dtype=object))
        if np.any(idx < 0):
            raise ValueError(f"{int((idx < 0).sum())} prompt keys are not in these points.")
        return Points(self.meta, self.prompt_keys[idx], self.acc[:, idx], self.samples[:, idx], self.tokens[:, idx],
                      self.flops[:, idx])


def _check_int(x, name: str, lo: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
        raise ValueError(f"{name} must be an integer of at least {lo}, got {x!r}.")
    return int(x)


def _check_ks(ks, n: int) -> np.ndarray:
    ks = np.atleast_1d(np.asarray(ks, dtype=object))
    if ks.size == 0:
        raise ValueError("ks must hold at least one k.")
    out = np.array(sorted({_check_int(k, "k") for k in ks}), dtype=int)
    if out[-1] > n:
        raise ValueError(f"k={out[-1]} exceeds the pool size n={n}.")
    return out


def setting_temperature(setting) -> str | None:
    """The sampling temperature a budget point's setting names ("T=0.8, verifier=learned" → "0.8"), or None."""
    hit = _T_RE.search(str(setting or ""))
    return hit.group(1) if hit else None


def at_main_temperature(meta: pd.DataFrame) -> pd.Series:
    """Mask of budget points to draw by default: pool strategies only from the main-temperature pool (the other
    temperatures are the Spread page's subject); every strategy run as it is."""
    temps = meta["setting"].map(setting_temperature)
    return ~meta["strategy"].isin(POOL_STRATEGIES) | (temps == MAIN_TEMPERATURE)


def default_ks(n: int) -> list[int]:
    """k = 1, 2, 3, 4, 6, 8, 11, 16, … (√2 steps) up to and including n: even on a log axis, cheap to estimate."""
    n = _check_int(n, "the pool size n")
    ks = {int(round(2 ** (i / 2))) for i in range(int(2 * math.log2(n)) + 1)} | {int(n)}
    return sorted(k for k in ks if k <= n)


def _meta(model, strategy, setting, verifier, ks, oracle, run_key, mc_se=np.nan) -> pd.DataFrame:
    ks = np.atleast_1d(ks)
    return pd.DataFrame({"model": model, "strategy": strategy, "setting": setting, "verifier": verifier,
                         "k": ks.astype(int), "oracle": oracle, "run_key": run_key,
                         "mc_se": np.broadcast_to(mc_se, ks.shape).astype(float)})


def pool_points(pool: Pool, *, ks: Sequence[int] | None = None, weighted: bool = True, weighted_draws: int = 200,
                verifier_params: dict | None = None, seed: int = 0) -> Points:
    """pass@k, maj@k, best-of-k and weighted maj@k (per verifier) of a pool at every k in ks, as budget points.

    maj@k and weighted maj@k are seeded Monte-Carlo estimates; mc_se is the standard error of their mean over the
    whole pool (restricted to a bin it is larger, by about sqrt(pool prompts / bin prompts)).
    Weighted maj@k (one Monte-Carlo per prompt and k, ~1 ms each) is computed on the powers of two in ks and the
    largest k only. verifier_params overrides the stored verifier FLOPs with compute.verifier_flops(tokens, params)
    per verifier (e.g. {"steps": 0} to charge a rule-based checker nothing, or a stated size).
    """
    p, n = pool.correct.shape
    if p == 0:
        raise ValueError(f"pool {pool.run_key!r} holds no complete prompt.")
    ks = np.asarray(default_ks(n) if ks is None else _check_ks(ks, n))
    setting = f"T={pool.temperature:g}"
    per_flops = pool.flops.mean(axis=1)  # mean generation FLOPs per sample, per prompt
    per_tokens = pool.gen_tokens.mean(axis=1)
    parts: list[Points] = []

    def add(meta, acc, kk, extra_flops=None, rows=slice(None)):
        full = np.full((len(kk), p), np.nan)
        full[:, rows] = acc
        per = per_flops if extra_flops is None else per_flops + extra_flops
        parts.append(Points(meta, pool.prompt_keys, full, np.broadcast_to(kk[:, None], (len(kk), p)),
                            kk[:, None] * per_tokens[None, :], kk[:, None] * per[None, :]))

    c = pool.correct.sum(axis=1)
    add(_meta(pool.model, "pass@k", setting, None, ks, True, pool.run_key), E.pass_at_k_curve(np.full(p, n), c, ks), ks)
    maj, se = E.majority_curve(E.encode_answers(pool.answers, pool.gold), ks, seed=seed)
    add(_meta(pool.model, "maj@k", setting, None, ks, False, pool.run_key, se), maj, ks)
    wks = ks[((ks & (ks - 1)) == 0) | (ks == ks.max())]
    for v in sorted(pool.scores):
        sc = pool.scores[v]
        rows = np.flatnonzero(np.all(np.isfinite(sc), axis=1))  # prompts whose whole pool was scored
        if len(rows) == 0:
            continue
        if verifier_params and v in verifier_params:
            vflops = np.array([compute.verifier_flops(float(t), verifier_params[v])
                               for t in pool.score_tokens[v].mean(axis=1)])
        else:
            vflops = pool.score_flops[v].mean(axis=1)
        oracle = v in ORACLE_VERIFIERS
        vset = f"{setting}, verifier={v}"
        bo = E.best_of_k_curve(sc[rows], pool.correct[rows], ks)
        add(_meta(pool.model, "best-of-k", vset, v, ks, oracle, pool.run_key), bo, ks, vflops, rows)
        if weighted:
            w = np.empty((len(wks), len(rows)))
            s2 = np.zeros(len(wks))
            for j, i in enumerate(rows):
                for r, k in enumerate(wks):
                    w[r, j], e = E.weighted_majority_at_k(pool.answers[i], sc[i], pool.gold[i], int(k),
                                                          draws=weighted_draws, seed=seed + j)
                    s2[r] += e ** 2
            add(_meta(pool.model, "weighted-maj@k", vset, v, wks, oracle, pool.run_key, np.sqrt(s2) / len(rows)),
                w, wks, vflops, rows)
    return concat_points(parts)


def result_points(results: pd.DataFrame, *, model: str, strategy: str, setting: str = "", k: int = 1,
                  verifier: str | None = None, run_key: str | None = None) -> Points:
    """One budget point from a strategy run's results rows (prompt_key, correct, gen_tokens, gen_flops,
    verifier_flops, n_traces): its per-prompt correctness and total spend (generation + verifier FLOPs)."""
    need = {"prompt_key", "correct", "gen_tokens", "gen_flops", "verifier_flops", "n_traces"}
    if missing := need - set(results.columns):
        raise ValueError(f"results lacks columns {sorted(missing)}.")
    if results.empty:
        raise ValueError(f"run {run_key or strategy!r} has no results rows.")
    k = _check_int(k, "k (the run's budget)")
    r = results.drop_duplicates("prompt_key")
    row = lambda col: r[col].to_numpy(dtype=float)[None, :]
    return Points(_meta(model, strategy, setting, verifier, [k], verifier in ORACLE_VERIFIERS, run_key),
                  r["prompt_key"].to_numpy(), row("correct"), row("n_traces"), row("gen_tokens"),
                  row("gen_flops") + row("verifier_flops"))


def concat_points(parts: Sequence[Points]) -> Points:
    """Stack points over the union of their prompts (NaN where a point lacks a prompt); a repeated
    (model, strategy, setting, k) keeps the point measured on more prompts."""
    if not parts:
        raise ValueError("nothing to concatenate: no points.")
    keys = pd.Index(pd.unique(np.concatenate([p.prompt_keys for p in parts])))
    arrays = {}
    for name in ("acc", "samples", "tokens", "flops"):
        blocks = []
        for p in parts:
            b = np.full((len(p.meta), len(keys)), np.nan)
            b[:, keys.get_indexer(p.prompt_keys)] = getattr(p, name)
            blocks.append(b)
        arrays[name] = np.vstack(blocks)
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    count = (~np.isnan(arrays["acc"])).sum(axis=1)
    order = np.lexsort((-count,))  # most prompts first, so drop_duplicates keeps it
    keep = np.sort(meta.iloc[order].drop_duplicates(["model", "strategy", "setting", "k"]).index.to_numpy())
    return Points(meta.iloc[keep], keys.to_numpy(), *(arrays[n][keep] for n in ("acc", "samples", "tokens", "flops")))


def collect_points(store=None, *, models: Sequence[str] | None = None, strategies: Sequence[str] | None = None,
                   ks: Sequence[int] | None = None, weighted: bool = True, verifier_params: dict | None = None,
                   seed: int = 0, run_keys: Sequence[str] | None = None) -> Points:
    """Every budget point the cache holds for these models (default all) or these runs: pools at every k, strategy
    runs as is.

    strategies filters the point strategies ("pass@k", "maj@k", …, "greedy", "beam", …); ks defaults to default_ks.
    """
    from backend.analysis import data

    runs = data.load_runs(store)
    if models is not None:
        unknown = set(models) - set(runs["model"])
        if unknown:
            raise ValueError(f"no runs of models {sorted(unknown)} in the cache; known: {sorted(set(runs['model']))}.")
        runs = runs[runs["model"].isin(models)]
    if run_keys is not None:
        runs = runs[runs["run_key"].isin(set(run_keys))]
    want = lambda s: strategies is None or s in strategies
    parts = []
    for run in runs.itertuples(index=False):
        if run.strategy == "sample":
            if any(want(s) for s in POOL_STRATEGIES):
                pool = data.load_pool(store, run.run_key)
                if len(pool.prompt_keys):
                    run_ks = None if ks is None else [k for k in ks if k <= pool.n] or [1]
                    parts.append(pool_points(pool, ks=run_ks, weighted=weighted and want("weighted-maj@k"),
                                             verifier_params=verifier_params, seed=seed))
        elif want(run.strategy):
            res = data.load_results(store, run.run_key)
            if res.empty:
                continue
            extra = {k: v for k, v in run.params.items() if k != "budget"}
            bits = [f"{k}={v}" for k, v in sorted(extra.items())]
            bits += [f"T={run.temperature:g}"] if run.temperature > 0 else []
            bits += [f"verifier={run.verifier}"] if run.verifier else []
            has_budget = run.budget is not None and not pd.isna(run.budget)
            k = int(run.budget) if has_budget else max(1, int(round(res["n_traces"].mean())))
            parts.append(result_points(res, model=run.model, strategy=run.strategy, setting=", ".join(bits), k=k,
                                       verifier=run.verifier, run_key=run.run_key))
    if not parts:
        raise ValueError("the cache holds no runs for this selection; build it first (python -m backend build-cache).")
    pts = concat_points(parts)
    return pts.rows(pts.meta["strategy"].map(want).to_numpy(dtype=bool))


# ----------------------------------------------------------------------------------------------- curves & frontier
def _select(points: Points, bins: pd.Series | None, bin) -> Points:
    if bin is None:
        return points
    if bins is None:
        raise ValueError("a bin was given without bins; pass bins from backend.analysis.difficulty.")
    keys = np.intersect1d(check_bin(bins, bin).astype(object), points.prompt_keys)
    if len(keys) == 0:
        raise ValueError(f"bin {bin!r} holds none of these points' prompts.")
    return points.columns(keys)


def _summarise(points: Points, n_boot: int, seed: int, level: float) -> pd.DataFrame:
    """Meta plus prompt means of samples, tokens, flops and acc, its bootstrap CI and n_prompts, per point."""
    ok = ~np.isnan(points.acc)
    cnt = ok.sum(axis=1)
    out = points.meta.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("samples", "tokens", "flops", "acc"):
            out[name] = np.where(ok, getattr(points, name), 0.0).sum(axis=1) / cnt
    out["lo"], out["hi"] = np.nan, np.nan
    if len(out):
        masks, inv = np.unique(ok, axis=0, return_inverse=True)
        inv = np.asarray(inv).ravel()
        for g, mask in enumerate(masks):
            rows = np.flatnonzero(inv == g)
            if mask.any():
                _, lo, hi = E.bootstrap_curve_ci(points.acc[np.ix_(rows, mask)], n_boot=n_boot, seed=seed, level=level)
                out.loc[rows, "lo"], out.loc[rows, "hi"] = lo, hi
    out["n_prompts"] = cnt
    return out[cnt > 0].reset_index(drop=True)


_CURVE_COLS = ["model", "strategy", "setting", "verifier", "k", "samples", "tokens", "flops", "acc", "lo", "hi",
               "n_prompts", "oracle", "mc_se"]


def budget_curves(points: Points, bins: pd.Series | None = None, bin=None, *, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> pd.DataFrame:
    """Accuracy vs budget, one row per point: samples, generated tokens and FLOPs per query (prompt means), acc with
    its bootstrap CI over prompts, n_prompts; optionally restricted to one difficulty bin."""
    s = _summarise(_select(points, bins, bin), n_boot, seed, level)[_CURVE_COLS]
    return s.sort_values(["model", "strategy", "setting", "k"]).reset_index(drop=True)


def _positions(meta: pd.DataFrame) -> dict:
    """(model, strategy, setting, k) → row index of a point."""
    return {tuple(r): i for i, r in enumerate(meta[["model", "strategy", "setting", "k"]].itertuples(index=False))}


def _best(s: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Rows within budget, best first (ties: fewer FLOPs)."""
    fit = s[s["flops"] <= budget * (1 + _TOL)]
    return fit.sort_values(["acc", "flops", "model", "strategy", "setting"], ascending=[False, True, True, True, True])


def _check_budget(budget) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.number)) or not budget > 0 \
            or not np.isfinite(budget):
        raise ValueError(f"the per-query FLOPs budget must be a positive number, got {budget!r}.")
    return float(budget)


def frontier(points: Points, budget: float, bins: pd.Series | None = None, bin=None, *, include_oracle: bool = True,
             n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per model × strategy, the best accuracy any of its settings reaches within a per-query FLOPs budget, and which
    setting and k get it (ties: fewer FLOPs). Models or strategies with nothing affordable are left out."""
    budget = _check_budget(budget)
    pts = _select(points, bins, bin)
    if not include_oracle:
        pts = pts.rows(~pts.meta["oracle"].to_numpy(dtype=bool))
    best = _best(_summarise(pts, n_boot, seed, level), budget).groupby(["model", "strategy"], sort=False).head(1)
    out = best[_CURVE_COLS].sort_values(["model", "strategy"]).reset_index(drop=True)
    out.insert(0, "budget", budget)
    return out


def budget_grid(points: Points, n: int = 10) -> np.ndarray:
    """n per-query FLOPs budgets, log-spaced from the cheapest to the dearest point (mean over all prompts)."""
    f = np.nanmean(np.where(np.isnan(points.acc), np.nan, points.flops), axis=1) if len(points.meta) else []
    f = np.asarray(f)[np.asarray(f) > 0]
    if len(f) == 0:
        raise ValueError("no point has a positive FLOPs cost, so there is no budget axis.")
    return np.geomspace(f.min(), f.max(), n) if f.max() > f.min() else np.array([f.min()])


def winner_map(points: Points, bins: pd.Series, budgets: Sequence[float] | None = None, *,
               include_oracle: bool = False, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """For every difficulty bin × per-query FLOPs budget: the best model and strategy (acc, CI), the best point of
    any OTHER model (runner-up) and the paired bootstrap CI of the winner's margin over it. No point fits → model NaN.

    Oracle points (pass@k, oracle-selected) are excluded by default: they are an upper bound, not a policy.
    """
    if not isinstance(bins, pd.Series):
        raise ValueError("bins must be a pandas Series indexed by prompt_key (from backend.analysis.difficulty).")
    pts = points if include_oracle else points.rows(~points.meta["oracle"].to_numpy(dtype=bool))
    budgets = budget_grid(pts) if budgets is None else np.asarray([_check_budget(b) for b in budgets])
    labels = list(bins.cat.categories) if isinstance(bins.dtype, pd.CategoricalDtype) else sorted(bins.unique())
    rows = []
    for label in labels:
        keys = np.intersect1d(check_bin(bins, label).astype(object), pts.prompt_keys)
        if len(keys) == 0:
            continue
        sub = pts.columns(keys)
        s = _summarise(sub, n_boot, seed, level)
        pos = _positions(sub.meta)
        for b in budgets:
            best = _best(s, b)
            row = {"bin": label, "budget": float(b)}
            if best.empty:
                rows.append({**row, "model": None, "n_prompts": len(keys)})
                continue
            w = best.iloc[0]
            row.update({c: w[c] for c in ("model", "strategy", "setting", "k", "samples", "tokens", "flops", "acc",
                                          "lo", "hi", "n_prompts")})
            other = best[best["model"] != w["model"]]
            if not other.empty:
                r = other.iloc[0]
                a = sub.acc[pos[(w.model, w.strategy, w.setting, w.k)]]
                c = sub.acc[pos[(r.model, r.strategy, r.setting, r.k)]]
                both = ~np.isnan(a) & ~np.isnan(c)
                d, dlo, dhi = E.paired_bootstrap_ci(a[both], c[both], n_boot=n_boot, seed=seed, level=level)
                row.update(runner_up_model=r["model"], runner_up_strategy=r["strategy"], runner_up_acc=r["acc"],
                           margin=d, margin_lo=dlo, margin_hi=dhi)
            rows.append(row)
    cols = ["bin", "budget", "model", "strategy", "setting", "k", "samples", "tokens", "flops", "acc", "lo", "hi",
            "n_prompts", "runner_up_model", "runner_up_strategy", "runner_up_acc", "margin", "margin_lo", "margin_hi"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------------------------- exchange rate
def _resampled_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Prompt means of values [points, prompts] under n_boot resamplings of prompts (same indices for every point)."""
    p = values.shape[1]
    idx = np.random.default_rng(seed).integers(0, p, size=(n_boot, p))
    w = np.bincount((idx + np.arange(n_boot)[:, None] * p).ravel(), minlength=n_boot * p).reshape(n_boot, p)
    return values @ w.T / p


def _one_setting(meta: pd.DataFrame, model: str, strategy: str, setting: str | None, what: str) -> pd.DataFrame:
    m = meta[(meta["model"] == model) & (meta["strategy"] == strategy)]
    if m.empty:
        have = sorted(set(meta.loc[meta["model"] == model, "strategy"]))
        raise ValueError(f"no {strategy!r} points of model {model!r} for the {what}; it has: {have or 'nothing'}.")
    if setting is None:  # the biggest pool; ties by name, so the choice is deterministic
        top = m.groupby("setting")["k"].max()
        setting = sorted(top.index[top == top.max()])[0]
    elif setting not in set(m["setting"]):
        have = sorted(set(m["setting"]))
        raise ValueError(f"model {model!r} has no {strategy!r} setting {setting!r}; it has {have}.")
    return m[m["setting"] == setting].sort_values("k")


def exchange_rate(points: Points, small: str, large: str, *, method: str = "maj@k", setting: str | None = None,
                  target: str = "greedy", bins: pd.Series | None = None, bin=None, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> dict:
    """How many samples of the small model (with method: "maj@k", "best-of-k", …) match the large model's target
    ("greedy", or "pass@1" from its pool): the smallest k of the small model's curve whose accuracy reaches the target.

    Returns k (None = never within the pool), its bootstrap CI over prompts (paired: one resampling for both models;
    k_hi None = the upper end is "never"), p_never (share of resamples that never reach it), the target and the small
    model's accuracy at k, its ceiling at the largest k, coverage (pass@n), the FLOPs ratio small-at-k / large, and
    reason: "reached", "plateau" (coverage ≥ target but the method falls short) or "coverage" (pass@n < target).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}.")
    if target not in ("greedy", "pass@1"):
        raise ValueError(f"unknown target {target!r}; use 'greedy' or 'pass@1'.")
    pts = _select(points, bins, bin)
    curve = _one_setting(pts.meta, small, method, setting, "small model")
    setting = curve["setting"].iloc[0]
    if target == "greedy":
        tgt = _one_setting(pts.meta, large, "greedy", None, "target")
    else:
        tgt = _one_setting(pts.meta, large, "pass@k", None, "target")
        tgt = tgt[tgt["k"] == 1]
    pool_setting = setting.split(", verifier=")[0]
    cov = pts.meta[(pts.meta["model"] == small) & (pts.meta["strategy"] == "pass@k")
                   & (pts.meta["setting"] == pool_setting)].sort_values("k")
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
    boot = _resampled_means(np.vstack([acc[ci], acc[ti]]), _check_int(n_boot, "n_boot"), seed)
    reach = boot[:-1] >= boot[-1] - 1e-12
    kb = np.where(reach.any(axis=0), ks[reach.argmax(axis=0)], np.inf)
    k_lo, k_hi = np.quantile(kb, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    coverage = float(acc[cov.index[-1]].mean()) if len(cov) else float("nan")
    flops = pts.flops[:, keep]
    reason = "reached" if k is not None else ("coverage" if coverage < tgt_acc - 1e-12 else "plateau")
    return {"small": small, "large": large, "method": method, "setting": setting, "target": target,
            "target_acc": tgt_acc, "k": k, "k_lo": None if np.isinf(k_lo) else int(k_lo),
            "k_hi": None if np.isinf(k_hi) else int(k_hi), "never": k is None, "p_never": float(np.isinf(kb).mean()),
            "acc_at_k": float(small_acc[hit[0]]) if k is not None else None, "ceiling": float(small_acc[-1]),
            "max_k": int(ks[-1]), "coverage": coverage, "reason": reason,
            "flops_ratio": float(np.nanmean(flops[ci[hit[0]]]) / np.nanmean(flops[ti])) if k is not None else None,
            "n_prompts": int(keep.sum())}


def exchange_table(points: Points, small: str, large: str, bins: pd.Series | None = None, **kw) -> pd.DataFrame:
    """exchange_rate over all prompts ("all") and per bin of bins, one row each (bins with no shared prompt skipped)."""
    rows = [{"bin": "all", **exchange_rate(points, small, large, **kw)}]
    if bins is not None:
        labels = list(bins.cat.categories) if isinstance(bins.dtype, pd.CategoricalDtype) else sorted(bins.unique())
        for label in labels:
            try:
                rows.append({"bin": label, **exchange_rate(points, small, large, bins=bins, bin=label, **kw)})
            except ValueError as e:
                if "share no prompts" not in str(e) and "holds none" not in str(e):
                    raise
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- allocation
def _bin_table(points: Points, bins: pd.Series, include_oracle: bool):
    """Candidate points and, per bin, prompt counts and mean acc / flops of every candidate on common prompts."""
    if not isinstance(bins, pd.Series):
        raise ValueError("bins must be a pandas Series indexed by prompt_key (from backend.analysis.difficulty).")
    pts = points if include_oracle else points.rows(~points.meta["oracle"].to_numpy(dtype=bool))
    if len(pts.meta) == 0:
        raise ValueError("no candidate points to allocate between.")
    labels = bins.reindex(pts.prompt_keys)
    keep = labels.notna().to_numpy() & np.all(~np.isnan(pts.acc), axis=0)
    if not keep.any():
        raise ValueError("no prompt is binned and answered by every candidate point; narrow the candidates.")
    pts = pts.columns(pts.prompt_keys[keep])
    lab = labels.to_numpy()[keep]
    names = [b for b in (bins.cat.categories if isinstance(bins.dtype, pd.CategoricalDtype) else sorted(set(lab)))
             if np.any(lab == b)]
    members = [np.flatnonzero(lab == b) for b in names]
    acc = np.stack([pts.acc[:, m].mean(axis=1) for m in members])  # [bins, points]
    flops = np.stack([pts.flops[:, m].mean(axis=1) for m in members])
    return pts, names, members, acc, flops


def _knapsack(acc: np.ndarray, flops: np.ndarray, sizes: np.ndarray, capacity: float) -> list[int] | None:
    """Exact multiple-choice knapsack: one option per bin maximising Σ size·acc under Σ size·flops ≤ capacity,
    by merging Pareto fronts bin by bin (ties: cheaper). None when even the cheapest options do not fit."""
    cost, value, trail = np.zeros(1), np.zeros(1), [np.zeros((1, 0), dtype=int)]
    for b in range(len(sizes)):
        c = (cost[:, None] + sizes[b] * flops[b][None, :]).ravel()
        v = (value[:, None] + sizes[b] * acc[b][None, :]).ravel()
        parent = np.repeat(np.arange(len(cost)), flops.shape[1])
        choice = np.tile(np.arange(flops.shape[1]), len(cost))
        ok = c <= capacity * (1 + _TOL)
        if not ok.any():
            return None
        c, v, parent, choice = c[ok], v[ok], parent[ok], choice[ok]
        order = np.lexsort((-v, c))
        c, v, parent, choice = c[order], v[order], parent[order], choice[order]
        front = v > np.maximum.accumulate(np.r_[-np.inf, v[:-1]])  # strictly better than everything cheaper
        cost, value = c[front], v[front]
        trail = [np.c_[trail[-1][parent[front]], choice[front]]]
    return list(trail[-1][int(np.argmax(value))])


def allocate(points: Points, bins: pd.Series, budget: float, *, include_oracle: bool = False, n_boot: int = 2000,
             seed: int = 0, level: float = 0.95) -> dict:
    """Compute-optimal allocation: per difficulty bin, the point (model / strategy / setting / k) that maximises total
    accuracy with mean per-query FLOPs ≤ budget (exact multiple-choice knapsack over the per-bin means), against the
    best UNIFORM point (the same for every prompt) under the same budget, with a paired bootstrap CI on the gain and
    a bootstrap CI on each accuracy.

    The uniform choice is itself a feasible allocation, so the gain is ≥ 0 on these prompts; it is chosen and scored
    on the same prompts (in-sample, as in Snell et al.'s oracle-bin analysis). Prompts: binned and answered by every
    candidate point. ValueError when nothing fits the budget.
    """
    budget = _check_budget(budget)
    pts, names, members, acc, flops = _bin_table(points, bins, include_oracle)
    sizes = np.array([len(m) for m in members], dtype=float)
    total = sizes.sum()
    pick = _knapsack(acc, flops, sizes, budget * total)
    u_cost = (sizes @ flops) / total
    u_acc = (sizes @ acc) / total
    fits = np.flatnonzero(u_cost <= budget * (1 + _TOL))
    if pick is None or len(fits) == 0:
        raise ValueError(f"no allocation fits {budget:.3g} FLOPs per query; the cheapest point costs "
                         f"{u_cost.min():.3g}.")
    u = int(fits[np.lexsort((u_cost[fits], -u_acc[fits]))[0]])
    alloc_i = np.empty(len(pts.prompt_keys))
    alloc_f = np.empty(len(pts.prompt_keys))
    for b, m in enumerate(members):
        alloc_i[m] = pts.acc[pick[b], m]
        alloc_f[m] = pts.flops[pick[b], m]
    # one resampling of prompts for all three: each accuracy and their paired difference
    (_, _, d), (a_lo, u_lo, lo), (a_hi, u_hi, hi) = E.bootstrap_curve_ci(
        np.stack([alloc_i, pts.acc[u], alloc_i - pts.acc[u]]), n_boot=n_boot, seed=seed, level=level)
    d, lo, hi, a_lo, a_hi, u_lo, u_hi = map(float, (d, lo, hi, a_lo, a_hi, u_lo, u_hi))
    meta = pts.meta
    per_bin = pd.DataFrame({"bin": names, "n_prompts": sizes.astype(int),
                            **{c: [meta[c].iloc[pick[b]] for b in range(len(names))]
                               for c in ("model", "strategy", "setting", "k")},
                            "flops": [flops[b, pick[b]] for b in range(len(names))],
                            "acc": [acc[b, pick[b]] for b in range(len(names))]})
    uni = meta.iloc[u]
    return {"budget": budget, "alloc_acc": float(alloc_i.mean()), "alloc_lo": a_lo, "alloc_hi": a_hi,
            "alloc_flops": float(alloc_f.mean()), "uniform_acc": float(u_acc[u]), "uniform_lo": u_lo,
            "uniform_hi": u_hi, "uniform_flops": float(u_cost[u]), "uniform_model": uni["model"],
            "uniform_strategy": uni["strategy"], "uniform_setting": uni["setting"], "uniform_k": int(uni["k"]),
            "gain": d, "gain_lo": lo, "gain_hi": hi, "n_prompts": int(total), "per_bin": per_bin}


def crossfit_allocation(points: Points, bins: pd.Series, budget: float, *, folds: int = 2,
                        include_oracle: bool = False, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """allocate()'s gain over uniform scored out of sample: prompts are split into folds (stratified by bin, seeded);
    the allocation and the uniform point are chosen on the other folds and scored on each fold, so the in-sample
    optimism of picking per-bin winners is removed and the gain can come out negative. Paired bootstrap CI."""
    budget = _check_budget(budget)
    folds = _check_int(folds, "folds", 2)
    pts, names, members, _, _ = _bin_table(points, bins, include_oracle)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(pts.prompt_keys), dtype=int)
    for m in members:
        fold[rng.permutation(m)] = np.arange(len(m)) % folds
    label = np.empty(len(pts.prompt_keys), dtype=object)
    for b, m in zip(names, members):
        label[m] = b
    row_of = _positions(pts.meta)
    alloc_i, uni_i = np.empty(len(label)), np.empty(len(label))
    alloc_f, uni_f = np.empty(len(label)), np.empty(len(label))
    for f in range(folds):
        test = np.flatnonzero(fold == f)
        fit = allocate(pts.columns(pts.prompt_keys[fold != f]), bins, budget, include_oracle=True, n_boot=1, seed=seed)
        u = row_of[(fit["uniform_model"], fit["uniform_strategy"], fit["uniform_setting"], fit["uniform_k"])]
        pick = {r.bin: row_of[(r.model, r.strategy, r.setting, r.k)] for r in fit["per_bin"].itertuples()}
        rows = np.array([pick.get(b, u) for b in label[test]])  # a bin unseen in training gets the uniform point
        alloc_i[test], alloc_f[test] = pts.acc[rows, test], pts.flops[rows, test]
        uni_i[test], uni_f[test] = pts.acc[u, test], pts.flops[u, test]
    d, lo, hi = E.paired_bootstrap_ci(alloc_i, uni_i, n_boot=n_boot, seed=seed, level=level)
    return {"budget": budget, "folds": folds, "alloc_acc": float(alloc_i.mean()), "alloc_flops": float(alloc_f.mean()),
            "uniform_acc": float(uni_i.mean()), "uniform_flops": float(uni_f.mean()), "gain": d, "gain_lo": lo,
            "gain_hi": hi, "n_prompts": len(label)}


def allocation_curve(points: Points, bins: pd.Series, budgets: Sequence[float] | None = None, *,
                     include_oracle: bool = False, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> pd.DataFrame:
    """allocate() over a budget grid (default: budget_grid of the candidates), one row per affordable budget; the
    per-bin choice is summarised in `choice` ("bin: strategy k=… (model, setting); …")."""
    pts = points if include_oracle else points.rows(~points.meta["oracle"].to_numpy(dtype=bool))
    budgets = budget_grid(pts) if budgets is None else [_check_budget(b) for b in budgets]
    rows = []
    for b in budgets:
        try:
            r = allocate(pts, bins, float(b), include_oracle=True, n_boot=n_boot, seed=seed, level=level)
        except ValueError as e:
            if "no allocation fits" in str(e):
                continue
            raise
        pb = r.pop("per_bin")
        r["choice"] = "; ".join(f"{x.bin}: {x.strategy} k={x.k} ({x.model}, {x.setting})" for x in pb.itertuples())
        rows.append(r)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- routing
def routing_front(direct_correct, direct_flops, cot_correct, cot_flops, confidence, *, mode: str = "cascade",
                  router_flops=0.0, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Think / no-think routing: accuracy vs mean FLOPs per query as the confidence threshold sweeps; Pareto points.

    A prompt keeps the direct answer when confidence ≥ threshold, else goes to the CoT model. mode "cascade": the
    confidence comes from the direct model's own answer, so every prompt pays direct_flops (+ cot_flops when sent on);
    "route": a router decides first, so a prompt pays router_flops + the chosen model only. The plain policies
    "direct" and "cot" are candidates too. Rows: policy, threshold, frac_direct, acc, lo, hi, flops, sorted by flops.
    """
    dc, df_, cc, cf, conf = (np.asarray(x, dtype=float) for x in
                             (direct_correct, direct_flops, cot_correct, cot_flops, confidence))
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
    thresholds = np.r_[np.unique(conf[np.isfinite(conf)]), np.inf]
    send_direct = conf[None, :] >= thresholds[:, None]  # [thresholds, prompts]
    acc = np.where(send_direct, dc, cc)
    if mode == "cascade":
        cost = df_ + np.where(send_direct, 0.0, cf)
    else:
        cost = rf + np.where(send_direct, df_, cf)
    acc = np.vstack([dc, cc, acc])
    cost = np.vstack([df_, cf, cost])
    policy = ["direct", "cot"] + ["route"] * len(thresholds)
    thr = np.r_[np.nan, np.nan, thresholds]
    frac = np.r_[1.0, 0.0, send_direct.mean(axis=1)]
    a_mean, f_mean = acc.mean(axis=1), cost.mean(axis=1)
    order = np.lexsort((-a_mean, f_mean))
    pareto = order[a_mean[order] > np.maximum.accumulate(np.r_[-np.inf, a_mean[order][:-1]])]
    _, lo, hi = E.bootstrap_curve_ci(acc[pareto], n_boot=n_boot, seed=seed, level=level)
    return pd.DataFrame({"policy": [policy[i] for i in pareto], "threshold": thr[pareto], "frac_direct": frac[pareto],
                         "acc": a_mean[pareto], "lo": lo, "hi": hi, "flops": f_mean[pareto]})


# ----------------------------------------------------------------------------------------------- lifetime
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
    """Lifetime compute of the small model with enough TTC to match the large one (at the exchange rate) vs the
    large model's target (greedy), over query volumes, with the break-even volume on every row.

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
    m = points.meta
    ours = m.index[(m["model"] == small) & (m["strategy"] == r["method"]) & (m["setting"] == r["setting"])
                   & (m["k"] == r["k"])][0]
    target = _one_setting(m, large, "greedy" if r["target"] == "greedy" else "pass@k", None, "target")
    f_small = float(np.nanmean(points.flops[ours]))
    f_large = float(np.nanmean(points.flops[target[target["k"] == 1].index[0]]))
    table = lifetime_table(pd.DataFrame({"model": [f"{small} + {r['method']} k={r['k']}", f"{large} ({r['target']})"],
                                         "training_flops": [float(train[small]), float(train[large])],
                                         "flops_per_query": [f_small, f_large]}), queries)
    table["break_even_queries"] = compute.break_even_queries(float(train[small]), f_small, float(train[large]),
                                                             f_large)
    return table
