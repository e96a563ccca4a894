"""Compute accounting: the one place FLOPs are derived (Kaplan et al. 2020 approximations; Snell et al. 2024 §7).

Inference costs 2·N FLOPs per token processed (prompt and generated), training 6·N per token (forward + backward).
N counts the weights a token is multiplied by (embedding lookups cost nothing; a tied output layer is a matmul, so
tied embeddings count once). Kaplan's attention term 2·n_layers·ctx·d_model per token is optional: it is small next
to 2·N while the context is short compared with 12·d_model, which holds for the zoo's short arithmetic traces.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = [
    "training_flops", "flops_per_sequence", "attention_flops", "inference_flops", "verifier_flops",
    "RULE_BASED_PARAMS", "BUDGET_UNITS", "convert_budget", "matched_inference_ratio", "lifetime_flops",
    "break_even_queries",
]

RULE_BASED_PARAMS = 0  # a rule-based checker (oracle, exact step checker) is charged as a model of this size
BUDGET_UNITS = ("samples", "tokens", "flops")  # tokens = generated tokens


def _nonneg(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite, non-negative number, got {v!r}.")


def training_flops(n_params: int, tokens: int) -> float:
    """6·N·D: forward and backward pass over D training tokens."""
    if n_params < 0 or tokens < 0:
        raise ValueError("n_params and tokens must be non-negative")
    return 6.0 * n_params * tokens


def flops_per_sequence(n_params: int, prompt_tokens: int, generated_tokens: int) -> float:
    """2·N·(prompt + generated) for one generated sequence (KV cache: every token is processed once)."""
    if n_params < 0 or prompt_tokens < 0 or generated_tokens < 0:
        raise ValueError("n_params and token counts must be non-negative")
    return 2.0 * n_params * (prompt_tokens + generated_tokens)


def attention_flops(n_layers: int, d_model: int, tokens: int) -> float:
    """2·n_layers·d_model·T² for a causal sequence of T tokens: Kaplan's 2·n_layers·ctx·d_model per token with ctx = T.

    Exact for a KV cache: token i multiplies Qᵀ K and A V over i positions, 4·d_model·i per layer, summed over
    i ≤ T = 2·d_model·T(T+1) ≈ 2·d_model·T². A non-causal implementation that computes the full T×T matrix and masks
    it does twice this work.
    """
    _nonneg(n_layers=n_layers, d_model=d_model, tokens=tokens)
    return 2.0 * n_layers * d_model * float(tokens) ** 2


def inference_flops(n_params: int, prompt_tokens: int, generated_tokens: int, *, n_layers: int = 0,
                    d_model: int = 0) -> float:
    """Forward FLOPs of one sequence: 2·N·T plus, when n_layers and d_model are given, the attention term 2·L·d·T².

    T = prompt + generated tokens. Without the layer shape this is flops_per_sequence (what the store records).
    """
    _nonneg(prompt_tokens=prompt_tokens, generated_tokens=generated_tokens)
    base = flops_per_sequence(n_params, prompt_tokens, generated_tokens)
    return base + attention_flops(n_layers, d_model, prompt_tokens + generated_tokens)


def verifier_flops(tokens: int, verifier_params: int = RULE_BASED_PARAMS) -> float:
    """2·N_verifier·tokens scored; a rule-based verifier is charged at verifier_params (0 = free, the default)."""
    _nonneg(tokens=tokens, verifier_params=verifier_params)
    return 2.0 * verifier_params * tokens


def convert_budget(value: float, src: str, dst: str, *, n_params: int, prompt_tokens: float,
                   gen_tokens: float) -> float:
    """Convert a per-query budget between samples, generated tokens and FLOPs for one model.

    Uses the mean prompt and generated tokens per sample: tokens = samples·gen_tokens and
    FLOPs = samples·2·N·(prompt_tokens + gen_tokens) (each sample re-reads its prompt, as the engine does).
    """
    for unit in (src, dst):
        if unit not in BUDGET_UNITS:
            raise ValueError(f"unknown budget unit {unit!r}; use one of {', '.join(BUDGET_UNITS)}.")
    _nonneg(value=value, n_params=n_params, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens)
    per_sample = {"samples": 1.0, "tokens": float(gen_tokens),
                  "flops": 2.0 * n_params * (prompt_tokens + gen_tokens)}
    if per_sample[src] == 0:
        raise ValueError(f"cannot convert from {src}: one sample costs zero {src} with these means.")
    return value / per_sample[src] * per_sample[dst]


def matched_inference_ratio(m: float, pretrain_tokens: float, inference_tokens: float) -> float:
    """How many times its inference compute a small model may spend to match a model m times larger over a lifetime.

    Snell et al. 2024 §7: with both models pretrained on D_pretrain tokens and serving D_inference tokens in total,
    6·mN·D_p + 2·mN·D_i = 6·N·D_p + 2·N·r·D_i gives r = m + 3·(D_pretrain/D_inference)·(m − 1).
    """
    _nonneg(m=m, pretrain_tokens=pretrain_tokens)
    if m < 1:
        raise ValueError(f"m is the size ratio large/small and must be at least 1, got {m}.")
    if not isinstance(inference_tokens, Real) or not inference_tokens > 0:
        raise ValueError(f"inference_tokens must be positive (total tokens served), got {inference_tokens!r}.")
    return m + 3.0 * (pretrain_tokens / inference_tokens) * (m - 1)


def lifetime_flops(training: float, queries: float, flops_per_query: float) -> float:
    """Total lifetime compute = training FLOPs + queries × per-query inference FLOPs."""
    _nonneg(training=training, queries=queries, flops_per_query=flops_per_query)
    return training + queries * flops_per_query


def break_even_queries(train_small: float, query_small: float, train_large: float, query_large: float) -> float:
    """Query volume at which small+TTC and large cost the same over their lifetime (inf when that never happens).

    Below it the option with the smaller training bill is cheaper in total; above it, the cheaper-per-query one.
    """
    _nonneg(train_small=train_small, query_small=query_small, train_large=train_large, query_large=query_large)
    d_train, d_query = train_large - train_small, query_small - query_large
    if d_query == 0:
        return 0.0 if d_train == 0 else float("inf")
    q = d_train / d_query
    return q if q >= 0 else float("inf")
