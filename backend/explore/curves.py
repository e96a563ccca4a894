"""Data for Budget curves and the Home headline: accuracy vs budget (samples, generated tokens or FLOPs per prompt)
with 95% bootstrap CIs over prompts, per model × strategy, optionally within a difficulty bin."""
from __future__ import annotations

import pandas as pd

from backend.analysis import frontier as F
from backend.explore.common import STRATEGY_LABELS, bins, final_models
from backend.explore.derived import memo, points

UNITS = {"samples": "samples", "tokens": "tokens", "flops": "flops"}


def curves(models: list[str], strategies: list[str], bin_kind: str = "all", bin_label=None,
           ref_model: str | None = None, verifier: str | None = "learned",
           main_temperature: bool = False) -> pd.DataFrame:
    """Tidy budget points with CI: one row per (model, strategy, setting, k); a ``series`` column names each line.

    Verifier-selected pool strategies (best-of-N, weighted) are kept for ``verifier`` only, so lines do not double;
    ``main_temperature`` keeps pool strategies of the main-temperature pool only."""
    if not models or not strategies:
        return pd.DataFrame()
    pts = points()
    meta = pts.meta
    keep = meta["model"].isin(models) & meta["strategy"].isin(strategies)
    if verifier:
        pool_sel = meta["strategy"].isin(["best-of-k", "weighted-maj@k"])
        keep &= ~pool_sel | (meta["verifier"] == verifier)
    if main_temperature:
        keep &= F.at_main_temperature(meta)
    sel = pts.rows(keep.to_numpy())
    if sel.meta.empty:
        return pd.DataFrame()
    b = bins(bin_kind, ref_model or models[0])
    out = F.budget_curves(sel, b, bin_label if b is not None else None)
    out["series"] = [series_name(r) for r in out.itertuples()]
    return out


def series_name(r) -> str:
    """A line's legend label: model · strategy · the settings that distinguish it."""
    setting = str(r.setting or "")
    for old, new in (("verifier=learned", "learned verifier"), ("verifier=steps", "exact step checker"),
                     ("verifier=oracle", "oracle"), ("width=4", ""), ("mode=force", "forced length"),
                     ("mode=cap", "capped")):
        setting = setting.replace(old, new)
    setting = ", ".join(x.strip() for x in setting.split(",") if x.strip())
    label = STRATEGY_LABELS.get(r.strategy, r.strategy)
    return f"{r.model} · {label}" + (f" ({setting})" if setting else "")


@memo
def headline(small: str | None = None) -> dict:
    """Home's chart: one CoT model spending more samples (majority vote, best-of-N with the learned verifier) and
    searching (beam search, learned verifier and exact step checker) against every CoT model's single greedy
    answer, in FLOPs per prompt — with the exchange rate to the next size up. The default small model is the one
    whose exchange rate is finite at the fewest samples (else the second largest)."""
    finals = final_models("cot")
    empty = {"curves": pd.DataFrame(), "greedy": pd.DataFrame(), "exchange": None, "small": None, "large": None,
             "choices": finals[:-1]}
    if len(finals) < 2:
        return empty
    pts = points()
    rates = {}
    for a, b in zip(finals, finals[1:]):
        try:
            rates[a] = F.exchange_rate(pts, a, b, method="maj@k", n_boot=500)
        except ValueError:
            rates[a] = None
    if small not in rates:
        reached = [a for a, r in rates.items() if r and not r["never"]]
        small = min(reached, key=lambda a: rates[a]["k"]) if reached else finals[-2]
    large = finals[finals.index(small) + 1]
    c = curves([small], ["maj@k", "best-of-k", "beam"])
    c = c[F.at_main_temperature(c)]
    return {"curves": c, "greedy": curves(finals, ["greedy"]), "exchange": rates[small], "small": small,
            "large": large, "choices": finals[:-1], "n_prompts": int(c["n_prompts"].max()) if len(c) else 0}
