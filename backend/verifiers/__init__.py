"""Verifiers by name: "oracle", "steps" (exact step checker), "learned" / "learned-<size>" (trained value-head
models in cache/verifiers/<name>), and
"noisy:<base>:<error rate>" (e.g. "noisy:steps:0.2"). One interface: see base.py.

Which verifiers a deployed system could run is decided here, once (``deployable``): the oracle and the exact step
checker read the gold answer (the step checker appends the gold outcome to a finished trace), and a noisy wrapper of
either still reads it — selection by them is an upper bound ("a perfect verifier"), never a policy to compare.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from backend.verifiers.base import AGGREGATES, Verifier, aggregate, cost
from backend.verifiers.noisy import NoisyVerifier
from backend.verifiers.rules import OracleVerifier, StepVerifier

NAMES = ("oracle", "steps", "learned")
UPPER_BOUND = ("oracle", "steps")  # read the gold answer: what a perfect verifier would do, not a deployable one


def base_name(name: str) -> str:
    """The verifier under any noisy wrappers: "noisy:steps:0.2" and "noisy(steps,0.2)" (a run's stored name) → "steps"."""
    while True:
        if name.startswith("noisy:") and name.count(":") >= 2:
            name = name[len("noisy:"): name.rindex(":")]
        elif name.startswith("noisy(") and name.endswith(")") and "," in name:
            name = name[len("noisy("): name.rindex(",")]
        else:
            return name


def noise_rate(name: str) -> float:
    """The error rate of the outermost noisy wrapper (0.0 for a plain verifier)."""
    for head, sep in (("noisy:", ":"), ("noisy(", ",")):
        if name.startswith(head) and sep in name[len(head):]:
            return float(name[name.rindex(sep) + 1:].rstrip(")"))
    return 0.0


def canonical_name(name: str) -> str:
    """One spelling per verifier: a run records "noisy:steps:0.2", its score rows "noisy(steps,0.2)"; both become
    the former."""
    if name.startswith("noisy(") and name.endswith(")") and "," in name:
        return f"noisy:{canonical_name(name[len('noisy('):name.rindex(',')])}:{noise_rate(name):g}"
    return name


def deployable(name: str | None) -> bool:
    """Whether selection by this verifier is something a deployed system could do. No verifier (None or "") and
    model verifiers are; the oracle, the exact step checker and noisy wrappers of them read the gold answer: upper
    bounds. The one definition every comparison, claim, winner map and headline uses (via the points' column)."""
    return not name or base_name(str(name)) not in UPPER_BOUND


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
    if name == "learned" or name.startswith("learned-"):  # learned-3.2m: a value head on a bigger backbone
        from backend.verifiers.learned import verifier_dir

        return _learned(str(verifier_dir(name)))  # keyed by path: the cache folder can change (tests)
    close = difflib.get_close_matches(name, NAMES, n=1)
    raise KeyError(f"unknown verifier {name!r}" + (f"; did you mean {close[0]!r}?" if close else f"; known: {NAMES}"))


__all__ = ["AGGREGATES", "UPPER_BOUND", "Verifier", "aggregate", "base_name", "canonical_name", "cost", "deployable", "get_verifier",
           "noise_rate", "NAMES"]
