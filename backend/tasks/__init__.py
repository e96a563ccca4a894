"""Tasks: prompt generation or loading, formatting, answer/step parsing and exact checking.

Every task is reached through :class:`TaskAdapter`, which the engine, strategies, store and analysis use: prompts
as rows of the ``prompts`` table, answers as normalised strings, correctness and step labels by exact checks.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from backend.tasks import arith


@dataclass(frozen=True)
class PromptRecord:
    """One prompt as stored: ``text`` is what the model reads; ``gold`` the normalised answer."""

    key: str
    task: str
    text: str
    question: str
    gold: str
    n_ops: int | None = None
    digits: int | None = None
    split: str = "heldout"

    def row(self) -> dict:
        return {"prompt_key": self.key, "task": self.task, "text": self.text, "question": self.question,
                "gold": self.gold, "n_ops": self.n_ops, "digits": self.digits, "split": self.split}


@dataclass(frozen=True)
class TaskAdapter:
    name: str
    extract: Callable[[str], str | None]  # model completion -> normalised answer string (or None)
    step_labels: Callable[[PromptRecord, str], list[bool]]  # exact process labels of a completion
    step_texts: Callable[[str], list[str]]  # the completion split into steps
    think_end: str  # text that ends the thinking part and starts the answer
    step_sep: str  # text that ends one reasoning step

    def correct(self, prompt: PromptRecord, answer: str | None) -> bool:
        return answer is not None and answer == prompt.gold


def arith_record(p: arith.Problem) -> PromptRecord:
    return PromptRecord(f"arith:{p.expr}", "arith", p.prompt, p.expr, str(p.answer), p.n_ops, p.digits)


def arith_prompts(per_cell: int = 16) -> list[PromptRecord]:
    """The first ``per_cell`` held-out prompts of every (operators, digits) cell."""
    if not 1 <= per_cell <= arith.EVAL_PER_CELL:
        raise ValueError(f"per_cell must be in 1..{arith.EVAL_PER_CELL}")
    seen: dict[tuple[int, int], int] = {}
    out = []
    for p in arith.eval_split():  # cell by cell, in a fixed order
        cell = (p.n_ops, p.digits)
        seen[cell] = seen.get(cell, 0) + 1
        if seen[cell] <= per_cell:
            out.append(arith_record(p))
    return out


def record_for(task: str, question: str) -> PromptRecord:
    """A prompt record from user text (the Playground); ValueError when the task cannot read it."""
    if task == "arith":
        expr = question.strip().removeprefix("Q:").strip()
        nums, ops = arith.tokens_of(expr)
        digits = max(len(str(n)) for n in nums)
        return arith_record(arith.Problem(expr, len(ops), digits))
    raise ValueError(f"free-text prompts are not supported for task {task!r}")


def _arith_extract(text: str) -> str | None:
    a = arith.parse(text).answer
    return None if a is None else str(a)


def _arith_step_labels(prompt: PromptRecord, text: str) -> list[bool]:
    return arith.check_steps(prompt.question, arith.parse(text).steps)


def _arith_step_texts(text: str) -> list[str]:
    return [s.raw for s in arith.parse(text).steps]


TASKS: dict[str, TaskAdapter] = {
    "arith": TaskAdapter("arith", _arith_extract, _arith_step_labels, _arith_step_texts,
                         think_end=arith.ANSWER_MARK, step_sep=arith.STEP_SEP),
}


def get_task(name: str) -> TaskAdapter:
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1)
        raise KeyError(f"unknown task {name!r}" + (f"; did you mean {close[0]!r}?" if close else f"; known: {sorted(TASKS)}"))
    return TASKS[name]
