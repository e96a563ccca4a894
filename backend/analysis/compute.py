"""Compute accounting: the one place FLOPs are derived (Kaplan et al. 2020 approximations).

Inference costs 2·N FLOPs per token processed (prompt and generated), training 6·N per token (forward + backward).
"""
from __future__ import annotations


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
