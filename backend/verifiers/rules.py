"""Rule-based verifiers: the oracle (ground truth) and the exact step checker (a perfect process verifier).
Both are charged at zero FLOPs (n_params = 0): they are upper bounds on what a verifier could do."""
from __future__ import annotations

from dataclasses import dataclass

from backend.tasks import PromptRecord, get_task
from backend.verifiers.base import char_tokens


@dataclass
class OracleVerifier:
    """Scores every step of a trace 1 if its final answer is right, else 0: selection by it gives coverage."""

    name: str = "oracle"
    n_params: int = 0

    def score(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        out = []
        for p, t in zip(prompts, texts):
            task = get_task(p.task)
            ok = float(task.correct(p, task.extract(t)))
            out.append([ok] * max(1, len(task.step_texts(t))))
        return out

    def tokens(self, prompts: list[PromptRecord], texts: list[str]) -> int:
        return char_tokens(prompts, texts)


@dataclass
class StepVerifier:
    """Exact process labels (1 = the step is a true, legal reduction given correct steps before it); a finished
    trace also gets an outcome score (1 if its answer is right) as its last entry."""

    name: str = "steps"
    n_params: int = 0

    def score(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        out = []
        for p, t in zip(prompts, texts):
            task = get_task(p.task)
            labels = [float(x) for x in task.step_labels(p, t)]
            if task.think_end in t or not labels:  # a finished trace: its outcome is the last score
                labels.append(float(task.correct(p, task.extract(t))))
            out.append(labels)
        return out

    def tokens(self, prompts: list[PromptRecord], texts: list[str]) -> int:
        return char_tokens(prompts, texts)
