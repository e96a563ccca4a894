"""backend/analysis/selection.py, votes.py, crossfit.py and routing.mixture_at: the one definition of final models,
the main pool, a series and the spread runs; the one majority vote and answer histogram; cross-fitted picks; the
FLOPs-matched mixture of two policies."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backend.analysis import selection, votes
from backend.analysis.crossfit import crossfit_pick, folds
from backend.analysis.data import model_table
from backend.analysis.points import PARAM_COLUMNS
from backend.analysis.routing import mixture_at

RECIPE = {"p_fix": 0.06, "p_recheck": 0.04, "paths": "single", "seed": 1234}


def card(name, params, fmt="cot", checkpoint_of=None, tokens=36e6, **recipe):
    r = {**RECIPE, **recipe}
    return {"name": name, "params": params, "fmt": fmt, "family": checkpoint_of or name, "checkpoint_of": checkpoint_of,
            "training_tokens": tokens, "seed": r["seed"], "recipe": r}


CARDS = [card("cot-a", 100), card("cot-a@3M", 100, checkpoint_of="cot-a", tokens=3e6), card("cot-b", 800),
         card("cot-a-nowait", 100, p_fix=0.0, p_recheck=0.0), card("cot-a-s2", 100, seed=2),
         card("cot-a-multi", 100, paths="multi"), card("direct-a", 100, fmt="direct"), card("cot-c", 3000)]


def test_final_models_come_from_card_fields_not_names():
    m = model_table(None, CARDS)
    assert selection.final_models(m, "cot") == ["cot-a", "cot-b", "cot-c"]
    assert selection.final_models(m) == ["cot-a", "direct-a", "cot-b", "cot-c"]
    assert selection.final_models(m, "cot", paths="multi") == ["cot-a-multi"]
    assert selection.final_models(m, "cot", have={"cot-b", "cot-c"}) == ["cot-b", "cot-c"]
    assert selection.ablation_pairs(m) == [("cot-a", "cot-a-nowait")]
    assert selection.seed_replicates(m, "cot-a") == ["cot-a-s2", "cot-a"]  # by seed: 2, 1234
    assert list(selection.family_members(m, "cot-a")["name"]) == ["cot-a@3M", "cot-a"]
    renamed = model_table(None, [card("mystery", 100, p_fix=0.0, p_recheck=0.0)] + CARDS[:1])
    assert selection.final_models(renamed) == ["cot-a"]  # an ablation is an ablation whatever its name


def _runs():
    rows = [("k1", "m", "sample", 0.8, 256, {}), ("k2", "m", "sample", 1.2, 256, {}), ("k3", "m", "sample", 0.8, 16, {}),
            ("k4", "m", "budget_forcing", 0.8, 8, {"budget": 32, "mode": "cap"}),
            ("k5", "m", "budget_forcing", 0.8, 8, {"budget": 8, "mode": "cap"}),
            ("k6", "m", "budget_forcing", 0.8, 8, {"budget": 8, "mode": "force"}), ("k7", "x", "greedy", 0, 1, {})]
    return pd.DataFrame([{"run_key": k, "model": m, "strategy": s, "temperature": t, "n": n, "params": p,
                          "budget": p.get("budget")} for k, m, s, t, n, p in rows])


def test_main_pool_and_spread_runs():
    runs = _runs()
    assert selection.main_pool(runs, "m") == "k1"  # biggest; ties: the main temperature
    assert selection.main_pool(runs, "x") is None
    assert selection.spread_runs(runs, "m", "temperature") == [(0.8, "k1"), (1.2, "k2")]
    assert selection.spread_runs(runs, "m", "cap") == [(8.0, "k5"), (32.0, "k4")]
    assert selection.spread_runs(runs, "m", "thinking") == [(8.0, "k6")]
    assert selection.spread_runs(runs, "x", "cap") == []
    with pytest.raises(ValueError, match="unknown spread axis"):
        selection.spread_runs(runs, "m", "colour")


def test_series_picks_one_line():
    meta = pd.DataFrame({"model": "m", "strategy": "maj@k", "temperature": [0.4] * 3 + [0.8] * 3 + [1.2] * 3,
                         "verifier": "", "k": [1, 2, 4] * 3, **PARAM_COLUMNS})
    s = selection.series(meta, "m", "maj@k")
    assert list(s.index) == [3, 4, 5] and list(s["k"]) == [1, 2, 4]  # equal sizes: the main temperature
    assert list(selection.series(meta, "m", "maj@k", temperature=1.2).index) == [6, 7, 8]
    with pytest.raises(ValueError):
        selection.series(meta, "m", "beam")


def test_one_majority_vote_and_histogram():
    assert votes.majority(["3", None, "4", "4", "3"]) == "3"  # tie: the answer seen first
    assert votes.majority(["4", "3", "3", "4"]) == "4"
    assert votes.majority([None, None]) is None
    assert votes.weighted_majority(["a", "b", "b"], [0.9, 0.4, 0.4]) == "a"
    for answers in itertools.permutations(["1", "2", "2", "1", None]):  # deterministic: first-seen wins a tie
        assert votes.majority(list(answers)) == next(a for a in answers if a is not None)
    c = votes.answer_counts(["1", None, "2", "2", None, None])
    assert list(c.items()) == [(votes.NONE, 3), ("2", 2), ("1", 1)]


def test_crossfit_pick_chooses_on_the_other_half():
    acc = np.array([[1, 1, 0, 0], [0, 0, 1, 1.0]])  # candidate 0 is best on prompts 0-1, candidate 1 on 2-3
    fold = np.array([0, 0, 1, 1])
    values, picks = crossfit_pick(acc, fold)
    assert picks == {0: 1, 1: 0} and values.tolist() == [0, 0, 0, 0]  # in-sample picking would have scored 1.0
    f = folds(10, ["a"] * 6 + ["b"] * 4, seed=3)
    assert sorted(np.bincount(f)) == [5, 5] and sorted(np.bincount(f[:6])) == [3, 3]
    with pytest.raises(ValueError):
        crossfit_pick(np.array([[np.nan, 1.0]]), np.array([0, 1]))


def test_mixture_at_matches_flops_and_takes_the_better_end():
    dc, df_, cc, cf = np.array([0, 1.0]), np.array([1, 1.0]), np.array([1, 1.0]), np.array([9, 9.0])
    mix, q = mixture_at(5.0, dc, df_, cc, cf)
    assert q == pytest.approx(0.5) and mix.mean() == pytest.approx(0.75)  # (1−q)·0.5 + q·1 at (1−q)·1 + q·9 = 5
    assert mixture_at(100.0, dc, df_, cc, cf)[1] == 1.0  # past the dearer policy: that policy alone
    assert mixture_at(0.5, dc, df_, cc, cf)[1] == 0.0  # below both: the cheaper one
    worse = mixture_at(5.0, dc, df_, np.zeros(2), cf)
    assert worse[1] == 0.0  # a dearer, worse policy is never mixed in
