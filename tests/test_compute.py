"""backend/analysis/compute.py: formulas against brute force and against torch's FLOP counter on a real Llama."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backend.analysis import compute as C


def _llama(layers=2, width=64, heads=4, ff=172, attn="eager"):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=28, hidden_size=width, intermediate_size=ff, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=512,
                      tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, bos_token_id=None,
                      attn_implementation=attn)
    return LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("layers,width,heads,ff,prompt,gen", [(2, 64, 4, 172, 20, 60), (4, 128, 4, 344, 24, 120)])
def test_sample_flops_match_flop_counter_on_kv_cached_generation(layers, width, heads, ff, prompt, gen):
    """Generation as the engine does it — the prompt in one pass, then one token at a time with the KV cache — under
    eager attention, counted by torch's FlopCounterMode (matmuls: 2·m·n·k each): sample_flops, with the causal
    attention term, is within 5% (eager attention computes the prompt's full masked square, a little more)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import DynamicCache

    model = _llama(layers, width, heads, ff)
    n_params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(2, 28, (1, prompt + gen))
    counter = FlopCounterMode(display=False)
    cache = DynamicCache()
    with torch.inference_mode(), counter:
        model(input_ids=ids[:, :prompt], cache=cache, use_cache=True)
        for t in range(prompt, prompt + gen):
            model(input_ids=ids[:, t:t + 1], cache=cache, use_cache=True)
    counted = counter.get_total_flops()
    shape = C.model_shape(model_holder(model, n_params))
    assert shape == C.ModelShape(n_params, layers, width)
    assert C.sample_flops(shape, prompt, gen) == pytest.approx(counted, rel=0.05)
    plain = C.flops_per_sequence(n_params, prompt, gen)
    assert abs(plain - counted) / counted > 0.05  # without attention the count is measurably off: the term matters


def model_holder(model, n_params):
    """An engine-like object: n_params and a transformers model with its config."""
    return type("Holder", (), {"n_params": n_params, "model": model})()


def test_segments_sum_to_the_whole_sequence_and_match_the_causal_sum():
    shape = C.ModelShape(1000, 3, 16)
    for start, tokens in [(0, 1), (5, 7), (40, 3)]:
        brute = sum(2 * 1000 + 4 * 3 * 16 * i for i in range(start + 1, start + tokens + 1))  # token i attends i
        assert C.segment_flops(shape, start, tokens) == pytest.approx(brute)
    cuts = [0, 12, 15, 31, 50]  # a search lineage: the prompt with its first step, then one step at a time
    parts = sum(C.segment_flops(shape, a, b - a) for a, b in zip(cuts, cuts[1:]))
    assert parts == pytest.approx(C.sample_flops(shape, 12, 38))
    assert C.sample_flops(C.ModelShape(1000), 3, 7) == C.flops_per_sequence(1000, 3, 7) == 2 * 1000 * 10
    card = {"params": 1000, "layers": 3, "width": 16}
    got = C.sample_flops(card, np.array([3, 10]), np.array([7, 0]))  # vectorised, from a model card
    assert got.tolist() == pytest.approx([C.sample_flops(shape, 3, 7), C.sample_flops(shape, 10, 0)])
    config = {"num_hidden_layers": 3, "hidden_size": 16, "num_attention_heads": 2, "n_params": 1000}  # config.json
    assert C.model_shape(config) == shape


def test_verifier_flops_and_rule_based_default():
    assert C.verifier_flops(50, 1000) == 2 * 1000 * 50
    assert C.verifier_flops(50) == 0.0  # a rule-based checker is free unless given a size
    assert C.RULE_BASED_PARAMS == 0


def test_snell_matching_ratio_equalises_lifetime_compute():
    n, d_pre = 1e6, 2e9
    for m in (1.0, 4.0, 14.0):
        for d_inf in (1e8, 2e9, 5e10):
            r = C.matched_inference_ratio(m, d_pre, d_inf)
            large = C.training_flops(m * n, d_pre) + 2 * m * n * d_inf
            small = C.training_flops(n, d_pre) + 2 * n * r * d_inf
            assert small == pytest.approx(large, rel=1e-12)
    assert C.matched_inference_ratio(1, 5, 7) == 1  # equal sizes: equal inference


def test_lifetime_and_break_even():
    assert C.lifetime_flops(100.0, 10, 3.0) == 130.0
    q = C.break_even_queries(train_small=10.0, query_small=5.0, train_large=100.0, query_large=2.0)
    assert q == 30.0
    assert C.lifetime_flops(10, q, 5) == pytest.approx(C.lifetime_flops(100, q, 2))
    assert math.isinf(C.break_even_queries(10.0, 1.0, 100.0, 2.0))  # small is cheaper at every volume
    assert C.break_even_queries(10.0, 1.0, 10.0, 1.0) == 0.0


@pytest.mark.parametrize("call", [
    lambda: C.ModelShape(-1, 4, 4),
    lambda: C.sample_flops(C.ModelShape(10), -1, 4),
    lambda: C.segment_flops(C.ModelShape(10), 0, float("nan")),
    lambda: C.model_shape({"params": 10}),  # a card without its layer shape
    lambda: C.model_shape(object()),
    lambda: C.verifier_flops(-3, 10),
    lambda: C.verifier_flops(3, float("nan")),
    lambda: C.matched_inference_ratio(0.5, 1, 1),
    lambda: C.matched_inference_ratio(2, 1, 0),
    lambda: C.lifetime_flops(1, -5, 1),
    lambda: C.break_even_queries(-1, 1, 1, 1),
])
def test_bad_input_is_a_value_error(call):
    with pytest.raises(ValueError):
        call()
