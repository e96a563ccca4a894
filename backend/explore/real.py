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
def verifier_comparison() -> pd.DataFrame:
    """Imported models answering once against imported models choosing among N samples with a verifier (a model:
    deployable), e.g. GPT-3 6B / 175B with and without their verifier: accuracy with CI and FLOPs per problem
    (estimated from text length, see the runs' notes), on the problems every run shares. Discovered from the runs:
    a "best_of_n" run and the one-sample runs of imported models."""
    runs = imported_runs()
    verified = runs[runs["strategy"] == "best_of_n"]
    if verified.empty:
        return pd.DataFrame()
    single = runs[(runs["strategy"].isin(["sample", "greedy"])) & (runs["n"] == 1)
                  & runs["model"].isin(set(verified["model"]))]
    per = {}
    # one run per (model, kind, n): a repeated import answers the same problems again
    for r in pd.concat([single, verified]).drop_duplicates(["model", "strategy", "n"], keep="last").itertuples():
        if r.strategy == "best_of_n":
            res = data.load_results(store(), r.run_key).set_index("prompt_key")
            per[(r.model, f"verifier picks 1 of {r.n}", r.n)] = (res["correct"].astype(float),
                                                                 res["gen_flops"] + res["verifier_flops"],
                                                                 r.model_params)
        else:
            s = store().sql("SELECT prompt_key, correct, flops FROM samples WHERE run_key = ?", [r.run_key])
            s = s.drop_duplicates("prompt_key").set_index("prompt_key")
            per[(r.model, "one sample", 1)] = (s["correct"].astype(float), s["flops"], r.model_params)
    common = sorted(set.intersection(*(set(v[0].index) for v in per.values())))
    if not common:
        return pd.DataFrame()
    rows = []
    for (model, how, n), (correct, flops, params) in per.items():
        acc, lo, hi = E.bootstrap_ci(correct.loc[common].to_numpy())
        rows.append({"model": model, "params": params, "selection": how, "n": n, "acc": acc, "lo": lo, "hi": hi,
                     "flops_per_problem": float(flops.loc[common].mean()), "n_problems": len(common),
                     "correct": correct.loc[common].to_numpy()})
    return pd.DataFrame(rows).sort_values(["params", "n"]).reset_index(drop=True)


def small_with_verifier_vs_large(table: pd.DataFrame) -> dict | None:
    """The classic comparison, found in the table: the smallest model with a verifier against the largest model's
    single answer (paired on the same problems), with the claims' verdict on "matches or beats" (CI above −MARGIN)."""
    from backend.analysis.claims import MARGIN, verdict

    if table.empty:
        return None
    small = table[table["n"] > 1].sort_values("params").head(1)
    large = table[table["n"] == 1].sort_values("params").tail(1)
    if small.empty or large.empty or small["params"].iloc[0] >= large["params"].iloc[0]:
        return None
    s, b = small.iloc[0], large.iloc[0]
    d = E.paired_bootstrap_ci(s["correct"], b["correct"])
    return {"small": s.to_dict(), "large": b.to_dict(), "diff": d, "verdict": verdict(d[1], d[2], -MARGIN),
            "flops_ratio": s["flops_per_problem"] / b["flops_per_problem"], "margin": MARGIN}


def problem_view(table: pd.DataFrame) -> pd.DataFrame:
    """problem_table to read: words for columns, shares as percentages, ✓ / ✗, "(none)" for no parseable answer."""
    from backend.explore import fmt

    return pd.DataFrame({
        "problem": table["prompt_key"].str.replace("gsm8k:", "", regex=False), "gold": table["gold"].astype(str),
        "majority answer": [a if isinstance(a, str) else "(none)" for a in table["majority_answer"]],
        "its share": [fmt.pct(x, 0) for x in table["majority_share"]],
        "majority right": ["✓" if x else "✗" for x in table["majority_correct"]],
        "right samples": [f"{int(c)} of {int(n)}" for c, n in zip(table["correct_samples"], table["n"])],
        "distinct answers": table["distinct_answers"].astype(int).astype(str),
        "unparseable": table["missing"].astype(int).astype(str)})


def comparison_view(table: pd.DataFrame) -> pd.DataFrame:
    """verifier_comparison to read."""
    from backend.explore import fmt

    return pd.DataFrame({
        "model": table["model"], "parameters": [fmt.count(p) for p in table["params"]], "answer": table["selection"],
        "accuracy (95% CI)": [f"{fmt.pct(a)} ({fmt.pct(lo)} to {fmt.pct(hi)})"
                              for a, lo, hi in zip(table["acc"], table["lo"], table["hi"])],
        "FLOPs per problem": [fmt.flops(f) for f in table["flops_per_problem"]],
        "problems": table["n_problems"].astype(str)})
