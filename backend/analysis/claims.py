"""The eight claims of DESIGN.md §1, each measured on the current cache: an effect with its 95% CI (bootstrap over
prompts, paired where two things are compared), the setting it was measured at, and a verdict derived from the
numbers by a stated rule ("insufficient data" when the cache lacks what the claim needs). Nothing is hard-coded.

Shared rules: MARGIN is the accuracy difference treated as "a match" (2 points); a gain is established when its CI
lies above zero. Each claim's docstring states its measurement and its verdict rule.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Callable

import numpy as np
import pandas as pd

from backend.analysis import data, difficulty
from backend.analysis import estimators as E
from backend.analysis import frontier as F

__all__ = ["MARGIN", "MIN_GAIN", "VERDICTS", "Evidence", "CLAIMS", "report", "report_frame"]

MARGIN = 0.02  # |accuracy difference| within which two results "match"
MIN_GAIN = 0.01  # a gain whose CI stays below this is too small to matter
SUPPORTED, NOT_SUPPORTED, MIXED, INSUFFICIENT = "supported", "not supported", "mixed", "insufficient data"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, INSUFFICIENT)
EXACT_CHECKERS = ("oracle", "steps")  # verifiers that judge a finished arithmetic trace exactly


class Insufficient(Exception):
    """The cache lacks what a claim needs (the message says what)."""


class Evidence:
    """What the claims read: the store, the model table and each model's budget points (computed once, on demand)."""

    def __init__(self, store=None, models: pd.DataFrame | None = None, *, n_boot: int = 2000, seed: int = 0):
        self.store = store
        self.runs = data.load_runs(store)
        self.models = data.model_table(store) if models is None else models
        self.n_boot, self.seed = n_boot, seed
        self._points: dict[str, F.Points | None] = {}
        self._pools: dict[str, data.Pool] = {}

    def points(self, model: str) -> F.Points | None:
        """All budget points of one model (weighted maj@k skipped: no claim needs it), or None without runs."""
        if model not in self._points:
            has = model in set(self.runs["model"])
            self._points[model] = F.collect_points(self.store, models=[model], weighted=False, seed=self.seed) \
                if has else None
        return self._points[model]

    def pool(self, run_key: str) -> data.Pool:
        if run_key not in self._pools:
            self._pools[run_key] = data.load_pool(self.store, run_key)
        return self._pools[run_key]

    def has(self, model: str, strategy: str) -> bool:
        r = self.runs
        return bool(((r["model"] == model) & (r["strategy"] == strategy)).any())

    def final(self, fmt: str) -> pd.DataFrame:
        """Fully trained models of a format (no checkpoints) that have runs, smallest first."""
        m = self.models
        m = m[(m["fmt"] == fmt) & m["checkpoint_of"].isna() & m["name"].isin(set(self.runs["model"]))]
        return m.sort_values(["params", "name"]).reset_index(drop=True)

    def ci(self, a, b=None) -> tuple[float, float, float]:
        if b is None:
            return E.bootstrap_ci(a, n_boot=self.n_boot, seed=self.seed)
        return E.paired_bootstrap_ci(a, b, n_boot=self.n_boot, seed=self.seed)


def _row(pts: F.Points, model: str, strategy: str, setting: str | None = None, k: int | None = None) -> int:
    """Index of a point; setting None = the biggest pool's setting, k None = the largest k."""
    m = pts.meta
    sel = m[(m["model"] == model) & (m["strategy"] == strategy)]
    if setting is not None:
        sel = sel[sel["setting"] == setting]
    elif len(sel):
        top = sel.groupby("setting")["k"].max()
        sel = sel[sel["setting"] == sorted(top.index[top == top.max()])[0]]
    if k is not None:
        sel = sel[sel["k"] == k]
    if sel.empty:
        raise Insufficient(f"no {strategy} point of {model}" + (f" at k={k}" if k else "") + " in the cache")
    return int(sel.sort_values("k").index[-1])


