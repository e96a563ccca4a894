"""Data for "How good must a verifier be before search beats voting?" (Budget curves): one model's accuracy at one
FLOPs budget against the error rate of the verifier that drives its search, with majority vote at the same budget
as the reference.

The verifier is the exact step checker with label noise (each step judgement flipped at a known rate;
backend.verifiers.noisy): best-of-N and weighted majority are computed from the stored main pool rescored from its
texts (backend.analysis.rescore, no regeneration), beam search from the stored runs whose verifier is such a checker.
Every strategy is taken at its largest setting within the budget (the point spending the most FLOPs per prompt, so
nothing is picked for its score). Search "beats voting" by the claims' rule when the 95% CI of the paired difference
(search − majority vote) lies above 0, and "falls behind" when it lies below −MARGIN. The exact checker (error rate
0) reads the gold answer: an upper bound, drawn as one."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from backend.analysis import data as D
from backend.analysis import estimators as E
from backend.analysis import selection
from backend.analysis.claims import INF, MARGIN, NOISE_RATES, VERDICTS, verdict
from backend.analysis.curves import TOL, summarise
from backend.analysis.points import Points, concat_points, pool_points
from backend.analysis.rescore import RULE_BASED, with_rule_scores
from backend.explore import fmt, store
from backend.explore.common import all_runs, main_pool, zoo_models
from backend.explore.derived import kept_points, memo, points
from backend.verifiers import base_name, noise_rate

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INSUFFICIENT = VERDICTS
SEARCH = ("best-of-k", "weighted-maj@k", "beam")  # the verifier-driven strategies, each set against majority vote
SEARCH_RUNS = ("beam",)  # of those, the ones stored as runs (the others are computed from the pool)
TABLE_COLUMNS = ["strategy", "verifier", "rate", "exact", "k", "flops", "acc", "lo", "hi", "n_prompts", "row"]


def is_rule(verifier: str | None) -> bool:
    """A rule-based checker (computable from text) or a noisy wrapper of one."""
    return bool(verifier) and base_name(str(verifier)) in RULE_BASED


def rule_verifiers(rates) -> list[str]:
    """The exact rule-based checkers and their noisy wrappers at these error rates: "steps", "noisy:steps:0.1", …"""
    return [v for b in RULE_BASED for v in (b, *(f"noisy:{b}:{r:g}" for r in sorted(rates) if r > 0))]


def error_rates(model: str) -> tuple[float, ...]:
    """The error rates shown for a model: the claims' NOISE_RATES and every rate a stored run of it searched with."""
    runs = all_runs()
    used = runs.loc[(runs["model"] == model) & runs["verifier"].notna(), "verifier"]
    return tuple(sorted((set(NOISE_RATES) | {noise_rate(v) for v in used if is_rule(v)}) - {0.0}))


@memo
def rule_scored_pool(model: str) -> D.Pool:
    """The model's main pool with the scores of the exact checker and its noisy wrappers at error_rates(model) added,
    computed from the stored texts once (the story's verifier step and this chart share them)."""
    key = main_pool(model)
    if key is None:
        raise ValueError(f"{model} has no sampling pool")
    return with_rule_scores(store(), D.load_pool(store(), key), rule_verifiers(error_rates(model)))


def _only(pool: D.Pool, verifiers: set[str]) -> D.Pool:
    """The pool with the scores of these verifiers only."""
    pick = lambda d: {v: x for v, x in d.items() if v in verifiers}
    return dataclasses.replace(pool, scores=pick(pool.scores), score_tokens=pick(pool.score_tokens),
                               score_flops=pick(pool.score_flops))


def _pool_runs(model: str) -> list[str]:
    """The run the rescored points read (the model's main pool): kept points stay valid while it does — a live
    greedy run of the model does not touch them."""
    return [main_pool(model)]


@memo
def rule_points(model: str, rates: tuple[float, ...] | None = None) -> Points:
    """Budget points of the model's main pool: pass@k, maj@k and best-of-k by every verifier stored with the pool
    and by the rule checkers at ``rates`` (default error_rates(model)). Kept with the derived data."""
    rates = error_rates(model) if rates is None else tuple(rates)

    def compute() -> Points:
        pool = rule_scored_pool(model)
        keep = set(rule_verifiers(rates))
        return pool_points(_only(pool, keep | {v for v in pool.scores if not is_rule(v)}), weighted=False)

    return kept_points(f"rule-{model}-{','.join(f'{r:g}' for r in rates)}", _pool_runs(model), compute)


