"""Learned think / no-think routing: one router model (backend.zoo.router) writes a mode token, then the answer in
that mode. ``mode="choose"`` lets the router decide; ``"think"`` / ``"short"`` force the mode token (marked as a
forced token, with its raw log-prob as the router gave it), which yields the two plain policies of the same model and,
with the stored mode log-probs, the router's whole threshold front. The chosen mode is the first character of each
stored trace (router.mode_of). One sequence per prompt: its FLOPs are compute.sample_flops of prompt + mode token +
answer; reading the mode log-probs costs nothing extra (they are the logits of the decode's own prefill).
"""
from __future__ import annotations

import time

from backend.engines.base import Generation
from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord

ROUTER_MODES = ("choose", "think", "short")


def _forced(mark_id: int, lp: float, g: Generation, mark: str) -> Generation:
    """A generation continued after a forced mode token, written as if that token had been generated."""
    return Generation(text=mark + g.text, token_ids=[mark_id, *g.token_ids], logprobs=[float(lp), *g.logprobs],
                      prompt_tokens=g.prompt_tokens - 1, finish_reason=g.finish_reason,
                      forced=[True, *(g.forced or [False] * g.gen_tokens)])


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    from backend.zoo.router import MODE_TOKENS, MODES, mode_logprobs

    mode = ctx.param("mode", "choose", str)
    if mode not in ROUTER_MODES:
        raise ValueError(f"learned routing mode must be one of {ROUTER_MODES}, not {mode!r}")
    if ctx.sampling.n != 1:
        raise ValueError("learned routing writes one trace per prompt; use n=1")
    t0 = time.monotonic()
    texts = [p.text for p in prompts]
    if mode != "choose":
        mark = MODE_TOKENS[mode]
        lps = mode_logprobs(ctx.engine, texts)[:, MODES.index(mode)]
        texts = [t + mark for t in texts]
    gens = ctx.engine.sample(texts, ctx.sampling, keys=[p.key for p in prompts], max_seconds=ctx.max_seconds,
                             progress=ctx.progress, max_rows=ctx.max_rows, stop_strings=ctx.task.stop)
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    out = []
    for i, (p, (g,)) in enumerate(zip(prompts, gens)):
        if mode != "choose":
            g = _forced(ctx.engine.token_id(mark), lps[i], g, mark)
        row = sample_row(ctx, p, g, 0, is_final=True)
        res = result_row(p, row["answer"], row["correct"], gen_tokens=g.gen_tokens, gen_flops=row["flops"], wall_s=wall)
        out.append(Outcome(p, samples=[row], result=res))
    return out