def _common(*vectors: np.ndarray) -> np.ndarray:
    ok = np.all([~np.isnan(v) for v in vectors], axis=0)
    if not ok.any():
        raise Insufficient("the runs compared share no prompts")
    return ok


def _result(effect, lo, hi, verdict, metric, setting, n, why, **details) -> dict:
    return {"effect": float(effect), "lo": float(lo), "hi": float(hi), "verdict": verdict, "metric": metric,
            "setting": setting, "n_prompts": int(n), "why": why, "details": details}


def _fmt(x: float) -> str:
    return f"{x:+.1%}"


def _label(strategy: str, k: int, setting: str) -> str:
    return f"{strategy} k={int(k)}" + (f", {setting}" if setting else "")


# ----------------------------------------------------------------------------------------------- the claims
def claim_params(ev: Evidence) -> dict:
    """1. On prompts the small model sometimes solves (pass@n > 0), the small CoT model's best deployable point
    within the large CoT model's greedy FLOPs vs the large model's greedy accuracy. Effect = small − large (paired).
    Supported: CI lower bound ≥ −MARGIN (matches); not supported: CI upper bound < −MARGIN; else mixed."""
    cot = ev.final("cot")
    if len(cot) < 2:
        raise Insufficient("needs two fully trained CoT models of different size")
    small, large = cot.iloc[0], cot.iloc[-1]
    if not ev.has(small["name"], "sample") or not ev.has(large["name"], "greedy"):
        raise Insufficient(f"needs a pool of {small['name']} and a greedy run of {large['name']}")
    pts = F.concat_points([ev.points(small["name"]), ev.points(large["name"])])
    cov = pts.acc[_row(pts, small["name"], "pass@k")]
    target = pts.acc[_row(pts, large["name"], "greedy")]
    keep = _common(cov, target) & (np.nan_to_num(cov) > 0)
    if not keep.any():
        raise Insufficient(f"{small['name']} never solves a prompt that {large['name']} answered")
    sub = pts.columns(pts.prompt_keys[keep])
    budget = float(sub.flops[_row(sub, large["name"], "greedy")].mean())
    cand = sub.rows((sub.meta["model"] == small["name"]).to_numpy() & ~sub.meta["oracle"].to_numpy(dtype=bool))
    best = F.frontier(cand, budget, n_boot=ev.n_boot, seed=ev.seed)
    if best.empty:
        raise Insufficient(f"no deployable point of {small['name']} fits {large['name']}'s greedy FLOPs")
    b = best.sort_values(["acc", "flops"], ascending=[False, True]).iloc[0]
    a = sub.acc[_row(sub, small["name"], b["strategy"], b["setting"], int(b["k"]))]
    t = sub.acc[_row(sub, large["name"], "greedy")]
    ok = _common(a, t)
    d, lo, hi = ev.ci(a[ok], t[ok])
    verdict = SUPPORTED if lo >= -MARGIN else NOT_SUPPORTED if hi < -MARGIN else MIXED
    ratio = large["params"] / small["params"]
    return _result(d, lo, hi, verdict, "accuracy(small, best within large's FLOPs) − accuracy(large, greedy)",
                   f"{small['name']} ({_label(b['strategy'], b['k'], b['setting'])}) vs {large['name']} greedy "
                   f"({ratio:.0f}x params), ≤ {budget:.3g} FLOPs per query, prompts with pass@n > 0",
                   int(ok.sum()), f"{small['name']} reaches {a[ok].mean():.1%} vs {t[ok].mean():.1%}: "
                   f"difference {_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}], match margin ±{MARGIN:.0%}",
                   param_ratio=float(ratio), budget_flops=budget, small_flops=float(b["flops"]),
                   note="the best point is picked on the same prompts it is scored on (slightly optimistic)")


