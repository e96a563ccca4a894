"""Every page through streamlit.testing.v1.AppTest on a cache built from the micro zoo: loads without exception,
key widgets present, a widget change changes what the backend returns, hostile query parameters handled."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.conftest import page_opener

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["home", "story", "budget_curves", "small_vs_large", "spread", "adaptive", "reasoning", "traces", "playground",
         "real_models", "claims", "zoo_cache"]
HOSTILE = ["<script>alert(1)</script>", "[x](javascript:alert(1))", "' OR 1=1 --", "../../etc/passwd", "é" * 500]


@pytest.fixture()
def app(on_app_cache, monkeypatch):
    monkeypatch.chdir(ROOT)
    return page_opener(120)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_exception(app, page):
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} has no title"


@pytest.mark.parametrize("page", PAGES)
def test_hostile_query_parameters_fall_back_with_a_note(app, page):
    for bad in HOSTILE:
        at = app(page, model=bad, models=bad, run=bad, prompt=bad, unit=bad, bins=bad, bin=bad, strategy=bad,
                 axis=bad, small=bad, large=bad, pool=bad, member=bad, budget=bad, k=bad)
        assert not at.exception, (page, bad, [e.value for e in at.exception])
        for el in list(at.markdown) + list(at.warning) + list(at.caption):
            assert "<script>" not in el.value  # shown escaped, never as markup


def test_budget_curves_unit_changes_the_plotted_data(app):
    at = app("budget_curves")
    assert at.selectbox(key="unit") is not None and at.multiselect(key="models") is not None
    before = _charts(at)[0]
    at.selectbox(key="unit").set_value("samples per prompt").run()
    after = _charts(at)[0]
    xs = lambda fig: [json.dumps(tr["x"]) for tr in fig["data"] if tr.get("mode")]
    assert xs(before) != xs(after)
    assert after["layout"]["xaxis"]["title"]["text"] == "samples per prompt"


def test_traces_shows_model_text_as_text_and_follows_the_prompt(app):
    at = app("traces")
    assert at.code, "the selected sample's text is shown in a code block"
    prompt = at.selectbox(key="prompt")
    before = [c.value for c in at.code]
    prompt.set_value(prompt.options[-1] if prompt.value != prompt.options[-1] else prompt.options[0])
    at.run()
    assert not at.exception
    assert [c.value for c in at.code] != before or at.markdown[1].value != ""


def test_traces_search_run_draws_a_tree(app, app_cache):
    from backend.explore import traces
    from pages._common import strategy_label

    runs = traces.run_table(strategy_label)  # the labels the page shows (and its links carry)
    beam = runs[runs["strategy"] == "beam"].iloc[0]
    at = app("traces", model=beam["model"], run=beam["label"])
    assert not at.exception
    titles = [fig["layout"].get("xaxis", {}).get("title", {}).get("text", "") for fig in _charts(at)]
    assert any(t.startswith("depth") for t in titles), (titles, at.selectbox(key="run").value, beam["run_key"],
                                                        at.selectbox(key="model").value, beam["model"],
                                                        [w.value for w in at.warning])


def test_playground_validates_and_runs_live(app, app_cache):
    at = app("playground", model="micro-cot-a")
    at.selectbox(key="example").set_value("(type my own)")
    at.text_input(key="typed").set_value("12+x")
    at.run()
    assert any("cannot read" in e.value and "'x'" in e.value for e in at.error), [e.value for e in at.error] + [e.value for e in at.exception]
    at.text_input(key="typed").set_value("12+34*5")
    at.selectbox(key="strategy").set_value("sample")
    at.select_slider(key="budget").set_value(4)
    at.run()
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("samples correct" in m.value for m in at.markdown), ([e.value for e in at.error],
                                                                     [m.value for m in at.markdown])
    from backend.explore import store

    assert "arith:12+34*5" in set(store().sql("SELECT prompt_key FROM samples")["prompt_key"])


def test_zoo_page_lists_cards_and_cache(app):
    at = app("zoo_cache")
    assert at.dataframe and any(m.label == "samples" for m in at.metric)
    before = _charts(at)
    at.selectbox(key="member").set_value("micro-cot-b").run()
    after = _charts(at)
    assert after != before  # micro models may score alike per cell; the chart still names its member
    assert "micro-cot-b" in after[0]["layout"]["title"]["text"]


def test_verifier_table_reads_the_pools(app_cache, monkeypatch):
    from backend import explore
    from backend.analysis.summary import verifier_table

    monkeypatch.setenv("TTC_CACHE", str(app_cache))
    explore.reset_store()
    table = verifier_table(explore.store(), min_n=2)
    assert len(table) and set(table["verifier"]) == {"learned"}
    assert table["pooled_auroc"].dropna().between(0, 1).all()
    assert table["within_prompt_auroc"].dropna().between(0, 1).all()
    assert (table["prompts_mixed"] <= table["prompts"]).all()


def test_precomputed_spread_curves_equal_a_fresh_computation(app_cache, monkeypatch):
    import pandas as pd

    from backend import explore
    from backend.analysis import spread as S
    from backend.explore import derived, spread

    monkeypatch.setenv("TTC_CACHE", str(app_cache))
    explore.reset_store()
    derived.precompute()
    saved = derived.saved_table("spread")
    assert saved is not None and len(saved)
    model, axis = saved[["model", "axis"]].iloc[0]
    for k in spread.K_OPTIONS:
        fresh = S.spread_curve(spread._pools(model, axis), k)
        pd.testing.assert_frame_equal(spread.spread_curve(model, axis, k), fresh, check_dtype=False)


def _warnings(at: AppTest) -> list[str]:
    return [w.value.replace("\\", "") for w in at.warning]  # Markdown escapes removed


@pytest.mark.parametrize("page, key, bad, widget", [
    ("playground", "budget", "-1", "select_slider"), ("playground", "budget", "1e309", "select_slider"),
    ("small_vs_large", "queries", "1e309", "slider"), ("small_vs_large", "queries", "-1", "slider"),
    ("spread", "k", "NaN", "select_slider"), ("spread", "k", "3", "select_slider"),
    ("adaptive", "perfect", "maybe", "toggle"),
])
def test_numeric_link_values_out_of_range_fall_back_with_a_note(app, page, key, bad, widget):
    if key == "queries":
        from backend.explore import common, small_large

        if not small_large.matching_pairs(tuple(common.final_models("cot"))):
            pytest.skip("no pair of final models matches in this cache, so Small vs large shows no lifetime slider")
    at = app(page, **{key: bad})
    assert not at.exception, [e.value for e in at.exception]
    shown = getattr(at, widget)(key=key).value
    assert any(f"{key} = “{bad}”" in w and "instead" in w for w in _warnings(at)), (shown, _warnings(at))
    good = {"budget": "4", "queries": "7.5", "k": "4", "perfect": "true"}[key]
    at = app(page, **{key: good})
    assert str(getattr(at, widget)(key=key).value).lower() == good
    assert not any(f"{key} = " in w for w in _warnings(at))


def test_playground_says_a_long_prompt_was_rejected(app):
    at = app("playground", model="micro-cot-a")
    long = "1+" * 125 + "1"
    at.text_input(key="typed").set_value(long).run()
    assert not at.exception and at.text_input(key="typed").value == long  # kept in the box, not emptied
    assert any("200 characters" in e.value for e in at.error), [e.value for e in at.error]
    assert not any(m.value.startswith("Gold answer") for m in at.markdown)  # the example prompt is not used


@pytest.fixture()
def broken_model(tmp_path, monkeypatch):
    """A registered model whose weights file was damaged after registration."""
    from backend import models
    from tests.helpers import random_word_model

    folder = random_word_model(tmp_path / "broken", vocab=40)
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    entry = {"path": str(folder), "task": "gsm8k", "params": 1, "fingerprint": "x", "chat_template": False}
    monkeypatch.setattr(models, "registered_models", lambda: {"broken": entry})
    return "broken"


def test_playground_shows_a_broken_model_as_one_line(app, broken_model):
    at = app("playground", model=broken_model)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="model").value == broken_model
    err = [e.value.replace("\\", "") for e in at.error]
    assert len(err) == 1 and "model.safetensors: not a readable safetensors file" in err[0] and "\n" not in err[0]


def test_playground_shows_an_engine_failure_as_one_line(app, monkeypatch):
    from backend.engines.hf import HFEngine
    from backend.explore import store

    def boom(self, *a, **k):
        raise RuntimeError("CUDA out of memory.\nTried to allocate 2.00 GiB")

    monkeypatch.setattr(HFEngine, "sample", boom)
    at = app("playground", model="micro-cot-a")
    at.selectbox(key="example").set_value("(type my own)")
    at.text_input(key="typed").set_value("11+22*3")
    at.selectbox(key="strategy").set_value("sample")
    at.select_slider(key="budget").set_value(4)
    at.run()
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["CUDA out of memory\\. Tried to allocate 2\\.00 GiB"]
    assert "arith:11+22*3" not in set(store().sql("SELECT prompt_key FROM samples")["prompt_key"])
    at.button(key="cancel").click().run()  # a cancel is a note, never an error
    assert not at.exception and not at.error and any("cancelled" in i.value for i in at.info)


def test_home_says_what_the_cache_says(app):
    """Home's result sentences are computed from this cache's headline numbers; the default pair is the smallest and
    the largest final CoT model; upper bounds are drawn apart (grey, dashed) and named."""
    from backend.explore import curves
    from pages._common import NEUTRAL, UPPER_BOUND, strategy_label

    at = app("home")
    h = curves.headline()
    assert (h["small"], h["large"]) == (h["choices"][0], h["choices"][-1])
    want = curves.headline_sentences(h, strategy_label)
    shown = [m.value for m in at.markdown]
    assert want and all(s in shown for s in want)
    names = [tr.get("name", "") for tr in _charts(at)[0]["data"]]
    upper = [tr for tr in _charts(at)[0]["data"] if tr.get("name", "").startswith(UPPER_BOUND)]
    assert upper and any("greedy" in n for n in names)
    assert all(tr["line"]["color"] == NEUTRAL and tr["line"]["dash"] != "solid" for tr in upper)  # grey, each dashed


def test_home_lines_are_told_apart_without_colour_alone(app):
    """Issue 14: every line of the headline chart differs from every other in colour, dash or marker, and upper
    bounds are grey with their own dash each (two search lines used to be identical)."""
    from pages._common import NEUTRAL

    at = app("home")
    lines = [tr for tr in _charts(at)[0]["data"] if "lines" in tr.get("mode", "") and tr.get("showlegend") is not False]
    looks = [(tr["line"].get("color"), tr["line"].get("dash"), tr.get("marker", {}).get("symbol")) for tr in lines]
    assert len(lines) >= 3 and len(set(looks)) == len(looks), looks
    upper = [tr for tr in lines if tr["name"].startswith("upper bound")]
    assert upper and all(tr["line"]["color"] == NEUTRAL for tr in upper)
    assert len({tr["line"]["dash"] for tr in upper}) == len(upper)


def test_a_shared_link_with_strategies_keeps_them(app):
    """Issue 13 item 7: strategies in a link are their shown labels; they are selected, not reported as dropped."""
    at = app("budget_curves", strategies=["majority vote", "coverage (pass@k)"])
    assert not at.exception, [e.value for e in at.exception]
    assert not [w.value for w in at.warning if "not available" in w.value]
    assert set(at.multiselect(key="strategies").value) == {"maj@k", "pass@k"}
    at = app("budget_curves", strategies=["majority vote", "no such strategy"])
    assert any("no such strategy" in w.value for w in at.warning)  # an unknown one is still reported


def test_adaptive_routing_follows_the_model_selector(app):
    """Issue 13 item 7: the routing section routes to the model chosen at the top of the page."""
    from backend.explore import common

    finals = common.final_models("cot")
    if len(finals) < 2 or not common.final_models("direct"):
        pytest.skip("needs two CoT models and a direct model")
    at = app("adaptive")
    label = lambda: at.selectbox(key="direct").label
    assert finals[0] in label()
    before = [tr for tr in _charts(at) if tr["layout"]["xaxis"]["title"]["text"].startswith("inference FLOPs")]
    at.selectbox(key="model").set_value(finals[1]).run()
    assert not at.exception and finals[1] in label() and finals[0] not in label()
    after = [tr for tr in _charts(at) if tr["layout"]["xaxis"]["title"]["text"].startswith("inference FLOPs")]
    assert before and after and before[-1]["data"] != after[-1]["data"]


def test_playground_reports_the_time_the_user_waited(app, monkeypatch):
    """Issue 13 items 4 and 7: the time shown is the wait from the click (model loading included), not the
    generation's compute time alone."""
    import re
    import time

    from backend import models

    real = models.load_engine

    def slow(name, *a, **k):
        time.sleep(0.6)
        return real(name, *a, **k)

    at = app("playground", model="micro-cot-a")
    at.selectbox(key="example").set_value("(type my own)")
    at.text_input(key="typed").set_value("13+31*3")
    at.selectbox(key="strategy").set_value("greedy")
    at.run()
    monkeypatch.setattr(models, "load_engine", slow)
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    said = next(m.value for m in at.markdown if "you waited" in m.value)
    waited = float(re.search(r"you waited \*\*([\d.]+) s", said).group(1))
    generation = float(re.search(r"generation ([\d.]+) s", said).group(1))
    assert waited >= 0.6 and waited >= generation, said


