"""The guided story: every step draws from the cache and says what it shows; its sentences follow the numbers and
take their verdicts from the claims' one ladder (backend.analysis.claims.verdict), never from a fixed text."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backend.analysis.claims import INF, MARGIN, verdict
from backend.explore import story

EMPTY = ("None", "nan", "null")


@pytest.fixture()
def cache(on_app_cache):
    return on_app_cache


def test_steps_are_six_to_eight_and_name_their_claim_and_page():
    from backend.analysis.claims import CLAIMS

    assert 6 <= len(story.STEPS) <= 8 and len(set(story.KEYS)) == len(story.KEYS)
    claims = {c[0] for c in CLAIMS}
    for s in story.STEPS:
        assert s.claim in claims and s.page.startswith("pages/") and s.title and s.question.endswith("?")
    with pytest.raises(ValueError, match="unknown story step"):
        story.step("nope")


def test_every_step_draws_from_the_cache_and_says_what_it_shows(cache):
    """Each step's default selection gives its chart data and sentences (or one sentence saying what is missing),
    with no empty value in any sentence."""
    drawn = 0
    for s in story.STEPS:
        sel = {k: v[1] for k, v in story.choices(s.key).items()}
        d = story.data(s.key, **sel)
        said = story.sentences(d)
        assert said and all(isinstance(x, str) and x for x in said), s.key
        for x in said:
            assert not any(f" {w} " in f" {x} " or f"{w}%" in x for w in EMPTY), (s.key, x)
        if d.get("missing"):
            assert len(said) == 1 and said[0].startswith("This cache cannot draw this step"), (s.key, said)
        else:
            drawn += 1
            assert "link" in d and d["link"], s.key
    assert drawn >= 6, "the micro cache should draw most steps"


def test_coverage_slope_is_the_per_prompt_least_squares_fit(cache):
    """The coverage step's slope per doubling equals a brute-force per-prompt polyfit of pass@k on log2 k, and its
    verdict is the claims' ladder applied to its CI (region above 0, as claim 8)."""
    from backend.analysis import selection
    from backend.explore.derived import points

    model = story.choices("coverage")["model"][1]
    d = story.data("coverage", model=model)
    pts = points()
    cov = selection.series(pts.meta, model, "pass@k", temperature=selection.MAIN_TEMPERATURE)
    rows = [int(cov.index[cov["k"] == k][0]) for k in d["ks"]]
    ok = np.all(~np.isnan(pts.acc[rows]), axis=0)
    fits = [np.polyfit(np.log2(d["ks"]), pts.acc[rows][:, j], 1)[0] for j in np.flatnonzero(ok)]
    assert math.isclose(d["slope"][0], float(np.mean(fits)), rel_tol=1e-9, abs_tol=1e-12)
    assert d["verdict"] == verdict(d["slope"][1], d["slope"][2], 0)
    assert math.isclose(d["first"], float(np.mean(pts.acc[rows[0]][ok])))


def test_reasoning_step_verdict_is_claim_3s_rule(cache):
    direct = story.choices("reasoning")["direct"]
    if not direct[0]:
        pytest.skip("the micro cache has no direct model with a CoT partner")
    d = story.data("reasoning", direct=direct[1])
    assert d["verdict"] == verdict(d["diff"][1], d["diff"][2], -INF, -MARGIN)
    assert math.isclose(d["diff"][0], d["direct_acc"] - d["cot_acc"], abs_tol=1e-12)


def _coverage(lo: float, hi: float) -> dict:
    return {"step": "coverage", "model": "m", "first": 0.4, "last": 0.8, "n": 64, "n_prompts": 100,
            "slope": ((lo + hi) / 2, lo, hi), "verdict": verdict(lo, hi, 0)}


def test_sentences_follow_the_numbers_and_the_verdict():
    up = story.sentences(_coverage(0.03, 0.06))
    flat = story.sentences(_coverage(-0.01, 0.02))
    down = story.sentences(_coverage(-0.03, -0.01))
    assert "keeps growing" in up[1] and "+4.5 points (95% CI +3.0 to +6.0)" in up[1]
    assert "inconclusive" in flat[1] and "keeps growing" not in flat[1]
    assert "does not grow" in down[1]
    assert "40.0%" in up[0] and "80.0%" in up[0] and "64 samples" in up[0]

    base = {"step": "reasoning", "direct": "d", "cot": "c", "n": 32, "direct_acc": 0.2, "cot_acc": 0.7,
            "coverage": 0.5, "claim": None}
    gap = story.sentences({**base, "diff": (-0.5, -0.6, -0.4), "verdict": verdict(-0.6, -0.4, -INF, -MARGIN)})
    closed = story.sentences({**base, "diff": (0.0, -0.01, 0.01), "verdict": verdict(-0.01, 0.01, -INF, -MARGIN)})
    assert "persists" in gap[1] and "closes" in closed[1] and gap[1] != closed[1]


def test_claim_lines_quote_the_claims_report():
    c = {"claim": 1, "verdict": "not supported", "effect": -0.41, "lo": -0.47, "hi": -0.35, "stale": True, "why": ""}
    line = story._claim_line(c, "the trade")[0]
    assert "Claim 1" in line and "**not supported**" in line and "-41.0 points (95% CI -47.0 to -35.0)" in line
    assert "before the latest runs" in line
    assert "no verdict" in story._claim_line(None, "the trade")[0]


def test_winner_sentences_count_clear_cells_by_the_ladder():
    d = {"step": "winner", "bins": "band", "ref": "a", "claim": None,
         "per_bin": [{"bin": "easy", "first": "a", "first_budget": 1e7, "last": "b", "from_budget": 3.4e8,
                      "cells": 8, "clear": 2, "n_cells": 12}]}
    s = story.sentences(d)[0]
    assert "a wins the smallest budget (1×10⁷ FLOPs)" in s and "from 3.4×10⁸ FLOPs" in s and "2 of those 8" in s
