"""Data for Budget curves and the Home headline: accuracy vs budget (samples, generated tokens or FLOPs per prompt)
with 95% bootstrap CIs over prompts, per model × strategy, optionally within a difficulty bin; and the headline's
numbers and sentences, computed from the same points."""
from __future__ import annotations

import pandas as pd

from backend.analysis import selection
from backend.analysis.compute import BUDGET_UNITS
from backend.analysis.curves import budget_curves
from backend.analysis.exchange import exchange_rate
from backend.explore.common import bins, final_models
from backend.explore.derived import memo, points

UNITS = BUDGET_UNITS
HEADLINE_STRATEGIES = ("pass@k", "maj@k", "best-of-k", "beam")  # the Home chart's lines (one model)


def curves(models: list[str], strategies: list[str], bin_kind: str = "all", bin_label=None,
           ref_model: str | None = None, verifier: str | None = None, main_temperature: bool = False) -> pd.DataFrame:
    """Tidy budget points with CI: one row per point (typed columns: model, strategy, temperature, verifier, k,
    deployable, run parameters …). ``verifier`` keeps verifier-selected pool strategies (best-of-N, weighted) of that
    verifier only, so lines do not double; ``main_temperature`` keeps pool strategies of main-temperature pools only."""
    if not models or not strategies:
        return pd.DataFrame()
    pts = points()
    meta = pts.meta
    keep = meta["model"].isin(models) & meta["strategy"].isin(strategies)
    if verifier:
        pool_sel = meta["strategy"].isin(["best-of-k", "weighted-maj@k"])
        keep &= ~pool_sel | (meta["verifier"] == verifier)
    if main_temperature:
        keep &= selection.at_main_temperature(meta)
    sel = pts.rows(keep.to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    b = bins(bin_kind, ref_model or models[0])
    return budget_curves(sel, b, bin_label if b is not None else None)


def selection_verifiers(models: list[str]) -> list[str]:
    """Verifiers that score these models' pools (best-of-N, weighted majority), deployable ones first."""
    from backend.verifiers import deployable

    m = points().meta
    v = set(m.loc[m["model"].isin(models) & m["strategy"].isin(["best-of-k", "weighted-maj@k"]), "verifier"]) - {""}
    return sorted(v, key=lambda x: (not deployable(x), x))


def _reach(c: pd.DataFrame, target: float, large_flops: float) -> dict | None:
    """The cheapest point of these curves at or above target accuracy (its FLOPs as a multiple of the large model's),
    and the best point overall."""
    if c.empty:
        return None
    best = c.sort_values(["acc", "flops"], ascending=[False, True]).iloc[0]
    hit = c[c["acc"] >= target - 1e-12].sort_values(["flops", "acc"], ascending=[True, False])
    out = {"best_acc": float(best["acc"]), "best_lo": float(best["lo"]), "best_hi": float(best["hi"]),
           "best_strategy": best["strategy"], "best_verifier": best["verifier"], "best_k": int(best["k"]),
           "best_ratio": float(best["flops"] / large_flops), "best_flops": float(best["flops"]),
           "reaches": not hit.empty}
    if not hit.empty:
        h = hit.iloc[0]
        out.update(reach_strategy=h["strategy"], reach_verifier=h["verifier"], reach_k=int(h["k"]),
                   reach_ratio=float(h["flops"] / large_flops), reach_flops=float(h["flops"]),
                   reach_acc=float(h["acc"]))
    return out


def headline_choices() -> list[str]:
    """The models the headline can compare: final CoT models, smallest first (the default pair is the first and the
    last)."""
    return final_models("cot")


@memo
def headline(small: str | None = None, large: str | None = None) -> dict:
    """Home's chart and sentences: one CoT model's deployable strategies (majority vote, best-of-N and beam search
    with the learned verifier) and its upper bounds (coverage, beam search with the exact step checker) against every
    CoT model's single greedy answer, in FLOPs per prompt. The default pair is fixed: the smallest vs the largest
    final CoT model. Returns curves, greedy points, the exchange rate (majority vote) and, for the sentences, what
    deployable strategies reach and what only a perfect verifier reaches, at what multiple of the large model's
    FLOPs."""
    finals = final_models("cot")
    empty = {"curves": pd.DataFrame(), "greedy": pd.DataFrame(), "exchange": None, "small": None, "large": None,
             "choices": finals, "deployable": None, "upper_bound": None, "n_prompts": 0}
    if len(finals) < 2:
        return empty
    small = small if small in finals else finals[0]
    large = large if large in finals and large != small else finals[-1] if finals[-1] != small else finals[0]
    c = curves([small], list(HEADLINE_STRATEGIES), main_temperature=True)
    if c.empty:
        return {**empty, "small": small, "large": large}
    c = c[(c["strategy"].isin(["pass@k", "maj@k"])) | c["verifier"].isin(["learned", "steps"])]
    greedy = curves(finals, ["greedy"])
    tgt = greedy[greedy["model"] == large]
    out = {**empty, "curves": c.reset_index(drop=True), "greedy": greedy, "small": small, "large": large,
           "n_prompts": int(c["n_prompts"].max())}
    if tgt.empty:
        return out
    t = tgt.iloc[0]
    out.update(target_acc=float(t["acc"]), target_lo=float(t["lo"]), target_hi=float(t["hi"]),
               target_flops=float(t["flops"]), deployable=_reach(c[c["deployable"]], float(t["acc"]), float(t["flops"])),
               upper_bound=_reach(c[~c["deployable"]], float(t["acc"]), float(t["flops"])))
    try:
        out["exchange"] = exchange_rate(points(), small, large, method="maj@k",
                                        temperature=selection.MAIN_TEMPERATURE, n_boot=500)
    except ValueError:
        pass
    return out


def headline_sentences(h: dict, describe) -> list[str]:
    """The Home page's result sentences, computed from headline(): what the small model's deployable strategies reach
    against the large model's greedy answer, and what only a perfect verifier reaches, with FLOPs ratios.
    ``describe(strategy, verifier)`` names a strategy for display (the page's labels)."""
    if not h.get("deployable") or "target_acc" not in h:
        return []
    s, l, d, u = h["small"], h["large"], h["deployable"], h["upper_bound"]
    tgt = f"one greedy answer of **{l}** ({h['target_acc']:.1%})"
    if d["reaches"]:
        first = (f"With deployable strategies, **{s}** matches {tgt} with {describe(d['reach_strategy'], d['reach_verifier'])}"
                 f" at k={d['reach_k']}, for **{d['reach_ratio']:.2g}×** its FLOPs per prompt.")
    else:
        first = (f"With deployable strategies, **{s}** never reaches {tgt}: its best is "
                 f"{d['best_acc']:.1%} (95% CI {d['best_lo']:.1%}–{d['best_hi']:.1%}) with "
                 f"{describe(d['best_strategy'], d['best_verifier'])} at k={d['best_k']}, for "
                 f"{d['best_ratio']:.2g}× the FLOPs.")
    if u is None:
        return [first]
    if u["reaches"]:
        second = (f"Only a perfect verifier gets there: {describe(u['reach_strategy'], u['reach_verifier'])} at "
                  f"k={u['reach_k']} reaches it for {u['reach_ratio']:.2g}× the FLOPs (an upper bound: it reads the "
                  "gold answer).") if not d["reaches"] else \
            (f"A perfect verifier gets there too: {describe(u['reach_strategy'], u['reach_verifier'])} at "
             f"k={u['reach_k']}, for {u['reach_ratio']:.2g}× the FLOPs (an upper bound).")
    else:
        second = (f"Even a perfect verifier does not: the upper bound peaks at {u['best_acc']:.1%} "
                  f"({describe(u['best_strategy'], u['best_verifier'])}, k={u['best_k']}).")
    return [first, second]
