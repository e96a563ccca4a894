"""Step-level tree search shared by beam search and DVTS: expand partial traces one reasoning step at a time,
score them with a process verifier, and keep the tree.

Compute is charged the way a KV-cached search spends it: every token once per lineage. An expansion from the root
reads the prompt and its tokens; a deeper one only its new tokens, attending over the cached prefix
(compute.segment_flops); the verifier reads each node's new tokens once the same way. So a completed trace costs what
the same trace costs as an independent sample, attention included.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from backend.analysis.compute import model_shape, segment_flops
from backend.analysis.votes import weighted_majority
from backend.engines.base import SamplingParams
from backend.strategies.base import RunContext, result_row, sample_row
from backend.tasks import PromptRecord
from backend.verifiers import aggregate

STEP_TOKENS = 48  # cap on one step's tokens (a runaway step ends its trace)


@dataclass
class Node:
    node_id: int
    parent_id: int | None
    depth: int
    subtree: int
    text: str  # the whole completion so far (prefix + this step)
    step: str = ""  # this node's step text
    tokens: int = 0
    end: int = 0  # tokens of prompt + lineage up to and including this node (its position after the KV cache)
    flops: float = 0.0
    verifier_flops: float = 0.0
    verifier_tokens: int = 0
    score: float = 0.0
    kept: bool = False
    finished: bool = False
    gen: object = None  # the Generation of this step

    def row(self, prompt_key: str) -> dict:
        return {"prompt_key": prompt_key, "node_id": self.node_id, "parent_id": self.parent_id, "depth": self.depth,
                "subtree": self.subtree, "text": self.step, "tokens": self.tokens, "flops": self.flops,
                "score": self.score, "verifier_flops": self.verifier_flops, "kept": self.kept,
                "finished": self.finished}


@dataclass
class Tree:
    prompt: PromptRecord
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self):
        self.nodes.append(Node(0, None, 0, -1, "", kept=True))  # the prompt itself

    def add(self, parent: Node, gen, subtree: int) -> Node:
        node = Node(len(self.nodes), parent.node_id, parent.depth + 1, subtree, parent.text + gen.text, gen.text,
                    gen=gen, finished=gen.finish_reason != "stop")
        self.nodes.append(node)
        return node

    def path(self, node: Node) -> list[Node]:
        out = []
        while node.parent_id is not None:
            out.append(node)
            node = self.nodes[node.parent_id]
        return out[::-1]


def expand(ctx: RunContext, trees: list[Tree], parents: list[list[tuple[Node, int]]], n: int, depth: int) -> list[list[Node]]:
    """``n`` one-step continuations of every (parent, subtree) of every tree, sampled in one engine call, charged
    and scored. Returns the new nodes per tree."""
    engine, sp = ctx.engine, ctx.sampling
    prefixes, keys, owners = [], [], []
    for t, (tree, plist) in enumerate(zip(trees, parents)):
        for parent, subtree in plist:
            prefixes.append(tree.prompt.text + parent.text)
            keys.append(f"{tree.prompt.key}/{parent.node_id}/{subtree}")
            owners.append((t, parent, subtree))
    if not prefixes:
        return [[] for _ in trees]
    step_sp = SamplingParams(n=n, temperature=sp.temperature, top_p=sp.top_p, top_k=sp.top_k,
                             max_new_tokens=STEP_TOKENS, seed=sp.seed + depth)
    stop = (engine.token_id(ctx.task.step_sep),)
    gens = engine.sample(prefixes, step_sp, keys=keys, stop_ids=stop, max_seconds=ctx.max_seconds)
    new: list[list[Node]] = [[] for _ in trees]
    shape = model_shape(engine)
    for (t, parent, subtree), row in zip(owners, gens):
        for g in row:
            node = trees[t].add(parent, g, subtree)
            node.tokens = g.gen_tokens
            start = 0 if parent.parent_id is None else parent.end  # from the root the prompt is read too
            read = g.prompt_tokens + g.gen_tokens if parent.parent_id is None else g.gen_tokens
            node.end = start + read
            node.flops = segment_flops(shape, start, read)
            new[t].append(node)
    _score(ctx, trees, new)
    return new


def _score(ctx: RunContext, trees: list[Tree], new: list[list[Node]]) -> None:
    flat = [(tree, node) for tree, nodes in zip(trees, new) for node in nodes]
    if not flat:
        return
    how = ctx.params.get("aggregate", "last")
    scores = ctx.verifier.score([tree.prompt for tree, _ in flat], [node.text for _, node in flat])
    shape = model_shape(ctx.verifier)
    for (tree, node), steps in zip(flat, scores):
        node.score = aggregate(steps, how)
        node.verifier_tokens = node.tokens + (node.gen.prompt_tokens if node.depth == 1 else 0)
        node.verifier_flops = segment_flops(shape, node.end - node.verifier_tokens, node.verifier_tokens)


def search_params(ctx: RunContext, what: str) -> tuple[int, int, int]:
    """(budget N, width M, max steps) of a tree search, validated."""
    n, m, max_steps = ctx.param("budget"), ctx.param("width", 4), ctx.param("max_steps", 12)
    if ctx.verifier is None:
        raise ValueError(f"{what} needs a verifier")
    if n < 1 or m < 1 or n % m:
        raise ValueError(f"{what} needs budget divisible by width (got budget={n}, width={m})")
    return n, m, max_steps


def outcomes(ctx: RunContext, trees: list[Tree], completed: list[list[Node]], t0: float) -> list:
    """One Outcome per searched prompt (wall time shared evenly)."""
    from backend.strategies.base import Outcome

    wall = (time.monotonic() - t0) / max(1, len(trees))
    out = []
    for tree, done in zip(trees, completed):
        samples, nodes, result = finish(ctx, tree, done, wall)
        out.append(Outcome(tree.prompt, samples=samples, nodes=nodes, result=result))
    return out


def finish(ctx: RunContext, tree: Tree, completed: list[Node], wall_s: float):
    """Rows for one searched prompt: every node, one sample per completed trace, and the result (highest score,
    or the verifier-weighted majority when ``select=weighted``)."""
    for leaf in completed:
        for node in tree.path(leaf):
            node.kept = True
    select = ctx.params.get("select", "best")
    texts = [leaf.text for leaf in completed]
    answers = [ctx.task.extract(t) for t in texts]
    if not completed:
        final, answer = None, None
    elif select == "weighted":
        answer = weighted_majority(answers, [leaf.score for leaf in completed])
        final = next((leaf for a, leaf in zip(answers, completed) if a == answer), completed[0])
    else:
        final = max(completed, key=lambda leaf: leaf.score)
        answer = ctx.task.extract(final.text)
    samples = []
    for i, leaf in enumerate(completed):
        path = tree.path(leaf)
        gen = leaf.gen
        gen_like = type(gen)(text=leaf.text, token_ids=[t for n in path for t in n.gen.token_ids],
                             logprobs=[x for n in path for x in n.gen.logprobs], prompt_tokens=path[0].gen.prompt_tokens,
                             finish_reason=gen.finish_reason, forced=[])
        samples.append(sample_row(ctx, tree.prompt, gen_like, i, is_final=leaf is final, node_id=leaf.node_id))
        samples[-1]["flops"] = None  # the spend of a search lives in its nodes and its result row
    gen_tokens = sum(n.tokens for n in tree.nodes)
    result = result_row(tree.prompt, answer, ctx.task.correct(tree.prompt, answer), gen_tokens=gen_tokens,
                        gen_flops=sum(n.flops for n in tree.nodes),
                        verifier_tokens=sum(n.verifier_tokens for n in tree.nodes),
                        verifier_flops=sum(n.verifier_flops for n in tree.nodes), n_traces=len(completed), wall_s=wall_s)
    return samples, [n.row(tree.prompt.key) for n in tree.nodes], result
