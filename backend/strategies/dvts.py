"""Diverse verifier tree search (DVTS; Beeching et al. 2024): the budget N is split into N/M independent subtrees,
each a greedy step search under the verifier (M expansions, keep the best unfinished one), so the subtrees stay
diverse where one beam would collapse onto a single prefix. The answer is the best-scored finished trace overall.
"""
from __future__ import annotations

import time

from backend.strategies.base import Outcome, RunContext
from backend.strategies.tree import Tree, expand, outcomes, search_params
from backend.tasks import PromptRecord


def run(ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]:
    n, m, max_steps = search_params(ctx, "DVTS")
    t0 = time.monotonic()
    trees = [Tree(p) for p in prompts]
    completed = [[] for _ in prompts]
    frontier = [[(t.nodes[0], s) for s in range(n // m)] for t in trees]
    for depth in range(1, max_steps + 1):
        new = expand(ctx, trees, frontier, m, depth=depth)
        frontier = []
        for t, nodes in enumerate(new):
            keep = []
            for s in sorted({x.subtree for x in nodes}):
                mine = [x for x in nodes if x.subtree == s]
                done = [x for x in mine if x.finished]
                completed[t] += done
                alive = sorted((x for x in mine if not x.finished), key=lambda x: -x.score)
                best_done = max((x.score for x in done), default=float("-inf"))
                # a subtree goes on while its best unfinished step outscores every trace it has finished
                if alive and alive[0].score > best_done and depth < max_steps:
                    alive[0].kept = True
                    keep.append((alive[0], s))
            frontier.append(keep)
        if not any(frontier):
            break
    return outcomes(ctx, trees, completed, t0)
