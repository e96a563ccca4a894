"""Adaptive allocation (Snell et al. 2024, §3): spend the same total budget unevenly, by predicted difficulty.

Each prompt first gets ``probe`` samples; the verifier's mean score p over them predicts how likely the model is to
solve it. The rest of the batch's budget (``budget`` samples per prompt on average) goes to prompts in proportion
to p·(1−p) — little to prompts that are already solved or look hopeless, most to those in between.
``allocation="uniform"`` spends the same total evenly (the baseline at equal compute). The answer is the
verifier-weighted majority over all of a prompt's samples. The probe's cost is part of the spend.
"""
from __future__ import annotations

import time

from backend.analysis.votes import weighted_majority
from backend.engines.base import SamplingParams
from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord
from backend.verifiers import aggregate, cost

ALLOCATIONS = ("adaptive", "uniform")


def allocate(weights: list[float], extra: int) -> list[int]:
    """Split ``extra`` samples in proportion to ``weights`` (largest remainder; exact total; even split if all 0)."""
    if extra < 0:
        raise ValueError("cannot allocate a negative number of samples")
    total = sum(weights)
    shares = [extra * w / total for w in weights] if total > 0 else [extra / len(weights)] * len(weights)
    out = [int(s) for s in shares]
    for i in sorted(range(len(weights)), key=lambda i: out[i] - shares[i])[: extra - sum(out)]:
        out[i] += 1
    return out


def _draw(ctx: RunContext, prompts: list[PromptRecord], counts: list[int], phase: str) -> list[list]:
    """``counts[i]`` samples of prompt i, batched by count; seeds keyed by prompt and phase."""
    out: list[list] = [[] for _ in prompts]
    sp = ctx.sampling
    for n in sorted(set(c for c in counts if c > 0)):
        idx = [i for i, c in enumerate(counts) if c == n]
        gens = ctx.engine.sample([prompts[i].text for i in idx], SamplingParams(n=n, temperature=sp.temperature,
                                 top_p=sp.top_p, top_k=sp.top_k, max_new_tokens=sp.max_new_tokens, seed=sp.seed),
                                 keys=[f"{prompts[i].key}/{phase}" for i in idx], max_seconds=ctx.max_seconds)
        for i, row in zip(idx, gens):
            out[i] = row
    return out


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    budget, probe = ctx.param("budget"), ctx.param("probe", 2)
    mode = ctx.param("allocation", "adaptive", str)
    if mode not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}")
    if ctx.verifier is None:
        raise ValueError("adaptive allocation needs a verifier to predict difficulty")
    if not 1 <= probe <= budget:
        raise ValueError(f"probe ({probe}) must be between 1 and the budget ({budget})")
    t0 = time.monotonic()
    first = _draw(ctx, prompts, [probe] * len(prompts), "probe")
    scores = [[aggregate(s) for s in ctx.verifier.score([p] * len(g), [x.text for x in g])] for p, g in zip(prompts, first)]
    p_hat = [sum(s) / len(s) for s in scores]
    extra = (budget - probe) * len(prompts)
    weights = [p * (1 - p) for p in p_hat] if mode == "adaptive" else [1.0] * len(prompts)
    second = _draw(ctx, prompts, allocate(weights, extra), "extra")
    more = [[aggregate(s) for s in ctx.verifier.score([p] * len(g), [x.text for x in g])] if g else []
            for p, g in zip(prompts, second)]
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    out = []
    for p, g1, g2, s1, s2, ph in zip(prompts, first, second, scores, more, p_hat):
        gens, sc = g1 + g2, s1 + s2
        samples = [sample_row(ctx, p, g, i) for i, g in enumerate(gens)]
        score_rows = []
        for i, (g, s) in enumerate(zip(gens, sc)):
            tokens, flops = cost(ctx.verifier, [p], [g.text])
            score_rows.append({"prompt_key": p.key, "sample_idx": i, "verifier": ctx.verifier.name, "score": s,
                               "step_scores": None, "tokens": tokens, "flops": flops})
        vt, vf = sum(r["tokens"] for r in score_rows), sum(r["flops"] for r in score_rows)
        answer = weighted_majority([row["answer"] for row in samples], sc)
        res = result_row(p, answer, ctx.task.correct(p, answer), gen_tokens=sum(g.gen_tokens for g in gens),
                         gen_flops=sum(r["flops"] for r in samples), verifier_tokens=vt, verifier_flops=vf,
                         n_traces=len(gens), wall_s=wall)
        out.append(Outcome(p, samples=samples, scores=score_rows, result=res))
    return out
