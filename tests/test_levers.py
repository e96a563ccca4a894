"""The other levers on the micro zoo: DPO loss and proxy-tuned logits against hand computations, the router's mode
token parsed and counted, the latency model against measured wall time, and every new member and strategy through
the same store, estimators and page."""
from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lever_cache(app_cache, tmp_path_factory):
    """The app cache plus a quick router and DPO member (trained through the CLI), measured step times and the
    levers' runs."""
    from backend import explore
    from backend.build import build, default_plan
    from backend.cli import main

    root = tmp_path_factory.mktemp("levers")
    shutil.copytree(app_cache, root / "cache")
    old = {k: os.environ.get(k) for k in ("TTC_CACHE", "TTC_RUNS")}
    os.environ.update(TTC_CACHE=str(root / "cache"), TTC_RUNS=str(root / "runs"))
    try:
        explore.reset_store()
        assert main(["train-router", "--base", "micro-cot-a", "--reference", "micro-direct", "--quick"]) == 0
        assert main(["train-dpo", "--base", "micro-cot-a", "--teacher", "micro-cot-b", "--quick"]) == 0
        assert main(["measure-latency", "--quick", "--verifiers", "steps", "learned"]) == 0
        plan = default_plan(["micro-cot-a-router", "micro-cot-a-dpo"], per_cell=1, quick=True,
                            kinds=["greedy", "pools", "router", "forcing"])
        build(plan, explore.store(), quiet=True)
        yield root / "cache"
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        explore.reset_store()


@pytest.fixture()
def levers_env(lever_cache, monkeypatch):
    from backend import explore

    monkeypatch.setenv("TTC_CACHE", str(lever_cache))
    explore.reset_store()
    yield lever_cache
    explore.reset_store()


# ------------------------------------------------------------------------------------------------------ DPO
def test_dpo_loss_matches_a_hand_computation():
    from backend.zoo.dpo import dpo_loss

    # margin = 0.5·((−1 − −2) − (−3 − −2)) = 1, loss = log(1 + e^−1); equal log-ratios: log 2
    got = dpo_loss(torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -5.0]), torch.tensor([-2.0, -4.0]),
                   torch.tensor([-2.0, -5.0]), beta=0.5)
    assert got.tolist() == pytest.approx([np.log1p(np.exp(-1.0)), np.log(2.0)], rel=1e-6)


def test_sequence_logprobs_sum_the_completion_tokens(use_cache):
    from backend.zoo import finetune, registry

    model, tok = registry.load_member("micro-cot-a")
    examples = [("Q:1+2\n", "T:1+2=3\nA:3"), ("Q:34*5\n", "A:170")]
    with torch.no_grad():
        got = finetune.sequence_logprobs(model, finetune.pack(tok, examples))
    for (prompt, comp), g in zip(examples, got):
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        c = tok(comp, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=torch.tensor([p + c])).logits[0].float(), -1)
        brute = sum(float(lp[len(p) - 1 + i, t]) for i, t in enumerate(c))
        assert float(g) == pytest.approx(brute, abs=1e-4)


def test_dpo_member_card_counts_its_fine_tune(levers_env):
    from backend.analysis.compute import training_flops
    from backend.zoo.registry import read_card

    card, base = read_card("micro-cot-a-dpo"), read_card("micro-cot-a")
    ft = card["fine_tune"]
    assert ft["flops_policy"] == training_flops(card["params"], ft["tokens"])
    assert ft["flops"] == pytest.approx(ft["flops_policy"] + ft["flops_reference"] + ft["flops_teacher_sampling"])
    assert card["training_flops"] == pytest.approx(base["training_flops"] + ft["flops"])
    assert card["fine_tune_of"] == "micro-cot-a" and card["fmt"] == "cot"


# ------------------------------------------------------------------------------------------------------ proxy
def test_proxy_logits_equal_the_formula(use_cache):
    from backend.engines.proxy import ProxyCache, ProxyLM
    from backend.models import load_engine

    b, e, a = (load_engine(n) for n in ("micro-cot-b", "micro-cot-a", "micro-cot-a@0.4M"))
    ids = torch.tensor([b.prompt_ids("Q:12+3*4\n")])
    mask = torch.ones_like(ids)
    pos = torch.arange(ids.shape[1])[None]
    with torch.no_grad():
        got = ProxyLM(b.model, e.model, a.model, 1.5)(ids, mask, pos, ProxyCache()).logits
        want = [m.model(input_ids=ids).logits.float() for m in (b, e, a)]
    assert torch.allclose(got, want[0] + 1.5 * (want[1] - want[2]), atol=1e-5)


