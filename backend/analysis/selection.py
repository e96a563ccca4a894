"""Which models, runs and points a comparison means — defined once, used by the claims and every page.

"Final models" are fully trained members of the main recipe (no training checkpoint, no ablation of the data recipe,
the main seed), read from the model cards' fields (checkpoint_of, recipe.p_fix / p_recheck / paths, seed), never from
name patterns. "The main pool" of a model is its biggest sampling pool (ties: the main temperature). "A series" is
one line of budget points (one model, strategy, temperature, verifier and run parameters over k); "the biggest
series" the one reaching the largest k. "The spread runs" are the runs along the Spread page's axes: pools per
temperature, budget-forcing runs per thinking budget in each mode.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from backend.analysis.points import PARAM_COLUMNS, POOL_STRATEGIES

__all__ = ["MAIN_TEMPERATURE", "MAIN_RECIPE", "SPREAD_AXES", "at_main_temperature", "series", "final_models",
           "family_members", "path_variants", "seed_replicates", "ablation_pairs", "main_pool", "spread_runs"]

MAIN_TEMPERATURE = 0.8  # the pools' main sampling temperature (the other temperatures are the Spread page's axis)
SPREAD_AXES = {"temperature": ("sample", None), "thinking": ("budget_forcing", "force"),
               "cap": ("budget_forcing", "cap")}  # axis → (strategy, budget-forcing mode)


def _main_recipe() -> dict:
    from backend.zoo.configs import MemberSpec

    d = {f.name: f.default for f in dataclasses.fields(MemberSpec)}
    return {"seed": d["seed"], "p_fix": d["p_fix"], "p_recheck": d["p_recheck"], "paths": d["paths"]}


MAIN_RECIPE = _main_recipe()  # the zoo's default data recipe and seed: members that differ are variants or ablations


def at_main_temperature(meta: pd.DataFrame) -> pd.Series:
    """Mask of budget points to draw by default: pool strategies only from main-temperature pools; every strategy
    run as it is."""
    return ~meta["strategy"].isin(POOL_STRATEGIES) | np.isclose(meta["temperature"].astype(float), MAIN_TEMPERATURE)


_SERIES = ["temperature", "verifier", *PARAM_COLUMNS]


def series(meta: pd.DataFrame, model: str, strategy: str, *, verifier: str | None = None,
           temperature: float | None = None) -> pd.DataFrame:
    """The points of one line (one model and strategy at one temperature, verifier and run parameters), sorted by
    k; its index is the points' row numbers. An unspecified verifier or temperature picks, among the matching lines,
    the biggest (largest k; ties: the main temperature, then a fixed order). ValueError naming what exists."""
    m = meta[(meta["model"] == model) & (meta["strategy"] == strategy)]
    if m.empty:
        have = sorted(set(meta.loc[meta["model"] == model, "strategy"]))
        raise ValueError(f"no {strategy!r} points of model {model!r}; it has: {have or 'nothing'}.")
    if verifier is not None:
        m = m[m["verifier"] == verifier]
    if temperature is not None:
        m = m[np.isclose(m["temperature"].astype(float), float(temperature))]
    if m.empty:
        raise ValueError(f"model {model!r} has no {strategy!r} points with verifier={verifier!r}, "
                         f"temperature={temperature!r}.")
    groups = m.groupby(_SERIES, dropna=False, sort=True)
    best = max(groups, key=lambda g: (g[1]["k"].max(), -abs(float(g[0][0]) - MAIN_TEMPERATURE)))
    return best[1].sort_values("k")


def _recipe_value(models: pd.DataFrame, col: str) -> pd.Series:
    return models[col] if col in models.columns else pd.Series(np.nan, index=models.index, dtype=object)


def _is_main_recipe(models: pd.DataFrame) -> pd.Series:
    """Rows trained with the main recipe; a model without a card (registered / imported) counts as main."""
    ok = pd.Series(True, index=models.index)
    for col, main in MAIN_RECIPE.items():
        v = _recipe_value(models, col)
        ok &= v.isna() | (v == main)
    return ok


def _not_fine_tuned(models: pd.DataFrame) -> pd.Series:
    """A fine-tuned member (DPO, router) shares its base's recipe but is a lever, not another training run."""
    return _recipe_value(models, "fine_tune_of").isna()


