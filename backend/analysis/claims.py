"""The eight claims of DESIGN.md §1, each measured on the current cache by a fair, documented comparison.

Rules shared by every claim:
- Verdicts come from one ladder (``verdict``): a claim states that an effect lies in a region (e.g. "above 0" or
  "within ±MARGIN"); it is ``supported`` when the effect's 95% CI lies inside the region, ``not supported`` when the
  CI lies wholly outside it, ``inconclusive`` when the CI straddles a boundary. A claim made of several parts is
  supported when every part is, not supported when any part is, else inconclusive (``combine``). "insufficient data"
  when the cache lacks what the claim needs (the reason says what).
- Policies compared are deployable (backend.analysis.points.is_deployable): oracle selection (pass@k) and verifiers
  that read the gold answer (the exact step checker, noisy wrappers of it) are reported as upper bounds, never as
  the arm a verdict rests on — except in claim 6, where a verifier's quality is the variable held equal.
- Prompts: every prompt the compared runs share is the primary number; per difficulty band second (``per_band``).
- Wherever a best setting is picked it is cross-fitted: chosen on one half of the prompts (stratified by band),
  scored on the other, and the halves swapped (backend.analysis.crossfit).
- CIs are percentile bootstraps over prompts, paired where two arms are compared on the same prompts.
Each claim's docstring states its comparison, matching, prompt set and verdict region. Nothing is hard-coded.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from backend.analysis import data, difficulty, selection
from backend.analysis import estimators as E
from backend.analysis.allocation import crossfit_allocation
from backend.analysis.crossfit import crossfit_pick, folds
from backend.analysis.points import Points, collect_points, concat_points, pool_points
from backend.analysis.rescore import with_rule_scores
from backend.analysis.routing import mixture_at, routing_table
from backend.analysis.spread import answer_entropy
from backend.verifiers import deployable as verifier_deployable

__all__ = ["MARGIN", "NOISE_RATES", "VERDICTS", "verdict", "combine", "rule_text", "Evidence", "CLAIMS", "report",
           "report_frame"]

MARGIN = 0.02  # |accuracy difference| within which two results "match" (also: per doubling of k, claim 8)
NOISE_RATES = (0.1, 0.2, 0.3)  # error rates of the noisy step checker in claim 6 (verifier quality)
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INSUFFICIENT = "supported", "not supported", "inconclusive", "insufficient data"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INSUFFICIENT)
INF = math.inf


# ----------------------------------------------------------------------------------------------- the verdict ladder
def verdict(lo: float, hi: float, low: float = -INF, high: float = INF) -> str:
    """The one verdict rule. The claim says the effect lies in the open region (low, high): supported when the whole
    95% CI [lo, hi] lies inside it, not supported when the whole CI lies outside it, inconclusive otherwise."""
    if any(map(math.isnan, (lo, hi))):
        return INSUFFICIENT
    if low < lo and hi < high:
        return SUPPORTED
    if hi <= low or lo >= high:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def combine(verdicts: Sequence[str]) -> str:
    """A claim of several parts: supported when every part is, not supported when any part is, else inconclusive."""
    v = [x for x in verdicts if x != INSUFFICIENT]
    if not v:
        return INSUFFICIENT
    if NOT_SUPPORTED in v:
        return NOT_SUPPORTED
    return SUPPORTED if all(x == SUPPORTED for x in v) and len(v) == len(verdicts) else INCONCLUSIVE


def _region(low: float, high: float) -> str:
    pts = lambda x: f"{x * 100:+.1f} points"
    if low > -INF and high < INF:
        return f"within ({pts(low)}, {pts(high)})"
    return f"above {pts(low)}" if low > -INF else f"below {pts(high)}"


def rule_text(low: float = -INF, high: float = INF, what: str = "the effect", parts: Sequence[dict] = ()) -> str:
    """The verdict rule in words, e.g. "supported when the 95% CI of the effect lies above −2.0 points; …"; for a
    claim of several parts, each part's region."""
    if parts:
        return ("supported when the 95% CI of every part lies in its region — "
                + "; ".join(f"{p['name']}: {p['region']}" for p in parts)
                + " — not supported when any lies wholly outside it; inconclusive otherwise")
    return (f"supported when the 95% CI of {what} lies {_region(low, high)}; not supported when it lies wholly "
            "outside; inconclusive otherwise")


class Insufficient(Exception):
    """The cache lacks what a claim needs (the message says what)."""


# ----------------------------------------------------------------------------------------------- evidence
class Evidence:
    """What the claims read: the store, the model table, each model's budget points and pools (computed once)."""

    def __init__(self, store, models: pd.DataFrame | None = None, *, n_boot: int = 2000, seed: int = 0,
                 points: Points | None = None):
        self.store = store
        self.all_points = points  # every run's points, already computed (the app's derived data): read, not redone
        self.runs = data.load_runs(store)
        self.models = data.model_table(store) if models is None else models
        self.n_boot, self.seed = n_boot, seed
        self._points: dict[str, Points | None] = {}
        self._pools: dict[str, data.Pool] = {}
        prompts = data.load_prompts(store)
        arith = prompts[(prompts["task"] == "arith") & prompts["n_ops"].between(1, 6) & prompts["digits"].notna()]
        self.bands = difficulty.construction_bins(arith, "band") if len(arith) else None

    def finals(self, fmt: str) -> list[str]:
        """Final models of a format (selection.final_models) that have runs, smallest first."""
        return selection.final_models(self.models, fmt, have=set(self.runs["model"]))

    def points(self, model: str) -> Points:
        """All budget points of one model (weighted maj@k skipped: no claim needs it)."""
        if model not in self._points:
            if model not in set(self.runs["model"]):
                raise Insufficient(f"no runs of {model} in the cache")
            if self.all_points is None:
                self._points[model] = collect_points(self.store, models=[model], weighted=False, seed=self.seed)
            else:  # the same points (collect_points is per run), on the model's own prompts
                m = self.all_points.meta
                pts = self.all_points.rows(((m["model"] == model) & (m["strategy"] != "weighted-maj@k")).to_numpy())
                self._points[model] = pts.columns(pts.prompt_keys[~np.isnan(pts.acc).all(axis=0)])
        return self._points[model]

    def pool(self, run_key: str) -> data.Pool:
        if run_key not in self._pools:
            self._pools[run_key] = data.load_pool(self.store, run_key)
        return self._pools[run_key]

    def has(self, model: str, strategy: str) -> bool:
        r = self.runs
        return bool(((r["model"] == model) & (r["strategy"] == strategy)).any())

    def band_of(self, keys) -> np.ndarray | None:
        """Each prompt's band by construction (None when some prompt has none: not arith)."""
        if self.bands is None:
            return None
        b = self.bands.reindex(np.asarray(keys, dtype=object))
        return None if b.isna().any() else b.astype(str).to_numpy()

    def folds(self, keys) -> np.ndarray:
        """Two cross-fitting halves of these prompts, stratified by band, seeded."""
        return folds(len(keys), self.band_of(keys), k=2, seed=self.seed)

    def ci(self, a, b=None) -> tuple[float, float, float]:
        if b is None:
            return E.bootstrap_ci(a, n_boot=self.n_boot, seed=self.seed)
        return E.paired_bootstrap_ci(a, b, n_boot=self.n_boot, seed=self.seed)

    def per_band(self, keys, diff: np.ndarray, low: float = -INF, high: float = INF) -> dict:
        """The per-prompt effect ``diff`` within each band: mean, CI, verdict and prompt count."""
        bands = self.band_of(keys)
        out = {}
        for b in ([] if bands is None else [x for x in difficulty.BANDS if x in set(bands)]):
            d = diff[bands == b]
            m, lo, hi = self.ci(d)
            out[b] = {"effect": m, "lo": lo, "hi": hi, "verdict": verdict(lo, hi, low, high), "n_prompts": len(d)}
        return out


