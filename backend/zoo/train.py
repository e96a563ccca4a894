"""Plain torch training loop for zoo members: AdamW, warm-up + cosine by tokens seen, length-bucketed batches,
resumable from a state file, CPU or CUDA. Saves the final model and intermediate checkpoints as zoo members."""
from __future__ import annotations

import math
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from backend.analysis.compute import training_flops
from backend.paths import runs_dir, zoo_dir
from backend.tasks import arith
from backend.zoo import registry
from backend.zoo.configs import MemberSpec
from backend.zoo.evaluate import heldout_accuracy
from backend.zoo.tokenizer import build_tokenizer

hf_logging.disable_progress_bar()  # our own bar reports progress; saving and loading are instant
POOL_BATCHES = 32  # batches per length-sorted pool: larger pools pad less but mix lengths less


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA device")
    return device


def build_model(spec: MemberSpec, vocab_size: int) -> LlamaForCausalLM:
    torch.manual_seed(spec.seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=spec.d_model, intermediate_size=spec.d_ff,
        num_hidden_layers=spec.n_layers, num_attention_heads=spec.n_heads, num_key_value_heads=spec.n_heads,
        max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, bos_token_id=None,
    )
    return LlamaForCausalLM(cfg)


def pool_batches(spec: MemberSpec, tok, pool: int) -> list[dict]:
    """Pool ``pool`` of the member's data: POOL_BATCHES batches of similar-length examples, shuffled.

    Deterministic in (seed, pool), so resuming at any step regenerates exactly the same data."""
    problems = arith.train_stream(f"{spec.seed}-{pool}")
    fmt_rng = random.Random(f"{spec.seed}-{pool}-fmt")
    path_rng = random.Random(f"{spec.seed}-{pool}-path") if spec.paths == "multi" else None  # single: unchanged data
    examples = []
    for _ in range(POOL_BATCHES * spec.batch_size):
        p = next(problems)
        examples.append((p.prompt, arith.completion(p, spec.fmt, fmt_rng, spec.p_fix, spec.p_recheck, path_rng)))
    prompt_ids = tok([e[0] for e in examples], add_special_tokens=False)["input_ids"]
    comp_ids = tok([e[1] for e in examples], add_special_tokens=False)["input_ids"]
    seqs = [(p, c + [tok.eos_token_id]) for p, c in zip(prompt_ids, comp_ids)]
    seqs.sort(key=lambda s: len(s[0]) + len(s[1]))
    batches = []
    for i in range(0, len(seqs), spec.batch_size):
        chunk = seqs[i : i + spec.batch_size]
        width = max(len(p) + len(c) for p, c in chunk)
        ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, (p, c) in enumerate(chunk):
            n = len(p) + len(c)
            ids[r, :n] = torch.tensor(p + c)
            labels[r, len(p) : n] = torch.tensor(c)  # loss on the completion only
            mask[r, :n] = 1
        batches.append({"input_ids": ids, "labels": labels, "attention_mask": mask})
    random.Random(f"{spec.seed}-{pool}-order").shuffle(batches)
    return batches


def lr_at(spec: MemberSpec, step: int, progress: float) -> float:
    """Linear warm-up over steps, then cosine over the fraction of the token budget seen."""
    if step < spec.warmup_steps:
        return spec.lr * (step + 1) / spec.warmup_steps
    cos = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return spec.lr * (spec.min_lr_ratio + (1 - spec.min_lr_ratio) * cos)


def checkpoint_name(spec: MemberSpec, tokens: int) -> str:
    return f"{spec.name}@{tokens / 1e6:g}M"