def final_models(models: pd.DataFrame, fmt: str | None = None, *, have=None, paths: str | None = None) -> list[str]:
    """Fully trained models of the main recipe (no checkpoints, ablations, extra seeds or fine-tunes), smallest first; fmt
    ("cot", "direct") and have (names with runs) narrow them; paths picks a CoT trace-path variant ("multi") instead
    of the main one (direct-answer models write no path and belong to every variant)."""
    m = models[models["checkpoint_of"].isna() & _not_fine_tuned(models)]
    for col, main in MAIN_RECIPE.items():
        v = _recipe_value(m, col)
        keep = v.isna() | (v == (paths or main if col == "paths" else main))
        m = m[keep | (m["fmt"] == "direct")] if col == "paths" else m[keep]
    if fmt:
        m = m[m["fmt"] == fmt]
    if have is not None:
        m = m[m["name"].isin(set(have))]
    return m.sort_values(["params", "name"])["name"].tolist()


def path_variants(models: pd.DataFrame) -> list[str]:
    """The CoT trace-path variants the zoo holds final models of, the main one first."""
    found = set(_recipe_value(models[(models["fmt"] == "cot") & models["checkpoint_of"].isna()], "paths").dropna())
    return [MAIN_RECIPE["paths"]] + sorted(found - {MAIN_RECIPE["paths"]})


def all_final_models(models: pd.DataFrame, fmt: str | None = None) -> list[str]:
    """Final models of every trace-path variant, the main variant's first (direct models once)."""
    return list(dict.fromkeys(m for p in path_variants(models) for m in final_models(models, fmt, paths=p)))


def family_members(models: pd.DataFrame, family: str) -> pd.DataFrame:
    """A final model and its training checkpoints (the training-compute axis), least trained first."""
    m = models[((models["name"] == family) | (models["checkpoint_of"] == family)) & models["training_tokens"].notna()]
    return m.sort_values("training_tokens").reset_index(drop=True)


def seed_replicates(models: pd.DataFrame, name: str) -> list[str]:
    """The model and every fully trained member of its shape and data recipe trained with another seed, by seed."""
    row = models.set_index("name").loc[name]
    m = models[models["checkpoint_of"].isna() & _not_fine_tuned(models) & (models["params"] == row["params"])
               & (models["fmt"] == row["fmt"])]
    for col in ("p_fix", "p_recheck", "paths"):
        v = _recipe_value(m, col)
        m = m[v.isna() if pd.isna(row.get(col)) else (v == row.get(col))]
    return m.sort_values(["seed", "name"])["name"].tolist()


def ablation_pairs(models: pd.DataFrame) -> list[tuple[str, str]]:
    """(main, ablation) pairs: a final model and a member of the same shape, seed and paths trained without the
    "wait" traces (recipe p_fix = p_recheck = 0)."""
    finals = set(final_models(models))
    out = []
    for a in models[models["name"].isin(finals)].itertuples():
        twin = models[models["checkpoint_of"].isna() & (models["params"] == a.params) & (models["fmt"] == a.fmt)
                      & (_recipe_value(models, "seed") == a.seed) & (_recipe_value(models, "paths") == a.paths)
                      & (_recipe_value(models, "p_fix") == 0) & (_recipe_value(models, "p_recheck") == 0)]
        out += [(a.name, b) for b in twin["name"] if b != a.name]
    return out


def main_pool(runs: pd.DataFrame, model: str) -> str | None:
    """The run key of a model's main pool: its biggest sampling pool (ties: nearest the main temperature, then the
    run key), a built or imported one before any live Playground run (a user's 512 samples of one prompt must not
    become the pool every page reads). runs: backend.analysis.data.load_runs."""
    mine = runs[(runs["model"] == model) & (runs["strategy"] == "sample")]
    if mine.empty:
        return None
    live = mine["source"].eq("live") if "source" in mine.columns else False
    mine = mine.assign(off=(mine["temperature"] - MAIN_TEMPERATURE).abs(), live=live)
    return mine.sort_values(["live", "n", "off", "run_key"], ascending=[True, False, True, True])["run_key"].iloc[0]


def spread_runs(runs: pd.DataFrame, model: str, axis: str) -> list[tuple[float, str]]:
    """(condition, run key) along one spread axis, condition ascending: per temperature the biggest pool ("temperature"),
    or per thinking budget the budget-forcing run in that mode ("thinking": forced length, "cap": a cap)."""
    if axis not in SPREAD_AXES:
        raise ValueError(f"unknown spread axis {axis!r}; choose one of {', '.join(SPREAD_AXES)}.")
    strategy, mode = SPREAD_AXES[axis]
    r = runs[(runs["model"] == model) & (runs["strategy"] == strategy)]
    if mode is not None:
        r = r[np.array([p.get("mode", "force") == mode for p in r["params"]], dtype=bool)]
        cond = [float(b) for b in r["budget"]]
    else:
        cond = r["temperature"].astype(float).tolist()
    r = r.assign(cond=cond).sort_values(["cond", "n", "run_key"], ascending=[True, False, True])
    r = r.drop_duplicates("cond")
    return list(zip(r["cond"].astype(float), r["run_key"]))
