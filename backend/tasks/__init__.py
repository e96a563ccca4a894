"""Tasks: prompt generation or loading, formatting, answer/step parsing and exact checking.

Every task is reached through :class:`TaskAdapter`, which the engine, strategies, store and analysis use: prompts
as rows of the ``prompts`` table, answers as normalised strings, correctness and step labels by exact checks.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from backend.tasks import arith, gsm8k, math_answers


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
    find_answer: Callable[[str], int] | None = None  # where the answer part starts (-1: none); default: think_end
    stop: tuple[str, ...] = ()  # texts that end a generation (kept in it); part of every run key when set
    check: Callable[[str, str], bool] | None = None  # (gold, answer) -> right; default: equal strings

    def correct(self, prompt: PromptRecord, answer: str | None) -> bool:
        if answer is None:
            return False
        return self.check(prompt.gold, answer) if self.check else answer == prompt.gold

    def answer_start(self, text: str) -> int:
        """Index in ``text`` where the answer part begins (what precedes it is thinking); -1 when there is none."""
        return self.find_answer(text) if self.find_answer else text.find(self.think_end)


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


def gsm8k_record(p: gsm8k.Problem, text: str | None = None, split: str = "test") -> PromptRecord:
    """A GSM8K problem as a prompt row; ``n_ops`` holds the steps of its gold solution (its difficulty by
    construction: 2-11 on the test set, mostly 2-6), ``gold`` the normalised answer (:func:`gsm8k.answer_key`)."""
    return PromptRecord(f"gsm8k:{p.key}", "gsm8k", p.prompt if text is None else text, p.question,
                        gsm8k.answer_key(p.gold), n_ops=len(gsm8k.split_steps(p.solution)), split=split)


def math_record(problem: str, gold: str, level: int | None = None, split: str = "test") -> PromptRecord:
    """A MATH-style problem as a prompt row, keyed by its normalised text (so one problem imported from several
    tools is one prompt); ``n_ops`` holds its MATH level (1-5), the difficulty by construction."""
    return PromptRecord(f"math:{gsm8k.question_key(problem)}", "math", problem, problem, gold.strip(), n_ops=level,
                        split=split)


def gsm8k_prompts(path: str | Path, limit: int | None = None, shots: int = 0,
                  examples: str | Path | None = None, split: str = "test") -> list[PromptRecord]:
    """The problems of a GSM8K-style JSONL as prompts (``Question: …\\nAnswer:``), in file order, repeated questions
    once. ``shots`` worked examples come first from ``examples`` (a JSONL; default: the same file, never the
    question itself). ValueError naming the file when it cannot be read as GSM8K."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    problems = _load_gsm8k(path)
    pool = problems if examples is None else _load_gsm8k(examples)
    seen: set[str] = set()
    out = []
    for p in problems:
        if p.key in seen:
            continue
        seen.add(p.key)
        out.append(gsm8k_record(p, gsm8k.format_prompt(p.question, shots, pool), split))
        if limit is not None and len(out) == limit:
            break
    return out


def _load_gsm8k(path: str | Path) -> list[gsm8k.Problem]:
    try:
        problems = gsm8k.load_jsonl(path)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; expected GSM8K JSONL (question, answer ending '#### N')") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder; expected a GSM8K JSONL file") from None
    if not problems:
        raise ValueError(f"{path}: no problems in it; expected GSM8K JSONL (question, answer ending '#### N')")
    return problems


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


def _arith_answer_start(text: str) -> int:
    """Where the answer begins: at the answer marker, or at 0 for a direct answer ("A:…", no thinking)."""
    cut = text.find(arith.ANSWER_MARK)
    return cut if cut >= 0 else (0 if text.startswith("A:") else -1)


def _arith_step_texts(text: str) -> list[str]:
    return [s.raw for s in arith.parse(text).steps]


def _gsm8k_extract(text: str) -> str | None:
    return gsm8k.answer_key(gsm8k.extract_answer(text))


def _gsm8k_step_labels(prompt: PromptRecord, text: str) -> list[bool]:
    # model calculators round (40/3=13.33): a rounded or float-noisy result still counts as a correct step
    return gsm8k.step_labels(text, rounding=True)


def _math_step_labels(prompt: PromptRecord, text: str) -> list[bool]:
    raise ValueError("MATH traces have no exact step checker; their step scores come from an imported PRM")


TASKS: dict[str, TaskAdapter] = {
    "arith": TaskAdapter("arith", _arith_extract, _arith_step_labels, _arith_step_texts,
                         think_end=arith.ANSWER_MARK, step_sep=arith.STEP_SEP,
                         find_answer=_arith_answer_start),
    # free text has no single answer marker: thinking ends where extract_answer finds its answer ("#### N", else
    # "The answer is N"); "####" is what our prompts ask for, so budget forcing suppresses that. A base model
    # given few-shot prompts would write the next "Question:" itself: generation stops there.
    "gsm8k": TaskAdapter("gsm8k", _gsm8k_extract, _gsm8k_step_labels, gsm8k.split_steps,
                         think_end="####", step_sep="\n", find_answer=gsm8k.answer_position,
                         stop=("\nQuestion:",)),
    # MATH-style answers (imported runs): the last \boxed{…}, checked by math-verify; steps are paragraphs
    "math": TaskAdapter("math", math_answers.extract, _math_step_labels, math_answers.split_steps,
                        think_end="\\boxed", step_sep="\n\n", find_answer=math_answers.answer_position,
                        check=math_answers.equivalent),
}


def get_task(name: str) -> TaskAdapter:
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1)
        raise KeyError(f"unknown task {name!r}" + (f"; did you mean {close[0]!r}?" if close else f"; known: {sorted(TASKS)}"))
    return TASKS[name]
