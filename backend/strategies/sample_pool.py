"""A pool of n temperature samples per prompt. Majority vote, best-of-N and weighted best-of-N at every k ≤ n are
computed from the pool by the exact estimators (backend.analysis.estimators), not by re-running."""
from __future__ import annotations

from backend.strategies.base import Outcome, RunContext, sample_row
from backend.tasks import PromptRecord


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    if ctx.sampling.greedy:
        raise ValueError("a sampling pool needs temperature > 0 (greedy is its own run)")
    gens = ctx.engine.sample([p.text for p in prompts], ctx.sampling, keys=[p.key for p in prompts],
                             max_seconds=ctx.max_seconds, progress=ctx.progress, max_rows=ctx.max_rows, stop_strings=ctx.task.stop)
    return [Outcome(p, samples=[sample_row(ctx, p, g, i) for i, g in enumerate(gs)]) for p, gs in zip(prompts, gens)]
