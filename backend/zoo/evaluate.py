"""Held-out greedy accuracy of a zoo model per (operators, digits) cell and per difficulty band."""
from __future__ import annotations

from collections import defaultdict

from backend.tasks import arith

BANDS = {"easy": (1, 2), "medium": (3, 4), "hard": (5, 6)}  # operator counts per band


def max_new_tokens_for(fmt: str) -> int:
    """Room for the longest gold trace plus revisions; generation stops at EOS long before on most prompts."""
    return 200 if fmt == "cot" else 24


def greedy_texts(model, tok, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions through the batched engine (identical to ``generate`` greedy, several times faster)."""
    from backend.engines.base import SamplingParams
    from backend.engines.hf import HFEngine

    engine = HFEngine(model, tok, "eval")
    gens = engine.sample(prompts, SamplingParams(temperature=0, max_new_tokens=max_new_tokens))
    return [g[0].text for g in gens]


def heldout_accuracy(model, tok, fmt: str, per_cell: int = arith.EVAL_PER_CELL) -> dict:
    """Greedy accuracy on the held-out split: per cell ``"ops,digits"``, per band, and overall."""
    problems = arith.eval_split(per_cell)
    texts = greedy_texts(model, tok, [p.prompt for p in problems], max_new_tokens_for(fmt))
    by_cell, by_band = defaultdict(list), defaultdict(list)
    for p, t in zip(problems, texts):
        ok = arith.check_answer(p.expr, arith.parse(t).answer)
        by_cell[f"{p.n_ops},{p.digits}"].append(ok)
        band = next(b for b, ops in BANDS.items() if p.n_ops in ops)
        by_band[band].append(ok)
    mean = lambda xs: round(sum(xs) / len(xs), 4)
    return {
        "per_cell": {k: mean(v) for k, v in sorted(by_cell.items())},
        "per_band": {b: mean(by_band[b]) for b in BANDS},
        "overall": mean([x for v in by_cell.values() for x in v]),
        "n_per_cell": per_cell,
    }