def _common(pts: Points, rows) -> np.ndarray:
    """Prompts every one of these points answered (bool mask); Insufficient when there are none."""
    ok = np.all(~np.isnan(pts.acc[np.asarray(list(rows), dtype=int)]), axis=0)
    if not ok.any():
        raise Insufficient("the runs compared share no prompts")
    return ok


def _point(meta_row) -> str:
    """A point in words for the report ("maj@k k=8, T=0.8", "beam k=16, verifier learned, T=0.8")."""
    r = meta_row
    bits = [f"{r['strategy']} k={int(r['k'])}"]
    if r["verifier"]:
        bits.append(f"verifier {r['verifier']}")
    if r["mode"]:
        bits.append(f"mode {r['mode']}")
    if r["strategy"] not in ("greedy", "route") and float(r["temperature"]) > 0:
        bits.append(f"T={float(r['temperature']):g}")
    return ", ".join(bits)


def _mean_flops(pts: Points, rows, keep) -> float:
    return float(np.nanmean(pts.flops[np.asarray(rows)][:, keep]))


def _result(effect_ci, low, high, *, metric, comparison, matching, prompts, n, why, verdict_=None, parts=None,
            per_band=None, **details) -> dict:
    effect, lo, hi = map(float, effect_ci)
    v = verdict(lo, hi, low, high) if verdict_ is None else verdict_
    return {"effect": effect, "lo": lo, "hi": hi, "verdict": v, "metric": metric, "comparison": comparison,
            "matching": matching, "prompts": prompts, "rule": rule_text(low, high, metric, parts or ()),
            "setting": comparison, "n_prompts": int(n), "why": why,
            "details": {"parts": parts or [], "per_band": per_band or {}, **details}}


def _part(name: str, ci, low=-INF, high=INF) -> dict:
    m, lo, hi = map(float, ci)
    return {"name": name, "effect": m, "lo": lo, "hi": hi, "verdict": verdict(lo, hi, low, high),
            "region": _region(low, high)}


def _fmt(x: float) -> str:
    return f"{x:+.1%}"


def _ci(c) -> str:
    return f"{_fmt(c[0])} [{_fmt(c[1])}, {_fmt(c[2])}]"


# ----------------------------------------------------------------------------------------------- claim 1
def claim_params(ev: Evidence) -> dict:
    """1. Inference compute trades against parameters.
    Comparison: the smallest final CoT model's best DEPLOYABLE point (any strategy, temperature, verifier and k whose
    mean FLOPs per query are at most the largest final CoT model's greedy FLOPs) vs that large model's greedy answer.
    Matching: FLOPs — the small model may spend up to what one greedy answer of the large one costs. Prompts: all
    prompts both answered (primary), per band second. The best point is cross-fitted (chosen on one half, scored on
    the other). Effect = small − large (paired). Region: above −MARGIN (the small model matches or beats it).
    The same pick among all points, upper bounds included, is reported as what only a perfect verifier reaches."""
    cot = ev.finals("cot")
    if len(cot) < 2:
        raise Insufficient("needs two fully trained CoT models of different size")
    small, large = cot[0], cot[-1]
    if not ev.has(large, "greedy"):
        raise Insufficient(f"needs a greedy run of {large}")
    pts = concat_points([ev.points(small), ev.points(large)])
    m = pts.meta
    t = int(selection.series(m, large, "greedy").index[0])
    keys_ok = ~np.isnan(pts.acc[t])
    budget = float(np.nanmean(pts.flops[t]))

    def pick(mask) -> tuple[np.ndarray, dict, np.ndarray]:
        cand = np.flatnonzero(mask & (m["model"] == small).to_numpy() & np.all(~np.isnan(pts.acc[:, keys_ok]), axis=1))
        cand = cand[np.nanmean(pts.flops[cand][:, keys_ok], axis=1) <= budget * (1 + 1e-9)]
        if len(cand) == 0:
            raise Insufficient(f"no point of {small} fits {large}'s greedy FLOPs ({budget:.3g}) on its prompts")
        cand = cand[np.argsort(np.nanmean(pts.flops[cand][:, keys_ok], axis=1), kind="stable")]  # ties: cheaper
        vals, picks = crossfit_pick(pts.acc[cand][:, keys_ok], ev.folds(pts.prompt_keys[keys_ok]))
        return vals, {f: cand[i] for f, i in picks.items()}, cand

    vals, picks, _ = pick(m["deployable"].to_numpy())
    target = pts.acc[t][keys_ok]
    keys = pts.prompt_keys[keys_ok]
    diff = ev.ci(vals, target)
    chosen = sorted({_point(m.iloc[r]) for r in picks.values()})
    small_flops = float(np.mean([_mean_flops(pts, [r], keys_ok) for r in picks.values()]))
    upper, upicks, _ = pick(np.ones(len(m), dtype=bool))
    ub = ev.ci(upper, target)
    ratio = float(ev.models.set_index("name").loc[large, "params"] / ev.models.set_index("name").loc[small, "params"])
    return _result(diff, -MARGIN, INF, metric="accuracy(small, best deployable within the large model's greedy FLOPs) "
                   "− accuracy(large, greedy)",
                   comparison=f"{small} ({' / '.join(chosen)}) vs {large} greedy ({ratio:.0f}x params)",
                   matching={"small": small_flops, "large": budget, "rule": "small ≤ large's greedy FLOPs"},
                   prompts=f"all {len(keys)} prompts both answered; best point cross-fitted over two halves",
                   n=len(keys), per_band=ev.per_band(keys, vals - target, -MARGIN, INF),
                   why=f"{small}'s best deployable point within {large}'s greedy FLOPs reaches {vals.mean():.1%} vs "
                       f"{target.mean():.1%}: {_ci(diff)} (match margin ±{MARGIN:.0%}); only a perfect verifier "
                       f"({' / '.join(sorted({_point(m.iloc[r]) for r in upicks.values()}))}) reaches "
                       f"{upper.mean():.1%}",
                   param_ratio=ratio, budget_flops=budget, chosen=chosen,
                   upper_bound={"acc": float(upper.mean()), "diff": list(ub),
                                "chosen": sorted({_point(m.iloc[r]) for r in upicks.values()})})


