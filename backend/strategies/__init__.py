"""Test-time strategies, one file each, one signature (see base.py), selected by name from STRATEGIES."""
from __future__ import annotations

import difflib

from backend.strategies import adaptive, beam, budget_forcing, dvts, greedy, learned_route, proxy, route, sample_pool
from backend.strategies.base import Outcome, RunContext, Strategy

STRATEGIES: dict[str, Strategy] = {
    "greedy": greedy.run,
    "sample": sample_pool.run,
    "beam": beam.run,
    "dvts": dvts.run,
    "budget_forcing": budget_forcing.run,
    "adaptive": adaptive.run,
    "route": route.run,
    "learned_route": learned_route.run,
    "proxy": proxy.run,
}


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; KeyError with a "did you mean …?" hint otherwise."""
    if name not in STRATEGIES:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(STRATEGIES))}"
        raise KeyError(f"unknown strategy {name!r}{hint}")
    return STRATEGIES[name]


__all__ = ["STRATEGIES", "get_strategy", "Outcome", "RunContext"]
