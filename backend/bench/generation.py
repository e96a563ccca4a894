"""Generation benchmark: the batched engine vs a naive loop of one ``generate`` call per sample, and the FLOP/s
reached by generation as a fraction of a large matmul's FLOP/s measured in the same run.

    python -m backend bench generation [--models cot-0.1m cot-0.8m cot-3.2m] [--n 64]
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from backend.analysis.compute import flops_per_sequence
from backend.engines.base import SamplingParams
from backend.models import load_engine
from backend.paths import ROOT
from backend.tasks import arith_prompts
from backend.zoo import registry


def matmul_flops_per_s(size: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def naive(engine, prompts: list[str], n: int, max_new_tokens: int, temperature: float) -> tuple[int, float, float]:
    """One ``model.generate`` call per sample: (generated tokens, FLOPs, seconds)."""
    tok, model = engine.tok, engine.model
    tokens, flops, t0 = 0, 0.0, time.perf_counter()
    for p in prompts:
        ids = torch.tensor([engine.encode(p)])
        for _ in range(n):
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=temperature,
                                 top_k=0, top_p=1.0, max_new_tokens=max_new_tokens, eos_token_id=tok.eos_token_id,
                                 pad_token_id=tok.pad_token_id)
            gen = out.shape[1] - ids.shape[1]
            tokens += gen
            flops += flops_per_sequence(engine.n_params, ids.shape[1], gen)
    return tokens, flops, time.perf_counter() - t0


def ours(engine, prompts: list[str], n: int, max_new_tokens: int, temperature: float) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    gens = engine.sample(prompts, SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens))
    tokens = sum(g.gen_tokens for row in gens for g in row)
    flops = sum(flops_per_sequence(engine.n_params, g.prompt_tokens, g.gen_tokens) for row in gens for g in row)
    return tokens, flops, time.perf_counter() - t0


def run(models: list[str], n: int = 64, naive_prompts: int = 2, batch_prompts: int = 32) -> dict:
    peak = matmul_flops_per_s()
    print(f"torch threads {torch.get_num_threads()}; fp32 matmul 2048^3: {peak / 1e9:.1f} GFLOP/s")
    prompts = [p.text for p in arith_prompts(16)]
    hard = [p for p in prompts if p.count("+") + p.count("-") + p.count("*") >= 3]
    rows = []
    for name in models:
        engine = load_engine(name)
        same = hard[:naive_prompts]
        nt, nf, ns = naive(engine, same, n, 200, 0.8)
        ot, of, os_ = ours(engine, same, n, 200, 0.8)
        bt, bf, bs = ours(engine, hard[:batch_prompts], n, 200, 0.8)
        row = {"model": name, "params": engine.n_params, "n": n,
               "naive_tok_s": nt / ns, "engine_tok_s": ot / os_, "speedup_same_prompts": (ot / os_) / (nt / ns),
               "engine_batch_tok_s": bt / bs, "speedup_batched": (bt / bs) / (nt / ns),
               "gen_flop_s": bf / bs, "fraction_of_matmul": bf / bs / peak}
        rows.append(row)
        print(f"{name:>10} {engine.n_params / 1e6:5.2f}M  naive {row['naive_tok_s']:8.0f} tok/s  engine "
              f"{row['engine_tok_s']:8.0f} ({row['speedup_same_prompts']:.1f}x, {naive_prompts} prompts x {n})  "
              f"batched {row['engine_batch_tok_s']:8.0f} ({row['speedup_batched']:.1f}x, {batch_prompts} x {n})  "
              f"{row['gen_flop_s'] / 1e9:.2f} GFLOP/s = {100 * row['fraction_of_matmul']:.1f}% of matmul")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak_rss:.0f} MiB")
    out = {"matmul_flop_s": peak, "threads": torch.get_num_threads(), "rows": rows, "peak_rss_mib": peak_rss,
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    dest = ROOT / "runs" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "generation.json").write_text(json.dumps(out, indent=2))
    print(f"saved {dest / 'generation.json'}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend bench generation")
    default = [c["name"] for c in registry.list_cards() if c["fmt"] == "cot" and not c.get("checkpoint_of")
               and not c["name"].endswith("-nowait")]
    ap.add_argument("--models", nargs="+", default=default)
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args(argv)
    run(args.models, args.n)
    return 0
