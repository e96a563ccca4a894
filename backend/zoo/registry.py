"""The trained models on disk: each member is a folder under ``cache/zoo/`` with safetensors weights, tokenizer and
``card.json``. Loading is safetensors-only with ``trust_remote_code=False``."""
from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path

from safetensors import safe_open

from backend.paths import zoo_dir

CARD = "card.json"


def member_dir(name: str, root: Path | None = None) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a zoo member name: {name!r}")
    return (root or zoo_dir()) / name


def list_cards(root: Path | None = None) -> list[dict]:
    """Cards of every member on disk, sorted by family, then parameters, then training tokens."""
    root = root or zoo_dir()
    cards = []
    for card in sorted(root.glob(f"*/{CARD}")):
        try:
            cards.append(json.loads(card.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            print(f"warning: skipping unreadable model card {card}: {e}")
    return sorted(cards, key=lambda c: (c.get("fmt", ""), c.get("params", 0), c.get("training_tokens", 0)))


def read_card(name: str, root: Path | None = None) -> dict:
    path = member_dir(name, root) / CARD
    if not path.exists():
        names = [c["name"] for c in list_cards(root)]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; available: {', '.join(names) or 'none (run python -m backend train-zoo)'}"
        raise FileNotFoundError(f"no model {name!r} in {root or zoo_dir()}{hint}")
    return json.loads(path.read_text())


def write_card(name: str, card: dict, root: Path | None = None) -> None:
    path = member_dir(name, root) / CARD
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True))
    os.replace(tmp, path)


def count_params(folder: Path) -> int:
    """Parameters measured from the saved safetensors weights (tied weights counted once)."""
    seen, total = set(), 0
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as sf:
            for key in sf.keys():
                t = sf.get_slice(key)
                shape = tuple(t.get_shape())
                n = 1
                for s in shape:
                    n *= s
                total += n
                seen.add(key)
    if not seen:
        raise FileNotFoundError(f"no safetensors weights in {folder}")
    return total


def fingerprint(path: Path, files: tuple[str, ...] = ()) -> str:
    """Identity of the weights: name, size and the first and last MiB of every safetensors file; plus the full bytes
    of each of ``files`` (names in the folder) that exists. Without ``files`` the value is what it always was, so the
    zoo's run keys stay valid."""
    h = hashlib.blake2b(digest_size=8)
    for f in sorted(Path(path).glob("*.safetensors")):
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    for name in sorted(files):
        f = Path(path) / name
        if f.is_file():
            h.update(f"\x1f{name}:".encode() + f.read_bytes())
    return h.hexdigest()


def load_model(path: str | Path, device: str = "cpu"):
    """(model, tokenizer) from a folder, safetensors only, no remote code, float32 for CPU compute."""
    import torch  # here, not at the top: the app's pages list models without paying torch's import
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading a small model is instant; the bar is noise in logs

    path = Path(path)
    if not path.is_dir() or not any(path.glob("*.safetensors")):
        raise FileNotFoundError(f"no safetensors model in {path}")
    model = AutoModelForCausalLM.from_pretrained(
        path, trust_remote_code=False, use_safetensors=True, dtype=torch.float32
    ).to(device)
    model.eval()
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    return model, tok


def load_member(name: str, device: str = "cpu", root: Path | None = None):
    read_card(name, root)  # clear error with suggestions when missing
    return load_model(member_dir(name, root), device)
