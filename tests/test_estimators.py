"""backend/analysis/estimators.py against brute force over all k-subsets, exact fractions and simulation."""
from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from backend.analysis import estimators as E

ALPHABET = [None, "a", "b", "c", 7, 8]


def brute(n, k, score):
    """Mean of score(subset) over ALL k-subsets of range(n)."""
    subs = list(itertools.combinations(range(n), k))
    return sum(score(s) for s in subs) / len(subs)


def vote_credit(ans, sub, gold, weights=None):
    """Exact fractional credit of gold under (weighted) majority with uniform tie-breaking; None never votes."""
    tally = {}
    for i in sub:
        if ans[i] is not None:
            tally[ans[i]] = tally.get(ans[i], 0) + (1 if weights is None else weights[i])
    if not tally:
        return 0.0
    top = max(tally.values())
    winners = [a for a, v in tally.items() if v == top]
    return 1 / len(winners) if gold in winners else 0.0


def top_credit(scores, correct, sub):
    top = max(scores[i] for i in sub)
    tied = [i for i in sub if scores[i] == top]
    return sum(correct[i] for i in tied) / len(tied)


def small_cases(count, seed):
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(1, 9)
        k = rng.randint(1, n)
        ans = [rng.choice(ALPHABET) for _ in range(n)]
        scores = [rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(n)]  # few values: many ties
        yield n, k, ans, scores, rng.choice(["a", "b", 7, "z"])  # "z" is never an answer


# ----------------------------------------------------------------------------------------------- exact vs brute force
def test_pass_at_k_matches_brute_force():
    rng = random.Random(1)
    ns, cs = [], []
    for _ in range(300):
        n = rng.randint(1, 9)
        c, k = rng.randint(0, n), rng.randint(1, n)
        got = E.pass_at_k(n, c, k)
        assert got == pytest.approx(brute(n, k, lambda s: float(any(i < c for i in s))), abs=1e-12)
        ns.append(n)
        cs.append(c)
    ns, cs = np.array(ns), np.array(cs)
    big = ns >= 3  # the curve needs every k ≤ every n
    curve = E.pass_at_k_curve(ns[big], cs[big], [1, 2, 3])  # ragged n across prompts
    for r, k in enumerate([1, 2, 3]):
        np.testing.assert_allclose(curve[r], [E.pass_at_k(int(n), int(c), k) for n, c in zip(ns[big], cs[big])],
                                   atol=1e-12)


def test_pass_at_k_stable_for_large_n():
    n = 4000
    for c, k in [(1, 1), (3, 50), (40, 7), (100, 400), (2000, 2), (3990, 11), (0, 5)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert E.pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-10, abs=1e-15)
        curve = E.pass_at_k_curve(np.array([n, n + 96]), np.array([c, c]), [k])
        assert curve[0, 0] == pytest.approx(float(exact), rel=1e-9, abs=1e-15)
        assert curve[0, 1] == pytest.approx(E.pass_at_k(n + 96, c, k), rel=1e-9, abs=1e-15)


def test_best_of_k_matches_brute_force_with_ties():
    rng = random.Random(2)
    pools_s, pools_c = [], []
    for n, k, _, scores, _ in small_cases(300, 3):
        correct = [rng.random() < 0.5 for _ in range(n)]
        want = brute(n, k, lambda s: top_credit(scores, correct, s))
        assert E.best_of_k(scores, correct, k) == pytest.approx(want, abs=1e-12)
        pools_s.append(scores)
        pools_c.append(correct)
    curve = E.best_of_k_curve(pools_s, pools_c, [1])  # ragged pools, grouped by n internally
    np.testing.assert_allclose(curve[0], [np.mean(c) for c in pools_c], atol=1e-12)  # best-of-1 = accuracy
    s = np.array([rng.choice([0, 1, 2]) for _ in range(48)], dtype=float).reshape(6, 8)
    c = np.array([rng.random() < 0.4 for _ in range(48)]).reshape(6, 8)
    curve = E.best_of_k_curve(s, c, [1, 3, 8])
    for r, k in enumerate([1, 3, 8]):
        np.testing.assert_allclose(curve[r], [E.best_of_k(a, b, k) for a, b in zip(s, c)], atol=1e-12)


