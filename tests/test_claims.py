"""backend/analysis/claims.py and `python -m backend report`: on a hand-made cache every claim is supported, and
flipping the data behind one claim flips its verdict; an empty cache gives "insufficient data" everywhere."""
from __future__ import annotations

import json

import pytest

from backend.analysis import claims, data
from backend.cli import main
from backend.store import Store, commit_batch
from tests.test_frontier import GOLD, greedy_rows, pool_rows, prompt_rows, result_row, run_row, score_rows

E, M, H = range(0, 6), range(6, 12), range(12, 24)  # prompt indices by band: 6 easy, 6 medium, 12 hard
N_OPS = [1, 2] * 3 + [3, 4] * 3 + [5, 6] * 6
CARDS = [
    {"name": "cot-s", "params": 100, "fmt": "cot", "family": "cot-s", "checkpoint_of": None, "training_tokens": 4e6},
    {"name": "cot-l", "params": 1000, "fmt": "cot", "family": "cot-l", "checkpoint_of": None, "training_tokens": 4e6},
    {"name": "cot-l@1M", "params": 1000, "fmt": "cot", "family": "cot-l", "checkpoint_of": "cot-l",
     "training_tokens": 1e6},
    {"name": "direct-s", "params": 100, "fmt": "direct", "family": "direct-s", "checkpoint_of": None,
     "training_tokens": 4e6},
]
FAVOURABLE = dict(main="graded", large=(0.5, 100.0), direct="hopeless", ckpt="hopeless", t12="wide", beam_half=False,
                  conf="informative")
FORCING = {  # budget forcing of cot-s at 8 / 16 / 32 thinking tokens, 4 traces each: answers for (even, odd) prompts
    "overthinks": {8: ("7 7 w w", "w w w w"), 16: ("7 7 7 w",) * 2, 32: ("7 a b c",) * 2},
    "rising": {8: ("7 7 w w", "w w w w"), 16: ("7 7 7 w",) * 2, 32: ("7 7 7 7",) * 2},
}


def write_cache(root, main, large, direct, ckpt, t12, beam_half, conf, adaptive=None, forcing=None):
    """The knobs set the data behind each claim; FAVOURABLE makes all eight hold (see the reasoning per knob).
    adaptive ("helps" / "equal") adds the adaptive strategy's runs and forcing (a FORCING key) budget-forcing runs:
    when present, claims 2 and 5 measure on them instead."""
    keys = [r["prompt_key"] for r in prompt_rows(N_OPS)]
    distinct = list("abcdefg")
    runs = [run_row("s08", "cot-s", 100, "sample", n=16, t=0.8), run_row("s04", "cot-s", 100, "sample", n=8, t=0.4),
            run_row("s12", "cot-s", 100, "sample", n=8, t=1.2), run_row("sg", "cot-s", 100, "greedy"),
            run_row("lg", "cot-l", 1000, "greedy"), run_row("l08", "cot-l", 1000, "sample", n=8, t=0.8),
            run_row("lb", "cot-l", 1000, "beam", sp={"budget": 8, "width": 2}, verifier="steps"),
            run_row("c08", "cot-l@1M", 1000, "sample", n=8, t=0.8),
            run_row("d08", "direct-s", 100, "sample", n=8, t=0.8), run_row("dg", "direct-s", 100, "greedy")]
    samples, scores, results = [], [], []
    for i, k in enumerate(keys):
        # claims 2 and 8: the small model's main pool — graded by band, wrong answers concentrated on one value
        if main == "allgold" or i in E:
            s08 = [GOLD] * 16
        else:
            s08 = [GOLD] * 8 + ["w"] * 8 if i in M else [GOLD] * 3 + ["w"] * 13
        samples += pool_rows("s08", k, s08)
        samples += pool_rows("s04", k, ["w"] * 8 if i in H else [GOLD] * 8)  # claim 5: low temperature
        samples += pool_rows("s12", k, [GOLD] * 8 if t12 == "allgold" else [GOLD] + distinct)  # claim 5: wide
        s, r = greedy_rows("sg", k, True, 50.0)
        samples.append(s), results.append(r)
        # claim 1: the large model's greedy accuracy and cost
        s, r = greedy_rows("lg", k, i % 2 == 0 or large[0] == 1.0, large[1])
        samples.append(s), results.append(r)
        # claims 4 and 6: the large model's pool with a perfect step verifier, its beam run, its early checkpoint
        l08 = [GOLD] * 4 + distinct[:4]
        samples += pool_rows("l08", k, l08, flops=100.0)
        scores += score_rows("l08", k, [a == GOLD for a in l08], "steps", flops=2.0)
        results.append(result_row("lb", k, not (beam_half and i % 2), 800.0, verifier_flops=16.0, n_traces=8))
        samples += pool_rows("c08", k, l08 if ckpt == "same" else [GOLD] + ["w"] * 7, flops=100.0)
        # claims 3 and 7: the direct model's pool, and its greedy answer with a confidence
        samples += pool_rows("d08", k, [GOLD] * 8 if direct == "allgold" else [GOLD] + ["w"] * 7, flops=2.0)
        right = i in H
        sure = right if conf == "informative" else not right
        s, r = greedy_rows("dg", k, right, 5.0, logprob=(-0.1 if sure else -5.0) - 0.01 * i)
        samples.append(s), results.append(r)
        if adaptive:  # claim 2 on the adaptive strategy's own runs: uniform is right on half, adaptive on all or half
            results.append(result_row("aa", k, adaptive == "helps" or i % 2 == 0, 40.0, verifier_flops=4.0, n_traces=4))
            results.append(result_row("au", k, i % 2 == 0, 40.0, verifier_flops=4.0, n_traces=4))
        for b, answers in (FORCING[forcing] if forcing else {}).items():  # claim 5 along the thinking budget
            samples += pool_rows(f"bf{b}", k, answers[i % 2].split())
            results.append(result_row(f"bf{b}", k, True, 40.0, n_traces=4))
    if adaptive:
        runs += [run_row(key, "cot-s", 100, "adaptive", t=0.8, verifier="learned",
                         sp={"budget": 4, "probe": 2, "allocation": alloc}) for key, alloc in (("aa", "adaptive"),
                                                                                             ("au", "uniform"))]
    runs += [run_row(f"bf{b}", "cot-s", 100, "budget_forcing", n=4, t=0.8, sp={"budget": b, "mode": "force"})
             for b in (FORCING[forcing] if forcing else {})]
    commit_batch({"runs": runs, "prompts": prompt_rows(N_OPS), "samples": samples, "scores": scores,
                  "results": results}, root)
    store = Store(root)
    return store, data.model_table(store, CARDS)