def test_proxy_greedy_decode_is_the_argmax_of_the_formula_at_every_step(use_cache):
    from backend.engines.base import SamplingParams
    from backend.engines.proxy import ProxyEngine
    from backend.models import load_engine

    b, e, a = (load_engine(n) for n in ("micro-cot-b", "micro-cot-a", "micro-cot-a@0.4M"))
    engine = ProxyEngine(b, e, a, 2.0)
    ((g,),) = engine.sample(["Q:7-2*3\n"], SamplingParams(temperature=0, max_new_tokens=12))
    ids = b.prompt_ids("Q:7-2*3\n")
    with torch.no_grad():  # brute force: no KV cache, the whole sequence re-read at every step
        for tok in g.token_ids:
            x = torch.tensor([ids])
            lg = [m.model(input_ids=x).logits[0, -1].float() for m in (b, e, a)]
            assert int(torch.argmax(lg[0] + 2.0 * (lg[1] - lg[2]))) == tok
            ids.append(tok)


def test_proxy_run_charges_three_forward_passes_and_keys_on_alpha(levers_env):
    from backend.analysis.compute import model_shape, sample_flops
    from backend.engines.base import SamplingParams
    from backend.models import load_engine
    from backend.runner import RunSpec, execute
    from backend.strategies.proxy import proxy_params
    from backend.tasks import arith_prompts

    g = SamplingParams(temperature=0, max_new_tokens=40)
    specs = [RunSpec.make("micro-cot-b", "proxy", g, proxy_params("micro-cot-a", "micro-cot-a@0.4M", al))
             for al in (0.5, 1.0)]
    engine = load_engine("micro-cot-b")
    assert specs[0].key_for(engine) != specs[1].key_for(engine)
    from backend import explore

    rep = execute(specs[0], arith_prompts(1)[:2], store=explore.store(), keep_outcomes=True)
    shapes = [model_shape(load_engine(n)) for n in ("micro-cot-b", "micro-cot-a", "micro-cot-a@0.4M")]
    for o in rep.outcomes:
        s = o.samples[0]
        assert s["flops"] == pytest.approx(sum(sample_flops(m, s["prompt_tokens"], s["gen_tokens"]) for m in shapes))
        assert o.result["gen_flops"] == pytest.approx(s["flops"])


# ------------------------------------------------------------------------------------------------------ router
def test_mode_token_parsed():
    from backend.zoo.modes import mode_of

    assert [mode_of(t) for t in ("T:1+2=3\nA:3", "A:3", "", None, "Q:1", "wait")] == \
        ["think", "short", None, None, None, None]


def test_router_examples_supervise_the_mode_token_only_on_the_label(use_cache):
    from backend.tasks import arith
    from backend.zoo.router import examples, pack_examples
    from backend.zoo.tokenizer import build_tokenizer

    tok = build_tokenizer()
    probs = [arith.Problem("1+2", 1, 1), arith.Problem("3*4-5", 2, 1)]
    ex = examples(probs, [True, False], {"p_fix": 0.0, "p_recheck": 0.0}, seed=0)
    assert [(c[0], s) for _, c, s in ex] == [("T", False), ("A", True), ("T", True), ("A", False)]
    batch = pack_examples(tok, ex)
    for r, (p, c, supervised) in enumerate(ex):
        at = len(p)  # one token per character
        assert (int(batch["labels"][r, at]) != -100) == supervised
        assert int(batch["labels"][r, at + 1]) == tok.convert_tokens_to_ids(c[1])  # the rest is always learned


