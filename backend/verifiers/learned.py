"""The learned process verifier: a small Llama with a value head (``LlamaForTokenClassification``, one logit per
token) that reads prompt + trace and scores the end of every step and the final answer (Math-Shepherd style:
trained on zoo samples auto-labelled by the exact step checker). Loaded from safetensors, no remote code."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaForTokenClassification

from backend.paths import cache_dir
from backend.tasks import PromptRecord, get_task

DEFAULT_NAME = "learned"


def verifier_dir(name: str = DEFAULT_NAME) -> Path:
    return cache_dir() / "verifiers" / name


def score_positions(prompt_len: int, text: str, step_sep: str, think_end: str) -> list[int]:
    """Token positions (one token per character) read as step scores: the separator closing each step, the end
    of the thinking part, and the last character when the trace states an answer (the outcome score)."""
    think, marker, _ = text.partition(think_end)
    pos = [prompt_len + i for i, ch in enumerate(think) if ch == step_sep[0]]
    body_end = prompt_len + len(think) - 1
    if think and not think.endswith(step_sep):
        pos.append(body_end)  # the last step has no separator after it
    if marker:
        pos.append(prompt_len + len(text) - 1)
    return pos or [prompt_len + max(0, len(text) - 1)]


class LearnedVerifier:
    """Scores in [0, 1] per step; ``n_params`` from the weights, charged 2·N per token it reads."""

    def __init__(self, path: Path | None = None, device: str = "cpu", batch_size: int = 256):
        path = Path(path or verifier_dir())
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"no learned verifier in {path}; train it with python -m backend train-verifier")
        self.model = LlamaForTokenClassification.from_pretrained(
            path, trust_remote_code=False, use_safetensors=True, dtype=torch.float32).to(device).eval()
        self.tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        self.tok.padding_side = "right"  # score positions are counted from the left
        self.card = json.loads((path / "card.json").read_text()) if (path / "card.json").exists() else {}
        self.name = self.card.get("name", path.name)
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.batch_size = batch_size
        self.device = device

    @torch.inference_mode()
    def logits(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = [[] for _ in texts]
        order = sorted(range(len(texts)), key=lambda i: len(prompts[i].text) + len(texts[i]))
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            seqs = [prompts[i].text + texts[i] for i in idx]
            enc = self.tok(seqs, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            logit = self.model(**enc).logits[..., 0].float().cpu()
            for r, i in enumerate(idx):
                task = get_task(prompts[i].task)
                pos = score_positions(len(prompts[i].text), texts[i], task.step_sep, task.think_end)
                out[i] = logit[r, pos].tolist()
        return out

    def score(self, prompts: list[PromptRecord], texts: list[str]) -> list[list[float]]:
        return [torch.sigmoid(torch.tensor(x)).tolist() for x in self.logits(prompts, texts)]

    def tokens(self, prompts: list[PromptRecord], texts: list[str]) -> int:
        return sum(len(p.text) + len(t) for p, t in zip(prompts, texts))