def test_best_of_k_large_n_matches_exact_formula():
    n, k = 3000, 12
    rng = np.random.default_rng(0)
    scores = rng.permutation(n).astype(float)  # distinct scores: E = Σ_i C(i−1,k−1)/C(n,k) · correct_(i)
    correct = rng.random(n) < 0.3
    ranked = correct[np.argsort(scores)]
    exact = sum(Fraction(math.comb(i - 1, k - 1), math.comb(n, k)) for i in range(1, n + 1) if ranked[i - 1])
    assert E.best_of_k(scores, correct, k) == pytest.approx(float(exact), rel=1e-10)
    assert 0 <= E.best_of_k(np.zeros(4096), np.arange(4096) % 3 == 0, 2048) == pytest.approx(1366 / 4096)


def test_majority_at_k_matches_brute_force():
    for n, k, ans, _, gold in small_cases(400, 4):
        want = brute(n, k, lambda s: vote_credit(ans, s, gold))
        assert E.majority_at_k(ans, gold, k) == pytest.approx(want, abs=1e-12)


def test_majority_at_k_large_n_is_finite_and_sensible():
    ans = [1] * 2000 + [2] * 1500 + [None] * 100 + list(range(10, 600))
    v = E.majority_at_k(ans, 1, 1000)
    assert 0.999 < v <= 1.0
    assert E.majority_at_k(ans, 2, 1000) == pytest.approx(1 - v, abs=1e-9)
    assert E.majority_at_k(ans, 1, len(ans)) == 1.0 and E.majority_at_k(ans, "nope", 5) == 0.0


# ----------------------------------------------------------------------------------------------- vs simulation
def test_exact_estimates_agree_with_simulation():
    rng = np.random.default_rng(5)
    n, k, draws = 40, 9, 20000
    ans = [None if u < 0.1 else int(v) for u, v in zip(rng.random(n), rng.integers(0, 4, n))]
    scores = np.round(rng.random(n), 1)
    correct = np.array([a == 0 for a in ans], dtype=float)
    subs = rng.random((draws, n)).argsort(axis=1)[:, :k]  # uniformly random k-subsets, without replacement
    sims = {
        "pass": (correct[subs].max(axis=1), E.pass_at_k(n, int(correct.sum()), k)),
        "best": (np.array([top_credit(scores, correct, s) for s in subs]), E.best_of_k(scores, correct, k)),
        "maj": (np.array([vote_credit(ans, s, 0) for s in subs]), E.majority_at_k(ans, 0, k)),
    }
    for name, (x, exact) in sims.items():
        se = x.std(ddof=1) / math.sqrt(draws)
        assert abs(x.mean() - exact) <= 4 * se + 1e-12, name


def test_majority_curve_monte_carlo_within_stated_error():
    rng = random.Random(6)
    answers = [[rng.choice([0, 0, 1, 2, 3, None, 4 + i]) for _ in range(20)] for i in range(40)]
    golds = [0] * 39 + ["absent"]
    ks = [1, 2, 4, 8, 16, 20]
    ids = E.encode_answers(answers, golds)
    vals, se = E.majority_curve(ids, ks, seed=3)
    exact = np.array([[E.majority_at_k(a, g, k) for a, g in zip(answers, golds)] for k in ks])
    assert vals.shape == exact.shape == (len(ks), 40)
    assert np.all(np.abs(vals.mean(axis=1) - exact.mean(axis=1)) <= 4 * se + 1e-12)
    assert se.max() <= 0.005 and se[-1] == 0 and vals[:, -1].max() == 0  # k = n is deterministic; gold absent → 0
    np.testing.assert_array_equal(E.majority_curve(ids, ks, seed=3)[0], vals)
    vals2, se2 = E.majority_curve(ids, ks, seed=3, target_se=None, draws=8)
    assert np.all(np.abs(vals2.mean(axis=1) - exact.mean(axis=1)) <= 4 * se2 + 1e-12)


