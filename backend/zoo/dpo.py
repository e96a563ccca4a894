"""DPO from a teacher (Rafailov et al. 2023): fine-tune a small CoT member on preference pairs made by a larger one.

A pair is the teacher's correct and incorrect sample for the same training prompt (prompts from the training stream,
never the held-out split; one pair per prompt with at least one of each among ``n_samples`` teacher samples). The
loss is the DPO loss with the base as the frozen reference, over the summed log-probs of the completion tokens.
The fine-tune is charged everything it spent: the teacher's sampling (compute.sample_flops per sample), the
reference's forward passes (sample_flops per sequence) and the policy's training (compute.training_flops, 6·N·D).
The teacher's own pretraining is not charged (it exists already); its card says how much it was.

Resumable: the pairs are saved once made (per chunk of prompts), the policy and optimiser after every epoch.
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from backend.analysis.compute import model_shape, sample_flops, training_flops
from backend.engines.base import SamplingParams
from backend.tasks import arith
from backend.zoo import finetune, registry

CHUNK_PROMPTS = 64  # teacher prompts sampled (and saved) at a time


@dataclass(frozen=True)
class DPOConfig:
    base: str  # the member to fine-tune (a CoT model)
    teacher: str  # the member whose samples make the pairs (the largest CPU member)
    name: str = ""  # the new member's name (default "<base>-dpo")
    n_prompts: int = 4000  # training prompts the teacher samples
    n_samples: int = 8  # teacher samples per prompt
    temperature: float = 0.8  # teacher sampling temperature
    beta: float = 0.1  # DPO's β: how far from the reference the policy may move
    lr: float = 1e-4  # AdamW learning rate (constant after 20 warm-up steps)
    epochs: int = 2  # passes over the pairs
    batch_pairs: int = 32  # pairs per step
    seed: int = 0  # prompt stream, teacher sampling and pair order

    def __post_init__(self):
        for field in ("n_prompts", "n_samples", "epochs", "batch_pairs"):
            if getattr(self, field) < 1:
                raise ValueError(f"DPO {field} must be at least 1, got {getattr(self, field)}")
        if self.n_samples < 2:
            raise ValueError("DPO needs at least 2 teacher samples per prompt to find a correct and a wrong one")
        if not self.beta > 0 or not self.lr > 0 or not 0 < self.temperature <= 10:
            raise ValueError("DPO beta and lr must be positive and temperature in (0, 10]")

    @property
    def member(self) -> str:
        return self.name or f"{self.base}-dpo"


def dpo_loss(pi_chosen: torch.Tensor, pi_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair DPO loss −log σ(β·[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))])."""
    return -F.logsigmoid(beta * ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)))


def teacher_pairs(cfg: DPOConfig, state: Path, quiet: bool = False) -> dict:
    """The preference pairs (prompt, chosen, rejected) and what sampling them cost; resumes from ``state``."""
    from backend.models import load_engine

    path = state / "pairs.json"
    saved = {"pairs": [], "prompts_done": 0, "teacher_flops": 0.0, "teacher_tokens": 0, "wall_s": 0.0}
    if path.exists():
        import json

        saved = json.loads(path.read_text())
    stream = arith.train_stream(f"dpo-{cfg.seed}")
    problems = [next(stream) for _ in range(cfg.n_prompts)]
    engine = load_engine(cfg.teacher)
    shape = model_shape(engine)
    sp = SamplingParams(n=cfg.n_samples, temperature=cfg.temperature, max_new_tokens=200, seed=cfg.seed)
    while saved["prompts_done"] < cfg.n_prompts:
        t0 = time.monotonic()
        chunk = problems[saved["prompts_done"] : saved["prompts_done"] + CHUNK_PROMPTS]
        gens = engine.sample([p.prompt for p in chunk], sp, keys=[p.expr for p in chunk])
        for p, row in zip(chunk, gens):
            ok = [arith.check_answer(p.expr, arith.parse(g.text).answer) for g in row]
            saved["teacher_flops"] += float(sum(sample_flops(shape, g.prompt_tokens, g.gen_tokens) for g in row))
            saved["teacher_tokens"] += sum(g.prompt_tokens + g.gen_tokens for g in row)
            if any(ok) and not all(ok):  # the first correct and the first wrong sample, in sample order
                saved["pairs"].append([p.prompt, row[ok.index(True)].text, row[ok.index(False)].text])
        saved["prompts_done"] += len(chunk)
        saved["wall_s"] += time.monotonic() - t0
        finetune.save_json(path, saved)
        if not quiet:
            print(f"[dpo pairs] {saved['prompts_done']}/{cfg.n_prompts} prompts, {len(saved['pairs'])} pairs",
                  file=sys.stderr)
    return saved


def _batches(pairs: list, size: int, seed: int, epoch: int) -> list[list[int]]:
    order = list(range(len(pairs)))
    random.Random(f"{seed}-{epoch}").shuffle(order)
    return [order[i : i + size] for i in range(0, len(order), size)]


