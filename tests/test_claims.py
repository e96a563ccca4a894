"""backend/analysis/claims.py and `python -m backend report`: the verdict ladder, and every claim on hand-made caches
where the right verdict is known — including an upper-bound verifier that must not win claim 1, a router that beats
the same-share random mix but loses to the FLOPs-matched one, and overthinking seen only under forced lengths."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backend.analysis import claims, data
from backend.cli import main
from backend.store import Store, commit_batch
from tests.test_frontier import GOLD, greedy_rows, pool_rows, prompt_rows, result_row, run_row, score_rows

N_OPS = [1, 2] * 3 + [3, 4] * 3 + [5, 6] * 6  # 24 prompts: 6 easy, 6 medium, 12 hard
E, M, H = range(0, 6), range(6, 12), range(12, 24)
KEYS = [r["prompt_key"] for r in prompt_rows(N_OPS)]
CARDS = [
    {"name": "cot-s", "params": 100, "fmt": "cot", "family": "cot-s", "checkpoint_of": None, "training_tokens": 4e6},
    {"name": "cot-s@1M", "params": 100, "fmt": "cot", "family": "cot-s", "checkpoint_of": "cot-s",
     "training_tokens": 1e6},
    {"name": "cot-l", "params": 1000, "fmt": "cot", "family": "cot-l", "checkpoint_of": None, "training_tokens": 4e6},
    {"name": "cot-l@1M", "params": 1000, "fmt": "cot", "family": "cot-l", "checkpoint_of": "cot-l",
     "training_tokens": 1e6},
    {"name": "direct-s", "params": 100, "fmt": "direct", "family": "direct-s", "checkpoint_of": None,
     "training_tokens": 4e6},
]
WRONG = list("abcdefghijklmnop")  # distinct wrong answers


def arith_prompt_rows() -> list[dict]:
    """The same prompt keys with real expressions (gold 7), for verifiers that read the question."""
    return [{**r, "question": f"{i}+7-{i}", "text": f"Q:{i}+7-{i}"} for i, r in enumerate(prompt_rows(N_OPS))]


def evidence(tmp_path, runs, samples=(), results=(), scores=(), prompts=None) -> claims.Evidence:
    commit_batch({"runs": runs, "prompts": prompts or prompt_rows(N_OPS), "samples": list(samples),
                  "results": list(results), "scores": list(scores)}, tmp_path)
    store = Store(tmp_path)
    return claims.Evidence(store, data.model_table(store, CARDS), n_boot=500)


def greedy(key, model, params, right, flops, logprob=None):
    """A greedy run: right(i) says whether prompt i is answered correctly."""
    samples, results = [], []
    for i, k in enumerate(KEYS):
        s, r = greedy_rows(key, k, right(i), flops, **({} if logprob is None else {"logprob": logprob(i)}))
        samples.append(s), results.append(r)
    return run_row(key, model, params, "greedy"), samples, results


def pool(key, model, params, answers, n, t=0.8, flops=10.0):
    """A sampling pool: answers(i) lists prompt i's n answers."""
    return run_row(key, model, params, "sample", n=n, t=t), [s for i, k in enumerate(KEYS)
                                                             for s in pool_rows(key, k, answers(i), flops=flops)]


# ----------------------------------------------------------------------------------------------- the ladder
@pytest.mark.parametrize("lo,hi,low,high,want", [
    (0.01, 0.05, 0, claims.INF, "supported"), (-0.01, 0.05, 0, claims.INF, "inconclusive"),
    (-0.05, -0.01, 0, claims.INF, "not supported"), (0.0, 0.0, 0, claims.INF, "not supported"),
    (-0.01, 0.01, -0.02, 0.02, "supported"), (-0.03, 0.01, -0.02, 0.02, "inconclusive"),
    (0.03, 0.09, -0.02, 0.02, "not supported"), (-0.5, -0.3, -claims.INF, -0.02, "supported"),
    (-0.01, 0.0, -claims.INF, -0.02, "not supported"), (float("nan"), 0.1, 0, claims.INF, "insufficient data"),
])
def test_one_verdict_ladder(lo, hi, low, high, want):
    assert claims.verdict(lo, hi, low, high) == want


