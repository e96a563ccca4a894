"""Where the project keeps its data. ``TTC_CACHE`` overrides the cache folder (tests point it at a temp dir)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    return Path(os.environ.get("TTC_CACHE", ROOT / "cache"))


def zoo_dir() -> Path:
    return cache_dir() / "zoo"


def runs_dir() -> Path:
    """Scratch space for resumable training state and logs (not shipped)."""
    return Path(os.environ.get("TTC_RUNS", ROOT / "runs"))
