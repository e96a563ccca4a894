"""One line for a failure a user can meet: the CLI prints it after "error:", the Playground shows it in the page.
The traceback stays for ``--debug`` (CLI) and the server log (app)."""
from __future__ import annotations

from safetensors import SafetensorError

# failures of input, files, disks and model loading: the message says what is wrong; anything else is a bug
EXPECTED = (ValueError, KeyError, OSError, RuntimeError, ImportError, SafetensorError)
MAX_CHARS = 400


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: a file error as ``path: reason``, a KeyError without quotes, an unexpected error with
    its type; newlines collapsed, long messages shortened."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where != "" else exc.strerror
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    if not isinstance(exc, EXPECTED):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
