"""How spread out a model's answers are as temperature or thinking budget grows (DESIGN claim 5).

Per prompt, from a pool of n samples: the mass on the correct answer (pass@1), the expected number of distinct
answers among k samples drawn without replacement — exact: Σ_answers 1 − C(n−m_a, k)/C(n, k), i.e. the pass@k of
each answer group — coverage (pass@k) and majority vote (maj@k, exact). Comparable across pools of different n
because every number is an unbiased estimate at the same k. Unparseable outputs count as one "(none)" answer.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis.data import Pool
from backend.analysis.votes import answer_counts

METRICS = {"mass_on_correct": "mass on the correct answer (pass@1)",
           "distinct": "distinct answers among k samples",
           "coverage": "coverage (pass@k)", "majority": "majority vote (maj@k)"}


def expected_distinct(counts, k: int) -> float:
    """Expected number of distinct answers in a uniformly random k-subset of a pool with these answer counts."""
    m = np.asarray(counts, dtype=int)
    if m.ndim != 1 or m.size == 0 or np.any(m < 0):
        raise ValueError("counts must be a non-empty 1-D array of non-negative answer counts")
    n = int(m.sum())
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the pool size {n}")
    return float(E.pass_at_k_curve(np.full(len(m), n), m, [k])[0].sum())


def answer_entropy(answers) -> float:
    """Plug-in Shannon entropy (nats) of one prompt's answer histogram; unparseable answers are one more answer."""
    counts = np.array(list(answer_counts(answers).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def pool_spread(pool: Pool, k: int) -> pd.DataFrame:
    """Per-prompt spread metrics of a pool at k samples: mass_on_correct, distinct, coverage, majority."""
    if not 1 <= k <= pool.n:
        raise ValueError(f"k={k} must be between 1 and the pool size {pool.n}")
    rows = []
    for key, answers, gold, correct in zip(pool.prompt_keys, pool.answers, pool.gold, pool.correct):
        counts = answer_counts(answers)
        c = int(correct.sum())
        rows.append({"prompt_key": key, "mass_on_correct": c / pool.n,
                     "distinct": expected_distinct(list(counts.values()), k),
                     "coverage": E.pass_at_k(pool.n, c, k), "majority": E.majority_at_k(answers, gold, k)})
    return pd.DataFrame(rows)


def spread_curve(pools: list[tuple[float, Pool]], k: int, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each metric's prompt mean and 95% bootstrap CI per condition (temperature or thinking budget), on the prompts
    every pool holds, so the conditions are compared on the same prompts."""
    if not pools:
        raise ValueError("no pools to compare")
    k = min([k] + [p.n for _, p in pools])
    per = {cond: pool_spread(p, k).set_index("prompt_key") for cond, p in pools}
    common = sorted(set.intersection(*(set(df.index) for df in per.values())))
    if not common:
        raise ValueError("the pools share no prompts")
    labels = [(cond, metric) for cond in per for metric in METRICS]
    values = np.stack([per[cond].loc[common, metric].to_numpy(dtype=float) for cond, metric in labels])
    # one call: every series gets the same resampled prompts as bootstrap_ci with this seed would draw
    mean, lo, hi = E.bootstrap_curve_ci(values, n_boot=n_boot, seed=seed)
    return pd.DataFrame([{"condition": cond, "metric": metric, "value": float(m), "lo": float(a), "hi": float(b),
                          "k": k, "n_prompts": len(common)} for (cond, metric), m, a, b in zip(labels, mean, lo, hi)])


def answer_shares(pools: list[tuple[float, Pool]], prompt_key: str, top: int = 6) -> pd.DataFrame:
    """Share of each answer of one prompt per condition; answers outside the overall top ones are pooled as
    "other"; ``is_gold`` marks the correct answer."""
    counts, gold = {}, None
    for cond, p in pools:
        idx = np.flatnonzero(p.prompt_keys == prompt_key)
        if len(idx):
            i = int(idx[0])
            gold = p.gold[i]
            counts[cond] = answer_counts(p.answers[i])
    if not counts:
        raise ValueError(f"no pool holds prompt {prompt_key!r}")
    overall = Counter()
    for c in counts.values():
        total = sum(c.values())
        overall.update({a: v / total for a, v in c.items()})
    keep = {a for a, _ in overall.most_common(top)} | {gold}
    rows = []
    for cond, c in counts.items():
        total = sum(c.values())
        other = sum(v for a, v in c.items() if a not in keep)
        rows += [{"condition": cond, "answer": a, "share": c.get(a, 0) / total, "is_gold": a == gold} for a in keep]
        rows.append({"condition": cond, "answer": "other", "share": other / total, "is_gold": False})
    return pd.DataFrame(rows)
