"""Selections shared by the analysis pages: which models and strategies the cache has, and difficulty bins."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data, difficulty
from backend.explore import store
from backend.explore.derived import points

BIN_KINDS = {
    "all": "all prompts",
    "band": "by construction: easy 1–2, medium 3–4, hard 5–6 operators",
    "oracle": "oracle: quintiles of the reference model's own pass@1 (1 = easiest)",
    "predicted": "predicted: quintiles of the learned verifier's mean score on 4 samples (1 = easiest)",
}
STRATEGY_LABELS = {"pass@k": "pass@k (coverage, oracle)", "maj@k": "majority vote", "best-of-k": "best-of-N",
                   "weighted-maj@k": "weighted best-of-N", "greedy": "greedy", "beam": "beam search",
                   "dvts": "DVTS", "budget_forcing": "budget forcing", "adaptive": "adaptive allocation",
                   "route": "think / no-think routing"}
PROBE = 4  # samples behind a predicted difficulty


def zoo_models() -> pd.DataFrame:
    """Zoo models (CoT or direct) with results in the cache, smallest first, with their card data."""
    have = set(points().meta["model"])  # from the derived data: no need to wait for the store to load
    table = data.model_table()
    if not have <= set(table["name"]):  # some models are known only from the runs table
        table = data.model_table(store())
    table = table[table["name"].isin(have) & table["fmt"].isin(["cot", "direct"])]
    return table.sort_values(["params", "name"]).reset_index(drop=True)


def final_models(fmt: str | None = "cot") -> list[str]:
    """Fully trained zoo models (no checkpoints, no ablations), optionally of one format, smallest first."""
    t = zoo_models()
    t = t[t["checkpoint_of"].isna() & ~t["name"].str.endswith("-nowait")]
    if fmt:
        t = t[t["fmt"] == fmt]
    return t["name"].tolist()


def point_strategies() -> list[str]:
    return [s for s in STRATEGY_LABELS if s in set(points().meta["strategy"])]


def main_pool(model: str) -> str | None:
    """The run key of a model's largest sampling pool (ties: the main temperature)."""
    runs = data.load_runs(store(), "sample")
    mine = runs[runs["model"] == model]
    if mine.empty:
        return None
    mine = mine.assign(main=(mine["temperature"] - 0.8).abs()).sort_values(["n", "main"], ascending=[False, True])
    return mine["run_key"].iloc[0]


def bins(kind: str, ref_model: str | None = None) -> pd.Series | None:
    """Difficulty bins of the cache's arith prompts (None for "all"); ValueError for an unknown kind."""
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
    pool = data.load_pool(store(), run)
    if kind == "oracle":
        return difficulty.oracle_bins(np.full(len(pool.prompt_keys), pool.n), pool.correct.sum(axis=1),
                                      pool.prompt_keys)
    if "learned" not in pool.scores:
        raise ValueError(f"{ref_model}'s pool has no learned-verifier scores to predict difficulty from")
    m = min(PROBE, pool.n)  # samples are exchangeable: any fixed m of them is a random m
    pred = difficulty.predicted_bins(pool.scores["learned"][:, :m], pool.flops[:, :m],
                                     pool.score_tokens["learned"][:, :m], prompt_keys=pool.prompt_keys,
                                     verifier_params=_learned_params())
    return pred.set_index("prompt_key")["bin"].astype(pd.CategoricalDtype(list(range(1, 6)), ordered=True))


def predicted_cost(ref_model: str) -> float:
    """Mean FLOPs per prompt that the predicted difficulty costs (generation of the probe + verifier)."""
    pool = data.load_pool(store(), main_pool(ref_model))
    m = min(PROBE, pool.n)
    pred = difficulty.predicted_bins(pool.scores["learned"][:, :m], pool.flops[:, :m],
                                     pool.score_tokens["learned"][:, :m], prompt_keys=pool.prompt_keys,
                                     verifier_params=_learned_params())
    return float(pred["flops"].mean())


def _learned_params() -> int:
    import json

    from backend.verifiers.learned import verifier_dir

    card = verifier_dir() / "card.json"
    return int(json.loads(card.read_text())["params"]) if card.exists() else 0


def bin_labels(kind: str, ref_model: str | None = None) -> list:
    b = bins(kind, ref_model)
    return [] if b is None else list(b.cat.categories)