def test_weighted_majority_error_is_honest_and_seeded():
    cases = list(small_cases(60, 7))
    for n, k, ans, scores, gold in cases:
        want = brute(n, k, lambda s: vote_credit(ans, s, gold, scores))
        est, se = E.weighted_majority_at_k(ans, scores, gold, k, draws=3000, seed=1)
        assert abs(est - want) <= 4.5 * se + 1e-9
        assert E.weighted_majority_at_k(ans, scores, gold, k, draws=3000, seed=1) == (est, se)
    ans = ["a", "b", "b", None, "a", "c", "b", "a"]
    neg = [-1.0, -0.2, -0.2, 5.0, -1.0, -3.0, -0.2, -1.0]  # negative sums: absent answers must not win
    est, se = E.weighted_majority_at_k(ans, neg, "b", 3, draws=4000, seed=2)
    assert abs(est - brute(8, 3, lambda s: vote_credit(ans, s, "b", neg))) <= 4.5 * se
    est, se = E.weighted_majority_at_k(ans, [1.0] * 8, "a", 4, draws=4000, seed=2)  # equal weights = majority
    assert abs(est - E.majority_at_k(ans, "a", 4)) <= 4.5 * se


# ----------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_coverage_and_pairing():
    rng = np.random.default_rng(8)
    hits = 0
    for rep in range(200):
        x = (rng.random(120) < 0.3).astype(float)  # true mean 0.3
        m, lo, hi = E.bootstrap_ci(x, n_boot=1000, seed=rep)
        assert lo <= m <= hi
        hits += lo <= 0.3 <= hi
    assert 0.88 <= hits / 200 <= 0.99
    difficulty = rng.random(300)
    a = np.clip(difficulty + rng.normal(0, 0.05, 300), 0, 1)
    b = np.clip(difficulty - 0.03 + rng.normal(0, 0.05, 300), 0, 1)
    d, lo, hi = E.paired_bootstrap_ci(a, b)
    _, alo, ahi = E.bootstrap_ci(a)
    _, blo, bhi = E.bootstrap_ci(b, seed=1)
    assert lo > 0 and d == pytest.approx(a.mean() - b.mean())
    assert hi - lo < 0.5 * math.hypot(ahi - alo, bhi - blo)  # unpaired width, as independent resamples
    curve = np.stack([a, b, a - b])
    cm, clo, chi = E.bootstrap_curve_ci(curve, n_boot=500, seed=4)  # same prompt indices for every point
    for r in range(3):
        assert (cm[r], clo[r], chi[r]) == pytest.approx(E.bootstrap_ci(curve[r], n_boot=500, seed=4))


