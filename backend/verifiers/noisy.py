"""A noisy wrapper: each step score is replaced by 1 − score with probability ``error_rate``, deterministically per
(prompt, trace prefix, step) so the same partial trace always gets the same verdict during a search."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from backend.tasks import PromptRecord, get_task
from backend.verifiers.base import Verifier


def _uniform(*parts: str) -> float:
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


def _through_step(text: str, step: int, sep: str) -> str:
    """The text up to the end of step ``step``, so a step's noise does not depend on what follows it."""
    pos = -1
    for _ in range(step + 1):
        pos = text.find(sep, pos + 1)
        if pos < 0:
            return text
    return text[:pos]


@dataclass
class NoisyVerifier:
    base: Verifier
    error_rate: float
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.error_rate <= 1:
            raise ValueError(f"error_rate={self.error_rate} must be in [0, 1]")
        self.name = f"noisy({self.base.name},{self.error_rate:g})"
        self.n_params = self.base.n_params

    def score(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        out = []
        for p, t, steps in zip(prompts, texts, self.base.score(prompts, texts)):
            sep = get_task(p.task).step_sep
            out.append([1.0 - s if _uniform(str(self.seed), p.key, str(i), _through_step(t, i, sep)) < self.error_rate
                        else s for i, s in enumerate(steps)])
        return out

    def tokens(self, prompts: list[PromptRecord], texts: list[str]) -> int:
        return self.base.tokens(prompts, texts)
