"""backend/analysis/compute.py: formulas against brute force and against torch's FLOP counter on a real Llama."""
from __future__ import annotations

import math

import pytest

from backend.analysis import compute as C


def test_flops_per_sequence_matches_flop_counter_on_a_zoo_sized_llama():
    """FlopCounterMode counts matmul FLOPs (2·m·n·k per mm); embedding lookups cost none, and with tied embeddings
    the output layer's matmul uses the embedding weights, so 2·N·tokens should match within 15%. On CPU the fused
    attention kernel (SDPA) is not counted; eager attention is, and it adds the full (masked) T×T products."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = dict(vocab_size=28, hidden_size=128, intermediate_size=344, num_hidden_layers=4, num_attention_heads=4,
               num_key_value_heads=4, max_position_embeddings=256, tie_word_embeddings=True, pad_token_id=0,
               eos_token_id=1, bos_token_id=None)
    batch, prompt, gen = 4, 24, 40
    x = torch.randint(2, 28, (batch, prompt + gen))
    counted = {}
    for impl in ("sdpa", "eager"):
        model = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation=impl)).eval()
        n_params = sum(p.numel() for p in model.parameters())
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            model(input_ids=x)
        counted[impl] = counter.get_total_flops()
    predicted = batch * C.flops_per_sequence(n_params, prompt, gen)
    assert counted["sdpa"] == pytest.approx(predicted, rel=0.15)
    # eager computes QKᵀ and AV over the full T×T matrix (4·L·d·T² per sequence): twice the causal attention term
    full = counted["eager"] - counted["sdpa"]
    assert full == pytest.approx(2 * batch * C.attention_flops(4, 128, prompt + gen), rel=1e-6)
    with_attn = batch * C.inference_flops(n_params, prompt, gen, n_layers=4, d_model=128)
    assert with_attn == pytest.approx(predicted + full / 2, rel=1e-9)


def test_attention_term_is_the_exact_causal_sum():
    for layers, d, t in [(1, 1, 1), (2, 64, 10), (4, 128, 300)]:
        brute = sum(4 * layers * d * i for i in range(1, t + 1))  # QKᵀ and AV over i positions for token i
        assert C.attention_flops(layers, d, t) == pytest.approx(brute, rel=1.0 / t + 1e-12)
    assert C.inference_flops(1000, 3, 7) == C.flops_per_sequence(1000, 3, 7) == 2 * 1000 * 10


def test_verifier_flops_and_rule_based_default():
    assert C.verifier_flops(50, 1000) == 2 * 1000 * 50
    assert C.verifier_flops(50) == 0.0  # a rule-based checker is free unless given a size
    assert C.RULE_BASED_PARAMS == 0


def test_budget_conversions_round_trip():
    kw = dict(n_params=1000, prompt_tokens=12, gen_tokens=30)
    assert C.convert_budget(4, "samples", "tokens", **kw) == 120
    assert C.convert_budget(4, "samples", "flops", **kw) == 4 * C.flops_per_sequence(1000, 12, 30)
    for src in C.BUDGET_UNITS:
        for dst in C.BUDGET_UNITS:
            there = C.convert_budget(7.5, src, dst, **kw)
            assert C.convert_budget(there, dst, src, **kw) == pytest.approx(7.5)


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
    lambda: C.attention_flops(-1, 4, 4),
    lambda: C.inference_flops(10, -1, 4),
    lambda: C.verifier_flops(-3, 10),
    lambda: C.verifier_flops(3, float("nan")),
    lambda: C.convert_budget(1, "samples", "joules", n_params=1, prompt_tokens=1, gen_tokens=1),
    lambda: C.convert_budget(-1, "samples", "flops", n_params=1, prompt_tokens=1, gen_tokens=1),
    lambda: C.convert_budget(1, "tokens", "flops", n_params=1, prompt_tokens=1, gen_tokens=0),
    lambda: C.matched_inference_ratio(0.5, 1, 1),
    lambda: C.matched_inference_ratio(2, 1, 0),
    lambda: C.lifetime_flops(1, -5, 1),
    lambda: C.break_even_queries(-1, 1, 1, 1),
])
def test_bad_input_is_a_value_error(call):
    with pytest.raises(ValueError):
        call()