# ----------------------------------------------------------------------------------------------- claim 2
def _adaptive_runs(ev: Evidence, model: str) -> list[dict]:
    """The adaptive strategy's own runs of a model: adaptive vs uniform allocation at each budget, paired."""
    r = ev.runs[(ev.runs["strategy"] == "adaptive") & (ev.runs["model"] == model)]
    out = []
    for budget, g in r.assign(alloc=[p.get("allocation", "adaptive") for p in r["params"]]).groupby("budget"):
        a, u = g[g["alloc"] == "adaptive"], g[g["alloc"] == "uniform"]
        if len(a) and len(u):
            ra, ru = data.load_results(ev.store, a["run_key"].iloc[0]), data.load_results(ev.store, u["run_key"].iloc[0])
            j = ra.merge(ru, on="prompt_key", suffixes=("_a", "_u"))
            if j.empty:
                continue
            c = ev.ci(j["correct_a"].astype(float).to_numpy(), j["correct_u"].astype(float).to_numpy())
            out.append({"budget": int(budget), "adaptive": float(j["correct_a"].mean()),
                        "uniform": float(j["correct_u"].mean()), "gain": list(c), "verdict": verdict(c[1], c[2], 0),
                        "adaptive_flops": float((j["gen_flops_a"] + j["verifier_flops_a"]).mean()),
                        "uniform_flops": float((j["gen_flops_u"] + j["verifier_flops_u"]).mean()),
                        "n_prompts": len(j)})
    return out


def claim_adaptive(ev: Evidence) -> dict:
    """2. Allocating the same total budget adaptively by difficulty beats a uniform budget.
    Comparison: for the smallest final CoT model, the best per-band choice among its deployable points (strategy,
    temperature, verifier, k; difficulty bands by construction, which a deployed system can read off the prompt) vs
    the best single point for every prompt. Matching: both under the same mean FLOPs per query (the cost of
    majority vote over 8 samples at the main temperature). Both choices are cross-fitted (chosen on one half, scored on
    the other). Prompts: all binned prompts every candidate answered; per band second. Effect = adaptive − uniform
    (paired). Region: above 0. The adaptive strategy's own runs (budget spread by the learned verifier's predicted
    difficulty vs its uniform twin at the same total samples) are reported per budget beside it."""
    cot = [x for x in ev.finals("cot") if ev.has(x, "sample")]
    if not cot:
        raise Insufficient("needs a CoT model with a sampling pool")
    model = cot[0]
    pts = ev.points(model)
    if ev.bands is None:
        raise Insufficient("needs difficulty bands by construction (arith prompts)")
    maj = selection.series(pts.meta, model, "maj@k", temperature=selection.MAIN_TEMPERATURE)
    k = int(maj["k"][maj["k"] <= 8].max())
    budget = float(np.nanmean(pts.flops[maj.index[maj["k"] == k][0]]))
    cand = pts.rows(~pts.meta["strategy"].isin(["adaptive", "route"]).to_numpy())
    r = crossfit_allocation(cand, ev.bands, budget, n_boot=ev.n_boot, seed=ev.seed)
    gain = (r["gain"], r["gain_lo"], r["gain_hi"])
    runs = _adaptive_runs(ev, model)
    per_band = {}
    for b in [x for x in difficulty.BANDS if np.any(r["bins"] == x)]:
        sel = r["bins"] == b
        c = ev.ci(r["alloc"][sel], r["uniform"][sel])
        per_band[b] = {"effect": c[0], "lo": c[1], "hi": c[2], "verdict": verdict(c[1], c[2], 0), "n_prompts": int(sel.sum())}
    runs_txt = "; ".join(f"budget {x['budget']}: {_ci(x['gain'])}" for x in runs)
    return _result(gain, 0, INF, metric="accuracy(per-band allocation) − accuracy(uniform), cross-fitted",
                   comparison=f"{model}: best per-band choice vs best single choice, ≤ {budget:.3g} FLOPs per query "
                              f"(= maj@{k})",
                   matching={"adaptive": r["alloc_flops"], "uniform": r["uniform_flops"], "budget": budget},
                   prompts=f"all {r['n_prompts']} prompts (bands by construction); choices cross-fitted over two "
                           "halves", n=r["n_prompts"], per_band=per_band,
                   why=f"per-band allocation {r['alloc_acc']:.1%} vs uniform {r['uniform_acc']:.1%} at "
                       f"{r['alloc_flops']:.3g} vs {r['uniform_flops']:.3g} FLOPs per query: gain {_ci(gain)}"
                       + (f"; the adaptive strategy's own runs (predicted difficulty) vs uniform: {runs_txt}"
                          if runs else ""),
                   adaptive_runs=runs)


