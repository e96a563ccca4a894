"""The strategy interface: one signature for every test-time strategy, and the row builders they share.

A strategy is ``run(ctx, prompts) -> list[Outcome]``: for each prompt, the traces it produced (``samples`` rows),
its search tree (``nodes`` rows), verifier scores, and one ``results`` row with its final answer and everything it
spent. All FLOPs come from :mod:`backend.analysis.compute` (attention included: compute.sample_flops).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from backend.analysis.compute import model_shape, sample_flops
from backend.engines.base import Engine, Generation, ProgressFn, SamplingParams
from backend.tasks import PromptRecord, TaskAdapter


@dataclass
class RunContext:
    engine: Engine
    task: TaskAdapter
    sampling: SamplingParams
    params: dict = field(default_factory=dict)  # strategy parameters (budget, width, …)
    verifier: Any = None  # backend.verifiers.base.Verifier
    max_seconds: float | None = None  # wall-time cap per engine call
    progress: ProgressFn | None = None
    max_rows: int | None = None  # rows per engine pass (live runs use small passes to report progress)
    keep_logprobs: int = 16  # per-token log-probs are stored for samples with index below this

    def param(self, name: str, default=None, kind: type = int):
        value = self.params.get(name, default)
        if value is None:
            raise ValueError(f"strategy parameter {name!r} is required")
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"strategy parameter {name!r} must be {kind.__name__}, not {value!r}") from None


@dataclass
class Outcome:
    """Everything one strategy did for one prompt, as rows of the store's tables (run_key added on commit)."""

    prompt: PromptRecord
    samples: list[dict] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    result: dict | None = None

    @property
    def spent_flops(self) -> float:
        return self.result["gen_flops"] + self.result["verifier_flops"] if self.result else sum(s["flops"] for s in self.samples)


class Strategy(Protocol):
    def __call__(self, ctx: RunContext, prompts: list[PromptRecord]) -> list[Outcome]: ...


def think_tokens(ctx: RunContext, gen: Generation) -> int:
    """Generated tokens before the answer marker (all of them when the trace never reached it)."""
    text = gen.text
    cut = ctx.task.answer_start(text)
    if cut < 0:
        return gen.gen_tokens
    return len(ctx.engine.encode(text[:cut])) if cut else 0


def sample_row(ctx: RunContext, prompt: PromptRecord, gen: Generation, idx: int, *, is_final: bool = False,
               node_id: int | None = None, flops: float | None = None, text: str | None = None) -> dict:
    """A ``samples`` row; ``flops`` defaults to the cost of generating this trace alone."""
    text = gen.text if text is None else text
    answer = ctx.task.extract(text)
    keep = idx < ctx.keep_logprobs
    return {
        "prompt_key": prompt.key, "sample_idx": idx, "text": text, "answer": answer,
        "correct": ctx.task.correct(prompt, answer), "prompt_tokens": gen.prompt_tokens, "gen_tokens": gen.gen_tokens,
        "think_tokens": think_tokens(ctx, gen), "sum_logprob": gen.sum_logprob,
        "token_logprobs": gen.logprobs if keep else None,
        "forced": gen.forced if keep and any(gen.forced) else None,
        "flops": sample_flops(model_shape(ctx.engine), gen.prompt_tokens, gen.gen_tokens) if flops is None else flops,
        "finish_reason": gen.finish_reason, "is_final": is_final, "node_id": node_id,
    }


def result_row(prompt: PromptRecord, answer: str | None, correct: bool, *, gen_tokens: int, gen_flops: float,
               verifier_tokens: int = 0, verifier_flops: float = 0.0, n_traces: int = 1, wall_s: float = 0.0) -> dict:
    return {"prompt_key": prompt.key, "answer": answer, "correct": bool(correct), "gen_tokens": int(gen_tokens),
            "gen_flops": float(gen_flops), "verifier_tokens": int(verifier_tokens),
            "verifier_flops": float(verifier_flops), "n_traces": int(n_traces), "wall_s": float(wall_s)}


Registry = dict[str, Callable[[RunContext, list[PromptRecord]], list[Outcome]]]
