"""MATH-style answers checked as the field checks them, with math-verify (Hugging Face; used by open-r1 and
lighteval): LaTeX answers (``\\boxed{…}``, fractions, radicals, intervals, sets, text units and degrees) are parsed
into SymPy and compared symbolically and numerically, not as strings.

The answer of a completion is the content of its last ``\\boxed{…}`` (what search-and-learn and the MATH graders
read), else what math-verify's own extraction finds in the text. The store keeps answers as strings and counts
votes by equal strings, so :func:`group_answers` keys each prompt's answers by equivalence class: equivalent
answers share one string (the first seen), and an answer is stored as the gold string exactly when it is right.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

BOXED = ("\\boxed", "\\fbox")
MISSING = ("checking MATH answers needs the math-verify package (pip install math-verify==0.9.0, pinned in "
           "requirements.txt), which is not importable here")


def _mv():
    try:
        import math_verify
    except ImportError as e:
        raise ValueError(f"{MISSING}: {e}") from None
    return math_verify


def _timeout() -> int | None:
    # math-verify bounds its SymPy work with signal.alarm, which only the main thread may set
    return 5 if threading.current_thread() is threading.main_thread() else None


def _boxed_span(text: str) -> tuple[int, int, int] | None:
    """(start of the command, start and end of the content) of the last balanced ``\\boxed{…}``."""
    start = max(text.rfind(b) for b in BOXED)
    while start >= 0:
        i = text.find("{", start)
        if i >= 0 and not text[start:i].strip("\\boxedfbox "):
            depth = 0
            for j in range(i, len(text)):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    return start, i + 1, j
        start = max(text.rfind(b, 0, start) for b in BOXED)
    return None


def last_boxed(text: str | None) -> str | None:
    """The content of the last ``\\boxed{…}`` in text (None when there is none)."""
    span = _boxed_span(text or "")
    return None if span is None else text[span[1]:span[2]].strip()


def answer_position(text: str) -> int:
    """Where the answer part of a completion starts: its last ``\\boxed``; -1 when there is none."""
    span = _boxed_span(text or "")
    return -1 if span is None else span[0]


def split_steps(text: str) -> list[str]:
    """Reasoning steps as process reward models score them (search-and-learn): paragraphs split on blank lines."""
    return [s for s in (text or "").split("\n\n") if s.strip()]


def strip_boxed(answer: str) -> str:
    """``"\\boxed{3}"`` -> ``"3"`` (files often store picks boxed); other text unchanged, stripped."""
    inner = last_boxed(answer)
    return inner if inner is not None and answer.strip().startswith(BOXED) else answer.strip()


@lru_cache(maxsize=1 << 16)
def _extract_free(text: str) -> str | None:
    found = _mv().parse(text, parsing_timeout=_timeout())
    return str(found[1]).strip() if len(found) > 1 and str(found[1]).strip() else None


def extract(text: str | None) -> str | None:
    """The answer of a completion: its last boxed content, else math-verify's extraction from the text."""
    if not text:
        return None
    boxed = last_boxed(text)
    return boxed if boxed else _extract_free(text)


@lru_cache(maxsize=1 << 16)
def _parsed(answer: str) -> tuple:
    mv = _mv()
    return tuple(mv.parse("\\boxed{" + answer + "}", parsing_timeout=_timeout()))


def _norm(s: str) -> str:
    return "".join(s.split()).rstrip(".")


_INT = re.compile(r"[-+]?\d+")  # two integers: math-verify compares them exactly too, without a LaTeX parse


@lru_cache(maxsize=1 << 18)
def equivalent(gold: str, answer: str | None) -> bool:
    """math-verify's verdict on ``answer`` against ``gold`` (its order: the gold first); when either cannot be
    parsed, equal text up to spaces."""
    if answer is None:
        return False
    gt, at = _norm(gold), _norm(answer)
    if gt == at:
        return True
    if _INT.fullmatch(gt) and _INT.fullmatch(at):
        return int(gt) == int(at)
    g, a = _parsed(gold), _parsed(answer)
    if not g or not a:
        return False
    return bool(_mv().verify(list(g), list(a), timeout_seconds=_timeout()))


def group_answers(gold: str, answers: list[str | None]) -> tuple[list[str | None], list[bool]]:
    """(stored answers, correct) of one prompt's samples: each answer is replaced by the first earlier class
    representative it is equivalent to (the gold comes first), so vote counts by string are counts by value."""
    reps = [gold]
    key_of: dict[str, str] = {}
    keys = []
    for a in answers:
        if a is None:
            keys.append(None)
            continue
        if a not in key_of:
            key_of[a] = next((r for r in reps if equivalent(r, a)), a)
            if key_of[a] == a and a not in reps:
                reps.append(a)
        keys.append(key_of[a])
    return keys, [k is not None and k == gold for k in keys]
