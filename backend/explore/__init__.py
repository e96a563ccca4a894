"""Page-facing data: one module per app page, each turning a selection into the frame its chart draws.
Pages call these and hold no SQL or formulas; everything here reads the one shared store."""
from __future__ import annotations

import threading

from backend.store import Store

_lock = threading.Lock()
_store: Store | None = None
_warming = False


def store() -> Store:
    """The process-wide store, refreshed (new batches appended) on every call."""
    global _store
    with _lock:
        if _store is None:
            _store = Store()
    _store.refresh()
    return _store


def store_problems() -> list[str]:
    """One line per batch or file the shared store skipped as damaged (none while the store is not open yet)."""
    with _lock:
        opened = _store
    return list(opened.problems) if opened is not None else []


def warm_up() -> None:
    """At server start, in a background thread: open the store, load the derived points every analysis page reads,
    then the Playground's default model, so neither a first page nor a first live run waits for them. Safe to call
    many times; a failure here only means the first user pays the load (and sees its error)."""
    global _warming
    with _lock:
        if _warming or _store is not None:
            return
        _warming = True
    threading.Thread(target=_warm, name="ttc-warm-up", daemon=True).start()


def _warm() -> None:
    try:
        from backend import models
        from backend.explore import common, derived

        derived.points(store())
        finals = common.final_models("cot")
        if finals:
            models.load_engine(finals[0])
    except Exception:  # noqa: BLE001 - warming is best effort: the page that needs the data reports the error
        pass


def reset_store() -> None:
    """Forget the shared store (tests point TTC_CACHE elsewhere between runs)."""
    global _store, _warming
    from backend.explore import derived

    with _lock:
        _store, _warming = None, False
    derived.forget()


def unique_labels(labels: list[str]) -> list[str]:
    """Labels made distinct (a repeated label gets " (2)", " (3)" …), so a label in a URL names one option."""
    seen: dict[str, int] = {}
    out = []
    for lab in map(str, labels):
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out
