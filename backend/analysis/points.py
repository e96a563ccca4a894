"""Budget points: the table every comparison starts from.

One row per point — a model × strategy × run parameters × budget k — with typed columns (model, strategy,
temperature, verifier, k, deployable, run_key, mc_se and the strategy parameters the strategies read), and per prompt
the expected correctness and the spend of that point. Pools are turned into points by the exact estimators at every
k (a budget of k samples costs, for each prompt, k × the mean FLOPs / generated tokens per sample of that prompt's
pool, plus k × the mean verifier FLOPs per sample for verifier-selected strategies); strategy runs (greedy, beam,
DVTS, budget forcing, adaptive, routing) are one point per run with their measured spend.

``deployable`` is False for oracle selection (pass@k) and for selection by a verifier that reads the gold answer
(backend.verifiers.deployable): such points are upper bounds, drawn as references, never compared as policies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import compute
from backend.analysis import estimators as E
from backend.analysis.data import Pool
from backend.verifiers import deployable as verifier_deployable

__all__ = [
    "Points", "META_COLUMNS", "PARAM_COLUMNS", "POINT_KEY", "POOL_STRATEGIES", "ORACLE_SELECTION", "is_deployable",
    "default_ks", "pool_points", "result_points", "concat_points", "collect_points",
]

POOL_STRATEGIES = ("pass@k", "maj@k", "best-of-k", "weighted-maj@k")  # computed from a pool at every k ≤ n
ORACLE_SELECTION = ("pass@k",)  # picks a correct sample whenever there is one: coverage, an upper bound
# the parameters strategies read (backend/strategies): anything else in a run's parameters cannot change its output
PARAM_COLUMNS = {"width": 0, "max_steps": 0, "aggregate": "", "select": "", "mode": "", "allocation": "",
                 "probe": 0, "direct": "", "threshold": float("nan"), "expert": "", "anti_expert": "",
                 "alpha": float("nan")}
META_COLUMNS = {"model": "", "strategy": "", "temperature": 0.0, "verifier": "", "k": 0, "deployable": True,
                "run_key": "", "mc_se": float("nan"), **PARAM_COLUMNS}
POINT_KEY = ["model", "strategy", "temperature", "verifier", "k", *PARAM_COLUMNS]  # what makes two points different


def is_deployable(strategy: str, verifier: str | None) -> bool:
    """A point is deployable unless it selects by the oracle (pass@k) or by a verifier that reads the gold answer."""
    return strategy not in ORACLE_SELECTION and verifier_deployable(verifier)


def _typed_meta(meta: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("model", "strategy", "temperature", "verifier", "k") if c not in meta.columns]
    if missing:
        raise ValueError(f"Points.meta lacks columns {missing}; it has {list(meta.columns)}.")
    out = pd.DataFrame(index=meta.index)
    for col, default in META_COLUMNS.items():
        kind = type(default)
        values = meta[col] if col in meta.columns else pd.Series(default, index=meta.index)
        if kind is str:
            out[col] = [default if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
        else:
            out[col] = values.fillna(default).astype(kind) if kind is not float else values.astype(float)
    if "deployable" not in meta.columns:
        out["deployable"] = [is_deployable(s, v) for s, v in zip(out["strategy"], out["verifier"])]
    return out


@dataclass
class Points:
    """Budget points: meta (one row each, META_COLUMNS) and per-prompt arrays [points, prompts] of expected
    correctness, samples, generated tokens and FLOPs (NaN: prompt not run). Meta columns are plain typed values
    (saved to Parquet); ``deployable`` is filled from strategy and verifier when absent."""

    meta: pd.DataFrame
    prompt_keys: np.ndarray
    acc: np.ndarray
    samples: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray

    def __post_init__(self):
        self.meta = _typed_meta(self.meta.reset_index(drop=True))
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

    def _subset(self, meta: pd.DataFrame, keys: np.ndarray, idx) -> "Points":
        """A part of these points, already typed and checked: not typed and checked again (a hot path)."""
        p = object.__new__(Points)
        p.meta, p.prompt_keys = meta.reset_index(drop=True), keys
        for name in ("acc", "samples", "tokens", "flops"):
            setattr(p, name, getattr(self, name)[idx])
        return p

    def rows(self, mask) -> "Points":
        """The points where mask (bool per point) holds."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self.meta),):
            raise ValueError(f"a row mask needs one value per point ({len(self.meta)}), got shape {m.shape}.")
        return self._subset(self.meta[m], self.prompt_keys, m)

    def deployable(self) -> "Points":
        """Only the points a deployed system could run (no oracle selection, no gold-reading verifier)."""
        return self.rows(self.meta["deployable"].to_numpy(dtype=bool))

    def columns(self, keys) -> "Points":
        """The same points restricted to the given prompts (all must be known)."""
        idx = pd.Index(self.prompt_keys).get_indexer(np.asarray(keys, dtype=object))
        if np.any(idx < 0):
            raise ValueError(f"{int((idx < 0).sum())} prompt keys are not in these points.")
        return self._subset(self.meta, self.prompt_keys[idx], (slice(None), idx))


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


