"""Model resolution: zoo members by name, plus local Hugging Face models registered in ``cache/models.json``
(registered by a command, never a path typed into the web page). Engines are loaded once per process."""
from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

from safetensors import safe_open

from backend.errors import EXPECTED, one_line
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
def _engine(name: str, path: str, device: str, chat_template: bool | None, registered: bool):
    from backend.engines.hf import HFEngine

    if registered:  # its files may have changed since registration: refuse before allocating anything
        check_weights(Path(path))
    engine = HFEngine.from_path(path, name=name, device=device, chat_template=chat_template)
    if registered:
        engine.fingerprint = model_fingerprint(Path(path))
    return engine


def load_engine(name: str, device: str = "cpu"):
    """The engine for model ``name``, loaded once per process (thread-safe). A registered model uses its chat
    template as recorded at registration, is checked against its config and tokenizer first, and is identified by
    ``model_fingerprint``."""
    path = model_path(name)
    reg = registered_models()
    chat = reg.get(name, {}).get("chat_template", False)
    with _lock:
        return _engine(name, str(path), device, chat, name in reg)


def model_identity(name: str) -> tuple[str, bool]:
    """(fingerprint, chat template applied) of model ``name`` as load_engine loads it, without loading it: what a run
    key needs where the model runs elsewhere (a Ray worker, vLLM)."""
    path = model_path(name)
    entry = registered_models().get(name)
    if entry:
        return model_fingerprint(path), bool(entry.get("chat_template", False))
    return registry.fingerprint(path), False


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
# what else shapes the text a model reads and writes: a change to any of them is another model for run keys
_IDENTITY_FILES = _TOKENIZER_FILES + ("config.json", "generation_config.json", "merges.txt", "special_tokens_map.json",
                                      "added_tokens.json", "chat_template.jinja", "chat_template.json")


def model_fingerprint(folder: Path) -> str:
    """Identity of a registered model: its weights, config, generation config, tokenizer and chat template. Zoo
    members keep the weights-only ``registry.fingerprint`` (the trainer fixes their config and tokenizer), so the
    shipped cache's run keys stay valid."""
    return registry.fingerprint(folder, files=_IDENTITY_FILES)


def _weight_shapes(folder: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, file) from the safetensors headers; no tensor is read."""
    from safetensors import SafetensorError

    shapes = {}
    for f in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(f), framework="pt") as sf:
                shapes.update({k: (tuple(sf.get_slice(k).get_shape()), f.name) for k in sf.keys()})
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{f}: not a readable safetensors file ({one_line(e)})") from None
    return shapes


def check_weights(folder: Path) -> None:
    """ValueError in one line unless the config, the safetensors headers and the tokenizer agree: every parameter
    the config builds is stored with its shape, and every token id has an embedding row. The expected shapes come
    from a model built on the meta device, so a config claiming 10B parameters allocates nothing."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    stored = _weight_shapes(folder)
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except Exception as e:  # unknown architecture, remote code needed, nonsense sizes: all mean "cannot build it"
        raise ValueError(f"{folder / 'config.json'}: transformers cannot build a causal LM from it without remote "
                         f"code ({one_line(e)})") from None
    prefix = f"{model.base_model_prefix}."
    groups: dict[int, list[tuple[str, torch.Tensor]]] = {}  # tied parameters are one object under several names
    for name, p in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append((name, p))
    missing, wrong = [], []
    for names in groups.values():
        found = [(n, p, stored[k]) for n, p in names
                 for k in (n, n.removeprefix(prefix), prefix + n) if k in stored]
        if not found:
            missing.append(names[0][0])
        wrong += [(n, tuple(p.shape), shape, file) for n, p, (shape, file) in found[:1] if tuple(p.shape) != shape]
    if wrong:
        n, want, have, file = wrong[0]
        raise ValueError(f"{folder}: config.json and the weights disagree on {len(wrong)} parameter(s), e.g. {n} is "
                         f"{want} in the config but {have} in {file}")
    if missing:
        raise ValueError(f"{folder}: the weights lack {len(missing)} parameter(s) that config.json builds, e.g. "
                         f"{missing[0]}")
    rows = model.get_input_embeddings().weight.shape[0]
    out = model.get_output_embeddings()
    if out is not None and out.weight.shape[0] > rows:
        raise ValueError(f"{folder}: the output layer scores {out.weight.shape[0]} tokens but only {rows} have "
                         "input embeddings")
    try:
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as e:  # broken or unsupported tokenizer files
        raise ValueError(f"{folder}: cannot load its tokenizer ({one_line(e)})") from None
    top = max([*tok.get_vocab().values(), *(i for i in tok.all_special_ids if i is not None)], default=-1)
    if top >= rows:
        raise ValueError(f"{folder}: the tokenizer has token ids up to {top} but the model has embeddings for "
                         f"{rows} (ids 0..{rows - 1}); save the tokenizer that was trained with these weights")


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
    check_weights(folder)
    try:
        engine = HFEngine.from_path(folder, name=name, chat_template=False)
    except EXPECTED as e:  # what the checks above cannot see: broken files, unsupported options
        raise ValueError(f"cannot load {folder} as a causal LM with transformers (no remote code): {one_line(e)}") \
            from None
    has_template = bool(getattr(engine.tok, "chat_template", None))
    if chat_template and not has_template:
        raise ValueError(f"the tokenizer in {folder} has no chat template; register without --chat-template on")
    entry = {"path": str(folder), "task": task, "params": engine.n_params, "fingerprint": model_fingerprint(folder),
             "chat_template": has_template if chat_template is None else chat_template, "registered": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with _lock:
        models = registered_models()
        models[name] = entry
        _write_json(registered_path(), models)
    _engine.cache_clear()  # a re-registered name may now point at other weights
    return entry


def _write_json(path: Path, data: dict) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError as e:  # read-only or full disk: name the file we meant to write, leave no temporary behind
        with contextlib.suppress(OSError):  # a read-only disk refuses even this
            tmp.unlink(missing_ok=True)
        raise OSError(e.errno, f"cannot write it ({e.strerror})", str(path)) from None


def resolve_model(model: str, task: str | None = None) -> str:
    """The model name for ``model``: a zoo name as is; a registered name, registered again when its files changed;
    an existing folder is registered under its folder name first (again when its files changed; keeping the
    recorded task unless ``task`` is given)."""
    known = registered_models().get(model)
    if known:  # its files may have changed since: checked and recorded again, so a run never starts on a broken one
        if known["fingerprint"] != model_fingerprint(Path(known["path"])):
            register_model(model, known["path"], known.get("task", "gsm8k"), known.get("chat_template"))
        return model
    folder = Path(model).expanduser()
    if folder.is_dir():
        folder, name = folder.resolve(), folder.resolve().name
        known = registered_models().get(name)
        if known and Path(known["path"]) != folder:
            raise ValueError(f"another model is registered as {name!r} ({known['path']}); register this one under "
                             f"another name: python -m backend register-model NAME {folder}")
        if known and known["fingerprint"] == model_fingerprint(folder) and task in (None, known["task"]):
            return name  # registered, files unchanged
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
