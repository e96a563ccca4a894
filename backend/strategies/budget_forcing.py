"""Budget forcing (s1, Muennighoff et al. 2025): control how long a model thinks.

``mode="cap"``: thinking stops at ``budget`` tokens, then the answer marker is forced. ``mode="force"``: thinking
lasts exactly ``budget`` tokens — when the model tries to end early (answer marker or EOS), the marker is
suppressed and "wait" is appended so it re-checks; at the budget the answer marker is forced. Forced tokens are
marked on every trace. The answer per prompt is the majority over the ``n`` samples.
"""
from __future__ import annotations

import time

from backend.analysis.votes import majority
from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord

MODES = ("cap", "force")
ANSWER_ROOM = 16  # tokens allowed after the thinking budget for the answer itself


class ThinkBudget:
    """Engine controller enforcing the thinking budget; stateless (reads each row's own tokens), so one instance
    serves any number of rows and batches."""

    def __init__(self, engine, task, budget: int, mode: str, extension: str = ";wait "):
        self.budget, self.mode = budget, mode
        self.answer = engine.encode(task.think_end)  # the answer marker, e.g. "\nA:"
        self.end_ids = {self.answer[0], engine.eos}  # tokens by which a model ends its thinking
        self.extension = engine.encode(extension)

    def on_token(self, row: int, token: int, generated: list[int]) -> list[int] | None:
        if self.answer[0] in generated:  # thinking is over; the answer is free
            return None
        used = len(generated)
        if used >= self.budget:  # out of thinking budget: the answer marker replaces this token
            return list(self.answer)
        if token not in self.end_ids:
            return None
        if self.mode == "cap":  # an early natural end is fine; EOS before any answer gets the marker
            return None if token == self.answer[0] else list(self.answer)
        left = self.budget - used  # force mode: replace the end by "wait", up to the budget
        forced = self.extension[:left]
        return forced + list(self.answer) if len(self.extension) >= left else forced


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    budget, mode = ctx.param("budget"), ctx.param("mode", "force", str)
    if mode not in MODES:
        raise ValueError(f"budget forcing mode must be one of {MODES}, not {mode!r}")
    if not 1 <= budget <= 4000:
        raise ValueError(f"thinking budget {budget} is outside 1..4000 tokens")
    if ctx.sampling.max_new_tokens < budget + ANSWER_ROOM:
        raise ValueError(f"max_new_tokens must be at least budget + {ANSWER_ROOM}")
    t0 = time.monotonic()
    control = ThinkBudget(ctx.engine, ctx.task, budget, mode)
    gens = ctx.engine.sample([p.text for p in prompts], ctx.sampling, keys=[p.key for p in prompts],
                             max_seconds=ctx.max_seconds, controller=control, progress=ctx.progress)
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    out = []
    for p, row in zip(prompts, gens):
        samples = [sample_row(ctx, p, g, i) for i, g in enumerate(row)]
        for s, g in zip(samples, row):
            s["forced"] = g.forced if any(g.forced) else None  # always kept: the pages highlight them
        answer = majority([s["answer"] for s in samples])
        res = result_row(p, answer, ctx.task.correct(p, answer), gen_tokens=sum(g.gen_tokens for g in row),
                         gen_flops=sum(s["flops"] for s in samples),
                         n_traces=len(row), wall_s=wall)
        out.append(Outcome(p, samples=samples, result=res))
    return out