def default_ks(n: int) -> list[int]:
    """k = 1, 2, 3, 4, 6, 8, 11, 16, … (√2 steps) up to and including n: even on a log axis, cheap to estimate."""
    n = _check_int(n, "the pool size n")
    ks = {int(round(2 ** (i / 2))) for i in range(int(2 * math.log2(n)) + 1)} | {int(n)}
    return sorted(k for k in ks if k <= n)


def _meta(model, strategy, ks, *, temperature=0.0, verifier=None, run_key=None, mc_se=np.nan,
          params: dict | None = None) -> pd.DataFrame:
    ks = np.atleast_1d(ks).astype(int)
    extra = {c: v for c, v in (params or {}).items() if c in PARAM_COLUMNS}
    return pd.DataFrame({"model": model, "strategy": strategy, "temperature": float(temperature),
                         "verifier": verifier or "", "k": ks, "deployable": is_deployable(strategy, verifier),
                         "run_key": run_key or "", "mc_se": np.broadcast_to(mc_se, ks.shape).astype(float), **extra})


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
    per_flops = pool.flops.mean(axis=1)  # mean generation FLOPs per sample, per prompt
    per_tokens = pool.gen_tokens.mean(axis=1)
    parts: list[Points] = []
    kw = dict(temperature=pool.temperature, run_key=pool.run_key)

    def add(meta, acc, kk, extra_flops=None, rows=slice(None)):
        full = np.full((len(kk), p), np.nan)
        full[:, rows] = acc
        per = per_flops if extra_flops is None else per_flops + extra_flops
        parts.append(Points(meta, pool.prompt_keys, full, np.broadcast_to(kk[:, None], (len(kk), p)),
                            kk[:, None] * per_tokens[None, :], kk[:, None] * per[None, :]))

    c = pool.correct.sum(axis=1)
    add(_meta(pool.model, "pass@k", ks, **kw), E.pass_at_k_curve(np.full(p, n), c, ks), ks)
    maj, se = E.majority_curve(E.encode_answers(pool.answers, pool.gold), ks, seed=seed)
    add(_meta(pool.model, "maj@k", ks, mc_se=se, **kw), maj, ks)
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
        bo = E.best_of_k_curve(sc[rows], pool.correct[rows], ks)
        add(_meta(pool.model, "best-of-k", ks, verifier=v, **kw), bo, ks, vflops, rows)
        if weighted:
            w = np.empty((len(wks), len(rows)))
            s2 = np.zeros(len(wks))
            for j, i in enumerate(rows):
                for r, k in enumerate(wks):
                    w[r, j], e = E.weighted_majority_at_k(pool.answers[i], sc[i], pool.gold[i], int(k),
                                                          draws=weighted_draws, seed=seed + j)
                    s2[r] += e ** 2
            add(_meta(pool.model, "weighted-maj@k", wks, verifier=v, mc_se=np.sqrt(s2) / len(rows), **kw),
                w, wks, vflops, rows)
    return concat_points(parts)


