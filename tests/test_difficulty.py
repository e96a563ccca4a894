"""backend/analysis/difficulty.py: construction bands, oracle quantile bins with ties, predicted bins and their cost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.analysis import difficulty as D


def test_construction_bands_and_cells():
    prompts = pd.DataFrame({"prompt_key": list("abcdef"), "n_ops": [1, 2, 3, 4, 5, 6], "digits": [1, 2, 3, 1, 2, 3]})
    bands = D.construction_bins(prompts)
    assert list(bands) == ["easy", "easy", "medium", "medium", "hard", "hard"]
    assert list(bands.cat.categories) == ["easy", "medium", "hard"]
    assert list(D.construction_bins(prompts, "cell")) == ["1,1", "2,2", "3,3", "4,1", "5,2", "6,3"]
    assert list(D.check_bin(bands, "hard")) == ["e", "f"]


def test_quantile_bins_equal_counts_without_ties():
    bins = D.quantile_bins(np.linspace(1, 0, 10))  # easiest first
    assert list(bins) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_oracle_bins_keep_ties_together_and_unsolved_prompts_hardest():
    n = np.full(10, 8)
    c = np.array([8, 8, 8, 6, 5, 4, 0, 0, 0, 0])  # 4 prompts never solved: one tie block
    bins = D.oracle_bins(n, c, prompt_keys=[f"p{i}" for i in range(10)])
    assert set(bins[["p6", "p7", "p8", "p9"]]) == {5}  # the block spans ranks 6..9, centre 0.8 → bin 5
    assert set(bins[["p0", "p1", "p2"]]) == {1}  # a three-way tie at the top shares one bin (centre 0.15)
    assert list(bins[["p3", "p4", "p5"]]) == [2, 3, 3]
    counts = bins.value_counts().sort_index()
    assert counts.sum() == 10 and counts[4] == 0  # ties can leave a bin empty: stated in the docstring


def test_predicted_bins_use_mean_score_and_charge_generation_plus_verifier():
    scores = np.array([[0.9, 0.7], [0.1, 0.3], [0.5, 0.5], [0.2, 0.0], [1.0, 0.8]])
    flops = np.full(scores.shape, 100.0)
    vflops = np.full(scores.shape, 40.0)
    out = D.predicted_bins(scores, flops, vflops, prompt_keys=list("abcde"))
    assert list(out["pred_score"]) == pytest.approx([0.8, 0.2, 0.5, 0.1, 0.9])
    assert list(out["bin"]) == [2, 4, 3, 5, 1]
    assert list(out["flops"]) == [200 + 80] * 5  # both samples generated and both scored, as recorded
    assert list(D.predicted_bins(scores, flops, 0 * vflops)["flops"]) == [200.0] * 5  # a rule-based verifier: free


@pytest.mark.parametrize("call", [
    lambda: D.band_of(7),
    lambda: D.construction_bins(pd.DataFrame({"prompt_key": ["a"], "n_ops": [1]})),
    lambda: D.construction_bins(pd.DataFrame({"prompt_key": ["a"], "n_ops": [1], "digits": [1]}), "colour"),
    lambda: D.quantile_bins([]),
    lambda: D.quantile_bins([0.1, np.nan]),
    lambda: D.quantile_bins([0.1, 0.2], n_bins=0),
    lambda: D.quantile_bins([0.1, 0.2], prompt_keys=["a"]),
    lambda: D.oracle_bins([4, 4], [5, 1]),  # more correct than samples
    lambda: D.oracle_bins([4, 4], [-1, 1]),
    lambda: D.oracle_bins([4, 4, 4], [1, 1]),
    lambda: D.predicted_bins(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 3))),
    lambda: D.predicted_bins(np.ones((2, 3)), -np.ones((2, 3)), np.ones((2, 3))),
    lambda: D.check_bin(D.quantile_bins([0.1, 0.2]), 9),
])
def test_bad_input_is_a_value_error(call):
    with pytest.raises(ValueError):
        call()