# ----------------------------------------------------------------------------------------------- claim 3
def _pair_by_size(ev: Evidence) -> tuple[str, str]:
    """The largest final direct model and the final CoT model closest to it in parameters (within 2x)."""
    p = ev.models.set_index("name")["params"]
    direct, cot = ev.finals("direct"), ev.finals("cot")
    for d in direct[::-1]:
        if cot:
            c = min(cot, key=lambda x: (abs(math.log(p[x] / p[d])), x))
            if abs(math.log(p[c] / p[d])) <= math.log(2):
                return d, c
    raise Insufficient("needs a direct model and a CoT model within 2x of its size")


def claim_reasoning(ev: Evidence) -> dict:
    """3. A model never trained to reason is not rescued by any sample count.
    Comparison: the direct-answer model's best DEPLOYABLE point at any budget it has (any strategy, temperature, k;
    cross-fitted over two halves) vs the same-size CoT model's greedy answer. Matching: none — the direct model may
    spend as much as it has (the FLOPs of both arms are reported). Prompts: all prompts both answered; per band
    second. Effect = direct − CoT (paired). Region: below −MARGIN (the gap persists). The direct model's coverage
    (pass@n, oracle selection) is reported as its upper bound."""
    d, c = _pair_by_size(ev)
    if not ev.has(d, "sample"):
        raise Insufficient(f"needs a sampling pool of {d}")
    if not ev.has(c, "greedy"):
        raise Insufficient(f"needs a greedy run of {c}")
    pts = concat_points([ev.points(d), ev.points(c)])
    m = pts.meta
    t = int(selection.series(m, c, "greedy").index[0])
    ok = ~np.isnan(pts.acc[t])
    cand = np.flatnonzero((m["model"] == d).to_numpy() & m["deployable"].to_numpy()
                          & np.all(~np.isnan(pts.acc[:, ok]), axis=1))
    if len(cand) == 0:
        raise Insufficient(f"no deployable point of {d} answered the prompts {c} answered")
    cand = cand[np.argsort(np.nanmean(pts.flops[cand][:, ok], axis=1), kind="stable")]
    vals, picks = crossfit_pick(pts.acc[cand][:, ok], ev.folds(pts.prompt_keys[ok]))
    target = pts.acc[t][ok]
    diff = ev.ci(vals, target)
    cov = selection.series(m, d, "pass@k")
    cov_row = int(cov.index[-1])
    cov_vals = pts.acc[cov_row][ok]
    chosen = sorted({_point(m.iloc[cand[i]]) for i in picks.values()})
    return _result(diff, -INF, -MARGIN, metric="accuracy(direct, best deployable at any budget) − accuracy(CoT, greedy)",
                   comparison=f"{d} ({' / '.join(chosen)}) vs {c} greedy",
                   matching={"direct": float(np.mean([_mean_flops(pts, [cand[i]], ok) for i in picks.values()])),
                             "cot": _mean_flops(pts, [t], ok), "rule": "none: the direct model at any budget"},
                   prompts=f"all {int(ok.sum())} prompts both answered; best point cross-fitted over two halves",
                   n=int(ok.sum()), per_band=ev.per_band(pts.prompt_keys[ok], vals - target, -INF, -MARGIN),
                   why=f"{d} at its best {vals.mean():.1%} vs {c} greedy {target.mean():.1%}: {_ci(diff)}; even oracle "
                       f"selection over {int(m.loc[cov_row, 'k'])} samples (pass@k, an upper bound) reaches "
                       f"{cov_vals.mean():.1%}",
                   direct_coverage=float(cov_vals.mean()), chosen=chosen)


# ----------------------------------------------------------------------------------------------- claim 4
def claim_complements(ev: Evidence) -> dict:
    """4. Internal (training) and external (inference) scaling are complements: the gain from inference compute grows
    with training compute.
    Comparison, per CoT model family with training checkpoints: the interaction (maj@K − maj@1 at the most-trained
    member) − (maj@K − maj@1 at the least-trained member), K = the largest k both pools share at the main temperature
    (majority vote: deployable). Matching: the same k (samples) at both training budgets. Prompts: all prompts both
    pools answered; per band second. CI: bootstrap of the per-prompt interaction. Region per family: above 0. The
    claim is supported when every family supports it (combine); the headline is the family with the weakest
    evidence (lowest CI bound)."""
    fams = sorted(set(ev.models.loc[ev.models["checkpoint_of"].notna(), "checkpoint_of"])
                  & set(ev.finals("cot")), key=lambda f: (ev.models.set_index("name").loc[f, "params"], f))
    parts = []
    for fam in fams:
        members = selection.family_members(ev.models, fam)
        members = members[np.array([ev.has(x, "sample") for x in members["name"]], dtype=bool)]
        if len(members) < 2:
            continue
        lo_m, hi_m = members["name"].iloc[0], members["name"].iloc[-1]
        pts = concat_points([ev.points(lo_m), ev.points(hi_m)])
        try:
            s_hi = selection.series(pts.meta, hi_m, "maj@k", temperature=selection.MAIN_TEMPERATURE)
            s_lo = selection.series(pts.meta, lo_m, "maj@k", temperature=selection.MAIN_TEMPERATURE)
        except ValueError:
            continue
        K = int(max(set(s_hi["k"]) & set(s_lo["k"])))
        if K < 2:
            continue
        rows = {(who, k): int(s.index[s["k"] == k][0]) for who, s in (("hi", s_hi), ("lo", s_lo)) for k in (1, K)}
        ok = _common(pts, rows.values())
        a = lambda who, k: pts.acc[rows[(who, k)]][ok]
        inter = (a("hi", K) - a("hi", 1)) - (a("lo", K) - a("lo", 1))
        c = ev.ci(inter)
        gain_hi, gain_lo = ev.ci(a("hi", K), a("hi", 1)), ev.ci(a("lo", K), a("lo", 1))
        part = {**_part(f"{fam}: interaction", c, 0), "family": fam, "least_trained": lo_m, "most_trained": hi_m,
                "K": K, "n_prompts": int(ok.sum()), "gain_most_trained": list(gain_hi),
                "gain_least_trained": list(gain_lo),
                "per_band": ev.per_band(pts.prompt_keys[ok], inter, 0, INF)}
        parts.append(part)
    if not parts:
        raise Insufficient("needs a CoT family with two trained checkpoints that both have pools at the main "
                           "temperature")
    head = min(parts, key=lambda p: p["lo"])
    v = combine([p["verdict"] for p in parts])
    txt = "; ".join(f"{p['family']} ({p['least_trained']} → {p['most_trained']}, maj@1 → maj@{p['K']}): inference "
                    f"gain {_ci(p['gain_least_trained'])} → {_ci(p['gain_most_trained'])}, interaction "
                    f"{_ci((p['effect'], p['lo'], p['hi']))}" for p in parts)
    return _result((head["effect"], head["lo"], head["hi"]), 0, INF, verdict_=v,
                   metric="(maj@K − maj@1 at the most-trained) − (maj@K − maj@1 at the least-trained)",
                   comparison=f"per family, headline {head['family']}: {head['least_trained']} → "
                              f"{head['most_trained']}, maj@1 → maj@{head['K']} (T={selection.MAIN_TEMPERATURE:g})",
                   matching={"rule": "the same sample counts (k = 1 and K) at both training budgets"},
                   prompts=f"all prompts both pools answered ({head['n_prompts']} for {head['family']})",
                   n=head["n_prompts"], parts=parts, per_band=head["per_band"], why=txt)


