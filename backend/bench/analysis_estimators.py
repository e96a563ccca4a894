"""Benchmark the estimators on a synthetic pool: python -m backend.bench.analysis_estimators."""
from __future__ import annotations

import time

import numpy as np

from backend.analysis import estimators as E


def synthetic_pool(prompts: int, samples: int, seed: int) -> tuple[list[list], list[int], np.ndarray, np.ndarray]:
    """Answers, golds, verifier scores and correctness for a realistic pool (gold answer is 0 for every prompt)."""
    rng = np.random.default_rng(seed)
    acc = rng.beta(0.8, 1.2, size=(prompts, 1))  # per-prompt accuracy: many hard, some easy prompts
    u = rng.random((prompts, samples))
    correct = u < acc
    frequent = rng.integers(1, 4, size=(prompts, samples))  # a few popular wrong answers
    tail = rng.integers(100, 100_000, size=(prompts, samples))  # long tail of one-off wrong answers
    wrong = np.where(rng.random((prompts, samples)) < 0.6, frequent, tail)
    vals = np.where(correct, 0, wrong)
    none = rng.random((prompts, samples)) < 0.03  # unparseable outputs
    correct &= ~none
    # verifier scores correlated with correctness, rounded so ties occur
    scores = np.round(1 / (1 + np.exp(-(1.5 * correct + rng.normal(0, 1, correct.shape)))), 2)
    answers = [[None if nn else int(v) for v, nn in zip(rv, rn)] for rv, rn in zip(vals, none)]
    return answers, [0] * prompts, scores, correct


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def run(prompts: int = 1000, samples: int = 256, seed: int = 0) -> dict:
    """Time pass@k, best-of-k and majority@k curves over k = 1, 2, 4, …, samples; print a table, return timings."""
    answers, golds, scores, correct = synthetic_pool(prompts, samples, seed)
    ks = [2 ** i for i in range(int(np.log2(samples)) + 1)]
    c = correct.sum(axis=1)
    pk, t_pass = _timed(E.pass_at_k_curve, np.full(prompts, samples), c, ks)
    bo, t_best = _timed(E.best_of_k_curve, scores, correct, ks)
    ids, t_enc = _timed(E.encode_answers, answers, golds)
    (mj, se), t_maj = _timed(E.majority_curve, ids, ks, seed=seed)
    few = min(20, prompts)  # the exact reference on a few prompts, to show why the curve uses Monte-Carlo
    _, t_exact = _timed(lambda: [E.majority_at_k(answers[i], 0, k) for i in range(few) for k in ks])
    print(f"pool: {prompts} prompts x {samples} samples, k in {ks[0]}..{ks[-1]} ({len(ks)} points)")
    print(f"{'k':>5} {'pass@k':>8} {'best-of-k':>10} {'maj@k':>8} {'se':>7}")
    for r, k in enumerate(ks):
        print(f"{k:>5} {pk[r].mean():8.4f} {bo[r].mean():10.4f} {mj[r].mean():8.4f} {se[r]:7.4f}")
    timings = {"pass_at_k_s": t_pass, "best_of_k_s": t_best, "pass_plus_best_s": t_pass + t_best,
               "encode_s": t_enc, "majority_mc_s": t_maj, "majority_max_se": float(se.max()),
               "majority_exact_per_prompt_s": t_exact / few}
    print(f"pass@k {t_pass:.3f}s + best-of-k {t_best:.3f}s = {t_pass + t_best:.3f}s (target < 1 s)")
    print(f"majority@k Monte-Carlo {t_maj:.3f}s, max se {se.max():.4f} (target < 2 s, se <= 0.005);"
          f" encoding answers {t_enc:.3f}s")
    print(f"exact majority@k reference: {t_exact / few:.3f}s per prompt for the whole grid")
    return timings


if __name__ == "__main__":
    run()