def test_router_stage_two_labels_come_from_its_own_forced_short_answers(levers_env, tmp_path):
    """Stage 2 re-labels each prompt by the router's own greedy answer with "A" forced; the card charges both
    labelling passes and both stages."""
    from backend.engines.base import SamplingParams
    from backend.models import load_engine
    from backend.tasks import arith
    from backend.zoo import registry
    from backend.zoo.router import own_labels

    model, tok = registry.load_member("micro-cot-a-router")
    probs = [next(s) for s in [arith.train_stream("t")] for _ in range(12)]
    got = own_labels(model, tok, probs, tmp_path, quiet=True)
    gens = load_engine("micro-cot-a-router").sample([p.prompt + "A" for p in probs],
                                                    SamplingParams(temperature=0, max_new_tokens=24))
    expect = [bool(arith.check_answer(p.expr, arith.parse("A" + g[0].text).answer)) for p, g in zip(probs, gens)]
    assert got["short"] == expect and got["flops"] > 0
    ft = registry.read_card("micro-cot-a-router")["fine_tune"]
    assert "stage 2" in ft["label_rule"] and 0 <= ft["labelled_short_own"] <= 1
    assert ft["flops"] == pytest.approx(ft["flops_training"] + ft["flops_labels"])


def test_router_runs_record_and_count_the_mode(levers_env):
    from backend import explore
    from backend.analysis import data
    from backend.analysis.learned_routing import compare_router, load_router, router_runs
    from backend.models import load_engine
    from backend.zoo.router import mode_logprobs

    store = explore.store()
    keys = router_runs(data.load_runs(store), "micro-cot-a-router")
    assert set(keys) == {"choose", "think", "short"}
    r = load_router(store, "micro-cot-a-router")
    texts = store.sql("SELECT prompt_key, text, forced, token_logprobs FROM samples WHERE run_key = ?",
                      [keys["short"]]).set_index("prompt_key")
    assert all(t.startswith("A") for t in texts["text"]) and all(f[0] for f in texts["forced"])
    prompts = data.load_prompt_records(store, r["prompt_key"])
    lp = mode_logprobs(load_engine("micro-cot-a-router"), [prompts[k].text for k in r["prompt_key"]])
    assert np.allclose(r[["lp_think", "lp_short"]].to_numpy(), lp, atol=1e-5)
    # the router's own choice is the recombination of its forced runs at its argmax
    choose_short = (r["mode"] == "short").to_numpy()
    assert np.array_equal(choose_short, lp[:, 1] > lp[:, 0])
    assert np.array_equal(np.where(choose_short, r["short_correct"], r["think_correct"]), r["choose_correct"])
    assert np.allclose(np.where(choose_short, r["short_flops"], r["think_flops"]), r["choose_flops"])
    c = compare_router(store, "micro-cot-a-router", "micro-direct", "micro-cot-a", n_boot=200)
    row = c["table"].iloc[0]
    assert row["share_short"] == pytest.approx(choose_short.mean())
    assert row["acc"] == pytest.approx(r["choose_correct"].mean())
    assert "learned router micro-cot-a-router" in c["sentence"]


# ------------------------------------------------------------------------------------------------------ latency
def test_expected_longest_is_the_mean_over_all_subsets():
    from backend.analysis.latency import expected_longest

    g = np.array([[5, 9, 9, 2, 14, 7], [3, 3, 3, 3, 3, 3]], dtype=float)
    for k in (1, 2, 3, 6):
        brute = [np.mean([max(c) for c in itertools.combinations(row, k)]) for row in g]
        assert expected_longest(g, [k])[0] == pytest.approx(brute)


def test_latency_model_predicts_measured_wall_time_within_20_percent(levers_env):
    from backend.engines.timing import measure, table_path

    table = measure(["micro-cot-b"], widths=(1, 8), n_fit=6, n_check=6, max_new_tokens=80, say=lambda m: None)
    checks = table["models"]["micro-cot-b"]["checks"]
    assert len(checks) == 12
    ratio = float(np.median([c["predicted_s"] / c["measured_s"] for c in checks]))  # per held-out query
    assert abs(ratio - 1) <= 0.2, checks
    assert json.loads(table_path().read_text())["models"]["micro-cot-b"]["check_ratio"] == pytest.approx(ratio)


