"""The verifier interface: per-step scores in [0, 1] for (prompt, trace) pairs, an aggregate, and the FLOPs it costs.

Every verifier states ``n_params``, the model size it is charged as per scored token (0 for rule-based checkers,
which are charged at zero FLOPs: they stand in for a perfect verifier, not for a model we could run); a model
verifier is charged a forward pass over each trace, attention included (compute.sample_flops). Whether a verifier
is deployable or an upper bound is decided by name in backend.verifiers.deployable.
"""
from __future__ import annotations

from typing import Protocol

from backend.analysis.compute import model_shape, sample_flops
from backend.tasks import PromptRecord

AGGREGATES = ("last", "min", "prod")


class Verifier(Protocol):
    name: str
    n_params: int  # charged per scored token: FLOPs = 2 · n_params · tokens

    def score(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        """Per-step scores of each trace (one list per trace; an empty trace gets one outcome score)."""

    def tokens(self, prompts: list[PromptRecord], texts: list[str]) -> int:
        """Tokens this verifier reads to score these traces."""


def aggregate(step_scores: list[float], how: str = "last") -> float:
    """One score per trace: the last step's (PRM default), the minimum, or the product of step scores."""
    if how not in AGGREGATES:
        raise ValueError(f"unknown aggregate {how!r}; use one of {AGGREGATES}")
    if not step_scores:
        return 0.0
    if how == "last":
        return float(step_scores[-1])
    if how == "min":
        return float(min(step_scores))
    out = 1.0
    for s in step_scores:
        out *= s
    return float(out)


def cost(verifier: Verifier, prompts: list[PromptRecord], texts: list[str]) -> tuple[int, float]:
    """(tokens read, FLOPs) of scoring these traces once: one forward pass over each prompt + trace."""
    per = [verifier.tokens([p], [t]) for p, t in zip(prompts, texts)]
    shape = model_shape(verifier)
    return sum(per), float(sum(sample_flops(shape, 0, n) for n in per))


def char_tokens(prompts: list[PromptRecord], texts: list[str]) -> int:
    """Token count for the character-level zoo tokenizer: one token per character of prompt and trace."""
    return sum(len(p.text) + len(t) for p, t in zip(prompts, texts))
