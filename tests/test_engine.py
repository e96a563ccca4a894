import time

import pytest
import torch

from backend.analysis.compute import flops_per_sequence
from backend.engines.base import SamplingParams
from backend.engines.hf import HFEngine
from backend.tasks import arith
from backend.zoo.registry import member_dir
from tests.helpers import random_word_model

PROMPTS = [p.prompt for p in arith.eval_split(2)[::3]]


@pytest.fixture(scope="module")
def engine(micro_cache):
    return HFEngine.from_path(member_dir("micro-cot-a", micro_cache / "zoo"))


def test_seeded_sampling_is_reproducible_and_batch_invariant(engine):
    sp = SamplingParams(n=8, temperature=1.0, max_new_tokens=40, seed=5)
    a = engine.sample(PROMPTS, sp)
    b = engine.sample(PROMPTS, sp)
    assert [[g.text for g in r] for r in a] == [[g.text for g in r] for r in b]
    alone = engine.sample(PROMPTS[3:4], sp)[0]
    assert [g.text for g in alone] == [g.text for g in a[3]]  # other prompts in the batch change nothing
    other = engine.sample(PROMPTS, SamplingParams(n=8, temperature=1.0, max_new_tokens=40, seed=6))
    assert [[g.text for g in r] for r in other] != [[g.text for g in r] for r in a]


def test_greedy_matches_transformers_generate(engine):
    engine.tok.padding_side = "left"
    enc = engine.tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    ref = engine.model.generate(**enc, do_sample=False, max_new_tokens=60, eos_token_id=engine.eos,
                                pad_token_id=engine.pad)
    ref_texts = engine.tok.batch_decode(ref[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    ours = engine.sample(PROMPTS, SamplingParams(temperature=0, max_new_tokens=60))
    assert [r[0].text for r in ours] == ref_texts


def test_summed_logprobs_match_a_forward_pass(engine):
    gens = engine.sample(PROMPTS[:4], SamplingParams(n=3, temperature=1.3, max_new_tokens=50, seed=1))
    for prompt, row in zip(PROMPTS[:4], gens):
        for g in row:
            ids = engine.encode(prompt) + g.token_ids
            with torch.no_grad():
                lp = torch.log_softmax(engine.model(torch.tensor([ids])).logits[0].float(), -1)
            start = len(ids) - g.gen_tokens - 1
            ref = sum(float(lp[start + i, t]) for i, t in enumerate(g.token_ids))
            assert g.sum_logprob == pytest.approx(ref, abs=1e-3)
            assert len(g.logprobs) == g.gen_tokens


def test_stops_at_eos_and_caps_tokens_and_time(engine):
    gens = engine.sample(PROMPTS, SamplingParams(n=4, temperature=1.0, max_new_tokens=7, seed=0))
    for row in gens:
        for g in row:
            assert g.gen_tokens <= 7
            assert g.finish_reason in ("eos", "length")
            assert (g.finish_reason == "eos") == (g.token_ids[-1] == engine.eos)
    t0 = time.monotonic()
    slow = engine.sample(PROMPTS * 20, SamplingParams(n=64, temperature=2.0, max_new_tokens=4000), max_seconds=0.5)
    assert time.monotonic() - t0 < 10
    assert any(g.finish_reason == "time" for r in slow for g in r)


def test_stream_yields_the_sampled_tokens(engine):
    sp = SamplingParams(n=1, temperature=0.9, max_new_tokens=60, seed=2)
    *streamed, final = list(engine.stream(PROMPTS[2], sp, key="k"))
    batch = engine.sample([PROMPTS[2]], sp, keys=["k"])[0][0]
    assert "".join(t for t, _ in streamed) == batch.text == final.text
    assert final.token_ids == batch.token_ids and final.finish_reason == batch.finish_reason
    assert sum(lp for _, lp in streamed) == pytest.approx(batch.sum_logprob, abs=1e-4)


def test_unreadable_prompt_is_a_clear_error(engine):
    with pytest.raises(ValueError, match="'x'"):
        engine.sample(["Q:1+x\n"], SamplingParams(temperature=0))


def test_bad_sampling_params_are_rejected():
    for bad in (dict(n=0), dict(temperature=-1), dict(temperature=0, n=4), dict(top_p=0), dict(top_k=-1),
                dict(max_new_tokens=10**9)):
        with pytest.raises(ValueError):
            SamplingParams(**bad)


def test_top_k_is_really_off(tmp_path):
    """transformers defaults to top_k=50; ours must be able to draw a token ranked below the top 50."""
    folder = random_word_model(tmp_path / "m", vocab=400)
    eng = HFEngine.from_path(folder)
    prompt = "w1 w2 w3"
    with torch.no_grad():
        logits = eng.model(torch.tensor([eng.encode(prompt)])).logits[0, -1]
    rank = {int(t): r for r, t in enumerate(logits.argsort(descending=True))}
    free = eng.sample([prompt], SamplingParams(n=512, temperature=1.0, max_new_tokens=1, seed=0))[0]
    capped = eng.sample([prompt], SamplingParams(n=512, temperature=1.0, top_k=50, max_new_tokens=1, seed=0))[0]
    assert max(rank[g.token_ids[0]] for g in free) >= 50
    assert max(rank[g.token_ids[0]] for g in capped) < 50


def test_flops_of_a_generation_follow_the_formula(engine):
    g = engine.sample(PROMPTS[:1], SamplingParams(temperature=0, max_new_tokens=30))[0][0]
    assert flops_per_sequence(engine.n_params, g.prompt_tokens, g.gen_tokens) == 2 * engine.n_params * (
        g.prompt_tokens + g.gen_tokens)
