"""Multi-step integer arithmetic: generation, CoT/direct formats, parsing and exact answer + step checking.

A problem is a chain such as ``616+243*6-645*4+847`` with standard precedence. The right operand of ``*`` is
always one digit (2..9) so products stay learnable; the other operands have ``digits`` digits. Difficulty is by
construction: the number of operators (1..6) and the operand digits (1..3).

Formats (the prompt is the same for both)::

    prompt  Q:616+243*6-645*4+847\n
    cot     T:243*6=1458;645*4=2580;616+1458=2074;2074-2580=-506;-506+847=341\nA:341
    direct  A:341

A CoT step that starts with ``wait `` revises the step before it (a re-check, or the correction of a wrong
result), so that s1-style "wait" budget forcing is in distribution.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

MAX_OPS = 6
MAX_DIGITS = 3
ANSWER_MARK = "\nA:"
THINK_MARK = "T:"
WAIT = "wait "
STEP_SEP = ";"
FORMATS = ("cot", "direct")
EVAL_SEED = 20_241_128  # held-out split seed; training streams exclude every expression it produces
EVAL_PER_CELL = 100

_STEP_RE = re.compile(r"^(-?\d{1,15})([+\-*])(\d{1,15})=(-?\d{1,15})$")
_INT_RE = re.compile(r"-?\d{1,15}")
_EXPR_RE = re.compile(r"^\d{1,15}([+\-*]\d{1,15}){0,31}$")


@dataclass(frozen=True)
class Problem:
    """One arithmetic prompt with its difficulty cell and exact answer."""

    expr: str
    n_ops: int
    digits: int

    @property
    def prompt(self) -> str:
        return f"Q:{self.expr}\n"

    @property
    def answer(self) -> int:
        return solve(self.expr)[1]


@dataclass(frozen=True)
class Step:
    """One parsed CoT step ``a op b = c``; ``a`` is None when the text of the step is malformed."""

    raw: str
    a: int | None = None
    op: str | None = None
    b: int | None = None
    c: int | None = None
    revises: bool = False  # a "wait" step: it replaces the step before it


@dataclass(frozen=True)
class Parsed:
    steps: tuple[Step, ...]
    answer: int | None


def tokens_of(expr: str) -> tuple[list[int], list[str]]:
    """Split ``expr`` into operands and operators; ValueError on anything that is not a digit chain."""
    if not _EXPR_RE.match(expr):
        raise ValueError(f"not an arithmetic chain of non-negative integers and + - *: {expr!r}")
    nums = [int(x) for x in re.findall(r"\d+", expr)]
    ops = re.findall(r"[+\-*]", expr)
    return nums, ops


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


@lru_cache(maxsize=65536)
def solve(expr: str) -> tuple[tuple[tuple[int, str, int, int], ...], int]:
    """Canonical reduction: every ``*`` left to right, then ``+``/``-`` left to right. Returns (steps, answer)."""
    return _reduce(expr)


def _reduce(expr: str, wrong_at: int | None = None, rng: random.Random | None = None):
    """The canonical reduction; with ``wrong_at`` that step's result is corrupted and later steps carry on from
    the wrong value (each of them arithmetically right), as a model that slipped once would write it."""
    nums, ops = tokens_of(expr)
    steps = []

    def result(a, op, b):
        c = _apply(a, op, b)
        return _corrupt(c, rng) if len(steps) == wrong_at else c

    while "*" in ops:
        i = ops.index("*")
        c = result(nums[i], "*", nums[i + 1])
        steps.append((nums[i], "*", nums[i + 1], c))
        nums[i : i + 2] = [c]
        del ops[i]
    while ops:
        c = result(nums[0], ops[0], nums[1])
        steps.append((nums[0], ops[0], nums[1], c))
        nums[0:2] = [c]
        del ops[0]
    return tuple(steps), nums[0]


def corrupted_cot(problem: Problem, rng: random.Random) -> str:
    """A CoT trace with exactly one wrong step (a one-digit slip) that the rest of the trace builds on: a hard
    negative that differs from the gold trace in arithmetic only, not in length or form."""
    n = len(solve(problem.expr)[0])
    steps, answer = _reduce(problem.expr, wrong_at=rng.randrange(n), rng=rng)
    return THINK_MARK + STEP_SEP.join(_fmt_step(*st) for st in steps) + ANSWER_MARK + str(answer)


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randint(0, 9) if digits == 1 else rng.randint(10 ** (digits - 1), 10**digits - 1)


def generate(n_ops: int, digits: int, rng: random.Random) -> Problem:
    """One random problem in cell (n_ops, digits), deterministic given the state of ``rng``."""
    if not (1 <= n_ops <= MAX_OPS and 1 <= digits <= MAX_DIGITS):
        raise ValueError(f"cell ({n_ops} ops, {digits} digits) is outside 1..{MAX_OPS} ops and 1..{MAX_DIGITS} digits")
    parts = [str(_operand(rng, digits))]
    for _ in range(n_ops):
        op = rng.choice("+-*")
        parts += [op, str(rng.randint(2, 9) if op == "*" else _operand(rng, digits))]
    return Problem("".join(parts), n_ops, digits)


def cells() -> list[tuple[int, int]]:
    return [(o, d) for o in range(1, MAX_OPS + 1) for d in range(1, MAX_DIGITS + 1)]


@lru_cache(maxsize=4)
def eval_split(per_cell: int = EVAL_PER_CELL) -> tuple[Problem, ...]:
    """The held-out evaluation prompts: ``per_cell`` distinct expressions per (ops, digits) cell, fixed forever."""
    out = []
    for n_ops, digits in cells():
        rng = random.Random(f"{EVAL_SEED}-{n_ops}-{digits}")
        seen: set[str] = set()
        while len(seen) < per_cell:
            p = generate(n_ops, digits, rng)
            if p.expr not in seen:
                seen.add(p.expr)
                out.append(p)
    return tuple(out)


@lru_cache(maxsize=1)
def _eval_exprs() -> frozenset[str]:
    return frozenset(p.expr for p in eval_split())


def train_stream(seed: int):
    """Endless training problems, cells uniform, never an expression of the held-out split."""
    rng = random.Random(seed)
    held_out = _eval_exprs()
    while True:
        p = generate(rng.randint(1, MAX_OPS), rng.randint(1, MAX_DIGITS), rng)
        if p.expr not in held_out:
            yield p


def _fmt_step(a: int, op: str, b: int, c: int) -> str:
    return f"{a}{op}{b}={c}"


def _corrupt(c: int, rng: random.Random) -> int:
    """A plausible wrong result: one digit changed (never equal to ``c``)."""
    s = list(str(abs(c)))
    i = rng.randrange(len(s))
    s[i] = rng.choice([d for d in "0123456789" if d != s[i]])
    wrong = int("".join(s)) * (-1 if c < 0 else 1)
    return wrong if wrong != c else c + 1


def cot_text(problem: Problem, rng: random.Random | None = None, p_fix: float = 0.0, p_recheck: float = 0.0) -> str:
    """Chain-of-thought completion. With probability ``p_fix`` one step is first written wrong then corrected after
    ``wait``; with probability ``p_recheck`` one correct step is re-checked after ``wait``."""
    steps, answer = solve(problem.expr)
    items = [_fmt_step(*s) for s in steps]
    if rng is not None:
        u = rng.random()
        if u < p_fix + p_recheck:
            i = rng.randrange(len(steps))
            a, op, b, c = steps[i]
            first = _fmt_step(a, op, b, _corrupt(c, rng)) if u < p_fix else items[i]
            items[i : i + 1] = [first, WAIT + items[i]]
    return THINK_MARK + STEP_SEP.join(items) + ANSWER_MARK + str(answer)


def direct_text(problem: Problem) -> str:
    return "A:" + str(problem.answer)


def completion(problem: Problem, fmt: str, rng: random.Random | None = None, p_fix: float = 0.0, p_recheck: float = 0.0) -> str:
    if fmt == "cot":
        return cot_text(problem, rng, p_fix, p_recheck)
    if fmt == "direct":
        return direct_text(problem)
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def parse(text: str) -> Parsed:
    """Steps and final answer from any model completion; malformed parts give ``a=None`` / ``answer=None``."""
    if not isinstance(text, str):
        return Parsed((), None)
    think, sep, tail = text.partition(ANSWER_MARK)
    if not sep and text.startswith("A:"):  # direct format: the answer only
        think, sep, tail = "", ANSWER_MARK, text[2:]
    tail = tail.strip()
    answer = int(tail) if sep and _INT_RE.fullmatch(tail) else None
    steps = []
    body = think[len(THINK_MARK):] if think.startswith(THINK_MARK) else think
    pieces = body.split(STEP_SEP) if body else []
    if len(pieces) > 1 and pieces[-1] == "":
        pieces.pop()  # a trace cut right after a step separator (a partial trace during search)
    for raw in pieces:
        revises = raw.startswith(WAIT)
        core = raw[len(WAIT):] if revises else raw
        sm = _STEP_RE.match(core)
        if sm:
            steps.append(Step(raw, int(sm.group(1)), sm.group(2), int(sm.group(3)), int(sm.group(4)), revises))
        else:
            steps.append(Step(raw, revises=revises))
    return Parsed(tuple(steps), answer)


def _legal(nums: list[int], ops: list[str], step: Step) -> int | None:
    """Index where ``step`` is a legal next reduction of the state (precedence respected), else None."""
    if step.a is None or step.c is None or _apply(step.a, step.op, step.b) != step.c:
        return None
    if step.op == "*":
        for i, op in enumerate(ops):
            if op == "*" and nums[i] == step.a and nums[i + 1] == step.b:
                return i
        return None
    if "*" in ops or not ops or ops[0] != step.op or nums[0] != step.a or nums[1] != step.b:
        return None
    return 0


def check_steps(expr: str, steps: tuple[Step, ...] | list[Step]) -> list[bool]:
    """Exact process labels: a step is correct when it is a true, legal reduction of the expression given the
    steps before it (all correct so far). A ``wait`` step replaces the step before it, so a corrected error
    puts the trace back on track; any other error makes every later step incorrect."""
    nums, ops = tokens_of(expr)
    history: list[tuple[list[int], list[str], bool]] = [(nums, ops, True)]  # state before each kept step
    labels: list[bool] = []
    for step in steps:
        if step.revises and len(history) > 1:
            history.pop()
        nums, ops, on_track = history[-1]
        i = _legal(nums, ops, step) if on_track else None
        ok = i is not None
        labels.append(ok)
        if ok:
            nums, ops = nums[:i] + [step.c] + nums[i + 2 :], ops[:i] + ops[i + 1 :]
        history.append((nums, ops, ok))
    return labels


def check_answer(expr: str, answer: int | None) -> bool:
    return answer is not None and answer == solve(expr)[1]


def trace_complete(expr: str, text: str) -> bool:
    """True when the trace reaches the answer by correct steps only (after revisions) and states it."""
    parsed = parse(text)
    labels = check_steps(expr, parsed.steps)
    steps, answer = solve(expr)
    return bool(labels) and labels[-1] and parsed.answer == answer and parsed.steps[-1].c == answer
