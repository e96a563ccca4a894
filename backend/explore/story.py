"""The guided story: eight steps from "coverage grows with samples" to "spend by difficulty, decide when to think".

For each step, ``data(step, **selection)`` returns what its one chart draws and the numbers its sentences need, and
``sentences(step, data, describe)`` turns those numbers into words. Every sentence that states a result is computed
from the current cache and takes its verdict from the claims' one ladder (``backend.analysis.claims.verdict``, with
the claims' regions and ``MARGIN``); the steps whose comparison needs cross-fitting (claims 1, 2, 5 and 7) quote the
claims report itself. Where the cache lacks what a step needs, ``data`` says so in one sentence (``missing``).

Models, verifiers and variants are discovered from the cache (final models, main pools, the verifiers a pool was
scored by, the runs that exist), never named here."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis import selection
from backend.analysis.claims import INF, MARGIN, NOISE_RATES, VERDICTS, verdict
from backend.analysis.curves import budget_curves
from backend.explore import fmt
from backend.explore.common import all_runs, final_models, main_pool, partner
from backend.explore.derived import claims_status, memo, points
from backend.explore.verifier_knob import rule_points
from backend.verifiers import deployable, noise_rate

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INSUFFICIENT = VERDICTS
MAIN_T = selection.MAIN_TEMPERATURE


@dataclass(frozen=True)
class Step:
    key: str  # the step's name (its data and sentences are chosen by it)
    title: str
    question: str
    page: str  # the full page that shows the same data with every control
    claim: int  # the claim on the Claims page this step is about


STEPS = (
    Step("coverage", "Coverage grows with samples",
         "If a small model samples more answers, how often is at least one of them right?", "pages/budget_curves.py", 8),
    Step("selection", "Picking the right answer is the bottleneck",
         "Can majority vote or a learned verifier find the right answer among the samples?",
         "pages/budget_curves.py", 8),
    Step("verifier", "How good must a verifier be?",
         "How much does the verifier's quality decide what best-of-N reaches?", "pages/budget_curves.py", 6),
    Step("matched", "Small model with more compute vs a larger model",
         "At the same inference FLOPs per prompt, does the small model reach one answer of the larger one?",
         "pages/home.py", 1),
    Step("winner", "Small or large: it depends on difficulty and budget",
         "By difficulty and budget, which model gives the best accuracy per FLOP?", "pages/small_vs_large.py", 1),
    Step("reasoning", "A model never trained to reason hits a ceiling",
         "Can sampling rescue a model trained to answer without writing its steps?", "pages/reasoning.py", 3),
    Step("thinking", "Longer thinking spreads the answers",
         "What happens to the answers as the model is made to think longer — and when does it hurt?",
         "pages/spread.py", 5),
    Step("allocate", "Spend by difficulty, decide when to think",
         "Does sending easy prompts to a cheap policy and hard ones to an expensive one do better than spending evenly?",
         "pages/adaptive.py", 7),
)
KEYS = [s.key for s in STEPS]


def step(key: str) -> Step:
    if key not in KEYS:
        raise ValueError(f"unknown story step {key!r}; the steps are {', '.join(KEYS)}.")
    return STEPS[KEYS.index(key)]


def say(v: str, *, supported: str, not_supported: str, inconclusive: str,
        insufficient: str = "the cache cannot decide it") -> str:
    """The words a verdict of the claims' ladder calls for: a result phrase is only ever chosen by a verdict."""
    return {SUPPORTED: supported, NOT_SUPPORTED: not_supported, INCONCLUSIVE: inconclusive}.get(v, insufficient)


def claim_result(number: int) -> dict | None:
    """One claim of the saved claims report (backend.explore.derived.claims_status), with whether it is stale."""
    status = claims_status()
    c = next((c for c in status["claims"] if c["claim"] == number), None)
    return None if c is None else {**c, "stale": status["stale"]}