def test_latency_of_every_point_follows_the_model(levers_env):
    from backend import explore
    from backend.analysis import data
    from backend.analysis.latency import LatencyTable, expected_longest, latency_points, width_vs_depth
    from backend.analysis.points import collect_points
    from backend.engines.timing import table_path

    from backend.zoo.registry import list_cards

    store = explore.store()
    table = LatencyTable.load(table_path()).extend_to(list_cards())
    assert table.models["micro-cot-a-dpo"] == table.models["micro-cot-a"]  # same shape, same measured times
    pts = collect_points(store, models=["micro-cot-a", "micro-cot-a-dpo", "micro-cot-a-router"], weighted=False)
    lat = latency_points(pts, store, table)
    m = pts.meta
    have = ~np.isnan(pts.acc)
    measured = ~m["strategy"].isin(["adaptive"]).to_numpy()
    assert np.all(np.isfinite(lat[have & measured[:, None]])) and np.all(lat[have & measured[:, None]] > 0)
    r = int(np.flatnonzero(((m["model"] == "micro-cot-a") & (m["strategy"] == "maj@k") & (m["k"] == 4)).to_numpy())[0])
    pool = data.load_pool(store, m.loc[r, "run_key"])
    want = table.decode_s("micro-cot-a", 4, expected_longest(pool.gen_tokens, [4])[0])
    idx = pd.Index(pts.prompt_keys).get_indexer(pool.prompt_keys)
    assert lat[r, idx] == pytest.approx(want)
    wd = width_vs_depth(store, pts, table, "micro-cot-a", n_boot=100)
    searched = (m["model"] == "micro-cot-a") & m["strategy"].isin(["beam", "dvts"]) & m["deployable"]
    assert set(wd["family"]) == {"wider", "deeper: thinking"} | ({"deeper: search"} if searched.any() else set())
    assert np.all(wd["flops"] <= wd["budget"] * (1 + 1e-9)) and np.all(wd["latency_s"] > 0)


# ------------------------------------------------------------------------------------------------------ the levers' numbers
def test_new_members_and_strategies_go_through_the_same_estimators(levers_env):
    from backend import explore
    from backend.analysis import data, levers
    from backend.analysis.points import collect_points
    from backend.zoo.registry import read_card

    store = explore.store()
    pts = collect_points(store, weighted=False)
    have = set(zip(pts.meta["model"], pts.meta["strategy"]))
    assert {("micro-cot-a-dpo", "greedy"), ("micro-cot-a-dpo", "maj@k"), ("micro-cot-a-router", "learned_route"),
            ("micro-cot-b", "proxy")} <= have
    d = levers.dpo_summary(pts, read_card("micro-cot-a-dpo"))
    g = pts.meta[(pts.meta["model"] == "micro-cot-a-dpo") & (pts.meta["strategy"] == "greedy")].index[0]
    assert d["table"].iloc[0]["tuned"] == pytest.approx(np.nanmean(pts.acc[g]))
    models = data.model_table(store)
    p = levers.proxy_summary(pts, models)
    assert len(p) >= 1 and np.all(p["flops"] > 0)
    routes = levers.route_table(pts, models, n_boot=100)
    assert set(routes["lever"]) >= {"test-time compute", "DPO fine-tune", "learned router", "direct training",
                                    "training checkpoint", "CoT training"}
    life = levers.lifetime_routes(routes, 1e6)
    assert np.allclose(life["total_flops"], life["training_flops"] + 1e6 * life["flops"])


