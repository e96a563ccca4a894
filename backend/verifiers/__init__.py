"""Verifiers by name: "oracle", "steps" (exact step checker), "learned" (the trained value-head model), and
"noisy:<base>:<error rate>" (e.g. "noisy:steps:0.2"). One interface: see base.py."""
from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from backend.verifiers.base import AGGREGATES, Verifier, aggregate, cost
from backend.verifiers.noisy import NoisyVerifier
from backend.verifiers.rules import OracleVerifier, StepVerifier

NAMES = ("oracle", "steps", "learned")


@lru_cache(maxsize=8)
def _learned(path: str):
    from backend.verifiers.learned import LearnedVerifier

    return LearnedVerifier(Path(path))


def get_verifier(name: str) -> Verifier:
    """Build a verifier from its name; KeyError with a "did you mean …?" hint for unknown names."""
    if name.startswith("noisy:"):
        parts = name.split(":")
        if len(parts) != 3:
            raise KeyError(f"noisy verifiers are named noisy:<base>:<error rate>, not {name!r}")
        try:
            rate = float(parts[2])
        except ValueError:
            raise KeyError(f"error rate in {name!r} is not a number") from None
        return NoisyVerifier(get_verifier(parts[1]), rate)
    if name == "oracle":
        return OracleVerifier()
    if name == "steps":
        return StepVerifier()
    if name == "learned":
        from backend.verifiers.learned import verifier_dir

        return _learned(str(verifier_dir("learned")))  # keyed by path: the cache folder can change (tests)
    close = difflib.get_close_matches(name, NAMES, n=1)
    raise KeyError(f"unknown verifier {name!r}" + (f"; did you mean {close[0]!r}?" if close else f"; known: {NAMES}"))


__all__ = ["AGGREGATES", "Verifier", "aggregate", "cost", "get_verifier", "NAMES"]