@memo
def weighted_points(model: str, k: int) -> Points:
    """Weighted majority of k samples by each rule checker at error_rates(model): a Monte-Carlo per prompt, so it is
    computed only at the k a chosen budget needs. Kept with the derived data."""
    rates = error_rates(model)

    def compute() -> Points:
        pts = pool_points(_only(rule_scored_pool(model), set(rule_verifiers(rates))), ks=[k], weighted=True)
        return pts.rows((pts.meta["strategy"] == "weighted-maj@k").to_numpy())

    return kept_points(f"weighted-{model}-k={k}-{','.join(f'{r:g}' for r in rates)}", _pool_runs(model), compute)


def knob_models() -> list[str]:
    """Final CoT models of every reasoning-path variant with a sampling pool, smallest first."""
    models = zoo_models()
    names = [m for p in sorted(set(models["paths"].dropna())) for m in selection.final_models(models, "cot", paths=p)]
    order = models.set_index("name")["params"]
    return sorted((m for m in dict.fromkeys(names) if main_pool(m)), key=lambda m: (order.get(m, 0), m))


@memo
def knob_points(model: str) -> Points:
    """The chart's budget points of one model: majority vote and best-of-N by the rule checkers (from the pool) and
    the stored search runs driven by them (weighted majority: weighted_points, at the k a budget needs)."""
    pool = rule_points(model)
    m = pool.meta
    parts = [pool.rows(((m["strategy"] == "maj@k") | (m["strategy"].isin(SEARCH) & m["verifier"].map(is_rule)))
                       .to_numpy())]
    pts = points()
    pm = pts.meta
    runs = (pm["model"] == model) & pm["strategy"].isin(SEARCH_RUNS) & pm["verifier"].map(is_rule)
    if runs.any():
        parts.append(pts.rows(runs.to_numpy()))
    return concat_points(parts)


def keep_all() -> int:
    """What the chart and the story read on first load, computed and kept for every knob model (derived.precompute):
    the rescored points, the story's at the claims' rates, and weighted majority at the default budget."""
    from backend.analysis.claims import NOISE_RATES

    n = 0
    for model in knob_models():
        pts = knob_points(model)
        rule_points(model, tuple(NOISE_RATES))
        budget = default_budget(budget_options(pts))
        if budget is not None:
            verifier_knob(model, budget)
        n += 1
    return n


def _mean_flops(pts: Points) -> np.ndarray:
    """Each point's mean FLOPs per prompt over the prompts it answered (NaN: none)."""
    f = np.where(np.isnan(pts.acc), 0.0, pts.flops).sum(axis=1)
    n = (~np.isnan(pts.acc)).sum(axis=1)
    return np.divide(f, n, out=np.full(len(f), np.nan), where=n > 0)


def budget_options(pts: Points) -> pd.DataFrame:
    """The FLOPs budgets to offer, cheapest first: majority vote's cost at k = 1, 2, 4, … samples and each stored
    search budget's largest cost over the error rates (so every rate's run fits); columns flops, what, k."""
    m, f = pts.meta, _mean_flops(pts)
    rows = [{"flops": f[i], "what": "samples", "k": int(k)} for i, k in zip(m.index, m["k"])
            if m.at[i, "strategy"] == "maj@k" and int(k) & (int(k) - 1) == 0]
    runs = m[m["strategy"].isin(SEARCH_RUNS)]
    for (strategy, k), g in runs.groupby(["strategy", "k"]):
        rows.append({"flops": float(np.nanmax(f[g.index])), "what": strategy, "k": int(k)})
    out = pd.DataFrame(rows, columns=["flops", "what", "k"]).dropna().sort_values(["flops", "what"])
    return out[out["flops"] > 0].drop_duplicates("flops").reset_index(drop=True)


