"""Greedy decoding: one deterministic trace per prompt (temperature 0)."""
from __future__ import annotations

import time

from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    if not ctx.sampling.greedy:
        raise ValueError("the greedy strategy needs temperature 0")
    t0 = time.monotonic()
    gens = ctx.engine.sample([p.text for p in prompts], ctx.sampling, keys=[p.key for p in prompts],
                             max_seconds=ctx.max_seconds, progress=ctx.progress, max_rows=ctx.max_rows, stop_strings=ctx.task.stop)
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    out = []
    for p, (g,) in zip(prompts, gens):
        row = sample_row(ctx, p, g, 0, is_final=True)
        res = result_row(p, row["answer"], row["correct"], gen_tokens=g.gen_tokens, gen_flops=row["flops"], wall_s=wall)
        out.append(Outcome(p, samples=[row], result=res))
    return out