def test_claims_page_says_when_its_verdicts_are_stale_and_recomputes(app, monkeypatch):
    from backend.explore import derived

    calls = []
    saved = {"claims": [{"claim": 1, "title": "t", "paper": "p", "verdict": "supported", "effect": 0.1, "lo": 0.05,
                         "hi": 0.15, "metric": "m", "comparison": "c", "prompts": "all", "rule": "r", "why": "w",
                         "matching": {}, "details": {}, "n_prompts": 10}],
             "stale": True, "computed": "2026-01-01 00:00 UTC", "runs_then": 3, "runs_now": 5}
    monkeypatch.setattr(derived, "claims_status", lambda store=None: saved)
    monkeypatch.setattr(derived, "claims", lambda store=None: calls.append(1) or saved["claims"])
    at = app("claims")
    assert any("before 2 new runs" in i.value for i in at.info), [i.value for i in at.info]
    assert not calls
    at.button(key="recompute").click().run()
    assert calls and not at.exception


def test_story_step_is_in_the_url(app):
    from backend.explore import story

    at = app("story", step="3")
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == f"3. {story.STEPS[2].title}" for h in at.subheader)
    at.button(key="next-top").click().run()
    assert at.query_params.get("step") in ("4", ["4"]) and any(h.value.startswith("4. ") for h in at.subheader)
    at = app("story", step="99")
    assert any("step = “99”" in w.value for w in at.warning) and any(h.value.startswith("1. ") for h in at.subheader)


def test_warm_up_loads_the_model_only_after_a_first_page_is_drawn(app_cache):
    """The store and derived points warm up at once; torch (seconds of the interpreter lock) only once a first page
    was drawn, so the first page does not wait behind it."""
    import subprocess
    import sys

    code = """
import sys, time
from backend import explore
from backend.explore import derived
from backend.store import Store
explore.own_store(Store)
explore.warm_up()
deadline = time.time() + 60
while not any(k[0] == "points" for k in list(derived._memo) if isinstance(k, tuple)) and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
before = "torch" in sys.modules
explore.page_drawn()
while "torch" not in sys.modules and time.time() < deadline:
    time.sleep(0.05)
print(before, "torch" in sys.modules)
"""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TTC_CACHE": str(app_cache), "PYTHONPATH": str(root)})
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]
