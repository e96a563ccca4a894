"""Selections shared by the analysis pages: which models and strategies the cache has, and difficulty bins. The
definitions ("final models", "the main pool") are backend.analysis.selection's; this module applies them to the
app's one store."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backend.analysis import data, difficulty, selection
from backend.explore import store
from backend.explore.derived import kept_frame, memo, points

BIN_KINDS = {
    "all": "all prompts",
    "band": "by construction: easy 1–2, medium 3–4, hard 5–6 operators",
    "oracle": "oracle: quintiles of one model's own pass@1 (1 = easiest; they favour that model)",
    "predicted": "predicted: quintiles of the learned verifier's mean score on 4 samples (1 = easiest)",
}
REFERENCE_BINS = ("oracle", "predicted")  # bin kinds defined by one model's own pool
STRATEGIES = ("pass@k", "maj@k", "best-of-k", "weighted-maj@k", "greedy", "beam", "dvts", "budget_forcing",
              "adaptive", "route")  # the order strategies are offered in
PROBE = 4  # samples behind a predicted difficulty


def zoo_models() -> pd.DataFrame:
    """Zoo models (CoT or direct) with results in the cache, smallest first, with their card data (a copy: every
    page asks several times, so the table is read once per cache state)."""
    return _zoo_models().copy()


@memo
def _zoo_models() -> pd.DataFrame:
    have = set(points().meta["model"])  # from the derived data: no need to wait for the store to load
    table = data.model_table()
    if not have <= set(table["name"]):  # some models are known only from the runs table
        table = data.model_table(store())
    table = table[table["name"].isin(have) & table["fmt"].isin(["cot", "direct"])]
    return table.sort_values(["params", "name"]).reset_index(drop=True)


def final_models(fmt: str | None = "cot", paths: str | None = None) -> list[str]:
    """Final zoo models with results (selection.final_models: no checkpoints, ablations or extra seeds), optionally
    of one format, smallest first; ``paths`` picks the CoT trace-path variant (default: the main one)."""
    return selection.final_models(zoo_models(), fmt, paths=paths)


def fine_tuned_models(bases: list[str]) -> list[str]:
    """Fine-tuned members (DPO) of ``bases`` with results, smallest first: levers that may compete beside the
    trained zoo where a page offers it, never final models themselves."""
    m = zoo_models()
    return m[m["fine_tune_of"].isin(list(bases))].sort_values(["params", "name"])["name"].tolist()


def path_variants() -> list[str]:
    """The zoo's CoT trace-path variants with results, the default first ("single": its error profile is the
    closer to Llama-2-13B's, see README "Zoo v2")."""
    return selection.path_variants(zoo_models())


def all_final_models(fmt: str | None = "cot") -> list[str]:
    """Final models of every trace-path variant, the default variant's first."""
    return selection.all_final_models(zoo_models(), fmt)


def point_strategies() -> list[str]:
    have = set(points().meta["strategy"])
    return [s for s in STRATEGIES if s in have]


@memo
def all_runs() -> pd.DataFrame:
    """The runs table (data.load_runs), read once per cache state: every page asks for it. Do not modify it."""
    return data.load_runs(store())


@memo
def main_pool(model: str) -> str | None:
    """The run key of a model's main pool (selection.main_pool)."""
    r = all_runs()
    return selection.main_pool(r[r["strategy"] == "sample"], model)


@memo
def bins(kind: str, ref_model: str | None = None) -> pd.Series | None:
    """Difficulty bins of the cache's arith prompts (None for "all"); ValueError for an unknown kind. Oracle bins
    count each prompt's right samples in DuckDB rather than loading the pool."""
    if kind == "all":
        return None
    if kind == "band":
        prompts = data.load_prompts(store())
        prompts = prompts[(prompts["task"] == "arith") & prompts["n_ops"].between(1, 6)]
        return difficulty.construction_bins(prompts, "band")
    if kind not in BIN_KINDS:
        raise ValueError(f"unknown difficulty binning {kind!r}; choose one of {', '.join(BIN_KINDS)}")
    run = main_pool(ref_model or "")
    if run is None:
        raise ValueError(f"{ref_model} has no sampling pool to bin prompts by")
    if kind == "oracle":
        keys, n, right = data.pool_counts(store(), run)
        return difficulty.oracle_bins(np.full(len(keys), n), right, keys)
    def predict() -> pd.DataFrame:
        pool = data.load_pool(store(), run)
        if "learned" not in pool.scores:
            raise ValueError(f"{ref_model}'s pool has no learned-verifier scores to predict difficulty from")
        m = min(PROBE, pool.n)  # samples are exchangeable: any fixed m of them is a random m
        pred = difficulty.predicted_bins(pool.scores["learned"][:, :m], pool.flops[:, :m],
                                         pool.score_flops["learned"][:, :m], prompt_keys=pool.prompt_keys)
        return pred[["prompt_key", "bin"]].assign(bin=lambda d: d["bin"].astype(int))

    pred = kept_frame(f"predicted-bins-{ref_model}", [run], predict)  # reads a whole pool: kept with derived data
    return pred.set_index("prompt_key")["bin"].astype(pd.CategoricalDtype(list(range(1, 6)), ordered=True))


def keep_all() -> int:
    """Predicted difficulty bins of every final CoT model whose pool a learned verifier scored (derived.precompute)."""
    n = 0
    for model in all_final_models("cot"):
        try:
            bins("predicted", model)
            n += 1
        except ValueError:  # no pool, or no learned scores: the page says so when asked
            pass
    return n


@memo
def predicted_cost(ref_model: str) -> float:
    """Mean FLOPs per prompt that the predicted difficulty costs (generation of the probe + verifier, as stored)."""
    pool = data.load_pool(store(), main_pool(ref_model))
    m = min(PROBE, pool.n)
    return float((pool.flops[:, :m].sum(axis=1) + pool.score_flops["learned"][:, :m].sum(axis=1)).mean())


def bin_labels(kind: str, ref_model: str | None = None) -> list:
    b = bins(kind, ref_model)
    return [] if b is None else list(b.cat.categories)


def partner(direct: str) -> str | None:
    """The final CoT model closest in parameters to a direct-answer model, within 2x (the pairing of claim 3 and of
    routing): the same size, trained to write its steps."""
    t = zoo_models().set_index("name")["params"]
    cot = [c for c in final_models("cot") if c in t.index]
    if direct not in t.index or not cot:
        return None
    c = min(cot, key=lambda x: (abs(math.log(t[x] / t[direct])), x))
    return c if abs(math.log(t[c] / t[direct])) <= math.log(2) else None