# ------------------------------------------------------------------------------------------------------ controls
@memo
def choices(key: str) -> dict:
    """The controls of a step: {name: (options, default)}, options discovered from the cache (smallest model
    first)."""
    cot = final_models("cot")
    pooled = [m for m in cot if main_pool(m)]
    if key in ("coverage", "selection", "verifier"):
        return {"model": (pooled, pooled[0] if pooled else None)}
    if key == "matched":
        return {"small": (cot[:-1], cot[0] if cot else None), "large": (cot[1:], cot[-1] if len(cot) > 1 else None)}
    if key == "winner":
        return {"bins": (["band", "oracle", "predicted"], "band")}
    if key == "reasoning":
        direct = [d for d in final_models("direct") if partner(d)]
        return {"direct": (direct, direct[-1] if direct else None)}
    if key == "thinking":
        forced = [m for m in cot if any(selection.spread_runs(all_runs(), m, a) for a in ("cap", "thinking"))]
        return {"model": (forced, forced[0] if forced else None)}
    if key == "allocate":  # default: claim 7's pair, the largest direct model and the CoT model of its size
        direct = final_models("direct")
        paired = [d for d in direct if partner(d)]
        d0 = paired[-1] if paired else (direct[-1] if direct else None)
        c0 = partner(d0) if d0 else None
        return {"model": (cot, c0 or (cot[0] if cot else None)), "direct": (direct, d0)}
    raise ValueError(f"unknown story step {key!r}")


# ------------------------------------------------------------------------------------------------------ helpers
def _series_rows(meta: pd.DataFrame, model: str, strategy: str, **kw) -> pd.DataFrame:
    return selection.series(meta, model, strategy, **kw)


def _doublings(ks) -> list[int]:
    """k = 1, 2, 4, … among the ks a series has."""
    have = set(int(k) for k in ks)
    return [k for k in (2 ** np.arange(int(math.log2(max(have))) + 1)) if k in have]


def _at(pts, s: pd.DataFrame, k: int) -> int:
    return int(s.index[s["k"] == k][0])


def _curve_frame(pts, rows) -> pd.DataFrame:
    return budget_curves(pts.rows(np.isin(np.arange(len(pts.meta)), list(rows))))


# ------------------------------------------------------------------------------------------------------ step data
@memo
def data(key: str, **sel) -> dict:
    """What step ``key`` draws and the numbers its sentences need, for a selection from ``choices(key)``; a
    ``missing`` sentence instead when the cache lacks it."""
    fn = {"coverage": _coverage, "selection": _selection, "verifier": _verifier, "matched": _matched,
          "winner": _winner, "reasoning": _reasoning, "thinking": _thinking, "allocate": _allocate}[step(key).key]
    try:
        return {"step": key, "selection": sel, **fn(**sel)}
    except (ValueError, KeyError, IndexError) as e:
        return {"step": key, "selection": sel, "missing": _missing_sentence(key, e)}


def _missing_sentence(key: str, e: Exception) -> str:
    text = str(e).strip().rstrip(".")
    return f"This cache cannot draw this step yet: {text[0].lower() + text[1:] if text else 'no data'}."


def _coverage(model: str) -> dict:
    pts = points()
    cov = _series_rows(pts.meta, model, "pass@k", temperature=MAIN_T)
    maj = _series_rows(pts.meta, model, "maj@k", temperature=MAIN_T)
    ks = _doublings(cov["k"])
    if len(ks) < 3:
        raise ValueError(f"{model}'s pool holds fewer than 4 samples per prompt")
    rows = [_at(pts, cov, k) for k in ks]
    ok = np.all(~np.isnan(pts.acc[rows]), axis=0)
    curve = pts.acc[rows][:, ok]
    x = np.log2(ks)
    slope_pp = ((x - x.mean()) @ (curve - curve.mean(axis=0))) / ((x - x.mean()) ** 2).sum()  # claim 8's fit
    slope = E.bootstrap_ci(slope_pp)
    frame = _curve_frame(pts, list(cov.index) + list(maj.index))
    return {"model": model, "curves": frame, "ks": ks, "first": float(curve[0].mean()), "last": float(curve[-1].mean()),
            "n": ks[-1], "slope": slope, "verdict": verdict(slope[1], slope[2], 0), "n_prompts": int(ok.sum()),
            "link": {"models": [model], "strategies": ["pass@k", "maj@k"], "unit": "samples"}}


