"""Latency: the wall-clock time a user waits for one query, a second cost axis beside FLOPs (GRAM: width vs depth).

The model, stated once:
  latency = Σ over the query's sequential phases of  prefill_s(model, w) + steps × step_s(model, w)  [+ verify_s(w)]
- a phase decodes w rows together (w = the samples of the query decoded in parallel); it takes as many decode
  steps as its longest row, because parallel samples share steps;
- prefill_s and step_s are MEASURED on this machine per model and width (backend.engines.timing, table under
  cache/latency/); widths between measured ones are interpolated linearly, beyond the largest extrapolated from
  the last two; a member of the same shape as a measured one (a checkpoint, a fine-tune) shares its times;
- a pool of k samples (majority vote, best-of-k) is one phase of width k whose steps are the expected longest of k
  samples drawn without replacement from the stored pool (exact order statistic, via estimators.best_of_k_curve),
  plus one verifier call on k traces when a verifier selects;
- budget forcing and greedy are one phase (width = samples); the confidence router runs the direct model, then the
  CoT model on prompts it sends on (two phases); the learned router is one phase; proxy tuning runs its three models
  one after the other at every step (their step times add);
- a tree search (beam, DVTS) is one phase per depth — width = the nodes expanded at that depth, steps = the longest
  of them — each followed by a verifier call on those nodes: deeper search waits on sequential verifier calls;
- adaptive allocation is not modelled (its probe-then-allocate schedule is left out; its latency is NaN).
It ignores queueing and other users: one query on an otherwise idle engine, at the thread count of the measurement.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis.points import POOL_STRATEGIES, Points

__all__ = ["LatencyTable", "expected_longest", "pool_latency", "run_latency", "latency_points", "FAMILIES",
           "family_candidates", "width_vs_depth"]

RULE_VERIFIERS = ("oracle",)  # read the stored correctness: no call to wait for


@dataclass
class LatencyTable:
    """Measured seconds: per model {width: (prefill_s, step_s)}, per verifier {width: call_s}."""

    models: dict = field(default_factory=dict)
    verifiers: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "LatencyTable":
        models = {m: {int(w): (float(v["prefill_s"]), float(v["step_s"])) for w, v in e["widths"].items()}
                  for m, e in d.get("models", {}).items()}
        verifiers = {m: {int(w): float(v["call_s"]) for w, v in e["widths"].items()}
                     for m, e in d.get("verifiers", {}).items()}
        return cls(models, verifiers)

    def extend_to(self, cards: list[dict]) -> "LatencyTable":
        """The table with every zoo member that has a measured member's shape (params, layers, width: the same
        forward pass) added under its own name — checkpoints and fine-tunes decode as fast as their family. Where
        several measured members share a shape, a CoT one gives the times (its long traces fit per-step time well)."""
        shape = lambda c: (c.get("params"), c.get("layers"), c.get("width"))
        by_name = {c["name"]: shape(c) for c in cards}
        fmt = {c["name"]: c.get("fmt") for c in cards}
        measured: dict = {}
        for m in sorted((m for m in self.models if m in by_name), key=lambda m: (fmt[m] != "cot", m)):
            measured.setdefault(by_name[m], m)
        extra = {n: self.models[measured[s]] for n, s in by_name.items() if n not in self.models and s in measured}
        return LatencyTable({**self.models, **extra}, self.verifiers)

    @classmethod
    def load(cls, path: Path) -> "LatencyTable":
        if not Path(path).exists():
            raise FileNotFoundError(f"no latency table at {path}; measure one with python -m backend measure-latency")
        return cls.from_dict(json.loads(Path(path).read_text()))

    @staticmethod
    def _interp(points: dict[int, float], width) -> np.ndarray:
        ws = np.array(sorted(points), dtype=float)
        vs = np.array([points[int(w)] for w in ws])
        x = np.asarray(width, dtype=float)
        if len(ws) == 1:
            return np.full(x.shape, vs[0]) if x.ndim else vs[0]
        y = np.interp(x, ws, vs)
        slope = (vs[-1] - vs[-2]) / (ws[-1] - ws[-2])
        return np.where(x > ws[-1], vs[-1] + slope * (x - ws[-1]), y)

    def _model(self, model: str) -> dict:
        if model not in self.models:
            raise KeyError(f"no latency measured for model {model!r}; run python -m backend measure-latency "
                           f"--models {model}")
        return self.models[model]

    def decode_s(self, model: str, width, steps):
        """prefill_s(width) + steps × step_s(width): one phase of ``width`` rows and ``steps`` decode steps."""
        m = self._model(model)
        prefill = self._interp({w: v[0] for w, v in m.items()}, width)
        step = self._interp({w: v[1] for w, v in m.items()}, width)
        return prefill + np.asarray(steps, dtype=float) * step

    def verify_s(self, verifier: str | None, width):
        """One call of ``verifier`` scoring ``width`` traces (0 for none or a rule reading stored correctness)."""
        if not verifier or verifier in RULE_VERIFIERS:
            return np.zeros(np.shape(width)) if np.ndim(width) else 0.0
        if verifier not in self.verifiers:
            raise KeyError(f"no latency measured for verifier {verifier!r}; run python -m backend measure-latency "
                           f"--verifiers {verifier}")
        return self._interp(self.verifiers[verifier], width)


def expected_longest(gen_tokens: np.ndarray, ks) -> np.ndarray:
    """E[longest of k samples drawn without replacement] per prompt, exact, [len(ks), prompts]: best-of-k with the
    length as both the score and the value (the top-scoring sample is the longest)."""
    g = np.asarray(gen_tokens, dtype=float)
    top = np.maximum(g.max(axis=1, keepdims=True), 1.0)
    return E.best_of_k_curve(g, g / top, ks) * top[:, 0][None, :]


def pool_latency(table: LatencyTable, model: str, gen_tokens: np.ndarray, ks, verifier: str | None = None) -> np.ndarray:
    """Seconds per query [len(ks), prompts] for k samples decoded together, plus one verifier call when one selects."""
    ks = np.asarray(ks)
    steps = expected_longest(gen_tokens, ks)
    return table.decode_s(model, ks[:, None], steps) + np.asarray(table.verify_s(verifier, ks))[:, None]


# --------------------------------------------------------------------------------------------- stored runs
def _samples(store, run_key: str) -> pd.DataFrame:
    return store.sql("SELECT prompt_key, sample_idx, gen_tokens FROM samples WHERE run_key = ? "
                     "ORDER BY prompt_key, sample_idx", [run_key])


def _levels(store, run_key: str) -> pd.DataFrame:
    return store.sql("SELECT prompt_key, depth, count(*) AS width, max(tokens) AS steps FROM nodes "
                     "WHERE run_key = ? AND depth > 0 GROUP BY prompt_key, depth ORDER BY prompt_key, depth", [run_key])


def run_latency(store, table: LatencyTable, run) -> pd.Series:
    """Seconds per query of a stored strategy run (a row of data.load_runs), indexed by prompt key; NaN for a
    strategy the model leaves out (adaptive)."""
    s, p = run.strategy, run.params
    if s in ("beam", "dvts"):
        lv = _levels(store, run.run_key)
        sec = table.decode_s(run.model, lv["width"], lv["steps"]) + table.verify_s(run.verifier, lv["width"].to_numpy())
        return pd.Series(sec, index=lv.index).groupby(lv["prompt_key"]).sum()
    smp = _samples(store, run.run_key)
    if s == "route":  # sample 0: the direct model; sample 1 (when sent on): the CoT model
        first = smp["sample_idx"] == 0
        sec = np.where(first, table.decode_s(p["direct"], 1, smp["gen_tokens"]),
                       table.decode_s(run.model, 1, smp["gen_tokens"]))
        return pd.Series(sec, index=smp.index).groupby(smp["prompt_key"]).sum()
    steps = smp.groupby("prompt_key")["gen_tokens"].max()
    width = smp.groupby("prompt_key")["sample_idx"].count()
    if s == "proxy":
        members = (run.model, p["expert"], p["anti_expert"])
        return sum(pd.Series(table.decode_s(m, width, steps), index=steps.index) for m in members)
    if s in ("greedy", "learned_route", "budget_forcing", "sample"):
        return pd.Series(table.decode_s(run.model, width, steps), index=steps.index)
    return pd.Series(np.nan, index=steps.index)


def latency_points(points: Points, store, table: LatencyTable) -> np.ndarray:
    """Seconds per query for every point and prompt [points, prompts] (NaN where the point has no prompt or the
    model leaves the strategy out): pool points by pool_latency at their k, strategy runs by run_latency."""
    from backend.analysis import data

    runs = data.load_runs(store).set_index("run_key", drop=False)
    out = np.full(points.acc.shape, np.nan)
    cols = pd.Index(points.prompt_keys)
    meta = points.meta
    for key, rows in meta.groupby("run_key").groups.items():
        if key not in runs.index:
            continue
        run = runs.loc[key]
        rows = np.asarray(rows)
        if meta.loc[rows[0], "strategy"] in POOL_STRATEGIES:
            pool = data.load_pool(store, key)
            idx = cols.get_indexer(pool.prompt_keys)
            for r in rows:
                k, v = int(meta.loc[r, "k"]), meta.loc[r, "verifier"] or None
                out[r, idx[idx >= 0]] = pool_latency(table, run.model, pool.gen_tokens, [k], v)[0][idx >= 0]
        else:
            sec = run_latency(store, table, run)
            idx = cols.get_indexer(sec.index)
            out[np.ix_(rows, idx[idx >= 0])] = sec.to_numpy()[idx >= 0][None, :]
    return np.where(np.isnan(points.acc), np.nan, out)


# --------------------------------------------------------------------------------------------- width vs depth
FAMILIES = {"wider": "more parallel samples: majority vote over k samples of the main pool",
            "deeper: thinking": "longer thinking: one trace forced to think for a budget of tokens (budget forcing)",
            "deeper: search": "step-level search: beam / DVTS with the learned verifier, one verifier call per step"}


def family_candidates(store, points: Points, table: LatencyTable, model: str) -> tuple[pd.DataFrame, np.ndarray,
                                                                                        np.ndarray, np.ndarray]:
    """The deployable points of ``model`` in each family, as (meta: family, strategy, k, verifier, run_key,
    thinking budget; and acc, flops, latency arrays [candidates, points.prompt_keys]). Thinking points are single
    forced traces: maj@1 of each force-mode budget-forcing pool (mean correctness of its traces)."""
    from backend.analysis import data
    from backend.analysis.selection import main_pool

    runs = data.load_runs(store)
    cols = pd.Index(points.prompt_keys)
    meta, acc, flops, lat = [], [], [], []

    def add(row: dict, a, f, l, keys):
        idx = cols.get_indexer(keys)
        for store_in, v in ((acc, a), (flops, f), (lat, l)):
            full = np.full(len(cols), np.nan)
            full[idx[idx >= 0]] = np.asarray(v, dtype=float)[idx >= 0]
            store_in.append(full)
        meta.append(row)

    main = main_pool(runs, model)
    m = points.meta
    if main is not None:
        pool = data.load_pool(store, main)
        for r in np.flatnonzero((m["run_key"] == main) & (m["strategy"] == "maj@k")):
            k = int(m.loc[r, "k"])
            sec = pd.Series(pool_latency(table, model, pool.gen_tokens, [k])[0], index=pool.prompt_keys)
            add({"family": "wider", "strategy": "maj@k", "k": k, "verifier": "", "run_key": main, "thinking": 0},
                points.acc[r], points.flops[r], sec.reindex(cols).to_numpy(), cols)
    forced = runs[(runs["model"] == model) & (runs["strategy"] == "budget_forcing")
                  & (runs["params"].map(lambda d: d.get("mode")) == "force")]
    for run in forced.itertuples(index=False):
        pool = data.load_pool(store, run.run_key)
        if len(pool.prompt_keys):
            add({"family": "deeper: thinking", "strategy": "budget_forcing", "k": 1, "verifier": "",
                 "run_key": run.run_key, "thinking": int(run.params["budget"])}, pool.correct.mean(axis=1),
                pool.flops.mean(axis=1), pool_latency(table, model, pool.gen_tokens, [1])[0], pool.prompt_keys)
    search = runs[(runs["model"] == model) & runs["strategy"].isin(["beam", "dvts"])]
    for run in search.itertuples(index=False):
        r = np.flatnonzero((m["run_key"] == run.run_key).to_numpy() & m["deployable"].to_numpy())
        if len(r):
            sec = run_latency(store, table, run)
            add({"family": "deeper: search", "strategy": run.strategy, "k": int(m.loc[r[0], "k"]),
                 "verifier": run.verifier or "", "run_key": run.run_key, "thinking": 0},
                points.acc[r[0]], points.flops[r[0]], sec.reindex(cols).to_numpy(), cols)
    if not meta:
        raise ValueError(f"no wider / deeper runs of model {model!r} in the cache.")
    return pd.DataFrame(meta), np.vstack(acc), np.vstack(flops), np.vstack(lat)


def width_vs_depth(store, points: Points, table: LatencyTable, model: str, budgets=None, *, n_boot: int = 2000,
                   seed: int = 0) -> pd.DataFrame:
    """Accuracy vs latency at matched FLOPs: for each per-query FLOPs budget (default: 8 log-spaced over the
    candidates' range), the most accurate candidate of each family that fits it (ties: lower latency), with its
    accuracy and 95% bootstrap CI over the prompts it was measured on, mean FLOPs and mean latency (seconds) per
    query. Rows: budget, family, strategy, k, thinking, verifier, run_key, acc, lo, hi, flops, latency_s,
    n_prompts."""
    meta, acc, flops, lat = family_candidates(store, points, table, model)
    ok = ~np.isnan(acc)
    meta = meta.assign(n_prompts=ok.sum(axis=1))
    mean = lambda a: np.array([np.nanmean(np.where(ok[i], a[i], np.nan)) if ok[i].any() else np.nan
                               for i in range(len(a))])
    meta["acc"], meta["flops"], meta["latency_s"] = mean(acc), mean(flops), mean(lat)
    ci = [E.bootstrap_ci(acc[i][ok[i]], n_boot=n_boot, seed=seed) if ok[i].any() else (np.nan,) * 3
          for i in range(len(acc))]
    meta["lo"], meta["hi"] = [c[1] for c in ci], [c[2] for c in ci]
    meta = meta[meta["n_prompts"] > 0]
    if budgets is None:
        budgets = np.geomspace(meta["flops"].min(), meta["flops"].max(), 8)
    rows = []
    for b in np.asarray(budgets, dtype=float):
        fit = meta[meta["flops"] <= b * (1 + 1e-9)].sort_values(["acc", "latency_s"], ascending=[False, True])
        for _, g in fit.groupby("family", sort=False):
            rows.append({"budget": float(b), **g.iloc[0].to_dict()})
    cols = ["budget", "family", "strategy", "k", "thinking", "verifier", "run_key", "acc", "lo", "hi", "flops",
            "latency_s", "n_prompts"]
    return pd.DataFrame(rows, columns=cols).sort_values(["family", "budget"]).reset_index(drop=True)
