"""One notion of "deployable": the verifier registry decides it by name, budget points carry it as a column, and every
comparison function ranks deployable points only — on points where an upper bound (oracle selection, the exact step
checker, a noisy step checker) would win by far if it were allowed to."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.analysis import allocation, curves, exchange
from backend.analysis.data import Pool
from backend.analysis.points import concat_points, is_deployable, pool_points
from backend.verifiers import canonical_name, deployable
from tests.test_frontier import GOLD, greedy_points

UPPER = ("steps", "noisy:steps:0.2", "oracle")


@pytest.mark.parametrize("name,want", [(None, True), ("", True), ("learned", True), ("noisy:learned:0.1", True),
                                       ("oracle", False), ("steps", False), ("noisy:steps:0.3", False),
                                       ("noisy(steps,0.2)", False), ("noisy:oracle:0.1", False)])
def test_the_registry_decides_which_verifiers_are_deployable(name, want):
    assert deployable(name) is want
    assert is_deployable("best-of-k", name) is want and not is_deployable("pass@k", name)
    if name:
        assert canonical_name(canonical_name(name)) == canonical_name(name)


def _points():
    """small: 12 prompts whose pools hold one right answer among 8 (a popular wrong one elsewhere), so majority
    vote is poor, while every gold-reading selector finds the right one; large: greedy right on half."""
    p, n = 12, 8
    answers = [[GOLD] + ["w"] * 7 for _ in range(p)]
    correct = np.array([[a == GOLD for a in row] for row in answers])
    pool = Pool("rk-small", "small", 0.8, np.array([f"p{i}" for i in range(p)], dtype=object), [GOLD] * p, answers,
                correct, np.full((p, n), 5.0), np.full((p, n), 10.0), np.full((p, n), 1.0), np.zeros((p, n)))
    rng = np.random.default_rng(0)
    for v in (*UPPER, "learned"):
        pool.scores[v] = correct.astype(float) if v in UPPER else rng.random((p, n))
        pool.score_tokens[v] = np.full((p, n), 10.0)
        pool.score_flops[v] = np.zeros((p, n))
    small = pool_points(pool, weighted=False)
    large = greedy_points("large", [1, 0] * (p // 2), 6.0)
    bins = pd.Series(pd.Categorical(["easy"] * 6 + ["hard"] * 6, ["easy", "hard"], ordered=True),
                     index=small.prompt_keys)
    return concat_points([small, large]), bins


def _chosen(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["strategy"], frame["verifier"]))


COMPARISONS = {
    "frontier": lambda pts, bins: _chosen(curves.frontier(pts, 8.0)),
    "winner_map": lambda pts, bins: _chosen(curves.winner_map(pts, bins, [2.0, 8.0]).dropna(subset=["model"])),
    "exchange_rate": lambda pts, bins: [(r["method"], r["verifier"]) for r in
                                        [exchange.exchange_rate(pts, "small", "large", method="maj@k")]],
    "allocate": lambda pts, bins: (lambda r: _chosen(r["per_bin"]) + [(r["uniform_strategy"], r["uniform_verifier"])])(
        allocation.allocate(pts, bins, 4.0, n_boot=50)),
    "allocation_curve": lambda pts, bins: [c for pb in allocation.allocation_curve(pts, bins, [2.0, 8.0], n_boot=50)[
        "per_bin"] for c in _chosen(pb)],
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_every_comparison_ranks_deployable_points_only(name):
    pts, bins = _points()
    chosen = COMPARISONS[name](pts, bins)
    assert chosen and all(is_deployable(s, v) for s, v in chosen), chosen


def test_the_upper_bounds_would_have_won_and_are_kept_apart():
    pts, bins = _points()
    assert not curves.frontier(pts, 8.0, upper_bounds=True).set_index("strategy").loc["pass@k", "deployable"]
    best = curves.frontier(pts, 8.0, upper_bounds=True).sort_values("acc").iloc[-1]
    assert not best["deployable"] and best["acc"] == pytest.approx(1.0)  # what only a perfect verifier reaches
    assert allocation.allocate(pts, bins, 4.0, upper_bounds=True, n_boot=50)["upper_bound"]
    for v in UPPER:
        with pytest.raises(ValueError, match="upper bound"):
            exchange.exchange_rate(pts, "small", "large", method="best-of-k", verifier=v)
    cf = allocation.crossfit_allocation(pts, bins, 4.0, n_boot=50)
    alone = allocation.crossfit_allocation(pts.deployable(), bins, 4.0, n_boot=50)
    assert cf["gain"] == alone["gain"] and cf["alloc_acc"] == alone["alloc_acc"]  # upper bounds never enter