def _pack_pairs(tok, pairs: list, idx: list[int]) -> tuple[dict, dict]:
    return (finetune.pack(tok, [(pairs[i][0], pairs[i][1]) for i in idx]),
            finetune.pack(tok, [(pairs[i][0], pairs[i][2]) for i in idx]))


def train_dpo(cfg: DPOConfig, *, state_dir: Path | None = None, quiet: bool = False,
              eval_per_cell: int | None = None) -> dict:
    """Make the pairs, fine-tune ``cfg.base`` with DPO, save it as ``cfg.member``; returns its card."""
    base_card = registry.read_card(cfg.base)
    if base_card.get("fmt") != "cot":
        raise ValueError(f"DPO fine-tunes a CoT member; {cfg.base} is {base_card.get('fmt')!r}")
    state = finetune.state_path("dpo", cfg.member, state_dir)
    data = teacher_pairs(cfg, state, quiet)
    pairs = data["pairs"]
    if not pairs:
        raise ValueError(f"the teacher {cfg.teacher} gave no prompt with both a correct and a wrong sample in "
                         f"{cfg.n_prompts} prompts; raise --n-prompts or --n-samples")
    policy, tok = registry.load_member(cfg.base)
    reference, _ = registry.load_member(cfg.base)
    reference.requires_grad_(False)
    shape = model_shape({"params": base_card["params"], "layers": base_card["layers"], "width": base_card["width"]})
    # the reference's log-probs, once per pair (its cost: one forward pass of each sequence)
    ref_w, ref_l, ref_flops, seq_tokens = [], [], 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(pairs), 256):
            w, l = _pack_pairs(tok, pairs, list(range(i, min(i + 256, len(pairs)))))
            ref_w.append(finetune.sequence_logprobs(reference, w))
            ref_l.append(finetune.sequence_logprobs(reference, l))
            for b in (w, l):
                n = b["attention_mask"].sum(-1)
                ref_flops += float(sample_flops(shape, (n - b["n_completion"]).numpy(), b["n_completion"].numpy()).sum())
                seq_tokens += int(n.sum())
    ref_w, ref_l = torch.cat(ref_w), torch.cat(ref_l)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=0.0)
    ckpt = state / "state.pt"
    st = finetune.resume(ckpt, policy, opt, {"epoch": 0, "step": 0, "tokens": 0, "wall_s": 0.0, "loss": float("nan"),
                                             "reward_acc": float("nan")})
    policy.train()
    while st["epoch"] < cfg.epochs:
        t0, losses, wins = time.monotonic(), [], []
        for idx in _batches(pairs, cfg.batch_pairs, cfg.seed, st["epoch"]):
            w, l = _pack_pairs(tok, pairs, idx)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (st["step"] + 1) / 20)
            pi_w, pi_l = finetune.sequence_logprobs(policy, w), finetune.sequence_logprobs(policy, l)
            sel = torch.tensor(idx)
            loss = dpo_loss(pi_w, pi_l, ref_w[sel], ref_l[sel], cfg.beta)
            opt.zero_grad(set_to_none=True)
            loss.mean().backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            st["step"] += 1
            st["tokens"] += int(w["attention_mask"].sum() + l["attention_mask"].sum())
            losses.append(float(loss.mean().detach()))
            wins.append(float(((pi_w - ref_w[sel]) > (pi_l - ref_l[sel])).float().mean()))
        st["epoch"] += 1
        st["wall_s"] += time.monotonic() - t0
        st["loss"], st["reward_acc"] = sum(losses) / len(losses), sum(wins) / len(wins)
        finetune.save_state(ckpt, {"model": policy.state_dict(), "opt": opt.state_dict(), "stats": st})
        if not quiet:
            print(f"[dpo] epoch {st['epoch']}/{cfg.epochs}: loss {st['loss']:.4f}, implicit reward accuracy "
                  f"{st['reward_acc']:.3f}", file=sys.stderr)
    policy.eval()
    policy_flops = training_flops(base_card["params"], st["tokens"])
    teacher_card = registry.read_card(cfg.teacher)
    fine_tune = {
        "method": "dpo", "config": asdict(cfg), "teacher": cfg.teacher, "pairs": len(pairs),
        "teacher_prompts": data["prompts_done"], "tokens": st["tokens"],
        "flops": policy_flops + ref_flops + data["teacher_flops"], "flops_policy": policy_flops,
        "flops_reference": ref_flops, "flops_teacher_sampling": data["teacher_flops"],
        "teacher_training_flops_not_charged": teacher_card.get("training_flops"),
        "wall_s": st["wall_s"] + data["wall_s"], "final_loss": round(st["loss"], 4),
        "implicit_reward_accuracy": round(st["reward_acc"], 4), "pair_tokens": seq_tokens,
        "loss": "DPO, reference = the base (frozen), summed log-probs of completion tokens",
    }
    return finetune.save_finetuned(policy, tok, base_card, cfg.member, fine_tune, "cot", eval_per_cell=eval_per_cell)
