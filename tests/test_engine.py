"""HF-engine specifics; what every engine must do is in test_engine_contract.py."""
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


def test_greedy_matches_transformers_generate(engine):
    engine.tok.padding_side = "left"
    enc = engine.tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    ref = engine.model.generate(**enc, do_sample=False, max_new_tokens=60, eos_token_id=engine.eos,
                                pad_token_id=engine.pad)
    ref_texts = engine.tok.batch_decode(ref[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    ours = engine.sample(PROMPTS, SamplingParams(temperature=0, max_new_tokens=60))
    assert [r[0].text for r in ours] == ref_texts


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