# ----------------------------------------------------------------------------------------------- claim 5
def _spread_mode(ev: Evidence, model: str, axis: str) -> dict | None:
    """Accuracy, coverage, answer entropy and thinking length per thinking budget along one forcing mode, with the
    cross-fitted peak; None without two budgets."""
    runs = selection.spread_runs(ev.runs, model, axis)
    if len(runs) < 2:
        return None
    pools = [ev.pool(k) for _, k in runs]
    keys = sorted(set.intersection(*(set(p.prompt_keys) for p in pools)))
    if not keys:
        return None
    n = min(p.n for p in pools)
    acc, cov, ent, think = [], [], [], []
    for p in pools:
        idx = pd.Index(p.prompt_keys).get_indexer(keys)
        c = p.correct[idx]
        acc.append(c.mean(axis=1))
        cov.append(E.pass_at_k_curve(np.full(len(idx), p.n), c.sum(axis=1), [n])[0])
        ent.append(np.array([answer_entropy(p.answers[i]) for i in idx]))
        t = p.think_tokens[idx] if p.think_tokens is not None else np.array([np.nan])
        think.append(float(np.nanmean(t)) if np.isfinite(t).any() else float("nan"))
    acc, cov, ent = np.array(acc), np.array(cov), np.array(ent)
    fold = ev.folds(np.asarray(keys, dtype=object))
    peak_acc, picks = crossfit_pick(acc, fold)  # conditions in budget order: ties go to the shorter budget
    peak_cov = np.empty(len(keys))
    peak_ent = np.empty(len(keys))
    for f, i in picks.items():
        peak_cov[fold == f], peak_ent[fold == f] = cov[i][fold == f], ent[i][fold == f]
    parts = [_part("entropy(widest) − entropy(peak): the answer distribution widens", ev.ci(ent[-1], peak_ent), 0),
             _part("coverage(widest) − coverage(peak): coverage rises", ev.ci(cov[-1], peak_cov), 0),
             _part("accuracy(widest) − accuracy(peak): accuracy falls", ev.ci(acc[-1], peak_acc), -INF, 0)]
    labels = [int(b) for b, _ in runs]
    return {"axis": axis, "budgets": labels, "accuracy": acc.mean(axis=1).tolist(), "coverage": cov.mean(axis=1).tolist(),
            "entropy": ent.mean(axis=1).tolist(), "think_tokens": think, "k": n, "n_prompts": len(keys),
            "peak": sorted({labels[i] for i in picks.values()}), "parts": parts,
            "verdict": combine([p["verdict"] for p in parts]), "keys": keys, "fall": acc[-1] - peak_acc}


def claim_spread(ev: Evidence) -> dict:
    """5. Longer thinking widens the output distribution; coverage rises, but past a threshold accuracy falls.
    Comparison: along one CoT model's thinking budget (budget forcing), the widest budget vs the PEAK budget (the one
    with the best single-sample accuracy, cross-fitted: chosen on one half, scored on the other) — never vs a
    truncated short budget. Parts: answer entropy rises (above 0), coverage pass@n rises (above 0), single-sample
    accuracy falls (below 0). Matching: the same n samples per prompt at every budget. Prompts: all prompts every
    budget answered; per band second. Both ways of imposing length are reported: "cap" (thinking stops at the budget;
    the model may stop earlier) and "force" (the answer marker is suppressed and ";wait " appended until exactly the
    budget). The verdict rests on cap mode: force mode makes every trace exactly the budget long, cutting steps
    mid-way, so a fall there measures the forcing as much as thinking longer (the forcing artefact). The smallest
    final CoT model with forcing runs; the others are reported in details."""
    out = {}
    for model in ev.finals("cot"):
        modes = {a: _spread_mode(ev, model, a) for a in ("cap", "thinking")}
        if any(modes.values()):
            out[model] = modes
    if not out:
        raise Insufficient("needs budget-forcing runs of a CoT model at two or more thinking budgets")
    model = next(iter(out))
    modes = out[model]
    main = modes["cap"] or modes["thinking"]
    fall = main["parts"][2]
    name = {"cap": "cap", "thinking": "force"}
    desc = lambda r: (f"{name[r['axis']]} mode: accuracy {', '.join(f'{b}: {a:.1%}' for b, a in zip(r['budgets'], r['accuracy']))}"
                      f" (peak {r['peak']}), mean thinking tokens {', '.join(f'{t:.0f}' for t in r['think_tokens'])}; "
                      + "; ".join(f"{p['name'].split(':')[0]} {_ci((p['effect'], p['lo'], p['hi']))}" for p in r["parts"])
                      + f" → {r['verdict']}")
    artefact = ("force mode suppresses the answer marker and appends ';wait ' until the trace is exactly the budget "
                "long (a step can be cut mid-way): a fall there is the forcing artefact, not thinking longer")
    return _result((fall["effect"], fall["lo"], fall["hi"]), -INF, 0, verdict_=main["verdict"],
                   metric="parts: entropy, coverage and accuracy at the widest thinking budget minus at the peak",
                   comparison=f"{model}, thinking budgets {main['budgets']} ({name[main['axis']]} mode), widest vs "
                              f"cross-fitted peak; coverage at k={main['k']}",
                   matching={"rule": f"{main['k']} samples per prompt at every budget"},
                   prompts=f"all {main['n_prompts']} prompts every budget answered", n=main["n_prompts"],
                   parts=main["parts"], per_band=ev.per_band(np.asarray(main["keys"], dtype=object), main["fall"],
                                                             -INF, 0),
                   why=" | ".join(desc(r) for r in modes.values() if r) + f". {artefact}.",
                   modes={m: {a: {k: v for k, v in r.items() if k not in ("keys", "fall")} for a, r in md.items() if r}
                          for m, md in out.items()}, forcing_artefact=artefact)


