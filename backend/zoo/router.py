"""A learned think / no-think router (after Thinkless, Fang et al. 2025), trained by supervision, not RL.

One model chooses its own mode: the first token it writes is the mode token — ``T`` opens a chain of thought
(``T:…;…\\nA:N``, "think") and ``A`` the short answer (``A:N``, "short"); the zoo's shared character tokenizer
needs no new token for it. The router starts from a CoT member and is fine-tuned on both formats of every training
prompt; the mode token is supervised only on the labelled format. Two stages:
1. labels from a reference direct (no-reasoning) member: "short" when its greedy answer to that prompt is right;
2. one more pass over both formats with the labels re-drawn from the router's *own* short answers (its short mode
   forced, greedy). Stage 1 alone routes to "short" wherever the reference is right although the router's own short
   answers are far worse there (measured: held-out greedy fell below its base's); stage 2 routes on what it can do.
   Both formats are trained again in stage 2: training the mode token alone unlearns the answer marker.
So it learns both answers for every prompt and when its own short one is worth trusting. Its training FLOPs (card) =
the base's + both labelling passes (compute.sample_flops) + both fine-tune stages (compute.training_flops, 6·N·D).
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from backend.analysis.compute import model_shape, sample_flops, training_flops
from backend.engines.base import SamplingParams
from backend.tasks import arith
from backend.zoo import finetune, registry
from backend.zoo.modes import MODE_TOKENS, MODES, mode_of

LABEL_CHUNK = 512  # reference prompts labelled (and saved) at a time
SAVE_EVERY = 200  # optimiser steps between saved training states


def mode_logprobs(engine, texts: list[str]) -> np.ndarray:
    """Raw log-probs [prompts, 2] of the two mode tokens (think, short) as the first token after each prompt: the
    logits the decode's own prefill computes (so reading them costs nothing a run does not already pay)."""
    ids = [engine.token_id(MODE_TOKENS[m]) for m in MODES]
    out = np.empty((len(texts), len(MODES)))
    with torch.inference_mode():
        for i, text in enumerate(texts):
            x = torch.tensor([engine.prompt_ids(text)], device=engine.device)
            lp = torch.log_softmax(engine.model(input_ids=x).logits[0, -1].float(), dim=-1)
            out[i] = lp[ids].cpu().numpy()
    return out


@dataclass(frozen=True)
class RouterConfig:
    base: str  # the CoT member the router starts from
    reference: str  # the direct member whose greedy answer labels a prompt "short" when it is right
    name: str = ""  # the new member's name (default "<base>-router")
    n_prompts: int = 40_000  # training prompts (each gives one think and one short example)
    lr: float = 3e-4  # peak AdamW learning rate (20 warm-up steps, cosine to a tenth)
    epochs: int = 1
    batch_size: int = 128  # sequences per step
    seed: int = 0  # prompt stream, trace sampling and batch order

    def __post_init__(self):
        for field in ("n_prompts", "epochs", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"router {field} must be at least 1, got {getattr(self, field)}")
        if not self.lr > 0:
            raise ValueError(f"router lr must be positive, got {self.lr}")

    @property
    def member(self) -> str:
        return self.name or f"{self.base}-router"


def _problems(cfg: RouterConfig) -> list[arith.Problem]:
    stream = arith.train_stream(f"router-{cfg.seed}")
    return [next(stream) for _ in range(cfg.n_prompts)]


