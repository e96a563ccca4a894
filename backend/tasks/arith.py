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


PATHS = ("single", "multi")


@dataclass
class _Term:
    """One signed term of the expression: ``sign`` times the product of ``factors`` (non-negative)."""

    sign: int
    factors: list[int]

    @property
    def done(self) -> bool:
        return len(self.factors) == 1

    @property
    def value(self) -> int:
        return self.sign * self.factors[0]


def _terms(expr: str) -> list[_Term]:
    nums, ops = tokens_of(expr)
    terms = [_Term(1, [nums[0]])]
    for op, n in zip(ops, nums[1:]):
        if op == "*":
            terms[-1].factors.append(n)
        else:
            terms.append(_Term(1 if op == "+" else -1, [n]))
    return terms


def _combine(terms: list[_Term], i: int, j: int, c: int) -> None:
    """Replace terms ``i`` and ``j`` by their sum ``c`` at position ``i``. The sign is kept apart from the
    magnitude so that ``x-0`` stays a subtraction, as the canonical trace writes it."""
    terms[i] = _Term(-1 if c < 0 else 1, [abs(c)])
    del terms[j]


def _additive_step(terms: list[_Term], i: int, j: int) -> tuple[int, str, int, int]:
    """``a op b = c`` for combining terms ``i`` < ``j``, written in expression order (``-389+12=-377``)."""
    a, t = terms[i].value, terms[j]
    return a, "+" if t.sign > 0 else "-", t.factors[0], a + t.value


def _reduce(expr: str, wrong_at: int | None = None, rng: random.Random | None = None,
            path_rng: random.Random | None = None):
    """Reduce ``expr`` step by step; returns (steps, answer).

    Without ``path_rng`` the canonical path: every ``*`` left to right, then ``+``/``-`` left to right. With it,
    a path drawn uniformly over the legal ones: each step picks uniformly among the pending ``*`` (every order of
    p multiplications has p! completions), then among unordered pairs of signed terms (m terms: C(m,2) moves,
    each with the same number of completions), so every complete path has the same probability. With
    ``wrong_at`` that step's result is corrupted and later steps carry on from the wrong value (each of them
    arithmetically right), as a model that slipped once would write it."""
    terms = _terms(expr)
    steps = []

    def result(c: int) -> int:
        return _corrupt(c, rng) if len(steps) == wrong_at else c

    while any(not t.done for t in terms):
        pending = [(ti, fi) for ti, t in enumerate(terms) for fi in range(len(t.factors) - 1)]
        ti, fi = path_rng.choice(pending) if path_rng else pending[0]
        f = terms[ti].factors
        c = result(f[fi] * f[fi + 1])
        steps.append((f[fi], "*", f[fi + 1], c))
        f[fi : fi + 2] = [c]
    while len(terms) > 1:
        pairs = [(i, j) for j in range(len(terms)) for i in range(j)]
        i, j = path_rng.choice(pairs) if path_rng else (0, 1)
        a, op, b, c = _additive_step(terms, i, j)
        c = result(c)
        steps.append((a, op, b, c))
        _combine(terms, i, j, c)
    return tuple(steps), terms[0].value


@lru_cache(maxsize=65536)
def solve(expr: str) -> tuple[tuple[tuple[int, str, int, int], ...], int]:
    """Canonical reduction: every ``*`` left to right, then ``+``/``-`` left to right. Returns (steps, answer)."""
    return _reduce(expr)


def path_steps(expr: str, path_rng: random.Random | None = None) -> tuple[tuple[int, str, int, int], ...]:
    """The steps of one legal path: canonical without ``path_rng``, drawn uniformly over legal paths with it."""
    return solve(expr)[0] if path_rng is None else _reduce(expr, path_rng=path_rng)[0]


def all_paths(expr: str) -> set[tuple[tuple[int, str, int, int], ...]]:
    """Every legal path that :func:`_reduce` can draw (multiplications first), by exhaustive search; for tests."""
    out = set()

    def walk(terms: list[_Term], steps: tuple):
        moves = [(ti, fi) for ti, t in enumerate(terms) for fi in range(len(t.factors) - 1)]
        if moves:
            for ti, fi in moves:
                nxt = [_Term(t.sign, list(t.factors)) for t in terms]
                f = nxt[ti].factors
                c = f[fi] * f[fi + 1]
                step = (f[fi], "*", f[fi + 1], c)
                f[fi : fi + 2] = [c]
                walk(nxt, steps + (step,))
        elif len(terms) > 1:
            for j in range(len(terms)):
                for i in range(j):
                    nxt = [_Term(t.sign, list(t.factors)) for t in terms]
                    step = _additive_step(nxt, i, j)
                    _combine(nxt, i, j, step[3])
                    walk(nxt, steps + (step,))
        else:
            out.add(steps)

    walk(_terms(expr), ())
    return out