def _bins_for(ev: Evidence, pts: F.Points, model: str) -> tuple[pd.Series, str]:
    """Bands by construction when every prompt has them (arith), else oracle bins of the model's own pool."""
    prompts = data.load_prompts(ev.store)
    prompts = prompts[prompts["prompt_key"].isin(set(pts.prompt_keys))]
    if len(prompts) and prompts["n_ops"].notna().all():
        return difficulty.construction_bins(prompts, "band"), "bands by construction (easy/medium/hard)"
    pool = ev.pool(pts.meta.loc[_row(pts, model, "pass@k", k=1), "run_key"])
    bins = difficulty.oracle_bins(np.full(len(pool.prompt_keys), pool.n), pool.correct.sum(axis=1), pool.prompt_keys)
    return bins, "oracle bins of the model's own pass@1"


def _adaptive_runs(ev: Evidence) -> tuple[str, int, str, str] | None:
    """(model, budget, adaptive run, uniform run) of the adaptive strategy: smallest model, budget nearest 8."""
    r = ev.runs[ev.runs["strategy"] == "adaptive"]
    if r.empty:
        return None
    r = r.assign(alloc=[p.get("allocation", "adaptive") for p in r["params"]],
                 params_n=[ev.models.set_index("name")["params"].get(m, 0) for m in r["model"]])
    pairs = []
    for (model, budget, verifier), g in r.groupby(["model", "budget", "verifier"], dropna=False):
        a, u = g[g["alloc"] == "adaptive"], g[g["alloc"] == "uniform"]
        if len(a) and len(u):
            pairs.append((g["params_n"].iloc[0], abs(math.log(int(budget) / 8)), model, int(budget),
                          a["run_key"].iloc[0], u["run_key"].iloc[0]))
    return min(pairs)[2:] if pairs else None