# ----------------------------------------------------------------------------------------------- bad input
BAD = [
    (E.pass_at_k, (5, 2, 6), {}), (E.pass_at_k, (5, 2, 0), {}), (E.pass_at_k, (5, -1, 2), {}),
    (E.pass_at_k, (5, 6, 2), {}), (E.pass_at_k, (0, 0, 1), {}), (E.pass_at_k, (5, 2, 1.5), {}),
    (E.pass_at_k_curve, ([5, 6], [1], [1]), {}), (E.pass_at_k_curve, ([5, 3], [1, 1], [4]), {}),
    (E.pass_at_k_curve, ([5], [-1], [1]), {}), (E.pass_at_k_curve, ([5], [6], [1]), {}),
    (E.pass_at_k_curve, ([], [], [1]), {}), (E.pass_at_k_curve, ([5], [1], [0]), {}),
    (E.best_of_k, ([1, 2], [1, 0], 3), {}), (E.best_of_k, ([1, 2], [1, 0], 0), {}),
    (E.best_of_k, ([1, 2], [1], 1), {}), (E.best_of_k, ([], [], 1), {}),
    (E.best_of_k, ([1, float("nan")], [1, 0], 1), {}), (E.best_of_k, ([1, 2], [1, -1], 1), {}),
    (E.best_of_k_curve, ([[1, 2]], [[1, 0]], [3]), {}), (E.best_of_k_curve, ([[1, 2]], [[1, 0], [0, 1]], [1]), {}),
    (E.best_of_k_curve, ([[1, np.nan]], [[1, 0]], [1]), {}), (E.best_of_k_curve, ([], [], [1]), {}),
    (E.majority_at_k, (["a"], "a", 2), {}), (E.majority_at_k, (["a"], "a", 0), {}),
    (E.majority_at_k, ([], "a", 1), {}), (E.majority_at_k, (["a"], None, 1), {}),
    (E.encode_answers, ([["a"], ["a", "b"]], ["a", "a"]), {}), (E.encode_answers, ([["a"]], ["a", "b"]), {}),
    (E.encode_answers, ([[]], ["a"]), {}),
    (E.majority_curve, (np.zeros((2, 3), dtype=int), [4]), {}),
    (E.majority_curve, (np.zeros((2, 3), dtype=int), [0]), {}),
    (E.majority_curve, (np.zeros((0, 3), dtype=int), [1]), {}), (E.majority_curve, (np.full((1, 3), -2), [1]), {}),
    (E.majority_curve, (np.zeros((2, 3)), [1]), {}),
    (E.majority_curve, (np.zeros((2, 3), dtype=int), [1]), {"draws": 1}),
    (E.weighted_majority_at_k, (["a", "b"], [1, 2], "a", 3), {}), (E.weighted_majority_at_k, (["a"], [1], "a", 0), {}),
    (E.weighted_majority_at_k, (["a", "b"], [1], "a", 1), {}), (E.weighted_majority_at_k, ([], [], "a", 1), {}),
    (E.weighted_majority_at_k, (["a", "b"], [1, np.nan], "a", 1), {}),
    (E.weighted_majority_at_k, (["a"], [1], "a", 1), {"draws": 1}),
    (E.bootstrap_ci, ([],), {}), (E.bootstrap_ci, ([1.0, np.nan],), {}), (E.bootstrap_ci, ([1.0],), {"level": 1.5}),
    (E.bootstrap_ci, ([1.0],), {"n_boot": 0}), (E.bootstrap_ci, ([[1.0]],), {}),
    (E.paired_bootstrap_ci, ([1.0, 2.0], [1.0]), {}), (E.paired_bootstrap_ci, ([], []), {}),
    (E.bootstrap_curve_ci, ([1.0, 2.0],), {}), (E.bootstrap_curve_ci, ([[np.nan]],), {}),
]


@pytest.mark.parametrize("fn,args,kw", BAD, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD)])
def test_bad_input_raises_value_error(fn, args, kw):
    with pytest.raises(ValueError):
        fn(*args, **kw)


def test_wilson_interval_known_values_and_coverage():
    assert E.wilson_ci(0, 10) == pytest.approx((0.0, 3.8415 / 13.8415), abs=1e-4)  # z²/(n + z²) at 0 successes
    assert E.wilson_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    rng = np.random.default_rng(0)
    n, p = 200, 0.1
    hits = [lo <= p <= hi for lo, hi in (E.wilson_ci(int(x), n) for x in rng.binomial(n, p, 4000))]
    assert 0.93 <= np.mean(hits) <= 0.97  # near-nominal 95% coverage by simulation
    for bad in ((3, 2), (-1, 5), (1, 0)):
        with pytest.raises(ValueError):
            E.wilson_ci(*bad)