# ----------------------------------------------------------------------------------------------- claim 6
def claim_convergence(ev: Evidence) -> dict:
    """6. Best-of-N and tree search converge once total compute and verifier quality are held equal.
    Comparison, per verifier: each tree search run (beam, DVTS) at its largest budget vs best-of-k by the SAME
    verifier from the same model's main pool at the same sampling temperature, k chosen so its FLOPs are nearest the
    tree's (log scale). Verifiers: the learned one (deployable), the exact step checker (a perfect verifier) and the
    noisy step checker at NOISE_RATES (verifier quality; an upper-bound family too, as it reads the gold answer).
    Best-of-N by rule-based verifiers is computed from the stored pool texts (backend.analysis.rescore); a verifier
    without a tree run is reported as insufficient data for that comparison, with its best-of-N accuracy. Prompts:
    all prompts both answered. Effect = tree − best-of-k (paired). Region per comparison: within ±MARGIN; the claim
    is supported when every comparison is (combine). Majority vote at the same FLOPs is reported as a reference."""
    tree = ev.runs[ev.runs["strategy"].isin(["beam", "dvts"]) & ev.runs["verifier"].notna()]
    models = [x for x in ev.finals("cot") if x in set(tree["model"]) and selection.main_pool(ev.runs, x)]
    if not models:
        raise Insufficient("needs a beam or DVTS run and a sampling pool of the same model")
    model = models[0]
    own = ev.points(model)
    pool_key = selection.main_pool(ev.runs, model)
    verifiers = sorted(set(tree.loc[tree["model"] == model, "verifier"]) | {"steps"}
                       | {f"noisy:steps:{r:g}" for r in NOISE_RATES}, key=lambda v: (not verifier_deployable(v), v))
    pool = with_rule_scores(ev.store, ev.pool(pool_key), [v for v in verifiers if v not in ("learned",)
                                                          and not verifier_deployable(v)])
    scored = pool_points(pool, weighted=False, seed=ev.seed)
    scored = scored.rows((scored.meta["strategy"] == "best-of-k").to_numpy())
    pts = concat_points([own, scored])
    m = pts.meta
    parts, ref = [], {}
    for v in verifiers:
        bo = m.index[(m["model"] == model) & (m["strategy"] == "best-of-k") & (m["verifier"] == v)
                     & np.isclose(m["temperature"], pool.temperature)]
        tr = m.index[(m["model"] == model) & m["strategy"].isin(["beam", "dvts"]) & (m["verifier"] == v)]
        if len(bo):
            top = int(bo[np.argmax(m.loc[bo, "k"].to_numpy())])
            ref[v] = {"deployable": verifier_deployable(v), "best_of_max_k": float(np.nanmean(pts.acc[top])),
                      "k": int(m.loc[top, "k"]), "flops": float(np.nanmean(pts.flops[top]))}
        if len(tr) == 0 or len(bo) == 0:
            continue
        for strat in sorted(set(m.loc[tr, "strategy"])):
            rows = [i for i in tr if m.loc[i, "strategy"] == strat]
            i = max(rows, key=lambda r: (m.loc[r, "k"], r))
            f_t = float(np.nanmean(pts.flops[i]))
            j = int(bo[int(np.argmin([abs(math.log(max(np.nanmean(pts.flops[b]), 1e-300) / f_t)) for b in bo]))])
            ok = _common(pts, [i, j])
            c = ev.ci(pts.acc[i][ok], pts.acc[j][ok])
            maj = m.index[(m["model"] == model) & (m["strategy"] == "maj@k")
                          & np.isclose(m["temperature"], pool.temperature)]
            jm = int(maj[int(np.argmin([abs(math.log(np.nanmean(pts.flops[b]) / f_t)) for b in maj]))]) if len(maj) \
                else None
            parts.append({**_part(f"{strat} − best-of-{int(m.loc[j, 'k'])}, verifier {v}", c, -MARGIN, MARGIN),
                          "verifier": v, "deployable": verifier_deployable(v), "tree": strat,
                          "budget": int(m.loc[i, "k"]), "tree_flops": f_t, "best_of_k": int(m.loc[j, "k"]),
                          "best_of_flops": float(np.nanmean(pts.flops[j])), "tree_acc": float(pts.acc[i][ok].mean()),
                          "best_of_acc": float(pts.acc[j][ok].mean()), "n_prompts": int(ok.sum()),
                          "majority_acc": float(np.nanmean(pts.acc[jm][ok])) if jm is not None else None})
    if not parts:
        raise Insufficient(f"needs a tree search run of {model} by a verifier whose best-of-k the pool can give")
    v = combine([p["verdict"] for p in parts])
    head = next(p for p in parts if p["verdict"] == v) if v != INSUFFICIENT else parts[0]
    missing = [x for x in verifiers if not any(p["verifier"] == x for p in parts)]
    txt = "; ".join(f"{p['tree']} vs best-of-{p['best_of_k']} with {p['verifier']}"
                    f"{'' if p['deployable'] else ' (upper bound)'}: {p['tree_acc']:.1%} vs {p['best_of_acc']:.1%} "
                    f"at {p['tree_flops']:.3g} vs {p['best_of_flops']:.3g} FLOPs, {_ci((p['effect'], p['lo'], p['hi']))}"
                    f" → {p['verdict']}" for p in parts)
    if missing:
        txt += "; insufficient data for " + ", ".join(f"{x} (no tree search run with it; best-of-{ref[x]['k']} "
                                                      f"{ref[x]['best_of_max_k']:.1%})" if x in ref else x
                                                      for x in missing)
    return _result((head["effect"], head["lo"], head["hi"]), -MARGIN, MARGIN, verdict_=v,
                   metric="accuracy(tree search) − accuracy(best-of-k), same verifier, nearest FLOPs",
                   comparison=f"{model}: {head['name']} (headline); every tree run × verifier in details",
                   matching={"tree": head["tree_flops"], "best_of_k": head["best_of_flops"],
                             "rule": "best-of-k at the k whose FLOPs are nearest the tree's (log scale)"},
                   prompts=f"all prompts both answered ({head['n_prompts']})", n=head["n_prompts"], parts=parts,
                   why=txt, best_of_n_by_verifier=ref,
                   noisy_scores="computed in analysis from the stored sample texts (exact step labels + the noisy "
                                "wrapper's deterministic flips), not stored in the pools")


