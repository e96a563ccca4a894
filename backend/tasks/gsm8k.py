"""GSM8K-style word problems (bring-your-own data): loading, prompts, answer extraction and step checking.

Data: JSONL lines ``{"question": ..., "answer": "<solution lines>\\n#### N"}`` (the format of openai/grade-school-math).
Solutions carry calculator annotations ``<<16-3-4=9>>``; a step is one line, checked by evaluating each annotation.

Numbers (gold answers, extracted answers) are ``int`` when integral, else ``float``: ``"1,000"`` -> 1000,
``"3.50"`` -> 3.5, ``"18.0"`` -> 18. Ints stay exact at any size; floats are compared with a small tolerance
(:func:`answers_equal`). Annotations are checked exactly with :class:`fractions.Fraction` arithmetic.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

Number = int | float

_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"  # 1,000 | 12 | 3.50 | .5
# a minus is a sign only when attached to the number and not after a word, digit or ")": "16-3", "16 - 3" are 16, 3
_NUM_RE = re.compile(rf"(?:(?<![\w)])(?P<neg>[-\u2212]))?(?:\$\s?)?(?P<num>{_NUM})")
_HASH_RE = re.compile(r"####([^\n]*)")
_SAID_RE = re.compile(r"answer\s*(?:is\b|:)([^\n]*)", re.IGNORECASE)
_ANN_RE = re.compile(r"<<([^\n]*?)>>")  # one line: an unclosed "<<" must not swallow later steps
_MAX_ANN_CHARS = 200  # longer annotations are not calculator notes; refusing them bounds parse time
_MAX_POW_DIGITS = 1000  # a power may not produce a number with more digits than this
_MAX_LITERAL_DIGITS = 40
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,000 -> 1000; "(1,2)" stays a (refused) tuple
_LONG_LITERAL_RE = re.compile(r"\d{%d}" % (_MAX_LITERAL_DIGITS + 1))


@dataclass(frozen=True)
class Problem:
    """One word problem; ``gold`` is the number after ``####`` (int when integral, else float)."""

    question: str
    solution: str
    gold: Number

    @property
    def key(self) -> str:
        return question_key(self.question)

    @property
    def prompt(self) -> str:
        return format_prompt(self.question)


def normalize_question(text: str) -> str:
    """The text used to match and key questions: NFKC, whitespace collapsed, stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def question_key(text: str) -> str:
    """A stable 12-hex-digit id of a question (sha1 of its normalised text)."""
    return hashlib.sha1(normalize_question(text).encode("utf-8")).hexdigest()[:12]


def load_jsonl(path: str | Path) -> list[Problem]:
    """Read a GSM8K-style JSONL file; ValueError naming the file and line for a malformed line."""
    problems = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question, answer = row["question"], row["answer"]
                if not isinstance(question, str) or not isinstance(answer, str) or "####" not in answer:
                    raise ValueError("needs string 'question' and 'answer' ending '#### N'")
                gold = to_number(answer.rsplit("####", 1)[1].strip())
                if gold is None:
                    raise ValueError("the text after '####' is not a number")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}:{lineno}: malformed GSM8K line ({type(e).__name__}: {e})") from None
            problems.append(Problem(question=question, solution=answer, gold=gold))
    return problems


# ---------------------------------------------------------------- numbers and answer extraction


def to_number(value) -> Number | None:
    """Normalise a number or numeric string (``"$1,000.50"``, ``"-3.50"``, ``18.0``) to int/float; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, Fraction):
        return _from_fraction(value)
    if isinstance(value, Decimal):
        return (int(value) if value == value.to_integral_value() else float(value)) if value.is_finite() else None
    if not isinstance(value, str):
        return None
    m = _NUM_RE.fullmatch(value.strip().rstrip(".").strip())
    if not m:
        return None
    return _parse_match(m)