def _label(engine, problems: list[arith.Problem], path: Path, prefix: str, tag: str, quiet: bool) -> dict:
    """Per prompt, whether ``engine``'s greedy answer (after ``prefix``) is right, and what labelling cost; resumable."""
    saved = json.loads(path.read_text()) if path.exists() else {"short": [], "flops": 0.0, "tokens": 0, "wall_s": 0.0}
    shape = model_shape(engine)
    greedy = SamplingParams(temperature=0, max_new_tokens=24)
    while len(saved["short"]) < len(problems):
        t0 = time.monotonic()
        chunk = problems[len(saved["short"]) : len(saved["short"]) + LABEL_CHUNK]
        gens = engine.sample([p.prompt + prefix for p in chunk], greedy, keys=[p.expr for p in chunk])
        for p, (g,) in zip(chunk, gens):
            saved["short"].append(bool(arith.check_answer(p.expr, arith.parse(prefix + g.text).answer)))
            saved["flops"] += float(sample_flops(shape, g.prompt_tokens, g.gen_tokens))
            saved["tokens"] += g.prompt_tokens + g.gen_tokens
        saved["wall_s"] += time.monotonic() - t0
        finetune.save_json(path, saved)
        if not quiet:
            print(f"[router {tag}] {len(saved['short'])}/{len(problems)}", file=sys.stderr)
    return saved


def reference_labels(cfg: RouterConfig, problems: list[arith.Problem], state: Path, quiet: bool = False) -> dict:
    """Stage 1 labels: per prompt, whether the reference's greedy answer is right ("short"); resumable."""
    from backend.models import load_engine

    return _label(load_engine(cfg.reference), problems, state / "labels.json", "", "labels", quiet)


def own_labels(model, tok, problems: list[arith.Problem], state: Path, quiet: bool = False) -> dict:
    """Stage 2 labels: per prompt, whether the router's own greedy answer with the short mode forced is right."""
    from backend.engines.hf import HFEngine

    engine = HFEngine(model, tok, "router-stage-1")
    return _label(engine, problems, state / "labels-own.json", MODE_TOKENS["short"], "own labels", quiet)


def examples(problems: list[arith.Problem], short: list[bool], recipe: dict, seed: int) -> list[tuple[str, str, bool]]:
    """(prompt, completion, mode supervised) — a think and a short example per prompt, the mode token supervised on
    the labelled one. Think traces follow the base's data recipe (wait traces, single or multi path)."""
    rng = random.Random(f"router-{seed}-fmt")
    path_rng = random.Random(f"router-{seed}-path") if recipe.get("paths") == "multi" else None
    out = []
    for p, s in zip(problems, short):
        cot = arith.cot_text(p, rng, recipe.get("p_fix", 0.0), recipe.get("p_recheck", 0.0), path_rng)
        out += [(p.prompt, cot, not s), (p.prompt, arith.direct_text(p), s)]
    return out


def pack_examples(tok, batch: list[tuple[str, str, bool]]) -> dict:
    """finetune.pack, with the mode token's label masked where that example's mode is not the prompt's label."""
    packed = finetune.pack(tok, [(p, c) for p, c, _ in batch])
    plen = [len(tok(p, add_special_tokens=False)["input_ids"]) for p, _, _ in batch]
    for r, (_, _, supervised) in enumerate(batch):
        if not supervised:
            packed["labels"][r, plen[r]] = -100
    return packed


def _lr(cfg: RouterConfig, step: int, total: int) -> float:
    warm = min(1.0, (step + 1) / 20)
    return cfg.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total)))))