# ----------------------------------------------------------------------------------------------- claim 7
def claim_routing(ev: Evidence) -> dict:
    """7. Deciding when to think (routing) is the efficient frontier: the router beats every mix of the plain
    policies at the same FLOPs.
    Comparison: a cascade (the direct model answers; when its confidence — its greedy trace's log-prob — is below a
    threshold, the CoT model answers instead) at every threshold, vs the best mixture of the two plain policies that
    spends no more FLOPs per query (a random share to each model: routing.mixture_at). Matching: FLOPs, per threshold.
    The threshold is cross-fitted (chosen on one half, scored on the other). Prompts: all prompts both greedy runs
    answered. Effect = router − matched mix (paired). Region: above 0. The whole front (every threshold's gain with
    its CI) is in details."""
    d, c = _pair_by_size(ev)
    try:
        r = data.load_routing(ev.store, d, c)
    except ValueError as e:
        raise Insufficient(str(e)) from None
    if len(r) < 4:
        raise Insufficient("needs prompts answered greedily by both models")
    dc, cc = r["direct_correct"].to_numpy(), r["cot_correct"].to_numpy()
    df_, cf = r["direct_flops"].to_numpy(), r["cot_flops"].to_numpy()
    t = routing_table(dc, df_, cc, cf, r["confidence"].to_numpy())
    inner = np.flatnonzero((t["policy"] == "route") & (t["frac_direct"] > 0) & (t["frac_direct"] < 1))
    if len(inner) == 0:
        raise Insufficient("the direct model's confidence does not separate any prompts")
    mixes = [mixture_at(float(t["flops"][i].mean()), dc, df_, cc, cf) for i in inner]
    gains = np.stack([t["acc"][i] - mix for i, (mix, _) in zip(inner, mixes)])  # [thresholds, prompts]
    keys = r["prompt_key"].to_numpy(dtype=object)
    vals, picks = crossfit_pick(gains, ev.folds(keys))
    g = ev.ci(vals)
    _, lo, hi = E.bootstrap_curve_ci(gains, n_boot=ev.n_boot, seed=ev.seed)
    front = [{"threshold": float(t["threshold"][i]), "frac_direct": float(t["frac_direct"][i]),
              "router_acc": float(t["acc"][i].mean()), "flops": float(t["flops"][i].mean()),
              "mix_acc": float(mix.mean()), "mix_share_cot": q, "gain": float(gains[j].mean()), "lo": float(lo[j]),
              "hi": float(hi[j])} for j, (i, (mix, q)) in enumerate(zip(inner, mixes))]
    chosen = sorted({front[p]["threshold"] for p in picks.values()})
    above, below = int(np.sum(lo > 0)), int(np.sum(hi < 0))
    fr = [front[p] for p in picks.values()]
    return _result(g, 0, INF, metric="accuracy(router) − accuracy(best plain-policy mix at ≤ the router's FLOPs)",
                   comparison=f"{d} → {c} cascade on the direct model's confidence, threshold cross-fitted "
                              f"({len(inner)} thresholds)",
                   matching={"router": float(np.mean([x["flops"] for x in fr])),
                             "mix": float(np.mean([x["mix_share_cot"] * cf.mean() + (1 - x["mix_share_cot"]) * df_.mean()
                                                   for x in fr])), "rule": "mix spends at most the router's FLOPs"},
                   prompts=f"all {len(r)} prompts both greedy runs answered", n=len(r),
                   per_band=ev.per_band(keys, vals, 0, INF),
                   why=f"router vs the FLOPs-matched mix of {d} ({dc.mean():.1%} at {df_.mean():.3g} FLOPs) and {c} "
                       f"({cc.mean():.1%} at {cf.mean():.3g}): cross-fitted gain {_ci(g)}; over the front, the router "
                       f"is above the mix at {above} of {len(inner)} thresholds and below it at {below}",
                   front=front, chosen_thresholds=chosen)