def _selection(model: str) -> dict:
    pts = points()
    m = pts.meta
    cov = _series_rows(m, model, "pass@k", temperature=MAIN_T)
    ks = _doublings(cov["k"])
    if len(ks) < 3:
        raise ValueError(f"{model}'s pool holds fewer than 4 samples per prompt")
    n, mid = ks[-1], ks[len(ks) // 2]
    sels = [("maj@k", "")] + [("best-of-k", v) for v in sorted(set(m.loc[(m["model"] == model)
                                                                           & (m["strategy"] == "best-of-k"), "verifier"]))
                              if deployable(v)]
    rows, out = list(cov.index), []
    c_hi, c_mid = pts.acc[_at(pts, cov, n)], pts.acc[_at(pts, cov, mid)]
    for strat, v in sels:
        try:
            s = _series_rows(m, model, strat, verifier=v or None, temperature=MAIN_T)
        except ValueError:
            continue
        if not {mid, n} <= set(s["k"]):
            continue
        rows += list(s.index)
        a_hi, a_mid = pts.acc[_at(pts, s, n)], pts.acc[_at(pts, s, mid)]
        ok = ~np.isnan(a_hi) & ~np.isnan(c_hi) & ~np.isnan(a_mid) & ~np.isnan(c_mid)
        late = lambda hi, lo: (hi[ok] - lo[ok]) / math.log2(n / mid)
        gap = E.paired_bootstrap_ci(late(c_hi, c_mid), late(a_hi, a_mid))  # claim 8 part (c)
        out.append({"strategy": strat, "verifier": v, "acc_n": float(a_hi[ok].mean()), "gap": gap,
                    "verdict": verdict(gap[1], gap[2], 0)})
    if not out:
        raise ValueError(f"{model} has no majority-vote or verifier points at k = {mid} and {n}")
    from backend.analysis.error_profile import summarise as profile_of_rows
    from backend.explore.profile import prompt_rows

    key = main_pool(model)  # the pool's per-prompt rows are kept with the derived data: no pool to load
    n_pool = int(all_runs().set_index("run_key").loc[key, "n"])
    prof = profile_of_rows(prompt_rows(key), n_pool, ks=(), n_boot=1000)
    return {"model": model, "curves": _curve_frame(pts, rows), "n": n, "n_pool": n_pool, "mid": mid,
            "coverage_n": float(np.nanmean(c_hi)), "selectors": out,
            "wrong_but_solved": (prof["majority_wrong_some_right"], prof["majority_wrong_some_right_lo"],
                                 prof["majority_wrong_some_right_hi"]),
            "link": {"models": [model], "strategies": ["pass@k", "maj@k", "best-of-k"], "unit": "samples"}}


@memo
def verifier_quality(model: str):
    """(curves, points): best-of-k curves of a model's main pool by every verifier it can be scored with: the ones
    stored with the pool (e.g. a learned verifier) and the exact step checker with its noisy wrappers at the claims'
    NOISE_RATES, computed from the stored texts (verifier_knob.rule_points, shared with the Budget curves page);
    majority vote and coverage beside them."""
    pts = rule_points(model, NOISE_RATES)
    return budget_curves(pts.rows(pts.meta["strategy"].isin(["best-of-k", "maj@k", "pass@k"]).to_numpy())), pts


def _verifier(model: str) -> dict:
    curves, pts = verifier_quality(model)
    m = pts.meta
    n = int(m["k"].max())
    top = lambda strat, v="": int(m.index[(m["strategy"] == strat) & (m["verifier"] == v) & (m["k"] == n)][0])
    learned = sorted(v for v in set(m.loc[m["strategy"] == "best-of-k", "verifier"]) if deployable(v))
    noisy = sorted({v for v in set(m["verifier"]) if noise_rate(v)}, key=noise_rate)
    exact = [v for v in set(m["verifier"]) if v and not deployable(v) and not noise_rate(v)]
    at_n = {v: float(np.nanmean(pts.acc[top("best-of-k", v)])) for v in learned + noisy + exact}
    compare = []
    for lv in learned:
        for v in noisy:
            a, b = pts.acc[top("best-of-k", lv)], pts.acc[top("best-of-k", v)]
            ok = ~np.isnan(a) & ~np.isnan(b)
            d = E.paired_bootstrap_ci(a[ok], b[ok])
            compare.append({"learned": lv, "checker": v, "rate": noise_rate(v), "diff": d,
                            "verdict": verdict(d[1], d[2], -MARGIN)})  # matches or beats: claim 1's region
    runs = all_runs()
    tree = runs[runs["strategy"].isin(["beam", "dvts"]) & runs["verifier"].notna()]
    noisy_search = bool(tree["verifier"].map(lambda v: bool(noise_rate(v))).any())
    return {"model": model, "curves": curves, "n": n, "at_n": at_n, "learned": learned, "noisy": noisy,
            "exact": exact, "majority_n": float(np.nanmean(pts.acc[top("maj@k")])),
            "coverage_n": float(np.nanmean(pts.acc[top("pass@k")])), "compare": compare,
            "noisy_search": noisy_search,
            "link": {"models": [model], "strategies": ["pass@k", "maj@k", "best-of-k"], "unit": "samples"}}


def _matched(small: str, large: str) -> dict:
    from backend.explore.curves import headline

    h = headline(small, large)
    if h["curves"].empty or "target_acc" not in h:
        raise ValueError(f"needs sampling pools of {small} and a greedy run of {large}")
    return {"headline": h, "claim": claim_result(1), "link": {"small": small, "large": large}}


def _winner(bins: str) -> dict:
    from backend.explore.common import bin_labels
    from backend.explore.small_large import winner_map

    finals = final_models("cot")
    if len(finals) < 2:
        raise ValueError("needs two final CoT models")
    wm = winner_map(tuple(finals), (), bins, finals[0])
    order = bin_labels(bins, finals[0])
    per_bin = []
    for b in order:
        g = wm[(wm["bin"] == b) & wm["model"].notna()].sort_values("budget")
        if g.empty:
            continue
        last = g["model"].iloc[-1]
        tail = g.iloc[int(np.flatnonzero((g["model"] != last).to_numpy()).max()) + 1
                      if (g["model"] != last).any() else 0:]
        clear = [verdict(lo, hi, 0) == SUPPORTED for lo, hi in zip(tail["margin_lo"], tail["margin_hi"])
                 if not (fmt.missing(lo) or fmt.missing(hi))]
        per_bin.append({"bin": str(b), "first": g["model"].iloc[0], "first_budget": float(g["budget"].iloc[0]),
                        "last": last, "from_budget": float(tail["budget"].iloc[0]), "cells": len(tail),
                        "clear": int(sum(clear)), "n_cells": len(g)})
    return {"map": wm, "models": finals, "bins": bins, "order": order, "per_bin": per_bin,
            "ref": finals[0], "claim": claim_result(1), "link": {"bins": bins, "ref": finals[0]}}


def _reasoning(direct: str) -> dict:
    cot = partner(direct)
    if cot is None:
        raise ValueError(f"no CoT model within 2x of {direct}'s size")
    pts = points()
    m = pts.meta
    maj = _series_rows(m, direct, "maj@k", temperature=MAIN_T)
    cov = _series_rows(m, direct, "pass@k", temperature=MAIN_T)
    g = _series_rows(m, cot, "greedy")
    a, c, t = pts.acc[int(maj.index[-1])], pts.acc[int(cov.index[-1])], pts.acc[int(g.index[0])]
    ok = ~np.isnan(a) & ~np.isnan(t) & ~np.isnan(c)
    d = E.paired_bootstrap_ci(a[ok], t[ok])
    rows = list(maj.index) + list(cov.index) + list(g.index)
    for model in (cot,):
        try:
            rows += list(_series_rows(m, model, "maj@k", temperature=MAIN_T).index)
        except ValueError:
            pass
    return {"direct": direct, "cot": cot, "curves": _curve_frame(pts, rows), "n": int(maj["k"].iloc[-1]),
            "direct_acc": float(a[ok].mean()), "cot_acc": float(t[ok].mean()), "coverage": float(c[ok].mean()),
            "diff": d, "verdict": verdict(d[1], d[2], -INF, -MARGIN), "n_prompts": int(ok.sum()),
            "claim": claim_result(3), "link": {"models": [direct, cot]}}


def _thinking(model: str) -> dict:
    from backend.explore.spread import spread_curve

    from backend.explore.spread import K_OPTIONS

    modes = {a: spread_curve(model, a, max(K_OPTIONS)) for a in ("cap", "thinking")}
    modes = {a: c for a, c in modes.items() if not c.empty}
    if not modes:
        raise ValueError(f"{model} has no budget-forcing runs")
    c = claim_result(5)
    results = ((c or {}).get("details") or {}).get("modes", {}).get(model, {})
    try:
        g = _series_rows(points().meta, model, "greedy")
        greedy = float(np.nanmean(points().acc[int(g.index[0])]))
    except ValueError:
        greedy = float("nan")
    return {"model": model, "curves": modes, "k": max(K_OPTIONS), "greedy": greedy, "results": results, "claim": c,
            "link": {"model": model, "axis": "thinking" if "thinking" in modes else "cap"}}


def _allocate(model: str, direct: str) -> dict:
    from backend.explore.adaptive import routing

    r = routing(direct, model)
    return {"model": model, "direct": direct, "front": r["front"], "mix": r["mix"], "routing": claim_result(7),
            "allocation": claim_result(2), "link": {"model": model, "direct": direct}}


# ------------------------------------------------------------------------------------------------------ sentences
def sentences(d: dict, describe=lambda s, v="": s, name=str) -> list[str]:
    """The step's sentences from its data: ``describe(strategy, verifier)`` names a strategy and ``name(verifier)`` a
    verifier for display (the pages' labels)."""
    if d.get("missing"):
        return [d["missing"]]
    say_ = {"coverage": _say_coverage, "selection": _say_selection, "verifier": _say_verifier,
            "matched": _say_matched, "winner": _say_winner, "reasoning": _say_reasoning,
            "thinking": _say_thinking, "allocate": _say_allocate}[d["step"]]
    return say_(d, describe, name) if d["step"] == "verifier" else say_(d, describe)


def _claim_line(c: dict | None, what: str) -> list[str]:
    """The claims report's verdict on this step's claim, quoted with its own comparison."""
    if not c or c.get("effect") is None:
        return [f"The claims report has no verdict on {what} for this cache yet."] if c is None else \
            [f"Claim {c['claim']} ({what}): {c['verdict']} — {c['why']}"]
    stale = " (computed before the latest runs were added)" if c.get("stale") else ""
    return [f"Claim {c['claim']} on the Claims page tests {what} with a fair rule (any best setting chosen on half "
            f"the prompts and scored on the other half): **{c['verdict']}**, "
            f"{fmt.ci_points(c['effect'], c['lo'], c['hi'])}{stale}."]


def _say_coverage(d, describe) -> list[str]:
    e, lo, hi = d["slope"]
    return [f"With one sample, **{d['model']}** is right on {fmt.pct(d['first'])} of the {d['n_prompts']} prompts; "
            f"among {d['n']} samples, at least one is right on **{fmt.pct(d['last'])}**.",
            f"Coverage changes by {fmt.ci_points(e, lo, hi)} per doubling of samples: "
            + say(d["verdict"], supported="by claim 8's rule (the CI lies above 0) it keeps growing.",
                  not_supported="by claim 8's rule (the CI lies at or below 0) it does not grow.",
                  inconclusive="the CI touches 0, so by claim 8's rule its growth is inconclusive."),
            "Coverage is an upper bound: it counts a prompt as solved when any sample is right, which takes an "
            "oracle to pick that sample."]


def _say_selection(d, describe) -> list[str]:
    sels = d["selectors"]
    out = [f"At {d['n']} samples some sample is right on **{fmt.pct(d['coverage_n'])}** of prompts, but "
           + ", ".join(f"{describe(s['strategy'], s['verifier'])} picks a right answer on "
                       f"**{fmt.pct(s['acc_n'])}**" for s in sels) + "."]
    for s in sels:
        e, lo, hi = s["gap"]
        out.append(f"From k = {d['mid']} to {d['n']}, coverage gains {fmt.ci_points(e, lo, hi)} per doubling more "
                   f"than {describe(s['strategy'], s['verifier'])}: "
                   + say(s["verdict"], supported="selection falls further behind with every doubling (claim 8's "
                                                 "rule: the CI lies above 0).",
                         not_supported="selection keeps pace with coverage (claim 8's rule: the CI lies at or "
                                       "below 0).",
                         inconclusive="the CI touches 0, so by claim 8's rule it is inconclusive whether selection "
                                      "falls behind."))
    w, wlo, whi = d["wrong_but_solved"]
    out.append(f"On {fmt.pct(w)} of prompts (95% CI {fmt.pct(wlo)} to {fmt.pct(whi)}) the majority answer of all "
               f"{d['n_pool']} samples is wrong although some sample is right: the right answer is in the pool, and "
               "the selector has to find it.")
    return out


def _margin() -> str:
    return f"{-MARGIN * 100:+.0f} points"


def _say_verifier(d, describe, name) -> list[str]:
    n, at, margin = d["n"], d["at_n"], _margin()
    parts = [f"{name(v)} (reads the gold answer: an upper bound) {fmt.pct(at[v])}" for v in d["exact"]]
    parts += [f"a step checker that errs on {noise_rate(v):.0%} of steps {fmt.pct(at[v])}" for v in d["noisy"]]
    parts += [f"the {name(v)} {fmt.pct(at[v])}" for v in d["learned"]]
    out = [f"Best-of-{n} on **{d['model']}**'s pool: " + "; ".join(parts)
           + f"; majority vote {fmt.pct(d['majority_n'])}; coverage (an oracle) {fmt.pct(d['coverage_n'])}."]
    for lv in d["learned"]:
        rows = [c for c in d["compare"] if c["learned"] == lv]
        match = [c for c in rows if c["verdict"] == SUPPORTED]  # the claims' ladder, region above −MARGIN
        worse = [c for c in rows if c["verdict"] == NOT_SUPPORTED]
        if match:
            c = min(match, key=lambda c: c["rate"])
            out.append(f"The {name(lv)} selects at least as well as a step checker that errs on {c['rate']:.0%} of "
                       f"steps: {fmt.ci_points(*c['diff'])} against it, above {margin} (the claims' rule for a match).")
        elif rows and len(worse) == len(rows):
            c = max(worse, key=lambda c: c["rate"])
            out.append(f"The {name(lv)} selects worse than even a step checker that errs on {c['rate']:.0%} of "
                       f"steps: {fmt.ci_points(*c['diff'])}, wholly below {margin} by the claims' rule — selection "
                       "quality, not the number of samples, limits best-of-N here.")
        elif rows:
            c = max(rows, key=lambda c: c["rate"])
            out.append(f"Against a step checker that errs on {c['rate']:.0%} of steps the {name(lv)} differs by "
                       f"{fmt.ci_points(*c['diff'])}: the CI straddles {margin}, inconclusive by the claims' rule.")
    if not d["noisy_search"]:
        out.append("This cache holds no tree search driven by a noisy checker, so verifier quality is shown for "
                   "best-of-N only (its scores computed from the stored samples).")
    return out


def _say_matched(d, describe) -> list[str]:
    from backend.explore.curves import headline_sentences

    return headline_sentences(d["headline"], describe) + _claim_line(d["claim"], "whether inference compute trades "
                                                                                 "against parameters")


def _say_winner(d, describe) -> list[str]:
    out = []
    for b in d["per_bin"]:
        s = f"**{b['bin']}** prompts: {b['first']} wins the smallest budget ({fmt.flops(b['first_budget'])} FLOPs)"
        if b["last"] != b["first"] or b["cells"] < b["n_cells"]:
            s += (f"; from {fmt.flops(b['from_budget'])} FLOPs per prompt on, {b['last']} wins every budget, by a "
                  f"margin whose 95% CI lies above 0 in {b['clear']} of those {b['cells']}")
        else:
            s += f" and every larger one, by a margin whose 95% CI lies above 0 in {b['clear']} of {b['cells']}"
        out.append(s + ".")
    if d["bins"] != "band":
        out.append(f"These bins are quintiles of {d['ref']}'s own pool (1 = easiest): they are tailored to it.")
    return out + _claim_line(d["claim"], "whether the small model reaches the large one at equal FLOPs")


def _say_reasoning(d, describe) -> list[str]:
    e, lo, hi = d["diff"]
    return [f"**{d['direct']}**, trained to answer without writing its steps, reaches {fmt.pct(d['direct_acc'])} by "
            f"majority vote over {d['n']} samples; **{d['cot']}**, the same size but trained to write them, reaches "
            f"{fmt.pct(d['cot_acc'])} with one greedy answer: {fmt.ci_points(e, lo, hi)}.",
            say(d["verdict"], supported=f"By claim 3's rule (the CI lies wholly below {_margin()}) the gap persists: "
                                        "no sample count in this cache rescues the direct model.",
                not_supported=f"By claim 3's rule (the CI lies above {_margin()}) sampling closes the gap here.",
                inconclusive=f"The CI straddles {_margin()}, so by claim 3's rule it is inconclusive whether the gap "
                             "persists."),
            f"Even an oracle picking among its {d['n']} samples (coverage, an upper bound) reaches "
            f"{fmt.pct(d['coverage'])}."] + _claim_line(d["claim"], "the ceiling at the direct model's best setting")


MODE_HOW = {"cap": "capped (thinking stops at the budget; the model may stop earlier)",
            "thinking": "forced (when the model tries to stop, the answer marker is suppressed and ';wait ' appended "
                        "until exactly the budget, so steps can be cut mid-way)"}


def _nats(x: float) -> str:
    return "0.00" if abs(x) < 0.005 else f"{x:+.2f}"


def _say_thinking(d, describe) -> list[str]:
    out = []
    if not fmt.missing(d["greedy"]):
        out.append(f"Without a budget, one greedy answer of **{d['model']}** is right on {fmt.pct(d['greedy'])} of "
                   "prompts (the dotted line).")
    for mode in d["curves"]:
        r = d["results"].get(mode)
        if not r:
            out.append(f"The claims report has no {mode} results for {d['model']}.")
            continue
        acc = dict(zip(r["budgets"], r["accuracy"]))
        peak, first, last = r["peak"][0], r["budgets"][0], r["budgets"][-1]
        ent, cov, fall = r["parts"][:3]
        out.append(f"Thinking **{MODE_HOW[mode].split(' (')[0]}** at {first} to {last} tokens "
                   f"({MODE_HOW[mode].split(' (', 1)[1]}: single-sample accuracy goes from {fmt.pct(acc[first])} to "
                   f"its peak of {fmt.pct(acc[peak])} at {peak} tokens and ends at {fmt.pct(acc[last])}. From the "
                   f"peak to the longest budget, answer entropy changes by {_nats(ent['effect'])} nats (95% CI "
                   f"{_nats(ent['lo'])} to {_nats(ent['hi'])}), coverage by "
                   f"{fmt.ci_points(cov['effect'], cov['lo'], cov['hi'])} and accuracy by "
                   f"{fmt.ci_points(fall['effect'], fall['lo'], fall['hi'])}: "
                   + say(r["verdict"], supported="by claim 5's rule all three hold — the answers spread and, past "
                                                 "the peak, accuracy falls.",
                         not_supported="by claim 5's rule the pattern does not hold (not supported: that "
                                       + "; that ".join(p["name"].split(":")[-1].strip() for p in r["parts"]
                                                        if p["verdict"] == NOT_SUPPORTED) + ").",
                         inconclusive="by claim 5's rule the pattern is inconclusive."))
    c = d["claim"]
    if c and c.get("effect") is not None:
        out.append(f"Claim 5's verdict rests on capped thinking, since forcing cuts steps mid-way: **{c['verdict']}**"
                   + (" (computed before the latest runs were added)." if c.get("stale") else "."))
    return out


def _say_allocate(d, describe) -> list[str]:
    out = []
    r = d["routing"]
    if r and r.get("effect") is not None:
        front = (r.get("details") or {}).get("front", [])
        above = sum(1 for f in front if f["lo"] > 0)
        below = sum(1 for f in front if f["hi"] < 0)
        out += _claim_line(r, "routing against the FLOPs-matched mix")
        if front:
            out.append(f"Over its whole front the router's 95% CI lies above the mix at {above} of {len(front)} "
                       f"thresholds and below it at {below}.")
    else:
        out += _claim_line(r, "routing")
    out += _claim_line(d["allocation"], "spending a fixed budget by difficulty band against spending it evenly")
    return out