def test_combine_and_rule_text():
    s, n, i = "supported", "not supported", "inconclusive"
    assert claims.combine([s, s]) == s and claims.combine([s, n, i]) == n and claims.combine([s, i]) == i
    assert claims.combine([s, "insufficient data"]) == i and claims.combine([]) == "insufficient data"
    assert "above -2.0 points" in claims.rule_text(-0.02, claims.INF)
    assert set(claims.VERDICTS) == {"supported", "not supported", "inconclusive", "insufficient data"}


# ----------------------------------------------------------------------------------------------- claim 1
def test_claim1_small_model_matches_at_equal_flops(tmp_path):
    p, ps = pool("s", "cot-s", 100, lambda i: [GOLD] * 8, 8)
    g, gs, gr = greedy("lg", "cot-l", 1000, lambda i: i % 2 == 0, 100.0)
    r = claims.claim_params(evidence(tmp_path, [p, g], ps + gs, gr))
    assert r["verdict"] == "supported" and r["effect"] == pytest.approx(0.5)
    assert r["matching"]["small"] <= r["matching"]["large"] == pytest.approx(100.0)
    assert set(r["details"]["per_band"]) == {"easy", "medium", "hard"}


def test_claim1_an_upper_bound_verifier_never_wins(tmp_path):
    """The small model reaches the large one only by oracle selection (pass@k) or beam search with the exact step
    checker: the verdict rests on its deployable points and says not supported; the upper bound is reported."""
    p, ps = pool("s", "cot-s", 100, lambda i: [GOLD] + ["w"] * 7, 8)
    beam = run_row("sb", "cot-s", 100, "beam", sp={"budget": 4, "width": 2}, t=0.8, verifier="steps")
    br = [result_row("sb", k, True, 50.0) for k in KEYS]
    g, gs, gr = greedy("lg", "cot-l", 1000, lambda i: True, 100.0)
    r = claims.claim_params(evidence(tmp_path, [p, beam, g], ps + gs, gr + br))
    assert r["verdict"] == "not supported" and r["effect"] < -0.5
    assert all("steps" not in c and "pass@k" not in c for c in r["details"]["chosen"])
    assert r["details"]["upper_bound"]["acc"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------- claim 2
def _adaptive_pool(kind):
    def answers(i):
        if kind == "allgold" or i in E:
            return [GOLD] * 16
        return [GOLD] * 10 + ["w"] * 6 if i in M else [GOLD] * 3 + WRONG[:13]
    return pool("s", "cot-s", 100, answers, 16)


@pytest.mark.parametrize("kind,want", [("graded", "supported"), ("allgold", "not supported")])
def test_claim2_crossfitted_allocation_by_band(tmp_path, kind, want):
    p, ps = _adaptive_pool(kind)
    r = claims.claim_adaptive(evidence(tmp_path, [p], ps))
    assert r["verdict"] == want, r["why"]
    assert r["matching"]["adaptive"] <= r["matching"]["budget"] + 1e-9
    assert r["matching"]["uniform"] <= r["matching"]["budget"] + 1e-9 and "cross-fitted" in r["prompts"]


def test_claim2_reports_the_adaptive_strategy_runs_beside_it(tmp_path):
    p, ps = _adaptive_pool("graded")
    runs = [p] + [run_row(key, "cot-s", 100, "adaptive", t=0.8, verifier="learned",
                          sp={"budget": 4, "probe": 2, "allocation": a}) for key, a in (("aa", "adaptive"),
                                                                                        ("au", "uniform"))]
    res = [result_row("aa", k, True, 40.0, n_traces=4) for k in KEYS] + \
        [result_row("au", k, i % 2 == 0, 40.0, n_traces=4) for i, k in enumerate(KEYS)]
    r = claims.claim_adaptive(evidence(tmp_path, runs, ps, res))
    (run,) = r["details"]["adaptive_runs"]
    assert run["budget"] == 4 and run["gain"][0] == pytest.approx(0.5) and run["verdict"] == "supported"


# ----------------------------------------------------------------------------------------------- claim 3
@pytest.mark.parametrize("direct,want", [("hopeless", "supported"), ("allgold", "not supported")])
def test_claim3_direct_model_at_any_budget(tmp_path, direct, want):
    p, ps = pool("d", "direct-s", 100, lambda i: [GOLD] * 8 if direct == "allgold" else [GOLD] + ["w"] * 7, 8)
    dg, dgs, dgr = greedy("dg", "direct-s", 100, lambda i: i % 4 == 0, 5.0)
    cg, cgs, cgr = greedy("cg", "cot-s", 100, lambda i: True, 50.0)
    r = claims.claim_reasoning(evidence(tmp_path, [p, dg, cg], ps + dgs + cgs, dgr + cgr))
    assert r["verdict"] == want, r["why"]
    assert r["details"]["direct_coverage"] == pytest.approx(1.0)  # pass@8: an upper bound, reported only


# ----------------------------------------------------------------------------------------------- claim 4
def test_claim4_interaction_per_family(tmp_path):
    """cot-l's inference gain grows with training (interaction > 0); cot-s's does not (same pools): per-family parts,
    and the claim is not supported overall because one family contradicts it."""
    hi = lambda i: [GOLD] * 4 + WRONG[:4]  # maj@1 = 0.5, maj@8 = 1
    lo = lambda i: [GOLD] + ["w"] * 7  # maj@8 = 0
    runs, samples = [], []
    for key, model, params, ans in (("l", "cot-l", 1000, hi), ("l1", "cot-l@1M", 1000, lo),
                                    ("s", "cot-s", 100, hi), ("s1", "cot-s@1M", 100, hi)):
        r, s = pool(key, model, params, ans, 8)
        runs.append(r), samples.extend(s)
    r = claims.claim_complements(evidence(tmp_path, runs, samples))
    parts = {p["family"]: p for p in r["details"]["parts"]}
    assert parts["cot-l"]["verdict"] == "supported"
    assert parts["cot-l"]["effect"] == pytest.approx(0.625, abs=0.02)  # maj@k is a seeded Monte-Carlo estimate
    assert parts["cot-s"]["verdict"] == "not supported" and parts["cot-s"]["effect"] == pytest.approx(0.0)
    assert r["verdict"] == "not supported" and "cot-s" in r["comparison"]


# ----------------------------------------------------------------------------------------------- claim 5
OVERTHINK = {8: lambda i: "w w w w", 16: lambda i: "w w w w" if i % 4 == 3 else "7 7 7 w", 32: lambda i: "7 a b c"}
RISING = {8: lambda i: "w w w w", 16: lambda i: "7 7 w w", 32: lambda i: "7 7 7 7"}


def _forcing(cap, force):
    runs, samples = [], []
    for mode, table in (("cap", cap), ("force", force)):
        for b, answers in table.items():
            key = f"{mode}{b}"
            runs.append(run_row(key, "cot-s", 100, "budget_forcing", n=4, t=0.8, sp={"budget": b, "mode": mode}))
            samples += [s for i, k in enumerate(KEYS) for s in pool_rows(key, k, answers(i).split())]
    return runs, samples


@pytest.mark.parametrize("cap,force,want", [(OVERTHINK, RISING, "supported"), (RISING, OVERTHINK, "not supported"),
                                            (RISING, RISING, "not supported")])
def test_claim5_rests_on_cap_mode_and_names_the_forcing_artefact(tmp_path, cap, force, want):
    runs, samples = _forcing(cap, force)
    r = claims.claim_spread(evidence(tmp_path, runs, samples))
    assert r["verdict"] == want, r["why"]
    modes = r["details"]["modes"]["cot-s"]
    assert set(modes) == {"cap", "thinking"} and "cap mode" in r["comparison"]
    assert "forcing artefact" in r["why"]
    if cap is OVERTHINK:
        assert modes["cap"]["peak"] == [16]  # compared with the peak budget, not with the truncated 8


# ----------------------------------------------------------------------------------------------- claim 6
@pytest.mark.parametrize("beam_half,want", [(False, "supported"), (True, "not supported")])
def test_claim6_per_verifier(tmp_path, beam_half, want):
    ans = [GOLD] * 4 + WRONG[:4]
    p, ps = pool("l", "cot-l", 1000, lambda i: ans, 8, flops=100.0)
    sc = [s for k in KEYS for s in score_rows("l", k, [a == GOLD for a in ans], "steps", flops=2.0)]
    beam = run_row("lb", "cot-l", 1000, "beam", sp={"budget": 8, "width": 2}, t=0.8, verifier="steps")
    br = [result_row("lb", k, not (beam_half and i % 2), 800.0, verifier_flops=16.0, n_traces=8)
          for i, k in enumerate(KEYS)]
    r = claims.claim_convergence(evidence(tmp_path, [p, beam], ps, br, sc, prompts=arith_prompt_rows()))
    assert r["verdict"] == want
    (part,) = r["details"]["parts"]
    assert part["verifier"] == "steps" and not part["deployable"] and part["best_of_k"] == 8
    noisy = {v for v in r["details"]["best_of_n_by_verifier"] if v.startswith("noisy:steps:")}
    assert len(noisy) >= 3 and "no tree search run" in r["why"]  # best-of-N measured, tree arm missing: said so


# ----------------------------------------------------------------------------------------------- claim 7
def _routing(tmp_path, kind):
    if kind == "complementary":  # the direct model is right (and sure) exactly where the CoT model is wrong
        d_right, c_right, sure, d_flops = (lambda i: i in range(12, 18)), (lambda i: i < 12), (lambda i: i in range(12, 18)), 5.0
    else:  # redundant and dear: right only where CoT is right too, and surest on one prompt it gets wrong
        d_right, c_right, d_flops = (lambda i: i < 6), (lambda i: i < 12), 45.0
        sure = lambda i: i < 7
    conf = lambda i: (0.0 if i == 6 and kind == "redundant" else -0.1 if sure(i) else -5.0) - 0.001 * i
    dg, dgs, dgr = greedy("dg", "direct-s", 100, d_right, d_flops, logprob=conf)
    cg, cgs, cgr = greedy("cg", "cot-s", 100, c_right, 50.0)
    return evidence(tmp_path, [dg, cg], dgs + cgs, dgr + cgr)


def test_claim7_router_on_the_efficient_frontier(tmp_path):
    r = claims.claim_routing(_routing(tmp_path, "complementary"))
    assert r["verdict"] == "supported" and r["effect"] > 0.2
    assert r["matching"]["mix"] <= r["matching"]["router"] + 1e-9


def test_claim7_router_that_loses_to_the_flops_matched_mix(tmp_path):
    """The router beats a random mix sending the same SHARE of prompts to each model (the old baseline), but every
    threshold spends more than the CoT model alone, whose accuracy it never reaches: not supported."""
    ev = _routing(tmp_path, "redundant")
    r = claims.claim_routing(ev)
    assert r["verdict"] == "not supported", r["why"]
    front = r["details"]["front"]
    assert all(f["gain"] <= 0 for f in front) and r["effect"] < 0
    rt = data.load_routing(ev.store, "direct-s", "cot-s")
    keep = rt["confidence"] >= sorted(rt["confidence"])[-7]  # the 7 surest prompts answered directly
    routed = np.where(keep, rt["direct_correct"], rt["cot_correct"]).mean()
    share = keep.mean() * rt["direct_correct"].mean() + (1 - keep.mean()) * rt["cot_correct"].mean()
    assert routed > share  # what the same-share baseline would have called a win


# ----------------------------------------------------------------------------------------------- claim 8
@pytest.mark.parametrize("c,want,declines", [(3, "supported", True), (8, "not supported", True),
                                             (16, "not supported", False)])
def test_claim8_slope_per_doubling_and_declining_increments(tmp_path, c, want, declines):
    """3 right of 16 on every prompt: pass@k grows by ~0.2 per doubling early and late (its increments decline by
    1.3 points per doubling: within the log-linear margin); 8 of 16: coverage saturates (they decline beyond it);
    all right: nothing to grow. Majority vote never finds the 3 (a popular wrong answer), so it plateaus."""
    p, ps = pool("s", "cot-s", 100, lambda i: [GOLD] * c + ["w"] * (16 - c), 16)
    r = claims.claim_coverage(evidence(tmp_path, [p], ps))
    assert r["verdict"] == want, r["why"]
    assert r["details"]["increments_decline"] == declines
    if c == 3:
        assert r["effect"] == pytest.approx(r["lo"]) and 0.15 < r["effect"] < 0.25  # the same on every prompt
        assert [x["name"].split(",")[0] for x in r["details"]["parts"]][2].startswith("coverage − maj@k")


# ----------------------------------------------------------------------------------------------- the report
def test_report_on_an_empty_cache_is_insufficient_data_and_cli_prints_json(tmp_path, capsys):
    rep = claims.report(Store(tmp_path), data.model_table(None, []))
    assert {r["verdict"] for r in rep} == {"insufficient data"}
    assert all(r["why"] for r in rep)
    assert main(["report", "--json", "--cache", str(tmp_path), "--n-boot", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 8 and {r["verdict"] for r in out} <= set(claims.VERDICTS)


def test_report_states_comparison_matching_prompts_and_rule(tmp_path):
    p, ps = pool("s", "cot-s", 100, lambda i: [GOLD] * 8, 8)
    g, gs, gr = greedy("lg", "cot-l", 1000, lambda i: i % 2 == 0, 100.0)
    commit_batch({"runs": [p, g], "prompts": prompt_rows(N_OPS), "samples": ps + gs, "results": gr}, tmp_path)
    store = Store(tmp_path)
    rep = claims.report(store, data.model_table(store, CARDS), n_boot=200)
    json.dumps(rep)  # plain JSON: numbers, strings, lists, dicts
    (c1,) = [r for r in rep if r["claim"] == 1]
    assert c1["verdict"] == "supported" and c1["comparison"] and c1["prompts"] and "supported when" in c1["rule"]
    assert set(c1["matching"]) >= {"small", "large"}


def test_claims_from_the_derived_points_equal_claims_from_the_store(on_app_cache):
    """The app computes the claims from the points it already holds (derived.points) instead of collecting them from
    the store again: the report is the same, number for number."""
    import json

    from backend import explore
    from backend.analysis.claims import report
    from backend.explore import derived

    store = explore.store()
    plain = lambda r: json.loads(json.dumps(r, default=derived._plain))
    assert plain(report(store, n_boot=200)) == plain(report(store, n_boot=200, points=derived.points()))


def test_routing_rows_read_only_runs_that_supply_a_prompt(tmp_path, monkeypatch):
    """The built greedy run first; a repeat of it adds nothing and is not read; a live run fills only the prompts the
    built one lacks."""
    dg, dgs, dgr = greedy("dg", "direct-s", 100, lambda i: True, 5.0)
    rep, reps, repr_ = greedy("dg2", "direct-s", 100, lambda i: False, 5.0)  # same prompts, other answers
    cg, cgs, cgr = greedy("cg", "cot-s", 100, lambda i: True, 50.0)
    live, lives, liver = greedy("a-live", "cot-s", 100, lambda i: False, 50.0)
    for run, source in ((dg, "zoo"), (rep, "zoo"), (cg, "zoo"), (live, "live")):
        run["source"] = source
    keep = lambda rows: [r for r in rows if r["prompt_key"] in KEYS[:12]]
    ev = evidence(tmp_path, [dg, rep, cg, live], dgs + reps + keep(cgs) + lives, dgr + repr_ + keep(cgr) + liver)
    read, real = [], ev.store.sql
    monkeypatch.setattr(ev.store, "sql", lambda q, p=None: (read.extend(p) if "JOIN" in q else None) or real(q, p))
    rt = data.load_routing(ev.store, "direct-s", "cot-s")
    assert len(rt) == 24 and rt["direct_correct"].all()  # every direct answer from the first run, not its repeat
    assert rt["cot_correct"].tolist() == [1.0] * 12 + [0.0] * 12  # the live run only where the built one lacks
    assert sorted(set(read)) == ["a-live", "cg", "dg"]  # the repeat's keys looked up once, its rows never joined