def _parse_match(m: re.Match) -> Number | None:
    digits = m.group("num").replace(",", "")
    if len(digits) > _MAX_LITERAL_DIGITS:
        return None
    try:
        d = Decimal(digits)
    except InvalidOperation:
        return None
    if m.group("neg"):
        d = -d
    return int(d) if d == d.to_integral_value() else float(d)


def _from_fraction(q: Fraction) -> Number:
    return q.numerator if q.denominator == 1 else q.numerator / q.denominator


def _first_number(text: str) -> Number | None:
    m = _NUM_RE.search(text)
    return _parse_match(m) if m else None


def extract_answer(text) -> Number | None:
    """The final answer in free model text, or None (never raises).

    Order: the first ``#### N`` (a terminal marker: what follows it is not the answer); else the last
    "the answer is N" / "answer: N" (case-insensitive; models restate and correct themselves in prose); else the
    last number in the text. After a marker the first number on the same line counts (``The answer is $1,000.``).
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        for m in _HASH_RE.finditer(text):
            n = _first_number(m.group(1))
            if n is not None:
                return n
        for m in reversed(list(_SAID_RE.finditer(text))):
            n = _first_number(m.group(1))
            if n is not None:
                return n
        last = None
        for last in _NUM_RE.finditer(text):
            pass
        return _parse_match(last) if last else None
    except Exception:  # defensive: extraction must never break a sweep over model output
        return None


def answer_position(text) -> int:
    """Where the answer part of free text starts: the marker :func:`extract_answer` takes its answer from (the
    first ``####`` followed by a number, else the last "the answer is" / "answer:"); -1 when the answer is only
    the last number in the text (or there is none): then all of it counts as reasoning."""
    if not isinstance(text, str) or not text:
        return -1
    for m in _HASH_RE.finditer(text):
        if _first_number(m.group(1)) is not None:
            return m.start()
    for m in reversed(list(_SAID_RE.finditer(text))):
        if _first_number(m.group(1)) is not None:
            head = text[: m.start()]
            return m.start() - (4 if head[-4:].lower() == "the " else 0)  # "The answer is N" starts at "The"
    return -1


def answers_equal(a, b, tol: float = 1e-6) -> bool:
    """Numeric equality; ints exactly, floats within ``tol`` absolute (1e-9 relative for large values)."""
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return False
    if isinstance(x, int) and isinstance(y, int):
        return x == y
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=tol)


def answer_key(value) -> str | None:
    """A canonical string of a number for string-keyed stores and vote counting: ``18.0`` and ``"18"`` -> ``"18"``,
    ``0.1 + 0.2`` -> ``"0.3"`` (floats rounded to 6 decimals); None when not a number."""
    x = to_number(value)
    if x is None or isinstance(x, int):
        return None if x is None else str(x)
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# ---------------------------------------------------------------- steps and calculator annotations


def split_steps(solution: str) -> list[str]:
    """One step per non-empty line; the ``#### N`` line is the answer, not a step."""
    if not isinstance(solution, str):
        return []
    return [s.strip() for s in solution.splitlines() if s.strip() and not s.strip().startswith("####")]


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _pow(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1:
        raise ValueError("non-integer exponent")
    if base != 0 and abs(base) != 1 and abs(exp) * _digits(base) > _MAX_POW_DIGITS:
        raise ValueError("power too large")
    return base ** int(exp)


def _digits(q: Fraction) -> float:
    """An upper bound on the digits of numerator or denominator of ``q``."""
    return max(len(str(abs(q.numerator))), len(str(q.denominator)))


def _eval_node(node: ast.AST, src: str) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, src)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.Constant) and type(node.value) is float:
        text = ast.get_source_segment(src, node)  # exact written digits, not the float Python rounded them to
        if "e" in text.lower():  # "1e99999999" would build a huge exact number; not calculator notation anyway
            raise ValueError("exponent notation")
        return Fraction(text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _eval_node(node.operand, src)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        left, right = _eval_node(node.left, src), _eval_node(node.right, src)
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        if type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](left, right)
    raise ValueError(f"not allowed in a calculator annotation: {type(node).__name__}")


