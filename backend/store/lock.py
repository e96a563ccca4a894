"""One build at a time per cache: ``build-cache`` (and compaction) hold an exclusive lock on ``store/.build.lock``, so
a second build waits for the first instead of computing everything twice; live runs and imports do not take it (one
prompt or one file each; the reader's first-batch rule keeps them duplicate-free)."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from backend.store.writer import store_dir

LOCK = ".build.lock"


@contextmanager
def build_lock(root: Path | None = None, *, wait: bool = True, say: Callable[[str], None] = print):
    """Hold the cache's build lock; when another process holds it, say so once and wait (or, with ``wait=False``,
    raise RuntimeError naming its pid)."""
    folder = store_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            if not wait:
                raise RuntimeError(f"another build (pid {holder}) is writing to {folder}; try again when it ends") \
                    from None
            say(f"another build (pid {holder}) is writing to {folder}; waiting for it to finish, then skipping what "
                f"it stored")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
