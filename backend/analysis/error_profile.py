"""How a model's errors behave under sampling — the numbers that decide whether voting can help it, measured the same
way on zoo pools and on imported real pools, so the two can be set side by side.

Per pool (n samples for each of P prompts), every number a mean over prompts with a 95% bootstrap CI over prompts:
- pass@1, and maj@k − pass@1 at each k ≤ n: exact majority over uniformly random k-subsets (ties split);
- pass@n (coverage): some sample is right;
- majority wrong but some sample right: the whole pool's majority answer is wrong (a tie counts as wrong unless the
  gold answer is the only top answer) while at least one sample is right — where a better selector could gain;
- error agreement: over prompts with at least two wrong samples, the share of wrong samples that give the most
  common wrong answer (unparseable samples are wrong but agree with nothing). 1 = every error is the same error
  (systematic: voting cannot fix it); near 1/(wrong samples) = errors independent.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis.data import Pool
from backend.analysis.votes import NONE, answer_counts

KS = (8, 24, 64)  # the k at which voting gains are reported (a pool smaller than k has no value there)


def _agreement(answers: Sequence[str | None], gold: str) -> float:
    wrong = [a for a in answers if a != gold]
    if len(wrong) < 2:
        return np.nan
    counts = [c for a, c in answer_counts(wrong).items() if a != NONE]  # unparseable answers agree with nothing
    return (max(counts) if counts else 0) / len(wrong)


def _majority_wrong_some_right(answers: Sequence[str | None], gold: str) -> float:
    counts = {a: c for a, c in answer_counts(answers).items() if a != NONE}
    if counts.get(gold, 0) == 0:
        return 0.0  # nothing right: no selector could gain
    top = max(counts.values())
    return 0.0 if [a for a, c in counts.items() if c == top] == [gold] else 1.0  # a tie with gold is not a win


def per_prompt(answers: list[list[str | None]], gold: list[str], ks: Sequence[int] = KS) -> pd.DataFrame:
    """One row per prompt: pass1, maj@k for k in ks (≤ n), coverage, majority_wrong_some_right, error_agreement."""
    rows = []
    for ans, g in zip(answers, gold):
        n = len(ans)
        c = sum(a == g for a in ans)
        row = {"pass1": c / n, "coverage": float(c > 0), "majority_wrong_some_right": _majority_wrong_some_right(ans, g),
               "error_agreement": _agreement(ans, g)}
        for k in ks:
            row[f"maj@{k}"] = E.majority_at_k(ans, g, k) if k <= n else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def profile(answers: list[list[str | None]], gold: list[str], *, ks: Sequence[int] = KS, n_boot: int = 2000,
            seed: int = 0) -> dict:
    """The error profile of one pool: each metric's mean and 95% CI (bootstrap over prompts; maj@k − pass@1 paired
    per prompt), the pool size n and the number of prompts."""
    if not answers or len(answers) != len(gold):
        raise ValueError("answers and gold must list the same, non-zero number of prompts.")
    return summarise(per_prompt(answers, gold, ks), min(len(a) for a in answers), ks=ks, n_boot=n_boot, seed=seed)


def features(df: pd.DataFrame, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """The per-prompt values whose means make the profile (NaN: not defined on that prompt): pass1, maj{k}_gain,
    coverage, majority_wrong_some_right, error_agreement."""
    out = {"pass1": df["pass1"].to_numpy(dtype=float)}
    for k in ks:
        out[f"maj{k}_gain"] = (df[f"maj@{k}"] - df["pass1"]).to_numpy(dtype=float)
    for col in ("coverage", "majority_wrong_some_right", "error_agreement"):
        out[col] = df[col].to_numpy(dtype=float)
    return out


def summarise(df: pd.DataFrame, n: int, *, ks: Sequence[int] = KS, n_boot: int = 2000, seed: int = 0) -> dict:
    """profile() from per_prompt()'s rows (so a caller that keeps the rows, e.g. to bootstrap a distance between
    pools, computes the costly majority estimates once)."""
    out = {"n": int(n), "prompts": len(df)}
    for name, values in features(df, ks).items():
        v = values[~np.isnan(values)]
        if len(v) == 0:
            out[name], out[f"{name}_lo"], out[f"{name}_hi"] = np.nan, np.nan, np.nan
            continue
        out[name], out[f"{name}_lo"], out[f"{name}_hi"] = E.bootstrap_ci(v, n_boot=n_boot, seed=seed)
    return out


def pool_profile(pool: Pool, **kw) -> dict:
    """profile() of a stored pool (prompts whose pool is complete)."""
    return profile(pool.answers, pool.gold, **kw)


def profile_table(store, *, min_n: int = 8, n_boot: int = 2000) -> pd.DataFrame:
    """The error profile of every pool with at least ``min_n`` samples per prompt at the main temperature (zoo) or
    at any temperature (imported pools, whose temperature is not recorded), one row each, plus a row per imported
    best-of-N run against the same model's single samples (pass@1 and the verifier's gain only: the published
    file holds the pick, not the pool)."""
    from backend.analysis import data, selection

    runs = data.load_runs(store, "sample")  # with each run's source (zoo, import, live)
    keep = (runs["n"] >= min_n) & ((runs["source"] == "import") |
                                  np.isclose(runs["temperature"], selection.MAIN_TEMPERATURE))
    rows = []
    for r in runs[keep].itertuples(index=False):
        pool = data.load_pool(store, r.run_key)
        if len(pool.prompt_keys):
            rows.append({"model": r.model, "source": r.source, **pool_profile(pool, n_boot=n_boot)})
    singles = runs[(runs["source"] == "import") & (runs["n"] == 1)]
    best = data.load_runs(store, "best_of_n")
    for r in best.itertuples(index=False):
        one = singles[singles["model"] == r.model]
        if one.empty:
            continue
        picks = data.load_results(store, r.run_key)[["prompt_key", "correct"]]
        sample = data.load_pool(store, one["run_key"].iloc[0])
        merged = picks.merge(pd.DataFrame({"prompt_key": sample.prompt_keys, "pass1": sample.correct[:, 0]}),
                             on="prompt_key")
        p1 = E.bootstrap_ci(merged["pass1"].to_numpy(dtype=float), n_boot=n_boot)
        gain = E.paired_bootstrap_ci(merged["correct"].to_numpy(dtype=float), merged["pass1"].to_numpy(dtype=float),
                                     n_boot=n_boot)
        rows.append({"model": r.model, "source": "import", "n": int(r.n), "prompts": len(merged),
                     "pass1": p1[0], "pass1_lo": p1[1], "pass1_hi": p1[2], "verifier_gain": gain[0],
                     "verifier_gain_lo": gain[1], "verifier_gain_hi": gain[2]})
    return pd.DataFrame(rows)
