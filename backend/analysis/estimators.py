"""Exact, vectorised estimators over sample pools (DESIGN §6).

From a pool of n samples per prompt, every estimator here averages over ALL uniformly random k-subsets drawn
without replacement (exactly, or by a seeded Monte-Carlo whose standard error is returned). Never score "the first
k samples" (one subset: high-variance and order-dependent) and never resample samples with replacement (repeats
samples, so it underestimates pass@k and friends): both are biased.
"""
from __future__ import annotations

import math
from collections import Counter
from numbers import Integral
from typing import Hashable, Sequence

import numpy as np

__all__ = [
    "pass_at_k", "pass_at_k_curve", "best_of_k", "best_of_k_curve", "majority_at_k", "majority_curve",
    "encode_answers", "weighted_majority_at_k", "bootstrap_ci", "paired_bootstrap_ci", "bootstrap_curve_ci",
    "wilson_ci",
]


# ----------------------------------------------------------------------------------------------- validation
def _check_int(x, name: str, lo: int = 0) -> int:
    if isinstance(x, bool) or not isinstance(x, Integral):
        raise ValueError(f"{name} must be an integer, got {x!r}.")
    if x < lo:
        raise ValueError(f"{name} must be at least {lo}, got {x}.")
    return int(x)


def _check_k(k, n: int) -> int:
    k = _check_int(k, "k", 1)
    if k > n:
        raise ValueError(f"k={k} exceeds the pool size n={n}.")
    return k


def _check_ks(ks, n_min: int) -> np.ndarray:
    items = [ks] if np.ndim(ks) == 0 else list(np.asarray(ks, dtype=object).ravel())
    if not items:
        raise ValueError("ks must hold at least one k.")
    return np.array([_check_k(int(k) if isinstance(k, np.integer) else k, n_min) for k in items], dtype=np.int64)


def _check_scores(scores, name: str = "scores") -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return s


def _check_correct(correct) -> np.ndarray:
    c = np.asarray(correct, dtype=float)
    if not np.all(np.isfinite(c)) or np.any((c < 0) | (c > 1)):
        raise ValueError("correct must hold values in [0, 1] (bools or partial credit), with no NaN.")
    return c


def _check_pool(x, name: str) -> int:
    if len(x) == 0:
        raise ValueError(f"{name} is empty: a pool needs at least one sample.")
    return len(x)


