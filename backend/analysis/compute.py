"""Compute accounting: the one place FLOPs are derived (Kaplan et al. 2020 approximations; Snell et al. 2024 §7).

Inference costs 2·N FLOPs per token processed (prompt and generated), training 6·N per token (forward + backward).
N counts the weights a token is multiplied by (embedding lookups cost nothing; a tied output layer is a matmul, so
tied embeddings count once). Attention adds what the weights do not see: a token at position i (1-based, KV cache)
multiplies Qᵀ·K and A·V over i positions, 2·d + 2·d FLOPs per layer per attended position (d = heads × head dim),
so a causal sequence of T tokens costs 2·L·d·T·(T+1) on top of 2·N·T — 7% / 4% / 2% of the zoo's traces for
0.1M / 0.8M / 3.2M parameters, in the small model's disfavour when left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from types import SimpleNamespace

import numpy as np

__all__ = [
    "ModelShape", "model_shape", "segment_flops", "sample_flops", "training_flops", "flops_per_sequence",
    "verifier_flops", "RULE_BASED_PARAMS", "BUDGET_UNITS", "matched_inference_ratio",
    "lifetime_flops", "break_even_queries",
]

RULE_BASED_PARAMS = 0  # a rule-based checker (oracle, exact step checker) is charged as a model of this size
BUDGET_UNITS = ("samples", "tokens", "flops")  # tokens = generated tokens


def _nonneg(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite, non-negative number, got {v!r}.")


@dataclass(frozen=True)
class ModelShape:
    """What a forward pass costs depends on: weights N, layers L and attention width d (query heads × head dim)."""

    n_params: int
    n_layers: int = 0  # 0: attention not counted (the shape is unknown, e.g. imported generations)
    d_attn: int = 0

    def __post_init__(self):
        _nonneg(n_params=self.n_params, n_layers=self.n_layers, d_attn=self.d_attn)


def _config_shape(n_params, cfg) -> ModelShape:
    heads = int(cfg.num_attention_heads)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return ModelShape(int(n_params), int(cfg.num_hidden_layers), heads * int(head_dim))


def model_shape(model) -> ModelShape:
    """The shape of a model from a zoo card (params, layers, width), a config.json dict with "n_params" added, an
    engine or verifier (n_params and a transformers ``model.config``; a wrapper's ``base``; a rule-based checker
    without a model: N only), or a ModelShape."""
    if isinstance(model, ModelShape):
        return model
    if isinstance(model, dict):
        n = model.get("params", model.get("n_params"))
        if n is not None and {"layers", "width"} <= set(model):
            return ModelShape(int(n), int(model["layers"]), int(model["width"]))
        if n is not None and {"num_hidden_layers", "hidden_size", "num_attention_heads"} <= set(model):
            return _config_shape(n, SimpleNamespace(**model))  # a config.json with the weights' count added
        raise ValueError("a model card (params, layers, width) or a config.json dict with n_params is needed to cost "
                         f"a forward pass; got keys {sorted(model)}.")
    n_params = getattr(model, "n_params", None)
    if n_params is None:
        raise ValueError(f"cannot tell the shape of {type(model).__name__}: it has no n_params.")
    # an engine states its config (one running its model elsewhere, Ray or vLLM, has no local .model)
    cfg = getattr(model, "config", None)
    cfg = getattr(getattr(model, "model", None), "config", None) if cfg is None else cfg
    if cfg is not None:
        return _config_shape(n_params, cfg)
    base = getattr(model, "base", None)  # a wrapper (the noisy verifier) costs what it wraps
    return model_shape(base) if base is not None else ModelShape(int(n_params))


def segment_flops(model, start, tokens):
    """Forward FLOPs of ``tokens`` new tokens read after ``start`` cached ones (KV cache): 2·N per token plus the
    causal attention term 2·L·d·(e·(e+1) − s·(s+1)), e = s + tokens (Σ of 4·L·d·i over positions s < i ≤ e).

    ``model``: anything model_shape reads. start / tokens may be numpy arrays (element-wise). A whole sequence is
    segment_flops(m, 0, T), and splitting it into segments (a search tree's steps) sums to the same total.
    """
    s = model_shape(model)
    a, t = np.asarray(start, dtype=float), np.asarray(tokens, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(t))) or np.any(a < 0) or np.any(t < 0):
        raise ValueError("token counts must be finite and non-negative.")
    e = a + t
    out = 2.0 * s.n_params * t + 2.0 * s.n_layers * s.d_attn * (e * (e + 1) - a * (a + 1))
    return float(out) if out.ndim == 0 else out


def sample_flops(model, prompt_tokens, gen_tokens):
    """Inference FLOPs of one generated sequence (prompt read once, every generated token once, KV cache), with
    attention: segment_flops(model, 0, prompt + generated). Vectorised over numpy arrays of token counts; ``model``
    may be a zoo card (what a migration of stored FLOPs reads), an engine, a verifier or a ModelShape."""
    p, g = np.asarray(prompt_tokens, dtype=float), np.asarray(gen_tokens, dtype=float)
    if np.any(p < 0) or np.any(g < 0):
        raise ValueError("token counts must be finite and non-negative.")
    return segment_flops(model, 0, p + g)


def training_flops(n_params: int, tokens: int) -> float:
    """6·N·D: forward and backward pass over D training tokens."""
    if n_params < 0 or tokens < 0:
        raise ValueError("n_params and tokens must be non-negative")
    return 6.0 * n_params * tokens


def flops_per_sequence(n_params: int, prompt_tokens: int, generated_tokens: int) -> float:
    """2·N·(prompt + generated), without attention: for sequences of a model whose layer shape is unknown (imported
    generations); sample_flops is the full count."""
    if n_params < 0 or prompt_tokens < 0 or generated_tokens < 0:
        raise ValueError("n_params and token counts must be non-negative")
    return 2.0 * n_params * (prompt_tokens + generated_tokens)


def verifier_flops(tokens: int, verifier_params: int = RULE_BASED_PARAMS) -> float:
    """2·N_verifier·tokens scored, for re-costing a verifier of a stated size only (its layer shape unknown: no
    attention term); a rule-based verifier is charged at verifier_params (0 = free, the default). Verifiers that
    score traces charge sample_flops per trace (backend.verifiers.cost)."""
    _nonneg(tokens=tokens, verifier_params=verifier_params)
    return 2.0 * verifier_params * tokens


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
