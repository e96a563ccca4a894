"""Model resolution: zoo members by name, plus local Hugging Face models registered in ``cache/models.json``
(registered by a command, never a path typed into the web page). Engines are loaded once per process."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

from backend.paths import cache_dir
from backend.zoo import registry

_lock = threading.Lock()


def registered_path() -> Path:
    return cache_dir() / "models.json"


def registered_models() -> dict[str, dict]:
    """Name -> {"path", "task", "params", "fingerprint", "chat_template", "registered"} for local models added with
    ``python -m backend register-model``."""
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
def _engine(name: str, path: str, device: str, chat_template: bool | None):
    from backend.engines.hf import HFEngine

    return HFEngine.from_path(path, name=name, device=device, chat_template=chat_template)


def load_engine(name: str, device: str = "cpu"):
    """The engine for model ``name``, loaded once per process (thread-safe). A registered model uses its chat
    template as recorded at registration."""
    path = model_path(name)
    chat = registered_models().get(name, {}).get("chat_template", False)
    with _lock:
        return _engine(name, str(path), device, chat)


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def check_model_folder(path: str | Path) -> Path:
    """The folder of a local Hugging Face causal LM, checked for what loading needs; FileNotFoundError saying
    what is missing otherwise."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder at {folder}")
    if not any(folder.glob("*.safetensors")):
        found = sorted(f.name for f in folder.iterdir() if f.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        hint = (f" (found {', '.join(found[:3])}: re-save with save_pretrained(..., safe_serialization=True))"
                if found else "")
        raise FileNotFoundError(f"no *.safetensors weights in {folder}; only safetensors are loaded{hint}")
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"no config.json in {folder}; save the model with save_pretrained")
    if not any((folder / f).exists() for f in _TOKENIZER_FILES):
        raise FileNotFoundError(f"no tokenizer in {folder}; save it there with tokenizer.save_pretrained")
    return folder.resolve()


def register_model(name: str, path: str | Path, task: str = "gsm8k", chat_template: bool | None = None) -> dict:
    """Check and load a local causal LM (safetensors only, no remote code) and record it in ``cache/models.json``
    under ``name``: path, task, parameters counted from the weights, fingerprint, whether prompts go through its
    chat template (default: when its tokenizer has one). Registering a name again replaces its entry."""
    from backend.engines.hf import HFEngine
    from backend.tasks import get_task

    if not _NAME_RE.fullmatch(name or ""):
        raise ValueError(f"model name {name!r} must be 1-80 letters, digits or ._@+- and start with a letter or digit")
    get_task(task)
    folder = check_model_folder(path)
    if _is_zoo_member(name):
        raise ValueError(f"{name!r} is a zoo member; register the model under another name")
    try:
        engine = HFEngine.from_path(folder, name=name, chat_template=False)
    except (OSError, ValueError, KeyError) as e:  # unknown architecture, remote code needed, broken files
        raise ValueError(f"cannot load {folder} as a causal LM with transformers (no remote code): {e}") from None
    has_template = bool(getattr(engine.tok, "chat_template", None))
    if chat_template and not has_template:
        raise ValueError(f"the tokenizer in {folder} has no chat template; register without --chat-template on")
    entry = {"path": str(folder), "task": task, "params": engine.n_params, "fingerprint": engine.fingerprint,
             "chat_template": has_template if chat_template is None else chat_template, "registered": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with _lock:
        models = registered_models()
        models[name] = entry
        _write_json(registered_path(), models)
    _engine.cache_clear()  # a re-registered name may now point at other weights
    return entry


def _write_json(path: Path, data: dict) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def resolve_model(model: str, task: str | None = None) -> str:
    """The model name for ``model``: a registered or zoo name as is; an existing folder is registered under its
    folder name first (again when its weights changed; keeping the recorded task unless ``task`` is given)."""
    if model in registered_models():
        return model
    folder = Path(model).expanduser()
    if folder.is_dir():
        folder, name = folder.resolve(), folder.resolve().name
        known = registered_models().get(name)
        if known and Path(known["path"]) != folder:
            raise ValueError(f"another model is registered as {name!r} ({known['path']}); register this one under "
                             f"another name: python -m backend register-model NAME {folder}")
        if known and known["fingerprint"] == registry.fingerprint(folder) and task in (None, known["task"]):
            return name  # registered, weights unchanged
        register_model(name, folder, task or (known or {}).get("task", "gsm8k"))
        return name
    if _is_zoo_member(model):
        return model
    raise FileNotFoundError(f"no model folder at {model}, and no registered or zoo model of that name "
                            f"(registered: {', '.join(sorted(registered_models())) or 'none'})")


def _is_zoo_member(name: str) -> bool:
    try:
        return (registry.member_dir(name) / registry.CARD).exists()
    except ValueError:  # not a possible member name (a path)
        return False


def model_task(name: str) -> str:
    """The task a model's prompts come from: a registered model's recorded task, else (the zoo) arith."""
    reg = registered_models()
    return reg[name].get("task", "gsm8k") if name in reg else "arith"