# ----------------------------------------------------------------------------------------------- pass@k
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 − C(n−c,k)/C(n,k) (Chen et al. 2021) from n samples of which c are correct.

    Product form 1 − Π_{i=n−c+1..n} (1 − k/i), summed in logs, so n in the thousands is exact to ~1e-13.
    Never use "the first k samples" (one subset, order-dependent) or resample samples with replacement (too low).
    """
    n = _check_int(n, "n", 1)
    c = _check_int(c, "c", 0)
    if c > n:
        raise ValueError(f"c={c} correct samples exceeds the pool size n={n}.")
    k = _check_k(k, n)
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    i = np.arange(n - c + 1, n + 1, dtype=float)
    return float(-np.expm1(np.log1p(-k / i).sum()))


def pass_at_k_curve(n, c, ks) -> np.ndarray:
    """pass@k for many prompts (n and c arrays; n may differ per prompt) over a k grid: shape [len(ks), prompts].

    Uses per-k cumulative sums T_k[m] = Σ_{i=k+1..m} log(1 − k/i), so log C(n−c,k)/C(n,k) = T_k[n] − T_k[n−c].
    """
    n = np.asarray(n)
    c = np.asarray(c)
    if n.ndim != 1 or c.ndim != 1 or n.shape != c.shape:
        raise ValueError("n and c must be 1-D arrays of the same length (one entry per prompt).")
    _check_pool(n, "n")
    if not (np.issubdtype(n.dtype, np.integer) and np.issubdtype(c.dtype, np.integer)):
        raise ValueError("n and c must hold integers.")
    if np.any(c < 0) or np.any(n < 1):
        raise ValueError("counts must be non-negative and every pool must hold at least one sample.")
    if np.any(c > n):
        raise ValueError("c exceeds n for at least one prompt.")
    ks = _check_ks(ks, int(n.min()))
    i = np.arange(1, int(n.max()) + 1, dtype=float)
    out = np.empty((len(ks), len(n)))
    for r, k in enumerate(ks):
        terms = np.where(i > k, np.log1p(-k / np.maximum(i, k + 1)), 0.0)
        t = np.concatenate([[0.0], np.cumsum(terms)])  # t[m] = T_k[m]
        p = -np.expm1(t[n] - t[n - c])
        out[r] = np.where(n - c < k, 1.0, p)
    return out


# ----------------------------------------------------------------------------------------------- best-of-k
def _subset_ratio(n: int, k: int) -> np.ndarray:
    """R[a] = C(a,k)/C(n,k) for a = 0..n by a stable downward product (R[n] = 1, R[a−1] = R[a]·(a−k)/a)."""
    r = np.zeros(n + 1)
    b = np.arange(n, k, -1, dtype=float)  # b = n, n−1, …, k+1
    r[n] = 1.0
    r[k:n][::-1] = np.cumprod((b - k) / b)
    return r


def _best_of_k_block(scores: np.ndarray, correct: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Exact best-of-k for a [prompts, n] block of equal n; returns [len(ks), prompts]."""
    p, n = scores.shape
    order = np.argsort(scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    cor = np.take_along_axis(correct, order, axis=1)
    pos = np.broadcast_to(np.arange(n), (p, n))
    new = np.ones((p, n), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)  # L_g: samples strictly below the group
    last = np.ones((p, n), dtype=bool)
    last[:, :-1] = new[:, 1:]
    end = np.minimum.accumulate(np.where(last, pos + 1, n)[:, ::-1], axis=1)[:, ::-1]  # L_g + m_g
    out = np.empty((len(ks), p))
    for r, k in enumerate(ks):
        ratio = _subset_ratio(n, int(k))
        # P(top group is g) = [C(L+m,k) − C(L,k)]/C(n,k), shared evenly by the m tied members (uniform tie-break)
        w = (ratio[end] - ratio[start]) / (end - start)
        out[r] = (w * cor).sum(axis=1)
    return out


def best_of_k(scores: Sequence[float], correct: Sequence[float], k: int) -> float:
    """Exact expected correctness of the top-scoring sample of a uniformly random k-subset (without replacement).

    Equal scores form a group; a tie at the top is broken uniformly at random, so each tied member gets equal credit.
    Averages over all k-subsets: never "the first k samples" nor samples resampled with replacement (both biased).
    """
    s = _check_scores(scores)
    cor = _check_correct(correct)
    if s.ndim != 1 or cor.shape != s.shape:
        raise ValueError("scores and correct must be 1-D and of the same length.")
    k = _check_k(k, _check_pool(s, "scores"))
    return float(_best_of_k_block(s[None], cor[None], np.array([k]))[0, 0])


def best_of_k_curve(scores, correct, ks) -> np.ndarray:
    """Exact best-of-k over many prompts and a k grid: shape [len(ks), prompts].

    scores/correct are [prompts, n] arrays, or sequences of 1-D arrays when n differs per prompt.
    """
    rows_s = [_check_scores(x) for x in scores]
    rows_c = [_check_correct(x) for x in correct]
    if len(rows_s) != len(rows_c) or not rows_s:
        raise ValueError("scores and correct must list the same, non-zero number of prompts.")
    for a, b in zip(rows_s, rows_c):
        if a.ndim != 1 or a.shape != b.shape:
            raise ValueError("each prompt's scores and correct must be 1-D and of the same length.")
        _check_pool(a, "a prompt's pool")
    lens = np.array([len(a) for a in rows_s])
    ks = _check_ks(ks, int(lens.min()))
    out = np.empty((len(ks), len(rows_s)))
    for n in np.unique(lens):  # one vectorised block per pool size
        idx = np.flatnonzero(lens == n)
        out[:, idx] = _best_of_k_block(np.stack([rows_s[i] for i in idx]), np.stack([rows_c[i] for i in idx]), ks)
    return out


# ----------------------------------------------------------------------------------------------- majority@k
def _log_binom_pmf(a: int, p: float, log_fact: np.ndarray) -> np.ndarray:
    """log of C(a,x) p^x (1−p)^(a−x) for x = 0..a."""
    x = np.arange(a + 1)
    return log_fact[a] - log_fact[x] - log_fact[a - x] + x * math.log(p) + (a - x) * math.log1p(-p)


def majority_at_k(answers: Sequence[Hashable | None], gold: Hashable, k: int) -> float:
    """Exact expected correctness of the majority answer of a uniformly random k-subset (without replacement).

    A t-way tie for the top count gives the correct answer 1/t; None (unparseable) takes a slot but never wins; a
    subset with no valid answer scores 0. Dynamic programme over answer groups for each count j of the gold group:
    groups smaller than j are unconstrained (pooled with None), larger ones must pick ≤ j, tracking ties at j.
    Counts are weighted by Binomial(a, k/n) pmfs instead of C(a, x) so nothing overflows at n in the thousands;
    gold counts j with hypergeometric probability < 1e-18 are skipped (error < n·1e-18). Never "the first k
    samples" nor samples resampled with replacement (both biased).
    """
    if gold is None:
        raise ValueError("gold must be a real answer, not None.")
    n = _check_pool(answers, "answers")
    k = _check_k(k, n)
    counts = Counter(a for a in answers if a is not None)
    m = counts.pop(gold, 0)
    if m == 0:
        return 0.0
    others = sorted(counts.values())
    if k == n:  # the subset is the whole pool
        top = max([m] + others)
        return 1.0 / (1 + others.count(m)) if m == top else 0.0
    p = k / n
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    log_norm = _log_binom_pmf(n, p, log_fact)[k]  # log C(n,k) p^k (1−p)^(n−k)
    pmf_gold = np.exp(_log_binom_pmf(m, p, log_fact) - log_norm)
    pmfs = {a: np.exp(_log_binom_pmf(a, p, log_fact)) for a in set(others)}
    # P(gold group draws j) is hypergeometric; skipping j with P < 1e-18 changes the result by < n·1e-18
    j_all = np.arange(1, min(m, k) + 1)
    ok = (k - j_all >= 0) & (k - j_all <= n - m)
    log_hyp = np.full(len(j_all), -np.inf)
    jj = j_all[ok]
    log_hyp[ok] = (log_fact[m] - log_fact[jj] - log_fact[m - jj] + log_fact[n - m] - log_fact[k - jj]
                   - log_fact[n - m - k + jj] - (log_fact[n] - log_fact[k] - log_fact[n - k]))
    total = 0.0
    for j in j_all[log_hyp > math.log(1e-18)]:
        j = int(j)
        rest = k - j  # slots left for everyone else
        big = [a for a in others if a >= j]
        free = n - m - sum(big)  # None plus groups too small to reach j: any pick is allowed
        dp = np.zeros((rest + 1, len(big) + 1))  # dp[s, t]: s slots used by big groups, t of them tied at j
        dp[0, 0] = 1.0
        for a in big:
            w = pmfs[a]
            new = np.zeros_like(dp)
            for x in range(min(j - 1, rest) + 1):
                new[x:] += w[x] * dp[: rest + 1 - x]
            if j <= rest:
                new[j:, 1:] += w[j] * dp[: rest + 1 - j, :-1]
            dp = new
        r = rest - np.arange(rest + 1)  # slots the free pool must fill
        pf = np.where(r <= free, np.exp(_log_binom_pmf(free, p, log_fact)[np.minimum(r, free)]), 0.0)
        total += pmf_gold[j] * float(pf @ dp @ (1.0 / np.arange(1, len(big) + 2)))
    return float(min(max(total, 0.0), 1.0))


def encode_answers(answers: Sequence[Sequence[Hashable | None]], golds: Sequence[Hashable]) -> np.ndarray:
    """Map each prompt's answers to small ints: the gold answer → 0, other answers → 1, 2, …, None → −1.

    Returns [prompts, n] int32 (all pools must have the same n), the input to majority_curve's fast path.
    """
    if len(answers) != len(golds) or len(answers) == 0:
        raise ValueError("answers and golds must list the same, non-zero number of prompts.")
    n = _check_pool(answers[0], "a prompt's answers")
    ids = np.empty((len(answers), n), dtype=np.int32)
    for i, (row, gold) in enumerate(zip(answers, golds)):
        if len(row) != n:
            raise ValueError("every prompt must have the same pool size n for the fast path.")
        if gold is None:
            raise ValueError("gold must be a real answer, not None.")
        table: dict = {gold: 0}
        ids[i] = [-1 if a is None else table.setdefault(a, len(table)) for a in row]
    return ids


def majority_curve(ids: np.ndarray, ks, *, draws: int = 16, target_se: float | None = 0.005,
                   max_draws: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded Monte-Carlo majority@k over many prompts and a k grid (fast path; majority_at_k is the exact reference).

    ids: [prompts, n] from encode_answers (gold = 0, None = −1). Each draw is a uniformly random permutation of a
    prompt's pool; its first k entries are a uniformly random k-subset without replacement for every k (common
    random numbers across k). Ties are credited exactly (1/t), so only the choice of subset is random. Draws come in
    batches of `draws` per prompt until the standard error of every curve point (mean over prompts) is
    ≤ target_se, or max_draws is reached. Returns (values [len(ks), prompts] unbiased per-prompt estimates,
    se [len(ks)] standard error of the prompt mean at each k).
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer) or ids.min() < -1:
        raise ValueError("ids must be a non-empty [prompts, n] integer array with gold = 0 and None = −1.")
    draws = _check_int(draws, "draws", 2)
    max_draws = _check_int(max_draws, "max_draws", draws)
    if target_se is not None and not target_se > 0:
        raise ValueError("target_se must be positive or None.")
    p, n = ids.shape
    ks = np.sort(_check_ks(ks, n))
    g = max(int(ids.max()) + 1, 1)
    rng = np.random.default_rng(seed)
    s1 = np.zeros((len(ks), p))
    s2 = np.zeros((len(ks), p))
    done = 0
    while True:
        perm = rng.random((p, draws, n)).argsort(axis=2)
        seq = np.take_along_axis(np.broadcast_to(ids[:, None, :], perm.shape), perm, axis=2)
        base = (np.arange(p * draws) * g).reshape(p, draws, 1)
        counts = np.zeros(p * draws * g, dtype=np.int32)
        prev = 0
        for r, k in enumerate(ks):
            seg = seq[:, :, prev:k]
            flat = (seg + base)[seg >= 0]  # None never votes
            counts += np.bincount(flat, minlength=counts.size).astype(np.int32)
            prev = k
            c = counts.reshape(p, draws, g)
            top = c.max(axis=2)
            ties = (c == top[..., None]).sum(axis=2)
            score = ((c[..., 0] == top) & (top > 0)) / ties
            s1[r] += score.sum(axis=1)
            s2[r] += (score ** 2).sum(axis=1)
        done += draws
        mean = s1 / done
        var = np.maximum(s2 / done - mean ** 2, 0.0) * done / (done - 1)  # per-prompt sample variance
        se = np.sqrt(var.sum(axis=1) / done) / p
        if target_se is None or se.max() <= target_se or done + draws > max_draws:
            return mean, se


