"""Page-facing data: one module per app page, each turning a selection into the frame its chart draws.
Pages call these and hold no SQL or formulas; everything here reads the one shared store.

The store has one owner per process: the process's entry point (app.py, the CLI's ``main``, the test session) says
how it is opened with :func:`own_store`; library code only ever asks :func:`store` for that one."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from backend.store import Store
from backend.store.writer import store_dir

_lock = threading.Lock()
_store: Store | None = None
_opener: Callable[[], Store] | None = None
_checked = 0.0  # when the store last looked for new batch files
_warming = False
REFRESH_EVERY_S = 1.0  # batch files from other processes are looked for at most this often; writers here refresh


def own_store(opener: Callable[[], Store]) -> None:
    """Declare how this process's one store is opened (called by the process's owner, once or idempotently); it is
    opened on first use."""
    global _opener
    with _lock:
        _opener = opener


def store() -> Store:
    """The process's one store (opened on first use by the owner's opener), taking in batch files that other
    processes committed — looked for at most once a second, since every page call asks. It follows the cache folder:
    when TTC_CACHE points elsewhere (a test, a CLI command run in-process), the store of the new folder is opened."""
    global _store, _checked
    with _lock:
        moved = _store is not None and Path(_store.root) != store_dir()
        if moved:
            _store = None
    if moved:
        from backend.explore import derived

        derived.forget()  # what was derived from the other folder's store
    with _lock:
        if _store is None:
            if _opener is None:
                raise RuntimeError("no owner opened the cache store in this process: its entry point must call "
                                   "backend.explore.own_store(Store) first")
            _store = _opener()
            _checked = time.monotonic()
        opened, due = _store, time.monotonic() - _checked >= REFRESH_EVERY_S
        if due:
            _checked = time.monotonic()
    if due:
        opened.refresh()
    return opened


def store_problems() -> list[str]:
    """One line per batch or file the shared store skipped as damaged (none while the store is not open yet)."""
    with _lock:
        opened = _store
    return list(opened.problems) if opened is not None else []


_page_drawn = threading.Event()
MODEL_WARM_WAIT_S = 60.0  # the model warms up after a first page is drawn, or after this long without one


def warm_up() -> None:
    """At server start, in a background thread: open the store and load the derived points every analysis page
    reads; then, once a first page is drawn (:func:`page_drawn`), the Playground's default model — importing torch
    and transformers takes seconds of the one interpreter lock, which the first page must not wait behind. Safe to
    call many times; a failure here only means the first user pays the load (and sees its error)."""
    global _warming
    with _lock:
        if _warming or _store is not None:
            return
        _warming = True
    threading.Thread(target=_warm, name="ttc-warm-up", daemon=True).start()


def page_drawn() -> None:
    """A page finished drawing (app.py, after every page run): the model warm-up may start."""
    _page_drawn.set()


def _warm() -> None:
    try:
        from backend.explore import common, derived

        derived.points(store())
        finals = common.final_models("cot")
        _page_drawn.wait(MODEL_WARM_WAIT_S)
        if finals:
            from backend import models

            models.load_engine(finals[0])
    except Exception:  # noqa: BLE001 - warming is best effort: the page that needs the data reports the error
        pass


def reset_store() -> None:
    """Forget the shared store (tests point TTC_CACHE elsewhere between runs)."""
    global _store, _warming
    from backend.explore import derived

    with _lock:
        _store, _warming = None, False
    _page_drawn.clear()
    derived.forget()


def unique_labels(labels: list[str]) -> list[str]:
    """Labels made distinct (a repeated label gets " (2)", " (3)" …), so a label in a URL names one option."""
    seen: dict[str, int] = {}
    out = []
    for lab in map(str, labels):
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out