# ----------------------------------------------------------------------------------------------- claim 8
def claim_coverage(ev: Evidence) -> dict:
    """8. Coverage (pass@k) grows log-linearly with samples; majority vote and reward-model selection plateau.
    Comparison: on the biggest pool (smallest model on ties), pass@k at k = 1, 2, 4, …, n. Parts: (a) coverage still
    grows over the late doublings (k = √n → n): slope per doubling above 0; (b) log-linear: the late slope minus the
    early slope (k = 1 → √n) lies within ±MARGIN per doubling (declining increments are sub-log-linear); (c) each
    deployable selector (majority vote; best-of-k by each model verifier) plateaus relative to coverage: coverage's
    late slope minus the selector's, above 0. Matching: the same k. Prompts: all prompts of the pool; per band second.
    The headline is the fitted slope of coverage per doubling of k (least squares on log2 k, per prompt) and its CI."""
    pools = ev.runs[ev.runs["strategy"] == "sample"]
    if pools.empty:
        raise Insufficient("needs a sampling pool")
    size = ev.models.set_index("name")["params"]
    top = pools.assign(p=[size.get(x, 0) for x in pools["model"]]).sort_values(["n", "p", "run_key"],
                                                                               ascending=[False, True, True]).iloc[0]
    model, n, temp = top["model"], int(top["n"]), float(top["temperature"])
    if n < 16:
        raise Insufficient("needs a pool of at least 16 samples")
    pts = ev.points(model)
    m = pts.meta
    cov = selection.series(m, model, "pass@k", temperature=temp)
    ks = [k for k in (2 ** np.arange(int(math.log2(n)) + 1)) if k in set(cov["k"])]
    mid = ks[len(ks) // 2]
    row = lambda s, k: int(s.index[s["k"] == k][0])
    ok = _common(pts, [row(cov, k) for k in ks])
    keys = pts.prompt_keys[ok]
    curve = np.stack([pts.acc[row(cov, k)][ok] for k in ks])  # [ks, prompts]
    x = np.log2(ks)
    slope_pp = ((x - x.mean()) @ (curve - curve.mean(axis=0))) / ((x - x.mean()) ** 2).sum()  # per-prompt OLS slope
    slope = ev.ci(slope_pp)
    early = (curve[ks.index(mid)] - curve[0]) / math.log2(mid)
    late = (curve[-1] - curve[ks.index(mid)]) / math.log2(ks[-1] / mid)
    parts = [_part(f"coverage slope per doubling, k = {mid} → {ks[-1]}", ev.ci(late), 0),
             _part(f"late − early coverage slope (k = {mid} → {ks[-1]} vs 1 → {mid}): log-linear",
                   ev.ci(late, early), -MARGIN, MARGIN)]
    sels = [("maj@k", "")] + [("best-of-k", v) for v in sorted(set(m.loc[m["strategy"] == "best-of-k", "verifier"]))
                              if verifier_deployable(v)]
    sel_out = {}
    for strat, v in sels:
        try:
            s = selection.series(m, model, strat, verifier=v or None, temperature=temp)
        except ValueError:
            continue
        if not {mid, ks[-1]} <= set(s["k"]):
            continue
        a_hi, a_mid = pts.acc[row(s, ks[-1])][ok], pts.acc[row(s, mid)][ok]
        s_late = (a_hi - a_mid) / math.log2(ks[-1] / mid)
        name = strat + (f" ({v})" if v else "")
        parts.append(_part(f"coverage − {name} slope per doubling, k = {mid} → {ks[-1]}", ev.ci(late, s_late), 0))
        sel_out[name] = {"late_slope": list(ev.ci(s_late)), "acc_at_n": float(a_hi.mean())}
    incr = np.diff(curve.mean(axis=1)).tolist()
    v = combine([p["verdict"] for p in parts])
    bend = parts[1]
    declines = bend["hi"] < 0  # the late increments are smaller than the early ones, beyond the CI
    return _result(slope, 0, INF, verdict_=v, metric="coverage (pass@k) slope per doubling of k, least squares",
                   comparison=f"{model} pool n={n} (T={temp:g}), k = {', '.join(map(str, ks))}",
                   matching={"rule": "every strategy at the same k"}, prompts=f"all {int(ok.sum())} prompts of the pool",
                   n=int(ok.sum()), parts=parts, per_band=ev.per_band(keys, slope_pp, 0, INF),
                   why=f"coverage {curve[0].mean():.1%} at k=1 → {curve[-1].mean():.1%} at k={ks[-1]}: fitted slope "
                       f"{_ci(slope)} per doubling; increments per doubling "
                       f"{', '.join(f'{d:+.1%}' for d in incr)} — "
                       + (f"they decline by {_ci((bend['effect'], bend['lo'], bend['hi']))} per doubling from the early "
                          f"to the late half (log-linear within ±{MARGIN:.0%} per doubling: {bend['verdict']})"
                          if declines else "no clear decline")
                       + "; " + "; ".join(f"{p['name']} {_ci((p['effect'], p['lo'], p['hi']))} → {p['verdict']}"
                                          for p in parts),
                   increments=incr, increments_decline=bool(declines), selectors=sel_out)


CLAIMS: tuple[tuple[int, str, str, Callable[[Evidence], dict]], ...] = (
    (1, "Inference compute trades against parameters", "Snell et al. 2024", claim_params),
    (2, "Adaptive allocation by difficulty beats a uniform budget", "Snell et al. 2024", claim_adaptive),
    (3, "A model never trained to reason is not rescued by sampling", "Wei et al. 2022; Snell et al. 2024",
     claim_reasoning),
    (4, "Training and inference scaling are complements", "Snell et al. 2024", claim_complements),
    (5, "Longer thinking widens the output distribution; past a threshold accuracy falls",
     "Muennighoff et al. 2025; Brown et al. 2024", claim_spread),
    (6, "Best-of-N and tree search converge at equal compute and verifier", "Snell et al. 2024; Beeching et al. 2024",
     claim_convergence),
    (7, "Deciding when to think (routing) is the efficient frontier", "Snell et al. 2024", claim_routing),
    (8, "Coverage grows log-linearly; majority vote and reward models plateau", "Brown et al. 2024", claim_coverage),
)


def _plain(x):
    """JSON-ready: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        return x.item()
    return x


def report(store, models: pd.DataFrame | None = None, *, n_boot: int = 2000, seed: int = 0,
           points: Points | None = None) -> list[dict]:
    """Every claim measured on the cache: claim, title, paper, verdict, effect, lo, hi, metric, comparison, matching
    (FLOPs of both arms), prompts (the prompt set), rule (the verdict region in words), n_prompts, why (one sentence
    with the numbers) and details (parts, per band, secondary numbers). ``points``: every run's budget points when
    already computed (derived.points), so the claims do not compute them from the store again."""
    ev = Evidence(store, models, n_boot=n_boot, seed=seed, points=points)
    out = []
    for num, title, paper, fn in CLAIMS:
        head = {"claim": num, "title": title, "paper": paper}
        try:
            out.append(_plain({**head, **fn(ev)}))
        except (Insufficient, ValueError) as e:  # a ValueError here means the cached data cannot answer the claim
            out.append({**head, "effect": None, "lo": None, "hi": None, "verdict": INSUFFICIENT, "metric": None,
                        "comparison": None, "matching": None, "prompts": None, "rule": None, "setting": None,
                        "n_prompts": 0, "why": f"{e}.", "details": {}})
    return out


def report_frame(results: list[dict]) -> pd.DataFrame:
    """The report as a table (details dropped), one row per claim."""
    return pd.DataFrame(results).drop(columns=["details"])
