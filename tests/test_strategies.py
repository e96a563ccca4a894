import pytest

from backend.analysis.compute import sample_flops
from backend.engines.base import SamplingParams
from backend.runner import RunSpec, execute
from backend.store import Store
from backend.strategies import get_strategy
from backend.tasks import arith, arith_prompts
from backend.zoo.registry import member_dir, read_card

PROMPTS = arith_prompts(1)[::2]  # 9 prompts across all operator counts
STEP = SamplingParams(temperature=1.0, max_new_tokens=200)


def _run(tmp_path, model, strategy, sp, params, verifier=None, prompts=PROMPTS):
    store = Store(tmp_path / "store")
    rep = execute(RunSpec.make(model, strategy, sp, params, verifier), prompts, store=store, keep_outcomes=True)
    return rep, store


@pytest.mark.parametrize("strategy", ["beam", "dvts"])
def test_search_budgets_flops_and_tree(use_cache, tmp_path, strategy):
    n, m = 8, 4
    rep, st = _run(tmp_path, "micro-cot-a", strategy, STEP, {"budget": n, "width": m, "max_steps": 6}, "steps")
    nodes = st.sql("SELECT * FROM nodes")
    res = st.sql("SELECT * FROM results")
    assert len(res) == len(PROMPTS)
    for key, tree in nodes.groupby("prompt_key"):
        ids = set(tree["node_id"])
        assert all(p in ids for p in tree["parent_id"].dropna())  # every parent exists
        per_depth = tree[tree["depth"] > 0].groupby("depth").size()
        assert per_depth.max() <= n  # never more than the budget of candidates per step
        assert per_depth.iloc[0] == n  # the first step spends the whole budget
        if strategy == "dvts":
            assert set(tree.loc[tree["depth"] > 0, "subtree"]) <= set(range(n // m))
        r = res[res["prompt_key"] == key].iloc[0]
        assert r["gen_flops"] == pytest.approx(tree["flops"].sum())
        assert r["verifier_flops"] == pytest.approx(tree["verifier_flops"].sum())
        finals = st.sql("SELECT node_id, text, is_final, answer FROM samples WHERE prompt_key = ? AND run_key = ?",
                        [key, rep.run_key])
        by_id = tree.set_index("node_id")
        for leaf in finals["node_id"]:  # returned traces: the kept nodes along their paths
            node = leaf
            while not pd_isna(by_id.loc[node, "parent_id"]):
                assert by_id.loc[node, "kept"]
                node = int(by_id.loc[node, "parent_id"])
        if len(finals):
            assert finals["is_final"].sum() == 1
            got = finals.loc[finals["is_final"], "answer"].iloc[0]
            assert got == r["answer"] or (pd_isna(got) and pd_isna(r["answer"]))
    total = st.sql("SELECT sum(gen_flops + verifier_flops) f FROM results")["f"][0]
    assert rep.flops == pytest.approx(total)
    # a returned trace cost what the same trace costs as an independent sample: its lineage, attention included
    card = read_card("micro-cot-a")
    traces = st.sql("SELECT prompt_key, node_id, prompt_tokens, gen_tokens FROM samples WHERE node_id IS NOT NULL")
    for t in traces.itertuples():
        tree = nodes[nodes["prompt_key"] == t.prompt_key].set_index("node_id")
        spent, node = 0.0, int(t.node_id)
        while node != 0:
            spent += tree.loc[node, "flops"]
            node = int(tree.loc[node, "parent_id"])
        assert spent == pytest.approx(sample_flops(card, t.prompt_tokens, t.gen_tokens), rel=1e-9)


def pd_isna(x) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


def test_beam_with_exact_checker_keeps_correct_steps(tmp_path):
    """Whenever a correct continuation was among a step's expansions, the returned trace's step there is correct."""
    rep, st = _run(tmp_path, "cot-0.1m", "beam", SamplingParams(temperature=1.0, max_new_tokens=200),
                   {"budget": 16, "width": 4}, "steps", prompts=arith_prompts(2)[8::3])
    nodes = st.sql("SELECT * FROM nodes WHERE run_key = ?", [rep.run_key])
    finals = st.sql("SELECT prompt_key, node_id FROM samples WHERE run_key = ? AND is_final", [rep.run_key])
    checked = 0
    for key, leaf in zip(finals["prompt_key"], finals["node_id"]):
        tree = nodes[nodes["prompt_key"] == key].set_index("node_id")
        path, node = [], int(leaf)
        while node != 0:
            path.append(node)
            node = int(tree.loc[node, "parent_id"])
        for nid in path:
            row = tree.loc[nid]
            siblings = tree[(tree["depth"] == row["depth"])]
            if row["score"] < 1.0 and not row["finished"]:
                assert siblings["score"].max() < 1.0, f"{key}: a correct step at depth {row['depth']} was pruned"
                checked += 1
            checked += 1
    assert checked > 0


def test_budget_forcing_thinks_exactly_the_budget_and_marks_forced_tokens(use_cache, tmp_path):
    for budget in (5, 30, 90):
        sp = SamplingParams(n=3, temperature=1.0, max_new_tokens=budget + 16)
        rep, st = _run(tmp_path / str(budget), "micro-cot-a", "budget_forcing", sp, {"budget": budget, "mode": "force"})
        for o in rep.outcomes:
            for s in o.samples:
                if s["finish_reason"] == "time":
                    continue
                text = s["text"]
                assert text.find("\nA:") == budget, (budget, text)
                assert s["think_tokens"] == budget
                forced = s["forced"] or []
                forced_text = "".join(ch for ch, f in zip(text, forced) if f)
                assert "\nA:" in forced_text or text[budget:budget + 3] == "\nA:"
                assert set(forced_text) <= set(";wait \nA:")  # only the extension and the answer marker
                assert not any(forced[budget + 3:])  # the answer itself is the model's
    capped = _run(tmp_path / "cap", "micro-cot-a", "budget_forcing", SamplingParams(n=2, max_new_tokens=26),
                  {"budget": 10, "mode": "cap"})[0]
    assert all(0 <= s["think_tokens"] <= 10 for o in capped.outcomes for s in o.samples)


def test_adaptive_allocation_spends_exactly_the_total(use_cache, tmp_path):
    for alloc in ("adaptive", "uniform"):
        rep, st = _run(tmp_path / alloc, "micro-cot-a", "adaptive", STEP,
                       {"budget": 6, "probe": 2, "allocation": alloc}, "steps")
        per = st.sql("SELECT prompt_key, count(*) n FROM samples WHERE run_key = ? GROUP BY 1", [rep.run_key])
        assert per["n"].sum() == 6 * len(PROMPTS)
        assert per["n"].min() >= 2
        if alloc == "uniform":
            assert set(per["n"]) == {6}
        res = st.sql("SELECT sum(gen_flops) g FROM results WHERE run_key = ?", [rep.run_key])["g"][0]
        assert res == pytest.approx(st.sql("SELECT sum(flops) f FROM samples WHERE run_key = ?", [rep.run_key])["f"][0])


def test_routing_counts_both_models(use_cache, tmp_path):
    rep, st = _run(tmp_path, "micro-cot-a", "route", SamplingParams(temperature=0, max_new_tokens=60),
                   {"direct": "micro-direct", "threshold": 0.0})
    assert all(len(o.samples) == 1 for o in rep.outcomes)  # threshold 0: the direct model always answers
    rep, st = _run(tmp_path / "b", "micro-cot-a", "route", SamplingParams(temperature=0, max_new_tokens=60),
                   {"direct": "micro-direct", "threshold": 1.0})
    for o in rep.outcomes:
        assert len(o.samples) == 2 and o.result["gen_flops"] == pytest.approx(sum(s["flops"] for s in o.samples))


def test_registry_suggests_names_and_validates_params(use_cache, tmp_path):
    with pytest.raises(KeyError, match="did you mean 'beam'"):
        get_strategy("bean")
    with pytest.raises(ValueError, match="divisible"):
        _run(tmp_path, "micro-cot-a", "beam", STEP, {"budget": 6, "width": 4}, "steps")
    with pytest.raises(ValueError, match="needs a verifier"):
        _run(tmp_path, "micro-cot-a", "dvts", STEP, {"budget": 4, "width": 4})


def test_learned_verifier_loads_from_safetensors_and_beats_chance():
    from backend.analysis.metrics import auroc
    from backend.engines.hf import HFEngine
    from backend.verifiers import get_verifier
    from backend.verifiers.learned import verifier_dir

    assert (verifier_dir() / "model.safetensors").exists(), "the shipped cache must hold the learned verifier"
    verifier = get_verifier("learned")
    engine = HFEngine.from_path(member_dir("cot-0.1m"))
    prompts = arith_prompts(3)
    gens = engine.sample([p.text for p in prompts], SamplingParams(n=2, temperature=1.0, max_new_tokens=200, seed=9))
    recs, texts = [], []
    for p, row in zip(prompts, gens):
        for g in row:
            recs.append(p)
            texts.append(g.text)
    outcome = [s[-1] for s in verifier.score(recs, texts)]
    correct = [arith.check_answer(p.question, arith.parse(t).answer) for p, t in zip(recs, texts)]
    assert auroc(correct, outcome) > 0.75
