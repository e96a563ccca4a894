"""Beam search over reasoning steps with a process verifier (Snell et al. 2024; search-and-learn).

Budget N candidates per step and beam width M: N first steps are sampled from the prompt; at every step the
N/M best unfinished candidates by verifier score are kept and each is expanded into M next steps. Finished traces
are collected until N are done or ``max_steps`` is reached; the answer is the best-scored finished trace.
"""
from __future__ import annotations

import time

from backend.strategies.base import Outcome, RunContext
from backend.strategies.tree import Tree, expand, outcomes, search_params
from backend.tasks import PromptRecord


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    n, m, max_steps = search_params(ctx, "beam search")
    t0 = time.monotonic()
    trees = [Tree(p) for p in prompts]
    completed = [[] for _ in prompts]
    new = expand(ctx, trees, [[(t.nodes[0], 0)] for t in trees], n, depth=1)
    for depth in range(1, max_steps + 1):
        frontier = []
        for t, nodes in enumerate(new):
            done = [x for x in nodes if x.finished]
            completed[t] += done[: max(0, n - len(completed[t]))]
            alive = sorted((x for x in nodes if not x.finished), key=lambda x: -x.score)
            keep = alive[: max(0, min(n // m, n - len(completed[t])))] if depth < max_steps else []
            for x in keep:
                x.kept = True
            frontier.append([(x, 0) for x in keep])
        if not any(frontier):
            break
        new = expand(ctx, trees, frontier, m, depth=depth + 1)
    return outcomes(ctx, trees, completed, t0)
