"""Model resolution: zoo members by name, plus local Hugging Face models registered in ``cache/models.json``
(registered by a command, never a path typed into the web page). Engines are loaded once per process."""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

from backend.paths import cache_dir
from backend.zoo import registry

_lock = threading.Lock()


def registered_path() -> Path:
    return cache_dir() / "models.json"


def registered_models() -> dict[str, dict]:
    """Name -> {"path", "task", "params"} for local models added with ``python -m backend register-model``."""
    path = registered_path()
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); fix or delete it") from None


def model_path(name: str) -> Path:
    reg = registered_models()
    if name in reg:
        return Path(reg[name]["path"])
    registry.read_card(name)  # FileNotFoundError with a suggestion when unknown
    return registry.member_dir(name)


@lru_cache(maxsize=16)
def _engine(name: str, path: str, device: str):
    from backend.engines.hf import HFEngine

    return HFEngine.from_path(path, name=name, device=device)


def load_engine(name: str, device: str = "cpu"):
    """The engine for model ``name``, loaded once per process (thread-safe)."""
    path = model_path(name)
    with _lock:
        return _engine(name, str(path), device)


def model_task(name: str) -> str:
    reg = registered_models()
    return reg[name].get("task", "gsm8k") if name in reg else "arith"
