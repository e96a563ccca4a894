"""The error-profile comparison (Real models) and the verifier-quality chart (Budget curves): their functions against
brute force on tiny hand-built cases and on the micro cache, and both page sections rendered with formatted text."""
from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.analysis import estimators as E
from backend.analysis.claims import verdict
from backend.analysis.error_profile import features, per_prompt
from backend.analysis.points import Points
from backend.explore import profile as P
from backend.explore import verifier_knob as K
from tests.conftest import page_opener

ROOT = Path(__file__).resolve().parents[1]


def _brute_majority(answers, gold, k):
    """maj@k by enumerating every k-subset (ties split, None never wins)."""
    total = 0.0
    for subset in itertools.combinations(answers, k):
        counts = Counter(a for a in subset if a is not None)
        if counts:
            top = max(counts.values())
            winners = [a for a, c in counts.items() if c == top]
            total += (gold in winners) / len(winners)
    return total / math.comb(len(answers), k)


def _brute_features(answers, gold, k):
    """(maj@k − pass@1, error agreement, majority wrong but some right) means, counted by hand."""
    gains, agree, mwsr = [], [], []
    for ans, g in zip(answers, gold):
        p1 = sum(a == g for a in ans) / len(ans)
        gains.append(_brute_majority(ans, g, k) - p1)
        wrong = [a for a in ans if a != g]
        if len(wrong) >= 2:
            named = Counter(a for a in wrong if a is not None)
            agree.append((max(named.values()) if named else 0) / len(wrong))
        counts = Counter(a for a in ans if a is not None)
        top = max(counts.values()) if counts else 0
        mwsr.append(float(counts.get(g, 0) > 0 and [a for a, c in counts.items() if c == top] != [g]))
    return np.array([np.mean(gains), np.mean(agree), np.mean(mwsr)])


# ------------------------------------------------------------------------------------------- error profile: closeness
def _pool(rng, n, prompts, p_right, n_wrong):
    """Answers of a toy pool: right with p_right, else one of n_wrong wrong answers (few: errors agree)."""
    return [[("7" if rng.random() < p_right else str(8 + rng.integers(n_wrong))) for _ in range(n)]
            for _ in range(prompts)]


def test_closeness_matches_hand_computed_distances():
    rng = np.random.default_rng(0)
    answers = {"s": _pool(rng, 9, 30, 0.5, 1), "m": _pool(rng, 9, 30, 0.45, 6), "r": _pool(rng, 10, 40, 0.4, 5)}
    golds = {k: ["7"] * len(v) for k, v in answers.items()}
    table = pd.DataFrame([
        {"run_key": "s", "model": "zoo-single", "variant": "single", "role": "final", "params": 100, "n": 9,
         "prompts": 30},
        {"run_key": "m", "model": "zoo-multi", "variant": "multi", "role": "final", "params": 100, "n": 9,
         "prompts": 30},
        {"run_key": "x", "model": "zoo-multi-big", "variant": "multi", "role": "final", "params": 900, "n": 9,
         "prompts": 30},  # a size the single variant lacks: must not count
        {"run_key": "r", "model": "real", "variant": "real", "role": "final", "params": 10 ** 9, "n": 10,
         "prompts": 40}])
    rows = {k: features(per_prompt(answers[k], golds[k], (8,)), (8,)) for k in answers}
    rows["x"] = rows["m"]
    c = P.closeness(table, rows, n_boot=300)
    ref = _brute_features(answers["r"], golds["r"], 8)
    want = {v: float(np.linalg.norm(_brute_features(answers[k], golds[k], 8) - ref)) for v, k in (("single", "s"),
                                                                                                 ("multi", "m"))}
    assert c["reference"]["model"] == "real" and [p["params"] for p in c["pairs"]] == [100]
    assert c["pairs"][0]["k"] == 8  # the largest of 8 / 24 / 64 that every compared pool holds
    assert c["mean"] == pytest.approx(want, abs=1e-12)
    assert c["closer"] == min(want, key=want.get)
    e, lo, hi = c["diff"]
    assert e == pytest.approx(abs(want["single"] - want["multi"])) and lo <= hi
    assert c["verdict"] == verdict(lo, hi, 0)
    text = P.closeness_sentence(c)
    assert "real" in text and f"{min(want.values()):.3f}" in text and "K = 8" in text
    one = P.closeness(table[table["variant"] != "multi"], rows)  # one variant: a sentence, not a guess
    assert "missing" in one and "single-path zoo" in one["missing"]
    assert "missing" in P.closeness(table[table["variant"] != "real"], rows)