def _save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_member(model, tok, spec: MemberSpec, name: str, stats: dict, root: Path, evaluate: bool = True,
                eval_per_cell: int = arith.EVAL_PER_CELL) -> dict:
    """Save weights (fp16 safetensors) + tokenizer, then measure held-out accuracy on the saved weights."""
    folder = registry.member_dir(name, root)
    folder.mkdir(parents=True, exist_ok=True)
    half = LlamaForCausalLM(model.config)
    half.load_state_dict(model.state_dict())
    half.to(torch.float16).save_pretrained(folder)
    tok.save_pretrained(folder)
    n_params = registry.count_params(folder)
    card = {
        "name": name, "fmt": spec.fmt, "family": spec.name, "params": n_params,
        "layers": spec.n_layers, "width": spec.d_model, "heads": spec.n_heads, "d_ff": spec.d_ff,
        "vocab": len(tok), "training_tokens": stats["tokens"], "loss_tokens": stats["loss_tokens"],
        "training_flops": training_flops(n_params, stats["tokens"]), "wall_time_s": round(stats["wall"], 1),
        "device": stats["device"], "threads": torch.get_num_threads(), "seed": spec.seed,
        "steps": stats["step"], "final_loss": round(stats["loss"], 4), "saved_dtype": "float16",
        "checkpoint_of": spec.name if name != spec.name else None,
        "data_recipe": {
            "task": "arith", "cells": "n_ops uniform 1..6 x digits uniform 1..3; right operand of * is 2..9",
            "p_fix": spec.p_fix, "p_recheck": spec.p_recheck, "paths": spec.paths, "held_out": "eval split excluded by exact expression",
            "loss": "completion tokens only", "batching": f"length-bucketed pools of {POOL_BATCHES} batches",
        },
        "recipe": spec.recipe(), "torch": torch.__version__, "host": platform.node(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if evaluate:
        loaded, ltok = registry.load_model(folder, stats["device"])
        card["heldout_greedy"] = heldout_accuracy(loaded, ltok, spec.fmt, eval_per_cell)
    registry.write_card(name, card, root)
    return card


def train_member(spec: MemberSpec, device: str = "auto", threads: int | None = None, root: Path | None = None,
                 state_dir: Path | None = None, evaluate: bool = True, quiet: bool = False,
                 eval_per_cell: int = arith.EVAL_PER_CELL) -> dict:
    """Train ``spec`` to its token budget (resuming from saved state if any) and save it and its checkpoints."""
    device = pick_device(device)
    if threads:
        torch.set_num_threads(threads)
    root = Path(root or zoo_dir())
    state_path = Path(state_dir or runs_dir() / "train") / spec.name / "state.pt"
    tok = build_tokenizer()
    model = build_model(spec, len(tok)).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec.lr, betas=(0.9, 0.95), fused=device.startswith("cuda"),
    )
    st = {"step": 0, "tokens": 0, "loss_tokens": 0, "wall": 0.0, "loss": float("nan"), "ckpts": [], "device": device}
    if state_path.exists():
        saved = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        st.update(saved["stats"], device=device)
        print(f"[{spec.name}] resuming at step {st['step']}, {st['tokens']:,} tokens", file=sys.stderr)
    torch.manual_seed(spec.seed + st["step"])
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    bar = tqdm(total=spec.train_tokens, initial=st["tokens"], unit="tok", unit_scale=True, desc=spec.name,
               disable=quiet, mininterval=1 if sys.stderr.isatty() else 30, file=sys.stderr)
    model.train()
    pool, batches, t0, last_save, ema = -1, [], time.time(), time.time(), None
    while st["tokens"] < spec.train_tokens:
        if st["step"] // POOL_BATCHES != pool:
            pool = st["step"] // POOL_BATCHES
            batches = pool_batches(spec, tok, pool)
        batch = {k: v.to(device) for k, v in batches[st["step"] % POOL_BATCHES].items()}
        for g in opt.param_groups:
            g["lr"] = lr_at(spec, st["step"], st["tokens"] / spec.train_tokens)
        with amp:
            loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n_tok = int(batch["attention_mask"].sum())
        st["step"] += 1
        st["tokens"] += n_tok
        st["loss_tokens"] += int((batch["labels"] != -100).sum())
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        st["loss"] = ema
        bar.update(n_tok)
        bar.set_postfix(loss=f"{ema:.4f}", lr=f"{opt.param_groups[0]['lr']:.1e}", refresh=False)
        now = time.time()
        st["wall"] += now - t0
        t0 = now
        for at in spec.checkpoints:
            name = checkpoint_name(spec, at)
            if st["tokens"] >= at and name not in st["ckpts"]:
                model.eval()
                save_member(model, tok, spec, name, st, root, evaluate, eval_per_cell)
                model.train()
                st["ckpts"].append(name)
                t0, last_save = time.time(), 0.0  # evaluation is not training time; persist that it was saved
        if now - last_save > 300 or st["tokens"] >= spec.train_tokens:
            _save_state(state_path, {"model": model.state_dict(), "opt": opt.state_dict(), "stats": st})
            last_save = now
    bar.close()
    model.eval()
    card = save_member(model, tok, spec, spec.name, st, root, evaluate, eval_per_cell)
    if not quiet:
        print(f"[{spec.name}] done: {card['params']:,} params, {st['tokens']:,} tokens, loss {st['loss']:.4f}, "
              f"{st['wall']:.0f}s, held-out {card.get('heldout_greedy', {}).get('per_band')}", file=sys.stderr)
    return card