def corrupted_cot(problem: Problem, rng: random.Random, paths: str = "single") -> str:
    """A CoT trace with exactly one wrong step (a one-digit slip) that the rest of the trace builds on: a hard
    negative that differs from the gold trace in arithmetic only, not in length or form. ``paths="multi"``
    draws the path uniformly over the legal ones (from ``rng``)."""
    n = len(solve(problem.expr)[0])
    path_rng = rng if _check_paths(paths) == "multi" else None
    steps, answer = _reduce(problem.expr, wrong_at=rng.randrange(n), rng=rng, path_rng=path_rng)
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


def _check_paths(paths: str) -> str:
    if paths not in PATHS:
        raise ValueError(f"unknown paths {paths!r}; expected one of {PATHS}")
    return paths


def cot_text(problem: Problem, rng: random.Random | None = None, p_fix: float = 0.0, p_recheck: float = 0.0,
             path_rng: random.Random | None = None) -> str:
    """Chain-of-thought completion along the canonical path, or along a path drawn from ``path_rng``. With
    probability ``p_fix`` one step is first written wrong then corrected after ``wait``; with probability
    ``p_recheck`` one correct step is re-checked after ``wait``."""
    steps, answer = path_steps(problem.expr, path_rng), problem.answer
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


def completion(problem: Problem, fmt: str, rng: random.Random | None = None, p_fix: float = 0.0,
               p_recheck: float = 0.0, path_rng: random.Random | None = None) -> str:
    if fmt == "cot":
        return cot_text(problem, rng, p_fix, p_recheck, path_rng)
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


def _key(terms: list[_Term]) -> tuple:
    return tuple(sorted((t.sign, tuple(t.factors)) for t in terms))


def _legal(terms: list[_Term], step: Step) -> list[list[_Term]]:
    """Every state ``step`` can lead to when it is a true, legal reduction of ``terms`` (precedence respected).

    Legal: ``a*b`` on adjacent factors of one product; ``a±b`` combining two finished signed terms in either
    written order (``-389+12``, ``12-389``), also while other products are pending. Several states when the same
    factors occur in two products; empty when the step is wrong or illegal."""
    if step.a is None or step.c is None or _apply(step.a, step.op, step.b) != step.c:
        return []
    out = []
    if step.op == "*":
        for ti, t in enumerate(terms):
            for fi in range(len(t.factors) - 1):
                if t.factors[fi] == step.a and t.factors[fi + 1] == step.b:
                    nxt = [_Term(u.sign, list(u.factors)) for u in terms]
                    nxt[ti].factors[fi : fi + 2] = [step.c]
                    out.append(nxt)
        return out
    sign = 1 if step.op == "+" else -1
    for i, t in enumerate(terms):
        if not t.done or t.value != step.a:
            continue
        for j, u in enumerate(terms):
            if j != i and u.done and u.sign == sign and u.factors[0] == step.b:
                nxt = [_Term(v.sign, list(v.factors)) for v in terms]
                _combine(nxt, min(i, j), max(i, j), step.c)
                return [nxt]  # equal values leave the same multiset of terms whichever pair was used
    return out


def check_steps(expr: str, steps: tuple[Step, ...] | list[Step]) -> list[bool]:
    """Exact process labels: a step is correct when it is a true, legal reduction of the expression given the
    steps before it (all correct so far), along any legal path. A ``wait`` step replaces the step before it, so a
    corrected error puts the trace back on track; any other error makes every later step incorrect."""
    history: list[list[list[_Term]]] = [[_terms(expr)]]  # the possible states before each kept step; [] = off track
    labels: list[bool] = []
    for step in steps:
        if step.revises and len(history) > 1:
            history.pop()
        nxt = {}
        for terms in history[-1]:
            for state in _legal(terms, step):
                nxt.setdefault(_key(state), state)
        labels.append(bool(nxt))
        history.append(list(nxt.values()))
    return labels


def check_answer(expr: str, answer: int | None) -> bool:
    return answer is not None and answer == solve(expr)[1]


def trace_complete(expr: str, text: str) -> bool:
    """True when the trace reaches the answer by correct steps only (after revisions) and states it."""
    parsed = parse(text)
    labels = check_steps(expr, parsed.steps)
    answer = solve(expr)[1]
    return bool(labels) and labels[-1] and parsed.answer == answer and parsed.steps[-1].c == answer
