"""The learned router's mode tokens (backend.zoo.router), without torch: what reading a router's runs needs."""
from __future__ import annotations

from backend.tasks import arith

MODE_TOKENS = {"think": arith.THINK_MARK[0], "short": arith.ANSWER_MARK.strip()[0]}  # "T", "A"
MODES = tuple(MODE_TOKENS)


def mode_of(text: str | None) -> str | None:
    """The mode a router's completion chose, from its first character (None when it is neither mode token)."""
    if not isinstance(text, str) or not text:
        return None
    return next((m for m, t in MODE_TOKENS.items() if text.startswith(t)), None)
