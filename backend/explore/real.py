"""Data for Real models: imported published generations (Llama-2 pools, GPT-3 with and without a verifier) through
the same estimators — pass@k and majority-vote curves with CIs, problems where the majority is wrong but some
sample is right, and GPT-3 6B + verifier against 175B at their FLOPs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backend.analysis import data
from backend.analysis import estimators as E
from backend.analysis.curves import budget_curves
from backend.analysis.votes import NONE, majority
from backend.analysis.votes import answer_counts as histogram
from backend.explore import store
from backend.explore.derived import memo, points

IMPORT_HELP = ("python -m backend import llama2-13b_gsm8k_pot1_400x24.json --test gsm8k_test.jsonl --model llama2-13b "
               "--params 13e9")


def imported_runs() -> pd.DataFrame:
    """Runs imported from published files (source = import)."""
    runs = store().sql("SELECT run_key, model, model_params, strategy, strategy_params, sampling, verifier, notes "
                       "FROM runs WHERE source = 'import' ORDER BY model_params, model, strategy")
    runs["n"] = [int(json.loads(s or "{}").get("n", 1)) for s in runs["sampling"]]
    return runs


@memo
def pool_curves(models: tuple[str, ...]) -> pd.DataFrame:
    """pass@k and maj@k with 95% CIs for imported pools (n > 1)."""
    pts = points()
    m = pts.meta
    sel = pts.rows((m["model"].isin(models) & m["strategy"].isin(["pass@k", "maj@k"])).to_numpy())
    return budget_curves(sel) if len(sel.meta) else pd.DataFrame()


@memo
def problem_table(run_key: str) -> pd.DataFrame:
    """Per problem of a pool: the majority answer and its share, whether it is right, how many samples are right."""
    pool = data.load_pool(store(), run_key)
    rows = []
    for key, answers, gold, correct in zip(pool.prompt_keys, pool.answers, pool.gold, pool.correct):
        counts = histogram(answers)
        missing = counts.pop(NONE, 0)
        top = majority(answers)
        rows.append({"prompt_key": key, "gold": gold, "majority_answer": top,
                     "majority_share": counts.get(top, 0) / pool.n, "majority_correct": top == gold,
                     "correct_samples": int(correct.sum()), "n": pool.n, "distinct_answers": len(counts),
                     "missing": missing})
    df = pd.DataFrame(rows)
    df["majority_wrong_but_solved"] = ~df["majority_correct"] & (df["correct_samples"] > 0)
    return df


def answer_counts(run_key: str, prompt_key: str) -> pd.DataFrame:
    pool = data.load_pool(store(), run_key)
    i = int(np.flatnonzero(pool.prompt_keys == prompt_key)[0])
    counts = histogram(pool.answers[i])
    df = pd.DataFrame({"answer": list(counts), "count": list(counts.values())}).sort_values("count", ascending=False)
    df["is_gold"] = df["answer"] == pool.gold[i]
    return df


@memo
def gpt3_comparison() -> pd.DataFrame:
    """GPT-3 6B / 175B, one sample vs verifier best-of-100: accuracy with CI and FLOPs per problem (estimated from
    text length, see the runs' notes), on the problems all four share."""
    runs = imported_runs()
    runs = runs[runs["model"].str.startswith("gpt3")]
    if runs.empty:
        return pd.DataFrame()
    per = {}
    for r in runs.itertuples():
        if r.strategy == "best_of_n":
            res = data.load_results(store(), r.run_key).set_index("prompt_key")
            per[(r.model, "verifier best-of-100")] = (res["correct"].astype(float),
                                                      res["gen_flops"] + res["verifier_flops"], r.model_params)
        else:
            s = store().sql("SELECT prompt_key, correct, flops FROM samples WHERE run_key = ?", [r.run_key])
            s = s.set_index("prompt_key")
            per[(r.model, "one sample")] = (s["correct"].astype(float), s["flops"], r.model_params)
    common = sorted(set.intersection(*(set(v[0].index) for v in per.values())))
    rows = []
    for (model, how), (correct, flops, params) in per.items():
        acc, lo, hi = E.bootstrap_ci(correct.loc[common].to_numpy())
        rows.append({"model": model, "params": params, "selection": how, "acc": acc, "lo": lo, "hi": hi,
                     "flops_per_problem": float(flops.loc[common].mean()), "n_problems": len(common)})
    return pd.DataFrame(rows).sort_values(["params", "selection"]).reset_index(drop=True)
