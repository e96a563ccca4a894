"""Train the learned process verifier on zoo samples auto-labelled by the exact step checker (Math-Shepherd style).

Training traces come from prompts of the *training* distribution (never the held-out split), sampled from several
zoo models so that wrong steps are common; the held-out report uses fresh samples on held-out prompts.
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import LlamaForTokenClassification

from backend.analysis.compute import training_flops
from backend.analysis.metrics import accuracy_at, auroc
from backend.engines.base import SamplingParams
from backend.models import load_engine
from backend.tasks import PromptRecord, arith, arith_record, get_task
from backend.verifiers.learned import LearnedVerifier, score_positions, verifier_dir
from backend.verifiers.rules import StepVerifier
from backend.zoo import registry

GENERATORS = ("cot-0.1m", "cot-0.1m@6M", "cot-0.8m")  # weak and strong policies: plenty of wrong steps
INIT_FROM = "cot-0.8m"  # the value head sits on a policy backbone, as PRMs are usually initialised


def contrast(prompts: list[PromptRecord], seed: int, per_prompt: int = 2, paths: str = "single"):
    """Gold traces and ``per_prompt`` one-slip corruptions of each, labelled by the step checker. Without these a
    verifier can score a trace by how hard its prompt looks rather than by checking the arithmetic. With
    ``paths="multi"`` every trace takes a path drawn uniformly over the legal ones, as multi-path policies write."""
    checker, rng, data = StepVerifier(), random.Random(f"contrast-{seed}"), []
    path_rng = rng if paths == "multi" else None
    for p in prompts:
        problem = arith.Problem(p.question, p.n_ops, p.digits)
        texts = [arith.cot_text(problem, path_rng=path_rng)] + [arith.corrupted_cot(problem, rng, paths)
                                                                 for _ in range(per_prompt)]
        for t, labels in zip(texts, checker.score([p] * len(texts), texts)):
            data.append((p, t, labels))
    return data


def collect(generators, prompts: list[PromptRecord], n: int, temperature: float, seed: int, device: str = "cpu"):
    """(prompt, trace, per-position labels) for ``n`` samples per prompt from every generator."""
    checker, data = StepVerifier(), []
    for name in generators:
        engine = load_engine(name, device=device)
        gens = engine.sample([p.text for p in prompts], SamplingParams(n=n, temperature=temperature,
                             max_new_tokens=200, seed=seed), keys=[p.key for p in prompts])
        for p, row in zip(prompts, gens):
            texts = [g.text for g in row]
            for t, labels in zip(texts, checker.score([p] * len(texts), texts)):
                data.append((p, t, labels))
    return data


def _batches(tok, data, batch_size: int, rng: random.Random):
    task = get_task("arith")
    order = sorted(range(len(data)), key=lambda i: len(data[i][0].text) + len(data[i][1]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for idx in chunks:
        seqs = [data[i][0].text + data[i][1] for i in idx]
        enc = tok(seqs, return_tensors="pt", padding=True, add_special_tokens=False)
        target = torch.full(enc["input_ids"].shape, -1.0)
        for r, i in enumerate(idx):
            p, t, labels = data[i]
            pos = score_positions(len(p.text), t, task.step_sep, task.think_end)
            if len(pos) == len(labels):  # always true for arith; a guard against a silent mislabel
                target[r, pos] = torch.tensor(labels)
        yield enc, target


def evaluate(verifier: LearnedVerifier, data) -> dict:
    """Held-out step and outcome AUROC and accuracy at 0.5."""
    scores = verifier.score([d[0] for d in data], [d[1] for d in data])
    step_y, step_s, out_y, out_s = [], [], [], []
    for (p, t, labels), s in zip(data, scores):
        if get_task(p.task).think_end in t:
            out_y.append(labels[-1] > 0.5)
            out_s.append(s[-1])
            labels, s = labels[:-1], s[:-1]
        step_y += [x > 0.5 for x in labels]
        step_s += s
    def auc(y, s):  # undefined when one class is missing (a micro model that is never right)
        return round(auroc(y, s), 4) if 0 < sum(y) < len(y) else None

    return {"step_auroc": auc(step_y, step_s), "step_accuracy": round(accuracy_at(step_y, step_s), 4),
            "outcome_auroc": auc(out_y, out_s), "outcome_accuracy": round(accuracy_at(out_y, out_s), 4),
            "step_positive_rate": round(sum(step_y) / len(step_y), 4),
            "outcome_positive_rate": round(sum(out_y) / len(out_y), 4), "n_traces": len(data),
            "n_steps": len(step_y)}


def train(out: Path | None = None, generators=GENERATORS, init_from: str = INIT_FROM, n_prompts: int = 12000,
          n_per_prompt: int = 1, epochs: int = 3, lr: float = 5e-4, batch_size: int = 64, seed: int = 0,
          heldout_per_cell: int = 16, quiet: bool = False, paths: str = "single", device: str = "cpu") -> dict:
    """Fine-tune a value head on ``init_from``'s backbone; ``device``: "cpu" or "cuda" (same data, same seed)."""
    out = Path(out or verifier_dir())
    t0 = time.time()
    stream = arith.train_stream(f"verifier-{seed}")
    prompts = [PromptRecord(**{**arith_record(next(stream)).__dict__, "split": "verifier-train"}) for _ in range(n_prompts)]
    data = collect(generators, prompts, n_per_prompt, 1.0, seed, device) + contrast(prompts, seed, paths=paths)
    heldout = collect(generators, [arith_record(p) for p in arith.eval_split(heldout_per_cell)], 1, 1.0, seed + 1,
                      device)
    model = LlamaForTokenClassification.from_pretrained(registry.member_dir(init_from), num_labels=1,
                                                        trust_remote_code=False, use_safetensors=True,
                                                        dtype=torch.float32).to(device)
    tok = registry.load_model(registry.member_dir(init_from))[1]
    tok.padding_side = "right"
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    steps_total = epochs * ((len(data) + batch_size - 1) // batch_size)
    bar = tqdm(total=steps_total, desc="learned verifier", disable=quiet, file=sys.stderr,
               mininterval=1 if sys.stderr.isatty() else 30)
    tokens, step, ema = 0, 0, None
    model.train()
    for _ in range(epochs):
        for enc, target in _batches(tok, data, batch_size, rng):
            for g in opt.param_groups:  # linear decay to 10%
                g["lr"] = lr * (1 - 0.9 * step / steps_total)
            enc, target = {k: v.to(device) for k, v in enc.items()}, target.to(device)
            logit = model(**enc).logits[..., 0]
            mask = target >= 0
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit[mask], target[mask])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            tokens += int(enc["attention_mask"].sum())
            step += 1
            ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.4f}", refresh=False)
    bar.close()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out)
    tok.save_pretrained(out)
    n_params = registry.count_params(out)
    card = {"name": out.name, "kind": "process verifier (value head per token)", "params": n_params,
            "init_from": init_from, "generators": list(generators), "train_prompts": n_prompts,
            "train_traces": len(data), "samples_per_prompt": n_per_prompt, "temperature": 1.0, "epochs": epochs,
            "training_tokens": tokens, "training_flops": training_flops(n_params, tokens), "lr": lr, "seed": seed,
            "labels": "exact step checker (per step, prefix-aware) + outcome at the end of a finished trace",
            "contrast": f"per prompt: the gold trace and 2 one-slip corruptions of it (hard negatives), {paths} path",
            "train_split": "fresh training-distribution prompts (held-out expressions excluded)",
            "wall_time_s": round(time.time() - t0, 1), "device": device, "flops_per_scored_token": 2 * n_params,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "card.json").write_text(json.dumps(card, indent=2))
    card["heldout"] = evaluate(LearnedVerifier(out, device=device), heldout)
    card["heldout"]["prompts"] = f"held-out split, {heldout_per_cell} per cell, 1 sample per generator"
    (out / "card.json").write_text(json.dumps(card, indent=2))
    if not quiet:
        print(f"learned verifier: {n_params:,} params, held-out {card['heldout']}", file=sys.stderr)
    return card