def test_other_levers_page_loads_and_states_computed_sentences(levers_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from backend.analysis.levers import cheapest_route
    from backend.explore import fmt, levers

    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/other_levers.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "reaching" in text and "learned router" in text and "DPO on" in text
    assert len(at.get("plotly_chart")) >= 3
    routes, target = levers.routes(), levers.route_targets()[0]
    goal = float(routes.loc[(routes["model"] == target) & (routes["strategy"] == "greedy"), "acc"].iloc[0])
    life = levers.lifetime(1e6)
    best = cheapest_route(routes, 1e6, goal)["route"]
    assert best["total_flops"] == pytest.approx(life.loc[life["acc"] >= goal, "total_flops"].min())
    assert f"{fmt.flops(best['total_flops'])} FLOPs in total" in levers.cheapest_sentence(1e6, target)
    for bad in ("<script>alert(1)</script>", "1e309", "nan"):
        at.query_params["queries"] = bad
        at.query_params["target"] = bad
        at.run()
        assert not at.exception


def test_other_levers_page_loads_without_a_router_or_dpo_member(app_cache, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from backend import explore

    monkeypatch.setenv("TTC_CACHE", str(app_cache))
    monkeypatch.chdir(ROOT)
    explore.reset_store()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/other_levers.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("router" in s.value.lower() for s in at.subheader)
    explore.reset_store()


def test_fine_tuned_members_are_levers_not_final_models(levers_env):
    """A DPO or router member shares its base's recipe and seed, but is never a final model or a seed replicate
    (claims and pages stay on the trained zoo), and its build plan is greedy plus one 64-sample pool."""
    from backend.analysis import data, selection
    from backend.build import pool_runs, role
    from backend.zoo.registry import read_card

    models = data.model_table()
    assert models.set_index("name").loc["micro-cot-a-dpo", "fine_tune_of"] == "micro-cot-a"
    finals = selection.final_models(models)
    assert "micro-cot-a" in finals and not {"micro-cot-a-dpo", "micro-cot-a-router"} & set(finals)
    assert "micro-cot-a-dpo" not in selection.seed_replicates(models, "micro-cot-a")
    card = read_card("micro-cot-a-dpo")
    assert role(card) == "fine-tune"
    runs = pool_runs(card, prompts=())
    assert [(r.spec.strategy, r.spec.sampling.n) for r in runs] == [("greedy", 1), ("sample", 64)]


def test_a_dpo_member_can_compete_on_the_winner_map(levers_env, monkeypatch):
    """Small vs large offers fine-tuned members under "Also competing" (none by default) and, once chosen, counts
    their cells in the computed sentence."""
    from tests.conftest import page_opener

    monkeypatch.chdir(ROOT)
    open_page = page_opener(180)
    at = open_page("small_vs_large")
    assert not at.exception, [e.value for e in at.exception]
    box = next(m for m in at.multiselect if m.label == "Also competing")
    assert box.value == [] and "micro-cot-a-dpo" in box.options
    assert "micro-cot-a-dpo" not in " ".join(m.value for m in at.markdown)
    at = open_page("small_vs_large", also="micro-cot-a-dpo")
    assert not at.exception, [e.value for e in at.exception]
    assert next(m for m in at.multiselect if m.label == "Also competing").value == ["micro-cot-a-dpo"]
    assert "micro-cot-a-dpo" in next(m.value for m in at.markdown if m.value.startswith("Cells won"))


def test_same_shape_members_take_the_cot_members_step_times():
    """A fine-tune of a CoT member decodes like that CoT member, not like a direct member of the same shape that
    was measured too (whichever name sorts last)."""
    from backend.analysis.latency import LatencyTable

    entry = lambda t: {"widths": {"1": {"step_s": t, "prefill_s": t}}, "params": 10}
    table = LatencyTable({"cot-a": entry(0.001), "direct-a": entry(0.5)}, {})
    cards = [{"name": n, "fmt": f, "params": 10, "layers": 2, "width": 8}
             for n, f in (("cot-a", "cot"), ("direct-a", "direct"), ("cot-a-dpo", "cot"), ("cot-a@3M", "cot"))]
    ext = table.extend_to(cards)
    assert ext.models["cot-a-dpo"] is table.models["cot-a"] and ext.models["cot-a@3M"] is table.models["cot-a"]
    assert ext.models["direct-a"] is table.models["direct-a"]


def test_width_vs_depth_and_lifetime_targets_are_final_models_only(levers_env):
    """Same-shape members share step times (checkpoints, fine-tunes, ablations), but only final CoT models get a
    wider-vs-deeper table (an ablation has no pool to spend wider: it raised), and the lifetime target is the
    largest final model, the default variant's first."""
    from backend.explore import common, levers

    table = levers.latency_table()
    assert set(table.models) > set(common.all_final_models("cot"))  # extended to same-shape members
    got = levers.latency_models()
    assert set(got) == {m for m in common.all_final_models("cot") if m in table.models}
    params = levers.models().set_index("name")["params"]
    assert list(params[got]) == sorted(params[got])  # smallest first
    for m in levers.latency_models():
        assert len(levers.width_depth(m))
    assert levers.route_targets()[0] == common.final_models("cot")[-1]
