"""Proxy tuning as a test-time strategy: the run's model is the base; each token is drawn from
``base + alpha·(expert − anti_expert)`` (backend.engines.proxy), greedy or sampled as the run's sampling says.

Parameters: ``expert``, ``anti_expert`` (zoo members sharing the base's tokenizer), ``alpha`` and the two members'
weight fingerprints (``expert_fingerprint``, ``anti_expert_fingerprint``: :func:`proxy_params` fills them) so that
retraining either changes the run key. A trace costs the three forward passes: the sum of each model's
compute.sample_flops over the same tokens. With n > 1 the answer is the majority over the samples.
"""
from __future__ import annotations

import time

from backend.analysis.compute import model_shape, sample_flops
from backend.analysis.votes import majority
from backend.strategies.base import Outcome, RunContext, result_row, sample_row
from backend.tasks import PromptRecord


def proxy_params(expert: str, anti_expert: str, alpha: float) -> dict:
    """The strategy parameters of a proxy-tuning run between zoo members, with their weights' fingerprints (part of
    the run key; read from the files, no model loaded)."""
    from backend.zoo import registry

    fp = lambda name: (registry.read_card(name), registry.fingerprint(registry.member_dir(name)))[1]
    return {"expert": expert, "anti_expert": anti_expert, "alpha": float(alpha),
            "expert_fingerprint": fp(expert), "anti_expert_fingerprint": fp(anti_expert)}


def proxy_engine(ctx: RunContext):
    """The ProxyEngine of a run's parameters, after checking the members are the weights the run key names."""
    from backend.engines.proxy import ProxyEngine
    from backend.models import load_engine

    alpha = ctx.param("alpha", None, float)
    members = []
    for role in ("expert", "anti_expert"):
        engine = load_engine(ctx.param(role, None, str))
        want = ctx.params.get(f"{role}_fingerprint")
        if want is not None and want != engine.fingerprint:
            raise ValueError(f"the {role} {engine.name} has other weights than this run was planned with "
                             f"({engine.fingerprint} vs {want}); plan the run again")
        members.append(engine)
    return ProxyEngine(ctx.engine, *members, alpha)


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    engine = proxy_engine(ctx)
    shapes = [model_shape(m) for m in engine.members]
    t0 = time.monotonic()
    gens = engine.sample([p.text for p in prompts], ctx.sampling, keys=[p.key for p in prompts],
                         max_seconds=ctx.max_seconds, progress=ctx.progress, max_rows=ctx.max_rows,
                         stop_strings=ctx.task.stop)
    wall = (time.monotonic() - t0) / max(1, len(prompts))
    out = []
    for p, row in zip(prompts, gens):
        samples = []
        for i, g in enumerate(row):
            flops = sum(sample_flops(s, g.prompt_tokens, g.gen_tokens) for s in shapes)  # three forward passes
            samples.append(sample_row(ctx, p, g, i, is_final=len(row) == 1, flops=flops))
        answer = samples[0]["answer"] if len(row) == 1 else majority([s["answer"] for s in samples])
        res = result_row(p, answer, ctx.task.correct(p, answer), gen_tokens=sum(g.gen_tokens for g in row),
                         gen_flops=sum(s["flops"] for s in samples), n_traces=len(row), wall_s=wall)
        out.append(Outcome(p, samples=samples, result=res))
    return out