# ------------------------------------------------------------------------------------------- verifier knob: pure parts
def _toy_points() -> tuple[Points, np.ndarray]:
    """40 prompts; majority vote right on the first 16; best-of-N by the exact checker right on the first 30, at
    10% noise on the first 26, at 30% on the first 16 (no better than voting); beam worse than voting even with the
    exact checker (first 10 prompts)."""
    p = 40
    right = lambda m: (np.arange(p) < m).astype(float)
    rows, acc, flops = [], [], []
    for k in (1, 2, 4, 8):
        rows.append({"model": "toy", "strategy": "maj@k", "verifier": "", "k": k})
        acc.append(right(16) if k >= 4 else right(10))
        flops.append(np.full(p, 10.0 * k))
        for v, m in (("steps", 30), ("noisy:steps:0.1", 26), ("noisy:steps:0.3", 16)):
            rows.append({"model": "toy", "strategy": "best-of-k", "verifier": v, "k": k})
            acc.append(right(m if k >= 4 else 5))
            flops.append(np.full(p, 10.0 * k))
    for v, m, f in (("steps", 10, 35.0), ("noisy:steps:0.1", 8, 38.0)):
        rows.append({"model": "toy", "strategy": "beam", "verifier": v, "k": 4, "width": 4})
        acc.append(right(m))
        flops.append(np.full(p, f))
    meta = pd.DataFrame(rows).fillna({"width": 0}).assign(temperature=0.8)
    a = np.array(acc)
    pts = Points(meta, np.array([f"p{i}" for i in range(p)]), a, np.ones_like(a), np.ones_like(a), np.array(flops))
    return pts, a


def test_at_budget_takes_each_strategys_largest_setting_within_the_budget():
    pts, acc = _toy_points()
    t = K.at_budget(pts, 40.0, n_boot=200)
    by = {(r.strategy, r.verifier): r for r in t.itertuples()}
    assert by[("maj@k", "")].k == 4 and by[("best-of-k", "steps")].k == 4  # 80 FLOPs for k = 8 do not fit
    assert by[("beam", "noisy:steps:0.1")].flops == 38.0
    for r in t.itertuples():
        assert r.acc == pytest.approx(acc[r.row].mean())
        assert (r.lo, r.hi) == pytest.approx(E.bootstrap_ci(acc[r.row], n_boot=200)[1:])
        assert r.exact == (r.verifier == "steps") and r.rate == pytest.approx(
            {"": np.nan, "steps": 0.0, "noisy:steps:0.1": 0.1, "noisy:steps:0.3": 0.3}[r.verifier], nan_ok=True)
    assert K.at_budget(pts, 20.0, n_boot=50)["k"].max() == 2
    opts = K.budget_options(pts)
    assert opts["flops"].tolist() == [10, 20, 38, 40, 80] and K.default_budget(opts) == 38.0


def test_versus_voting_and_the_threshold_follow_the_claims_rule():
    pts, acc = _toy_points()
    t = K.at_budget(pts, 40.0, n_boot=200)
    cmp = K.versus_voting(pts, t, n_boot=300)
    maj = acc[int(t.loc[t["strategy"] == "maj@k", "row"].iloc[0])]
    for r in cmp.itertuples():
        a = acc[int(t.loc[(t["strategy"] == r.strategy) & (t["verifier"] == r.verifier), "row"].iloc[0])]
        d, lo, hi = E.paired_bootstrap_ci(a, maj, n_boot=300)
        assert (r.diff, r.lo, r.hi) == pytest.approx((d, lo, hi))
        assert r.beats == verdict(lo, hi, 0) and r.behind == verdict(lo, hi, -math.inf, -0.02)
    th = {x["strategy"]: x for x in K.thresholds(cmp)}
    assert th["best-of-k"]["first"]["rate"] == 0.3 and th["best-of-k"]["last_beats"]["rate"] == 0.1
    assert th["beam"]["first"]["rate"] == 0.0 and th["beam"]["last_beats"] is None  # worse than voting
    d = {"model": "toy", "budget": 40.0, "majority": t[t["strategy"] == "maj@k"].iloc[0].to_dict(), "compare": cmp,
         "thresholds": K.thresholds(cmp), "rates": (0.1, 0.3), "searched": ["beam"]}
    text = " ".join(K.knob_sentences(d))
    assert "no longer does is **30%**" in text and "even with the exact checker" in text and "falls behind" in text


# ------------------------------------------------------------------------------------------- on the micro cache
@pytest.fixture()
def cache(on_app_cache):
    return on_app_cache