def _fit(cfg: RouterConfig, model, tok, data: list, ckpt: Path, tag: str, quiet: bool) -> dict:
    """One fine-tune stage over ``data`` (fresh AdamW, warm-up + cosine), resumable from ``ckpt``; returns its stats."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.epochs * per_epoch
    st = finetune.resume(ckpt, model, opt, {"step": 0, "tokens": 0, "wall_s": 0.0, "loss": float("nan")})
    model.train()
    t0, ema = time.monotonic(), None
    while st["step"] < total:
        epoch, i = divmod(st["step"], per_epoch)
        order = list(range(len(data)))
        random.Random(f"router-{cfg.seed}-{tag}-{epoch}").shuffle(order)
        batch = pack_examples(tok, [data[j] for j in order[i * cfg.batch_size : (i + 1) * cfg.batch_size]])
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, st["step"], total)
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        st["step"] += 1
        st["tokens"] += int(batch["attention_mask"].sum())
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        st["loss"] = ema
        if st["step"] % SAVE_EVERY == 0 or st["step"] == total:
            st["wall_s"] += time.monotonic() - t0
            t0 = time.monotonic()
            finetune.save_state(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "stats": st})
            if not quiet:
                print(f"[router {tag}] step {st['step']}/{total}, loss {ema:.4f}", file=sys.stderr)
    model.eval()
    return st


def train_router(cfg: RouterConfig, *, state_dir: Path | None = None, quiet: bool = False,
                 eval_per_cell: int | None = None) -> dict:
    """Label, fine-tune ``cfg.base`` into a router in two stages, save it as ``cfg.member`` (fmt "router"); returns
    its card."""
    base_card = registry.read_card(cfg.base)
    ref_card = registry.read_card(cfg.reference)
    if base_card.get("fmt") != "cot" or ref_card.get("fmt") != "direct":
        raise ValueError(f"a router starts from a CoT member and is labelled by a direct one; got {cfg.base} "
                         f"({base_card.get('fmt')}) and {cfg.reference} ({ref_card.get('fmt')})")
    state = finetune.state_path("router", cfg.member, state_dir)
    problems = _problems(cfg)
    recipe = base_card.get("recipe") or {}
    labels = reference_labels(cfg, problems, state, quiet)
    model, tok = registry.load_member(cfg.base)
    st1 = _fit(cfg, model, tok, examples(problems, labels["short"], recipe, cfg.seed), state / "state.pt", "stage 1", quiet)
    own = own_labels(model, tok, problems, state, quiet)
    st2 = _fit(cfg, model, tok, examples(problems, own["short"], recipe, cfg.seed + 1), state / "state-2.pt", "stage 2",
               quiet)
    ft_tokens = st1["tokens"] + st2["tokens"]
    ft_flops = training_flops(base_card["params"], ft_tokens)
    label_flops = labels["flops"] + own["flops"]
    fine_tune = {
        "method": "supervised mode labels in two stages (Thinkless-style; no RL)", "config": asdict(cfg),
        "reference": cfg.reference,
        "label_rule": f"stage 1: short when {cfg.reference}'s greedy answer is right; stage 2: short when the "
                      "router's own greedy short answer (after stage 1) is right; else think",
        "labelled_short": round(float(np.mean(labels["short"])), 4),
        "labelled_short_own": round(float(np.mean(own["short"])), 4), "tokens": ft_tokens,
        "flops": ft_flops + label_flops, "flops_training": ft_flops, "flops_labels": label_flops,
        "wall_s": st1["wall_s"] + st2["wall_s"] + labels["wall_s"] + own["wall_s"],
        "final_loss": round(st2["loss"], 4), "final_loss_stage_1": round(st1["loss"], 4),
        "mode_tokens": MODE_TOKENS,
    }
    card = finetune.save_finetuned(model, tok, base_card, cfg.member, fine_tune, "router", eval_per_cell=eval_per_cell)
    if eval_per_cell != 0:
        card["heldout_short_share"] = heldout_short_share(cfg.member, eval_per_cell or arith.EVAL_PER_CELL)
        registry.write_card(cfg.member, card)
    return card


def heldout_short_share(member: str, per_cell: int) -> dict:
    """Share of held-out prompts on which the router's greedy completion chooses the short mode, per band."""
    from backend.zoo.evaluate import BANDS, greedy_texts

    model, tok = registry.load_member(member)
    problems = arith.eval_split(per_cell)
    modes = [mode_of(t) for t in greedy_texts(model, tok, [p.prompt for p in problems], 200)]
    share = lambda ms: round(sum(m == "short" for m in ms) / max(1, len(ms)), 4)
    out = {b: share([m for p, m in zip(problems, modes) if p.n_ops in ops]) for b, ops in BANDS.items()}
    return {**out, "overall": share(modes)}
