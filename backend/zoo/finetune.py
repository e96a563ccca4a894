"""What the zoo's fine-tuned members share (the learned router, DPO): batches of prompt + completion with the loss
on the completion only, resumable state files, and saving the result as its own zoo member with a card that adds
the fine-tune's compute to its base's."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from backend.paths import runs_dir
from backend.zoo import registry


def pack(tok, examples: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels (−100 outside the completion + EOS) for (prompt,
    completion) pairs, with the completion's token count per row (``n_completion``)."""
    prompts = tok([e[0] for e in examples], add_special_tokens=False)["input_ids"]
    comps = tok([e[1] for e in examples], add_special_tokens=False)["input_ids"]
    seqs = [(p, c + [tok.eos_token_id]) for p, c in zip(prompts, comps)]
    width = max(len(p) + len(c) for p, c in seqs)
    ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, (p, c) in enumerate(seqs):
        n = len(p) + len(c)
        ids[r, :n] = torch.tensor(p + c)
        labels[r, len(p) : n] = torch.tensor(c)
        mask[r, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "n_completion": torch.tensor([len(c) for _, c in seqs])}


def sequence_logprobs(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed log-probability of each row's completion (the positions whose label is not −100) under ``model``."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    keep = labels != -100
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return (lp * keep).sum(-1)


def state_path(kind: str, name: str, state_dir: Path | None = None) -> Path:
    return Path(state_dir or runs_dir() / kind) / name


def save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def resume(ckpt: Path, model, opt, stats: dict) -> dict:
    """``stats`` updated from a saved training state at ``ckpt`` (model and optimiser restored in place), if any."""
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        stats = {**stats, **saved["stats"]}
    return stats


def save_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def save_finetuned(model, tok, base_card: dict, name: str, fine_tune: dict, fmt: str, root: Path | None = None,
                   eval_per_cell: int | None = None) -> dict:
    """Save a fine-tuned member (fp16 safetensors + tokenizer) and its card: the base's shape and recipe, training
    FLOPs = the base's + everything the fine-tune spent (``fine_tune["flops"]``), the fine-tune recipe, and held-out
    greedy accuracy measured on the saved weights (skipped when eval_per_cell is 0)."""
    from transformers import LlamaForCausalLM

    from backend.tasks import arith
    from backend.zoo.evaluate import heldout_accuracy

    folder = registry.member_dir(name, root)
    folder.mkdir(parents=True, exist_ok=True)
    half = LlamaForCausalLM(model.config)
    half.load_state_dict(model.state_dict())
    half.to(torch.float16).save_pretrained(folder)
    tok.save_pretrained(folder)
    keep = ("params", "layers", "width", "heads", "d_ff", "vocab", "seed", "recipe", "data_recipe", "family")
    card = {k: base_card[k] for k in keep if k in base_card}
    card.update({
        "name": name, "fmt": fmt, "params": registry.count_params(folder), "checkpoint_of": None,
        "fine_tune_of": base_card["name"],
        "training_tokens": base_card["training_tokens"] + fine_tune["tokens"],
        "training_flops": base_card["training_flops"] + fine_tune["flops"],
        "wall_time_s": round(base_card.get("wall_time_s", 0.0) + fine_tune["wall_s"], 1),
        "fine_tune": fine_tune, "device": "cpu", "threads": torch.get_num_threads(), "saved_dtype": "float16",
        "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    if eval_per_cell != 0:
        loaded, ltok = registry.load_model(folder)
        card["heldout_greedy"] = heldout_accuracy(loaded, ltok, "cot", eval_per_cell or arith.EVAL_PER_CELL)
    registry.write_card(name, card, root)
    return card