def test_profiles_match_brute_force_on_the_stored_pools(cache):
    from backend.analysis import data
    from backend.explore import store

    table = P.profiles()
    assert set(table["variant"]) >= {"single"} and (table["role"] == "final").any()
    assert set(table["model"]) >= {"micro-cot-a"}
    for r in table.itertuples():
        pool = data.load_pool(store(), r.run_key)
        assert r.n == pool.n >= 8 and r.prompts == len(pool.prompt_keys)
        assert r.pass1 == pytest.approx(np.mean([sum(a == g for a in ans) / pool.n
                                                 for ans, g in zip(pool.answers, pool.gold)]))
        if pool.n <= 10:  # few enough subsets to enumerate
            want = _brute_features(pool.answers, pool.gold, 8)
            got = [r.maj8_gain, r.error_agreement, r.majority_wrong_some_right]
            assert np.allclose(got, want, equal_nan=True)
    assert np.isnan(table["maj24_gain"]).sum() == (table["n"] < 24).sum()
    view = P.profile_view(table)
    assert len(view) == len(table) and "maj@8 − pass@1" in view.columns


def test_verifier_knob_on_a_stored_pool_matches_brute_force(cache):
    from backend.analysis import data
    from backend.explore import store

    model = K.knob_models()[0]
    pts = K.knob_points(model)
    opts = K.budget_options(pts)
    budget = float(opts.loc[opts["what"] == "samples", "flops"].iloc[-1])  # all n samples: estimators are exact
    d = K.verifier_knob(model, budget)
    pool = K.rule_scored_pool(model)
    t = d["table"].set_index(["strategy", "verifier"])
    n = pool.n
    maj = np.mean([_brute_majority(a, g, n) for a, g in zip(pool.answers, pool.gold)])
    assert t.loc[("maj@k", ""), "k"] == n and t.loc[("maj@k", ""), "acc"] == pytest.approx(maj)
    for v in K.rule_verifiers(K.error_rates(model)):
        s = pool.scores[v]
        best = np.mean([pool.correct[i][s[i] == s[i].max()].mean() for i in range(len(s))])  # ties split
        assert t.loc[("best-of-k", v), "acc"] == pytest.approx(best)
        assert ("weighted-maj@k", v) in t.index
    assert set(K.rule_verifiers(K.error_rates(model))) >= {"steps", "noisy:steps:0.1"}
    runs = data.load_runs(store(), "beam")
    for (strategy, v), r in t.iterrows():  # a stored search run: its own per-prompt results
        if strategy == "beam":
            run = runs[(runs["model"] == model) & (runs["verifier"] == v) & (runs["budget"] == r["k"])]
            res = data.load_results(store(), run["run_key"].iloc[0]).drop_duplicates("prompt_key")
            assert r["acc"] == pytest.approx(res["correct"].mean())
    assert all(x["strategy"] in K.SEARCH for x in d["thresholds"])
    assert K.knob_sentences(d)[0].startswith("Within ")


# ------------------------------------------------------------------------------------------- the page sections
@pytest.fixture()
def app(cache, monkeypatch):
    monkeypatch.chdir(ROOT)
    return page_opener(300, always_run_home=True)


def _titles(at) -> list[str]:
    return [json.loads(el.proto.spec)["layout"]["xaxis"]["title"]["text"] for el in at.get("plotly_chart")]


def _problems(at) -> list[str]:
    from tests.test_rendered_text import problems, rendered

    return [f"{where}: {p}" for where, text in rendered(at) for p in problems(text)]


def test_budget_curves_shows_the_verifier_section_and_follows_its_controls(app):
    at = app("budget_curves")
    assert not at.exception, [e.value for e in at.exception]
    assert "How good must a verifier be before search beats voting?" in [s.value for s in at.subheader]
    assert any(t.startswith("verifier error rate") for t in _titles(at))
    assert any("majority vote over" in m.value for m in at.markdown)
    assert not _problems(at), _problems(at)[:10]
    before = [m.value for m in at.markdown]
    model, budget = at.selectbox(key="knob_model"), at.selectbox(key="knob_budget")
    budget.set_value(budget.options[0] if budget.value != budget.options[0] else budget.options[-1]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.markdown] != before and not _problems(at)
    if len(model.options) > 1:
        at.selectbox(key="knob_model").set_value(model.options[-1]).run()
        assert not at.exception and not _problems(at)


def test_real_models_shows_the_error_profile_with_its_sentence(app):
    from tests.conftest import REAL_DATA

    if not REAL_DATA.exists():
        pytest.skip("the page shows its sections only with imported real generations")
    at = app("real_models")
    assert not at.exception, [e.value for e in at.exception]
    assert "Error profile: the zoo against real models" in [s.value for s in at.subheader]
    assert any(t.startswith("error agreement") for t in _titles(at))
    assert any("zoo variant" in m.value or "profile is closer" in m.value for m in at.markdown)
    assert not _problems(at), _problems(at)[:10]
    at.selectbox(key="profile_k").set_value("maj@8 − pass@1").run()
    assert not at.exception and not _problems(at)