def default_budget(options: pd.DataFrame) -> float | None:
    """The budget the chart opens on: the largest stored search budget, else majority vote over 16 samples (or the
    largest pool below that)."""
    if options.empty:
        return None
    runs = options[options["what"] != "samples"]
    if len(runs):
        return float(runs["flops"].iloc[-1])
    votes = options[options["k"] <= 16]
    return float((votes if len(votes) else options)["flops"].iloc[-1])


def _within(pts: Points, budget: float) -> np.ndarray:
    """Per strategy × verifier, the row of the point spending the most FLOPs per prompt within the budget (ties:
    the larger k)."""
    m = pts.meta.assign(flops=_mean_flops(pts), row=np.arange(len(pts.meta)))
    fit = m[m["flops"] <= budget * (1 + TOL)]
    return fit.sort_values(["flops", "k"]).groupby(["strategy", "verifier"], sort=False).tail(1)["row"].to_numpy()


def at_budget(pts: Points, budget: float, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per strategy × verifier, the point spending the most FLOPs per prompt within ``budget`` (ties: the larger k),
    with its accuracy and 95% CI: TABLE_COLUMNS (rate: the verifier's error rate; exact: the checker without noise,
    an upper bound; row: the point's row in ``pts``)."""
    best = summarise(pts, n_boot, seed, only=np.isin(np.arange(len(pts.meta)), _within(pts, budget)))
    best = best.assign(rate=[noise_rate(v) if v else np.nan for v in best["verifier"]],
                       exact=[is_rule(v) and not noise_rate(v) for v in best["verifier"]])
    return best[TABLE_COLUMNS].sort_values(["strategy", "rate"]).reset_index(drop=True)


def versus_voting(pts: Points, table: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each verifier-driven row of at_budget() against majority vote's row, paired on the prompts both answered:
    diff = search − majority with its 95% CI, ``beats`` (the claims' verdict, region above 0) and ``behind`` (region
    below −MARGIN)."""
    cols = ["strategy", "verifier", "rate", "exact", "diff", "lo", "hi", "n_prompts", "beats", "behind"]
    maj = table[table["strategy"] == "maj@k"]
    if maj.empty:
        return pd.DataFrame(columns=cols)
    b = pts.acc[int(maj["row"].iloc[0])]
    rows = []
    for r in table[table["strategy"].isin(SEARCH)].itertuples():
        a = pts.acc[int(r.row)]
        ok = ~np.isnan(a) & ~np.isnan(b)
        if not ok.any():
            continue
        d, lo, hi = E.paired_bootstrap_ci(a[ok], b[ok], n_boot=n_boot, seed=seed)
        rows.append({"strategy": r.strategy, "verifier": r.verifier, "rate": r.rate, "exact": r.exact, "diff": d,
                     "lo": lo, "hi": hi, "n_prompts": int(ok.sum()), "beats": verdict(lo, hi, 0, INF),
                     "behind": verdict(lo, hi, -INF, -MARGIN)})
    return pd.DataFrame(rows, columns=cols)


def thresholds(cmp: pd.DataFrame) -> list[dict]:
    """Per search strategy, from versus_voting(): the error rates compared (ascending), the first whose verdict on
    "beats voting" is not supported (``first``: its row, None when it beats voting at every rate), the last rate
    below it at which it still does (``last_beats``), and rates above ``first`` where it beats voting again."""
    out = []
    for strategy in SEARCH:
        g = cmp[(cmp["strategy"] == strategy) & (cmp["beats"] != INSUFFICIENT)].sort_values("rate")
        if g.empty:
            continue
        fails = g[g["beats"] != SUPPORTED]
        first = fails.iloc[0].to_dict() if len(fails) else None
        before = g if first is None else g[g["rate"] < first["rate"]]
        again = [] if first is None else g[(g["rate"] > first["rate"]) & (g["beats"] == SUPPORTED)]["rate"].tolist()
        out.append({"strategy": strategy, "rates": g["rate"].tolist(), "first": first,
                    "last_beats": before.iloc[-1].to_dict() if len(before) else None, "again": again})
    return out


@memo
def verifier_knob(model: str, budget: float) -> dict:
    """Everything the chart and its sentence need for one model at one per-prompt FLOPs budget: table (at_budget),
    majority (its row), compare (versus_voting), thresholds, rates (error_rates) and which search strategies have
    runs driven by a rule checker at all (searched). ValueError when nothing fits the budget."""
    pts = knob_points(model)
    rows = _within(pts, budget)
    ks = pts.meta.loc[rows[(pts.meta["strategy"].to_numpy()[rows] == "best-of-k")], "k"]
    if len(ks):  # weighted majority costs what best-of-N does at the same k: add it at best-of-N's k in the budget
        pts = concat_points([pts, *(weighted_points(model, int(k)) for k in sorted(set(ks)))])
    table = at_budget(pts, budget)
    maj = table[table["strategy"] == "maj@k"]
    if maj.empty:
        raise ValueError(f"{model}'s majority vote costs more than {fmt.flops(budget)} FLOPs per prompt even with "
                         "one sample; choose a larger budget.")
    cmp = versus_voting(pts, table)
    return {"model": model, "budget": float(budget), "table": table, "majority": maj.iloc[0].to_dict(),
            "compare": cmp, "thresholds": thresholds(cmp), "rates": error_rates(model),
            "searched": sorted(set(pts.meta.loc[pts.meta["strategy"].isin(SEARCH_RUNS), "strategy"]))}


def knob_sentences(d: dict, describe=lambda s, v="": s) -> list[str]:
    """The chart's result sentences, computed from verifier_knob(): majority vote at the budget, then per search
    strategy the smallest error rate at which it no longer beats voting (or that it always / never does within the
    data), by the claims' rule. ``describe(strategy, verifier)`` names a strategy for display."""
    m = d["majority"]
    out = [f"Within {fmt.flops(d['budget'])} FLOPs per prompt, majority vote over {int(m['k'])} samples of "
           f"**{d['model']}** is right on **{fmt.pct(m['acc'])}** (95% CI {fmt.pct(m['lo'])} to {fmt.pct(m['hi'])}) "
           "— the horizontal line."]
    for t in d["thresholds"]:
        name, first, last = describe(t["strategy"]), t["first"], t["last_beats"]
        if first is None:
            out.append(f"**{name}** beats majority vote at every error rate the cache holds, up to "
                       f"{fmt.pct(max(t['rates']), 0)} (each 95% CI of the difference lies above 0).")
            continue
        how = (f"{fmt.ci_points(first['diff'], first['lo'], first['hi'])}, "
               + ("the CI lies at or below 0 (not supported)" if first["beats"] == NOT_SUPPORTED
                  else "the CI touches 0 (inconclusive)")
               + (f" and wholly below {-MARGIN * 100:+.0f} points: it falls behind"
                  if first["behind"] == SUPPORTED else ""))
        if last is None:
            lead = ("even with the exact checker (no errors)" if first["rate"] == 0 else
                    f"at any error rate the cache holds, from {fmt.pct(first['rate'], 0)} on")
            out.append(f"**{name}** does not beat majority vote {lead}: {how}.")
            continue
        upto = ("only with the exact checker (no errors)" if last["rate"] == 0 else
                f"up to a checker error rate of {fmt.pct(last['rate'], 0)}")
        out.append(f"**{name}** beats majority vote {upto}, by {fmt.ci_points(last['diff'], last['lo'], last['hi'])}; "
                   f"the smallest error rate at which it no longer does is **{fmt.pct(first['rate'], 0)}**: {how}"
                   + (f"; at {', '.join(fmt.pct(r, 0) for r in t['again'])} its CI lies above 0 again, so the "
                      "threshold is not sharp" if t["again"] else "") + ".")
    missing = [s for s in SEARCH_RUNS if s not in d["searched"]]
    if missing:
        out.append(f"This cache holds no {' or '.join(describe(s) for s in missing)} run of {d['model']} driven by the "
                   "step checker, so only the strategies computed from its pool are shown.")
    elif not any(t["strategy"] in SEARCH_RUNS for t in d["thresholds"]):
        out.append(f"No {' or '.join(describe(s) for s in SEARCH_RUNS)} run of {d['model']} fits within this budget; "
                   "choose a larger one to see it.")
    return out