def test_report_supports_every_claim_on_favourable_data(tmp_path):
    store, models = write_cache(tmp_path, **FAVOURABLE)
    rep = claims.report(store, models, n_boot=500)
    assert [r["claim"] for r in rep] == list(range(1, 9))
    for r in rep:
        assert r["verdict"] == "supported", (r["claim"], r["why"])
        assert r["lo"] <= r["effect"] <= r["hi"] and r["setting"] and r["n_prompts"] > 0
    frame = claims.report_frame(rep)
    assert list(frame["verdict"].unique()) == ["supported"] and "details" not in frame


FLIPS = [  # (claim, knob, value): the one change that must turn the claim's verdict to "not supported"
    (1, "large", (1.0, 15.0)),  # the large model is always right and cheaper than two small samples
    (2, "main", "allgold"),  # every band is solved by one sample: nothing to reallocate
    (3, "direct", "allgold"),  # sampling the direct model does reach the CoT model
    (4, "ckpt", "same"),  # more training adds nothing
    (5, "t12", "allgold"),  # accuracy still rising at the widest setting
    (6, "beam_half", True),  # beam search far below best-of-k at equal FLOPs
    (7, "conf", "inverted"),  # confidence points the wrong way
    (8, "main", "allgold"),  # coverage flat: nothing left to cover
]


@pytest.mark.parametrize("claim,knob,value", FLIPS)
def test_verdict_flips_when_the_data_flips(tmp_path, claim, knob, value):
    store, models = write_cache(tmp_path, **{**FAVOURABLE, knob: value})
    fn = claims.CLAIMS[claim - 1][3]
    r = fn(claims.Evidence(store, models, n_boot=500))
    assert r["verdict"] == "not supported", r["why"]


@pytest.mark.parametrize("claim,knob,good,bad,axis", [
    (2, "adaptive", "helps", "equal", "adaptive strategy runs"),
    (5, "forcing", "overthinks", "rising", "thinking budget"),
])
def test_strategy_runs_take_over_when_the_cache_has_them(tmp_path, claim, knob, good, bad, axis):
    fn = claims.CLAIMS[claim - 1][3]
    for value, verdict in ((good, "supported"), (bad, "not supported")):
        store, models = write_cache(tmp_path / value, **{**FAVOURABLE, knob: value})
        r = fn(claims.Evidence(store, models, n_boot=500))
        assert r["verdict"] == verdict and axis in r["setting"], r


def test_empty_cache_is_insufficient_data_and_cli_prints_json(tmp_path, capsys):
    rep = claims.report(Store(tmp_path), data.model_table(None, []))
    assert {r["verdict"] for r in rep} == {"insufficient data"}
    assert all(r["why"] for r in rep)
    assert main(["report", "--json", "--cache", str(tmp_path), "--n-boot", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 8 and {r["verdict"] for r in out} <= set(claims.VERDICTS)
