"""Think / no-think routing: answer with the direct (no-reasoning) model when it is confident, otherwise with the
CoT model. Confidence is the probability the direct model assigns to its own greedy answer (exp of its summed
log-probs). The direct model always runs; the CoT model only on routed prompts; both costs are counted.
"""
from __future__ import annotations

import math
import time

from backend.engines.base import SamplingParams
from backend.models import load_engine
from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    direct_name, threshold = ctx.param("direct", None, str), ctx.param("threshold", 0.5, float)
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold {threshold} must be in [0, 1]")
    direct = load_engine(direct_name)
    t0 = time.monotonic()
    greedy = SamplingParams(temperature=0, max_new_tokens=24)
    d_gens = direct.sample([p.text for p in prompts], greedy, keys=[p.key for p in prompts], max_seconds=ctx.max_seconds)
    confident = [math.exp(g[0].sum_logprob) >= threshold for g in d_gens]
    routed = [p for p, c in zip(prompts, confident) if not c]
    c_gens = iter(ctx.engine.sample([p.text for p in routed], ctx.sampling, keys=[p.key for p in routed],
                                    max_seconds=ctx.max_seconds) if routed else [])
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    direct_ctx = RunContext(engine=direct, task=ctx.task, sampling=greedy)
    out = []
    for p, (dg,), conf in zip(prompts, d_gens, confident):
        rows = [sample_row(direct_ctx, p, dg, 0, is_final=conf)]
        if not conf:
            (cg,) = next(c_gens)
            rows.append(sample_row(ctx, p, cg, 1, is_final=True))
        final = rows[-1]
        res = result_row(p, final["answer"], final["correct"], gen_tokens=sum(r["gen_tokens"] for r in rows),
                         gen_flops=sum(r["flops"] for r in rows), n_traces=len(rows), wall_s=wall)
        out.append(Outcome(p, samples=rows, result=res))
    return out