def weighted_majority_at_k(answers: Sequence[Hashable | None], scores: Sequence[float], gold: Hashable, k: int,
                           *, draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """Seeded Monte-Carlo weighted majority@k: the answer with the largest sum of verifier scores in a uniformly random
    k-subset (without replacement) wins; ties (exact float equality) credit 1/t; None never wins; no valid answer → 0.

    Returns (estimate, standard error over the draws); the same seed gives the same numbers.
    """
    if gold is None:
        raise ValueError("gold must be a real answer, not None.")
    n = _check_pool(answers, "answers")
    s = _check_scores(scores)
    if s.ndim != 1 or len(s) != n:
        raise ValueError("answers and scores must be 1-D and of the same length.")
    k = _check_k(k, n)
    draws = _check_int(draws, "draws", 2)
    table: dict = {gold: 0}
    ids = np.array([-1 if a is None else table.setdefault(a, len(table)) for a in answers])
    g = len(table)
    rng = np.random.default_rng(seed)
    pick = rng.random((draws, n)).argpartition(k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (draws, 1))
    sid, ssc = ids[pick], s[pick]
    ok = sid >= 0
    flat = (sid + np.arange(draws)[:, None] * g)[ok]
    sums = np.bincount(flat, weights=ssc[ok], minlength=draws * g).reshape(draws, g)
    present = np.bincount(flat, minlength=draws * g).reshape(draws, g) > 0
    sums = np.where(present, sums, -np.inf)  # absent answers cannot win even when sums are negative
    top = sums.max(axis=1)
    ties = (sums == top[:, None]).sum(axis=1)
    score = np.where(present[:, 0] & (sums[:, 0] == top), 1.0 / ties, 0.0)
    return float(score.mean()), float(score.std(ddof=1) / math.sqrt(draws))


# ----------------------------------------------------------------------------------------------- bootstrap
def _boot_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of values [points, prompts] under n_boot resamplings of prompts (one index matrix shared by all points)."""
    n_boot = _check_int(n_boot, "n_boot", 1)
    p = values.shape[1]
    idx = np.random.default_rng(seed).integers(0, p, size=(n_boot, p))
    # resampled prompt multiplicities, so every point's bootstrap mean is one matrix product
    w = np.bincount((idx + np.arange(n_boot)[:, None] * p).ravel(), minlength=n_boot * p).reshape(n_boot, p)
    return values @ w.T / p  # [points, n_boot]


def _check_values(values, ndim: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim != ndim or v.size == 0:
        shape = "prompts" if ndim == 1 else "points × prompts"
        raise ValueError(f"values must be a non-empty {ndim}-D array ({shape}).")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (no NaN or inf).")
    return v


def bootstrap_curve_ci(values, *, n_boot: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile-bootstrap CIs of the prompt mean for a whole curve, values [points, prompts], resampling the SAME
    prompt indices for every point (pass a − b for a paired comparison). Returns (mean, lo, hi), each [points].
    """
    v = _check_values(values, 2)
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}.")
    b = _boot_means(v, n_boot, seed)
    lo, hi = np.quantile(b, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return v.mean(axis=1), lo, hi


def bootstrap_ci(values, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Percentile-bootstrap CI of the mean over prompts (values: one number per prompt). Returns (mean, lo, hi).

    Resamples PROMPTS with replacement (the unit of variation); samples within a prompt are never resampled.
    """
    m, lo, hi = bootstrap_curve_ci(_check_values(values, 1)[None], n_boot=n_boot, seed=seed, level=level)
    return float(m[0]), float(lo[0]), float(hi[0])


def paired_bootstrap_ci(a, b, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Paired bootstrap CI of mean(a) − mean(b), resampling the same prompts for both (a, b aligned on prompts).

    Pairing cancels the shared per-prompt difficulty, so the CI is much narrower than two independent ones.
    """
    a = _check_values(a, 1)
    b = _check_values(b, 1)
    if a.shape != b.shape:
        raise ValueError("a and b must be aligned on the same prompts (same length).")
    return bootstrap_ci(a - b, n_boot=n_boot, seed=seed, level=level)


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (successes of n independent trials): better than the normal
    interval near 0 and 1. For a sample stratified by cell (the zoo's evaluation) it is conservative."""
    n = _check_int(n, "n", 1)
    x = _check_int(successes, "successes", 0)
    if x > n:
        raise ValueError(f"successes={x} exceeds n={n}.")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}.")
    from statistics import NormalDist

    z = NormalDist().inv_cdf((1 + level) / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