def safe_eval(expr: str) -> Fraction | None:
    """Evaluate an arithmetic expression exactly (numbers, + - * / // % **, parentheses, signs); None if not one."""
    if not isinstance(expr, str) or len(expr) > _MAX_ANN_CHARS or _LONG_LITERAL_RE.search(expr):
        return None
    try:
        src = expr.strip()
        return _eval_node(ast.parse(src, mode="eval"), src)
    except Exception:  # SyntaxError, ZeroDivisionError, ValueError, RecursionError, MemoryError...
        return None


def check_annotation(annotation: str, rounding: bool = False) -> bool:
    """``"16-3-4=9"`` -> True when the left side evaluates exactly to the right side (a number, or ``3/4``).

    With ``rounding``, a right side written with d >= 1 decimals may also be the exact value rounded or truncated
    to d decimals (``40/3=13.3333``) or off by binary floating-point noise (``1.87*9=16.830000000000002``)."""
    if not isinstance(annotation, str) or "=" not in annotation:
        return False
    lhs, rhs = (_THOUSANDS_RE.sub("", side).strip() for side in annotation.rsplit("=", 1))
    a, b = safe_eval(lhs), safe_eval(rhs)
    if a is None or b is None:
        return False
    return a == b or (rounding and _rounded_to_shown(a, b, rhs))


def _rounded_to_shown(value: Fraction, shown: Fraction, written: str) -> bool:
    m = re.fullmatch(r"-?\d*\.(\d{1,20})", written)
    if not m:  # an integer or an expression on the right must be exact
        return False
    scale = 10 ** len(m.group(1))
    error = abs(value - shown)
    truncated = Fraction(math.trunc(value * scale), scale)
    return error * 2 * scale <= 1 or error <= abs(value) * Fraction(1, 10**12) or shown == truncated


def check_annotations(text, rounding: bool = False) -> list[bool]:
    """One verdict per ``<<expr=result>>`` annotation in ``text`` (in order); garbage is False, never an error."""
    if not isinstance(text, str):
        return []
    return [check_annotation(a, rounding) for a in _ANN_RE.findall(text)]


def step_labels(solution: str, rounding: bool = False) -> list[bool]:
    """The rule-based process check: a step is correct when all its annotations are (none counts as correct)."""
    return [all(check_annotations(step, rounding)) for step in split_steps(solution)]


# ---------------------------------------------------------------- prompts


def format_prompt(question: str, shots: int = 0, examples: list[Problem] | None = None) -> str:
    """``Question: …\\nAnswer:``, preceded by the first ``shots`` examples (in the order given, skipping the
    question itself so a test item never leaks its own solution), each with its full solution."""
    parts = [f"Question: {ex.question}\nAnswer: {ex.solution}" for ex in _shots(question, shots, examples)]
    parts.append(f"Question: {question}\nAnswer:")
    return "\n\n".join(parts)


def _shots(question: str, shots: int, examples: list[Problem] | None) -> list[Problem]:
    if shots < 0:
        raise ValueError("shots must be >= 0")
    if shots == 0:
        return []
    target = normalize_question(question)
    pool = [ex for ex in examples or [] if normalize_question(ex.question) != target]
    if len(pool) < shots:
        raise ValueError(f"{shots} shots requested but only {len(pool)} usable examples given")
    return pool[:shots]


CHAT_SYSTEM = (
    "Solve the grade-school math problem step by step. "
    "End with a final line '#### N', where N is the numeric answer."
)


def chat_messages(
    question: str, shots: int = 0, examples: list[Problem] | None = None, system: str | None = CHAT_SYSTEM
) -> list[dict[str, str]]:
    """Messages for ``tokenizer.apply_chat_template``: optional system, each shot as a user/assistant pair, then
    the question."""
    msgs = [{"role": "system", "content": system}] if system else []
    for ex in _shots(question, shots, examples):
        msgs += [{"role": "user", "content": ex.question}, {"role": "assistant", "content": ex.solution}]
    msgs.append({"role": "user", "content": question})
    return msgs