def result_points(results: pd.DataFrame, *, model: str, strategy: str, k: int = 1, temperature: float = 0.0,
                  verifier: str | None = None, params: dict | None = None, run_key: str | None = None) -> Points:
    """One budget point from a strategy run's results rows (prompt_key, correct, gen_tokens, gen_flops,
    verifier_flops, n_traces): its per-prompt correctness and total spend (generation + verifier FLOPs). params:
    the run's strategy parameters (those in PARAM_COLUMNS become columns)."""
    need = {"prompt_key", "correct", "gen_tokens", "gen_flops", "verifier_flops", "n_traces"}
    if missing := need - set(results.columns):
        raise ValueError(f"results lacks columns {sorted(missing)}.")
    if results.empty:
        raise ValueError(f"run {run_key or strategy!r} has no results rows.")
    k = _check_int(k, "k (the run's budget)")
    r = results.drop_duplicates("prompt_key")
    row = lambda col: r[col].to_numpy(dtype=float)[None, :]
    meta = _meta(model, strategy, [k], temperature=temperature, verifier=verifier, run_key=run_key, params=params)
    return Points(meta, r["prompt_key"].to_numpy(), row("correct"), row("n_traces"), row("gen_tokens"),
                  row("gen_flops") + row("verifier_flops"))


def concat_points(parts: Sequence[Points]) -> Points:
    """Stack points over the union of their prompts (NaN where a point lacks a prompt); a repeated point (same
    POINT_KEY: e.g. a small live pool beside the shipped one) keeps the one measured on more prompts."""
    if not parts:
        raise ValueError("nothing to concatenate: no points.")
    keys = pd.Index(pd.unique(np.concatenate([p.prompt_keys for p in parts])))
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    count = np.concatenate([(~np.isnan(p.acc)).sum(axis=1) for p in parts])
    order = np.lexsort((-count,))  # most prompts first, so drop_duplicates keeps it
    keep = np.sort(meta.iloc[order].drop_duplicates(POINT_KEY).index.to_numpy())
    # only the kept rows are laid out over the union of prompts: memory grows with distinct points, not with parts
    part_of = np.repeat(np.arange(len(parts)), [len(p.meta) for p in parts])
    start = np.concatenate([[0], np.cumsum([len(p.meta) for p in parts])])
    arrays = {name: np.full((len(keep), len(keys)), np.nan) for name in ("acc", "samples", "tokens", "flops")}
    for i in np.unique(part_of[keep]):
        rows = np.flatnonzero(part_of[keep] == i)
        local = keep[rows] - start[i]
        cols = keys.get_indexer(parts[i].prompt_keys)
        for name, out in arrays.items():
            out[np.ix_(rows, cols)] = getattr(parts[i], name)[local]
    return Points(meta.iloc[keep], keys.to_numpy(), *(arrays[n] for n in ("acc", "samples", "tokens", "flops")))


def collect_points(store, *, models: Sequence[str] | None = None, strategies: Sequence[str] | None = None,
                   ks: Sequence[int] | None = None, weighted: bool = True, verifier_params: dict | None = None,
                   seed: int = 0, run_keys: Sequence[str] | None = None) -> Points:
    """Every budget point the store holds for these models (default all) and runs (run_keys; default all): pools
    at every k, strategy runs as is. strategies filters the point strategies ("pass@k", "maj@k", …, "greedy",
    "beam", …); ks defaults to default_ks. One run's points can be computed alone (run_keys=[key]) and combined
    with concat_points: nothing here depends on the other runs."""
    from backend.analysis import data

    runs = data.load_runs(store, run_keys=run_keys if models is None else None)
    if models is not None:
        unknown = set(models) - set(runs["model"])
        if unknown:
            raise ValueError(f"no runs of models {sorted(unknown)} in the cache; known: {sorted(set(runs['model']))}.")
        runs = runs[runs["model"].isin(models)]
    if run_keys is not None:
        unknown = set(run_keys) - set(runs["run_key"])
        if unknown:
            raise ValueError(f"no runs {sorted(unknown)} in the cache (for these models).")
        runs = runs[runs["run_key"].isin(run_keys)]
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
            has_budget = run.budget is not None and not pd.isna(run.budget)
            k = int(run.budget) if has_budget else max(1, int(round(res["n_traces"].mean())))
            parts.append(result_points(res, model=run.model, strategy=run.strategy, k=k,
                                       temperature=run.temperature, verifier=run.verifier, params=run.params,
                                       run_key=run.run_key))
    if not parts:
        raise ValueError("the cache holds no runs for this selection; build it first (python -m backend build-cache).")
    pts = concat_points(parts)
    return pts.rows(pts.meta["strategy"].map(want).to_numpy(dtype=bool))