def claim_adaptive(ev: Evidence) -> dict:
    """2. Adaptive vs uniform allocation at the same budget. When the cache holds the adaptive strategy's runs (budget
    spread by the verifier's predicted difficulty, against its uniform twin): their paired difference at the budget
    nearest 8 samples, smallest model. Otherwise, for the smallest CoT model with a pool: the best per-band choice
    of strategy and k vs the best uniform point at the same mean FLOPs (8 samples' worth, or a quarter of a smaller
    pool), cross-fitted over 2 folds so choices are scored out of sample. Effect = gain in accuracy.
    Supported: CI lower bound > 0; not supported: CI upper bound < MIN_GAIN; else mixed."""
    runs = _adaptive_runs(ev)
    if runs is not None:
        model, budget, a_key, u_key = runs
        a, u = data.load_results(ev.store, a_key), data.load_results(ev.store, u_key)
        m = a.merge(u, on="prompt_key", suffixes=("_a", "_u"))
        if m.empty:
            raise Insufficient("the adaptive and uniform runs share no prompts")
        d, lo, hi = ev.ci(m["correct_a"].astype(float).to_numpy(), m["correct_u"].astype(float).to_numpy())
        fa = float((m["gen_flops_a"] + m["verifier_flops_a"]).mean())
        fu = float((m["gen_flops_u"] + m["verifier_flops_u"]).mean())
        acc_a, acc_u = m["correct_a"].mean(), m["correct_u"].mean()
        how = f"adaptive strategy runs, budget {budget} samples"
        n = len(m)
    else:
        cot = [x for x in ev.final("cot")["name"] if ev.has(x, "sample")]
        if not cot:
            raise Insufficient("needs a CoT model with a sampling pool (or adaptive strategy runs)")
        model = cot[0]
        pts = ev.points(model)
        pts = pts.rows(~pts.meta["oracle"].to_numpy(dtype=bool))
        k = int(min(8, max(1, pts.meta.loc[pts.meta["strategy"] == "maj@k", "k"].max() // 4)))
        budget_flops = float(np.nanmean(pts.flops[_row(pts, model, "maj@k", k=k)]))
        bins, bin_how = _bins_for(ev, pts, model)
        if bins.nunique() < 2:
            raise Insufficient("needs prompts of at least two difficulty bins")
        r = F.crossfit_allocation(pts, bins, budget_flops, n_boot=ev.n_boot, seed=ev.seed)
        d, lo, hi, n = r["gain"], r["gain_lo"], r["gain_hi"], r["n_prompts"]
        fa, fu = r["alloc_flops"], r["uniform_flops"]
        acc_a, acc_u = r["alloc_acc"], r["uniform_acc"]
        how = f"{bin_how}, ≤ {budget_flops:.3g} FLOPs per query (= {k} samples), 2-fold cross-fitted"
    verdict = SUPPORTED if lo > 0 else NOT_SUPPORTED if hi < MIN_GAIN else MIXED
    return _result(d, lo, hi, verdict, "accuracy(adaptive) − accuracy(uniform)", f"{model}, {how}", n,
                   f"adaptive {acc_a:.1%} vs uniform {acc_u:.1%} at {fa:.3g} vs {fu:.3g} FLOPs per query: gain "
                   f"{_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}]", adaptive_flops=fa, uniform_flops=fu)


def _pair_by_size(ev: Evidence) -> tuple[dict, dict]:
    """The largest direct model and the CoT model closest to it in parameters (within 2x)."""
    direct, cot = ev.final("direct"), ev.final("cot")
    for d in direct.iloc[::-1].itertuples():
        if len(cot):
            c = cot.iloc[int(np.argmin(np.abs(np.log(cot["params"] / d.params))))]
            if abs(math.log(c["params"] / d.params)) <= math.log(2):
                return d._asdict(), dict(c)
    raise Insufficient("needs a direct model and a CoT model within 2x of its size")


def claim_reasoning(ev: Evidence) -> dict:
    """3. The direct model's best deployable accuracy at ANY budget it has (its largest pools) vs the same-size CoT
    model's greedy accuracy. Effect = direct − CoT (paired). Supported (gap persists): CI upper bound < −MARGIN;
    not supported (rescued): CI lower bound ≥ −MARGIN; else mixed."""
    d, c = _pair_by_size(ev)
    if not ev.has(d["name"], "sample"):
        raise Insufficient(f"needs a sampling pool of {d['name']}")
    if not ev.has(c["name"], "greedy"):
        raise Insufficient(f"needs a greedy run of {c['name']}")
    pts = F.concat_points([ev.points(d["name"]), ev.points(c["name"])])
    t = pts.acc[_row(pts, c["name"], "greedy")]
    m = pts.meta
    cand = m.index[(m["model"] == d["name"]) & ~m["oracle"].astype(bool)]
    means = [np.nanmean(pts.acc[i][~np.isnan(t)]) for i in cand]
    best = int(cand[int(np.nanargmax(means))])
    a = pts.acc[best]
    ok = _common(a, t)
    diff, lo, hi = ev.ci(a[ok], t[ok])
    cov = pts.acc[_row(pts, d["name"], "pass@k")]
    verdict = SUPPORTED if hi < -MARGIN else NOT_SUPPORTED if lo >= -MARGIN else MIXED
    bm = m.loc[best]
    return _result(diff, lo, hi, verdict, "accuracy(direct, best at any sample count) − accuracy(CoT, greedy)",
                   f"{d['name']} ({_label(bm['strategy'], bm['k'], bm['setting'])}) vs {c['name']} greedy",
                   int(ok.sum()), f"{d['name']} at its best {float(a[ok].mean()):.1%} vs {c['name']} greedy "
                   f"{float(t[ok].mean()):.1%}: {_fmt(diff)} [{_fmt(lo)}, {_fmt(hi)}]",
                   direct_coverage=float(np.nanmean(cov[ok])))


def claim_complements(ev: Evidence) -> dict:
    """4. In a family with training checkpoints: the gain from inference (maj@K − maj@1) at the most-trained model and
    the gain from training (most − least trained) at maj@K, K = the largest k all pools share. Effect = the smaller of
    the two. Supported: both CIs above 0; not supported: either CI upper bound ≤ 0; else mixed."""
    m = ev.models
    fams = m[m["checkpoint_of"].notna()]["checkpoint_of"].unique()
    best = None
    for fam in fams:
        members = m[((m["name"] == fam) | (m["checkpoint_of"] == fam)) & m["training_tokens"].notna()]
        members = members[[ev.has(x, "sample") for x in members["name"]]]
        if len(members) >= 2 and (best is None or len(members) > len(best)):
            best = members.sort_values("training_tokens")
    if best is None:
        raise Insufficient("needs a model family with pools at two or more training checkpoints")
    lo_m, hi_m = best.iloc[0]["name"], best.iloc[-1]["name"]
    pts = F.concat_points([ev.points(lo_m), ev.points(hi_m)])
    maj = pts.meta[pts.meta["strategy"] == "maj@k"]
    shared = set(maj.loc[maj["model"] == lo_m, "setting"]) & set(maj.loc[maj["model"] == hi_m, "setting"])
    if not shared:
        raise Insufficient(f"{lo_m} and {hi_m} have no pool at a shared temperature")
    common_ks = {s: set(maj.loc[(maj["model"] == lo_m) & (maj["setting"] == s), "k"])
                 & set(maj.loc[(maj["model"] == hi_m) & (maj["setting"] == s), "k"]) for s in sorted(shared)}
    setting = max(common_ks, key=lambda s: max(common_ks[s], default=0))  # the temperature with the biggest pools
    k = max(common_ks[setting], default=1)
    if k < 2:
        raise Insufficient("the pools are too small to scale inference (need k ≥ 2)")
    h_k, h_1 = pts.acc[_row(pts, hi_m, "maj@k", setting, k)], pts.acc[_row(pts, hi_m, "maj@k", setting, 1)]
    l_k, l_1 = pts.acc[_row(pts, lo_m, "maj@k", setting, k)], pts.acc[_row(pts, lo_m, "maj@k", setting, 1)]
    ok = _common(h_k, h_1, l_k, l_1)
    ttc = ev.ci(h_k[ok], h_1[ok])
    train = ev.ci(h_k[ok], l_k[ok])
    ttc_low = ev.ci(l_k[ok], l_1[ok])
    weaker = ttc if ttc[0] <= train[0] else train
    if ttc[1] > 0 and train[1] > 0:
        verdict = SUPPORTED
    elif ttc[2] <= 0 or train[2] <= 0:
        verdict = NOT_SUPPORTED
    else:
        verdict = MIXED
    return _result(*weaker, verdict, "min(inference gain at most training, training gain at most inference)",
                   f"{lo_m} → {hi_m}, maj@1 → maj@{k} ({setting})", int(ok.sum()),
                   f"inference gain at {hi_m} {_fmt(ttc[0])} [{_fmt(ttc[1])}, {_fmt(ttc[2])}]; training gain at "
                   f"maj@{k} {_fmt(train[0])} [{_fmt(train[1])}, {_fmt(train[2])}]",
                   inference_gain=ttc, training_gain=train, inference_gain_least_trained=ttc_low)


def _entropy(answers: list) -> float:
    """Plug-in Shannon entropy (nats) of one pool's answer histogram; unparseable answers are one more category."""
    counts = np.array(list(Counter("\0none" if a is None else a for a in answers).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def _spread_axis(ev: Evidence) -> tuple[str, str, list[tuple[str, str]]]:
    """(model, axis name, [(label, pool run_key)]): thinking budgets of budget-forcing runs when a CoT model has two
    or more, else sampling temperatures of its pools; the model with the most settings, smallest on ties."""
    finals = set(ev.final("cot")["name"])
    sizes = ev.models.set_index("name")["params"]
    r = ev.runs[ev.runs["model"].isin(finals)]
    forced = r[(r["strategy"] == "budget_forcing")].assign(b=lambda x: [p.get("budget") for p in x["params"]],
                                                           mode=lambda x: [p.get("mode", "force") for p in x["params"]])
    forced = forced[forced["mode"] == "force"]
    for name, runs, col, label in (("thinking budget", forced, "b", lambda v: f"{int(v)} thinking tokens"),
                                   ("temperature", r[r["strategy"] == "sample"], "temperature", lambda v: f"T={v:g}")):
        counts = runs.groupby("model")[col].nunique()
        counts = counts[counts >= 2]
        if len(counts):
            model = sorted(counts.index, key=lambda x: (-counts[x], sizes.get(x, 0)))[0]
            runs = runs[runs["model"] == model].sort_values([col, "n"]).drop_duplicates(col, keep="last")
            return model, name, [(label(v), k) for v, k in zip(runs[col], runs["run_key"])]
    raise Insufficient("needs a CoT model with budget-forcing runs at two or more thinking budgets, or pools at two "
                       "or more temperatures")


def claim_spread(ev: Evidence) -> dict:
    """5. Along one CoT model's spread axis (thinking budget of budget forcing when the cache has it, else sampling
    temperature): coverage pass@K rises while single-sample accuracy peaks and falls. Effect = accuracy at the widest
    setting − the peak (≤ 0). Supported: coverage gain CI > 0 and fall CI upper bound < 0; not supported: the peak is
    the widest setting or the coverage gain CI upper bound ≤ 0; else mixed. Answer entropy is reported per setting."""
    model, axis, settings = _spread_axis(ev)
    pools = [ev.pool(key) for _, key in settings]
    k = min(p.n for p in pools)
    keys = set.intersection(*(set(p.prompt_keys) for p in pools))
    if not keys:
        raise Insufficient("the runs along the spread axis share no prompts")
    acc, cov, ent = [], [], []
    for p in pools:
        rows = np.array([i for i, key in enumerate(p.prompt_keys) if key in keys])
        rows = rows[np.argsort(p.prompt_keys[rows])]  # the same prompt order in every pool
        curve = E.pass_at_k_curve(np.full(len(rows), p.n), p.correct[rows].sum(axis=1), [1, k])
        acc.append(curve[0])
        cov.append(curve[1])
        ent.append(float(np.mean([_entropy(p.answers[i]) for i in rows])))
    labels = [s for s, _ in settings]
    means = [float(a.mean()) for a in acc]
    peak = int(np.argmax(means))
    fall = ev.ci(acc[-1], acc[peak])
    cov_gain = ev.ci(cov[-1], cov[0])
    if peak == len(labels) - 1 or cov_gain[2] <= 0:
        verdict = NOT_SUPPORTED
    elif cov_gain[1] > 0 and fall[2] < 0:
        verdict = SUPPORTED
    else:
        verdict = MIXED
    return _result(*fall, verdict, "accuracy(widest setting) − accuracy(peak setting), single sample",
                   f"{model}, {axis}: {', '.join(labels)}; coverage at k={k}", len(keys),
                   f"accuracy peaks at {labels[peak]} ({means[peak]:.1%}) and is {means[-1]:.1%} at {labels[-1]}; "
                   f"coverage {_fmt(cov_gain[0])} [{_fmt(cov_gain[1])}, {_fmt(cov_gain[2])}]",
                   axis=axis, coverage_gain=cov_gain, accuracy=dict(zip(labels, means)), entropy=dict(zip(labels, ent)),
                   peak=labels[peak])


def claim_convergence(ev: Evidence) -> dict:
    """6. A tree search run (beam / DVTS) at its largest budget vs best-of-k of the same model, verifier and sampling
    temperature at the nearest FLOPs (log scale). Effect = tree − best-of-k. Supported (they converge): the CI lies within ±MARGIN;
    not supported: the CI lies wholly outside it (lower bound > MARGIN or upper bound < −MARGIN); else mixed."""
    tree = ev.runs[ev.runs["strategy"].isin(["beam", "dvts"]) & ev.runs["verifier"].notna()]
    sizes = ev.models.set_index("name")["params"]
    for model in sorted(set(tree["model"]), key=lambda x: (sizes.get(x, 0), x)):
        pts = ev.points(model)
        m = pts.meta
        t_rows = m.index[m["strategy"].isin(["beam", "dvts"]) & m["verifier"].notna()]
        for i in sorted(t_rows, key=lambda i: -np.nanmean(pts.flops[i])):
            v = m.loc[i, "verifier"]
            t = F.setting_temperature(m.loc[i, "setting"])
            same_t = m["setting"].map(F.setting_temperature) == t if t is not None else True  # same sampler
            bo = m.index[(m["strategy"] == "best-of-k") & (m["verifier"] == v) & same_t]
            if len(bo) == 0:
                continue
            f_t = np.nanmean(pts.flops[i])
            j = int(bo[int(np.argmin([abs(math.log(np.nanmean(pts.flops[b]) / f_t)) for b in bo]))])
            ok = _common(pts.acc[i], pts.acc[j])
            d, lo, hi = ev.ci(pts.acc[i][ok], pts.acc[j][ok])
            verdict = SUPPORTED if lo >= -MARGIN and hi <= MARGIN else \
                NOT_SUPPORTED if lo > MARGIN or hi < -MARGIN else MIXED
            return _result(d, lo, hi, verdict, "accuracy(tree search) − accuracy(best-of-k), same verifier and FLOPs",
                           f"{model} {m.loc[i, 'strategy']} budget {int(m.loc[i, 'k'])} ({f_t:.3g} FLOPs) vs "
                           f"best-of-{int(m.loc[j, 'k'])} ({np.nanmean(pts.flops[j]):.3g} FLOPs), verifier {v}",
                           int(ok.sum()), f"difference {_fmt(d)} [{_fmt(lo)}, {_fmt(hi)}], convergence margin "
                           f"±{MARGIN:.0%}")
    raise Insufficient("needs a beam or DVTS run and best-of-k scores of the same model by the same verifier")


def claim_routing(ev: Evidence) -> dict:
    """7. Direct model answers when its confidence (greedy trace log-prob) is at least the median, else the CoT model
    (a cascade). Compared with blind mixing that sends the same share to each model at random. Effect = router −
    random mix (paired). Supported: CI lower bound > 0; not supported: CI upper bound ≤ 0; else mixed."""
    d, c = _pair_by_size(ev)
    try:
        r = data.load_routing(ev.store, d["name"], c["name"])
    except ValueError as e:
        raise Insufficient(str(e)) from None
    if len(r) < 2:
        raise Insufficient("needs prompts answered greedily by both models")
    conf = r["confidence"].to_numpy()
    tau = float(np.median(conf))
    direct = conf >= tau
    frac = float(direct.mean())
    dc, cc = r["direct_correct"].to_numpy(), r["cot_correct"].to_numpy()
    routed = np.where(direct, dc, cc)
    mixed = frac * dc + (1 - frac) * cc
    diff, lo, hi = ev.ci(routed, mixed)
    front = F.routing_front(dc, r["direct_flops"], cc, r["cot_flops"], conf, n_boot=200, seed=ev.seed)
    verdict = SUPPORTED if lo > 0 else NOT_SUPPORTED if hi <= 0 else MIXED
    cost = float((r["direct_flops"] + np.where(direct, 0, r["cot_flops"])).mean())
    return _result(diff, lo, hi, verdict, "accuracy(confidence routing) − accuracy(random routing), same share",
                   f"{d['name']} → {c['name']} cascade at the median confidence ({frac:.0%} answered directly)",
                   len(r), f"routing {routed.mean():.1%} vs random {mixed.mean():.1%} at {cost:.3g} FLOPs per query: "
                   f"{_fmt(diff)} [{_fmt(lo)}, {_fmt(hi)}]; direct alone {dc.mean():.1%}, CoT alone {cc.mean():.1%}",
                   pareto_points=len(front), route_flops=cost, cot_flops=float(r["cot_flops"].mean()))


def claim_coverage(ev: Evidence) -> dict:
    """8. On the biggest pool (smallest model on ties): coverage gain per doubling of k over the last three doublings
    (k = n/8 → n) vs the best selector's (maj@k, or best-of-k by a reward model: exact checkers excluded, as on
    finished traces they select like the ground truth). Effect = coverage − selector
    gain per doubling (paired). Supported: effect CI and coverage-gain CI above 0; not supported: either CI upper
    bound ≤ 0; else mixed. The log-linear fit of pass@k on log2 k is reported with its R²."""
    pools = ev.runs[ev.runs["strategy"] == "sample"]
    if pools.empty:
        raise Insufficient("needs a sampling pool")
    sizes = ev.models.set_index("name")["params"]
    top = pools.assign(params=[sizes.get(x, 0) for x in pools["model"]]).sort_values(["n", "params"],
                                                                                    ascending=[False, True]).iloc[0]
    model, n, setting = top["model"], int(top["n"]), f"T={top['temperature']:g}"
    if n < 8:
        raise Insufficient("needs a pool of at least 8 samples")
    pts = ev.points(model)
    m = pts.meta
    cov_rows = m[(m["model"] == model) & (m["strategy"] == "pass@k") & (m["setting"] == setting)].sort_values("k")
    k_lo = int(cov_rows["k"][cov_rows["k"] <= n / 8].max())
    dbl = math.log2(n / k_lo)
    gain = lambda s, st: (pts.acc[_row(pts, model, s, st, n)] - pts.acc[_row(pts, model, s, st, k_lo)]) / dbl
    cov = gain("pass@k", setting)
    scored = m[(m["model"] == model) & (m["strategy"] == "best-of-k") & m["setting"].str.startswith(setting + ",")
               & ~m["verifier"].isin(EXACT_CHECKERS)]
    sel_names = [("maj@k", setting)] + [("best-of-k", x) for x in sorted(set(scored["setting"]))]
    sels = [gain(s, x) for s, x in sel_names]
    ok = _common(cov, *sels)
    means = [float(s[ok].mean()) for s in sels]
    best = int(np.argmax(means))
    diff = ev.ci(cov[ok], sels[best][ok])
    cov_ci = ev.ci(cov[ok])
    xs = np.log2(cov_rows["k"].to_numpy(dtype=float))
    ys = np.array([np.nanmean(pts.acc[i][ok]) for i in cov_rows.index])
    slope, icpt = np.polyfit(xs, ys, 1) if len(xs) > 1 else (0.0, ys[0])
    r2 = 1 - ((ys - (slope * xs + icpt)) ** 2).sum() / max(((ys - ys.mean()) ** 2).sum(), 1e-12)
    if diff[1] > 0 and cov_ci[1] > 0:
        verdict = SUPPORTED
    elif diff[2] <= 0 or cov_ci[2] <= 0:
        verdict = NOT_SUPPORTED
    else:
        verdict = MIXED
    return _result(*diff, verdict, "coverage gain − selection gain, accuracy per doubling of k",
                   f"{model} pool n={n} ({setting}), k = {k_lo} → {n}, selector {sel_names[best][0]}",
                   int(ok.sum()), f"coverage +{cov_ci[0]:.1%} per doubling [{cov_ci[1]:.1%}, {cov_ci[2]:.1%}], "
                   f"{sel_names[best][0]} {means[best]:+.1%} per doubling",
                   coverage_gain=cov_ci, selector_gain=means[best], loglinear_slope=float(slope),
                   loglinear_r2=float(r2))


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


def report(store=None, models: pd.DataFrame | None = None, *, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Every claim measured on the cache: claim, title, paper, verdict, effect, lo, hi, metric, setting, n_prompts,
    why (one sentence with the numbers) and details (secondary numbers)."""
    ev = Evidence(store, models, n_boot=n_boot, seed=seed)
    out = []
    for num, title, paper, fn in CLAIMS:
        head = {"claim": num, "title": title, "paper": paper}
        try:
            out.append({**head, **fn(ev)})
        except (Insufficient, ValueError) as e:  # a ValueError here means the cached data cannot answer the claim
            out.append({**head, "effect": None, "lo": None, "hi": None, "verdict": INSUFFICIENT, "metric": None,
                        "setting": None, "n_prompts": 0, "why": f"{e}.", "details": {}})
    return out


def report_frame(results: list[dict]) -> pd.DataFrame:
    """The report as a table (details dropped), one row per claim."""
    return pd.DataFrame(results).drop(columns=["details"])
