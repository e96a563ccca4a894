"""Benchmark the analysis: python -m backend.bench.analysis.

Runs the estimator benchmark (backend.bench.analysis_estimators: pass@k / best-of-k / majority on a 1000 × 256 pool),
then times a full winner map — 4 models × 5 strategies × 5 oracle difficulty bins × 10 FLOPs budgets, with bootstrap
CIs and paired margins — on synthetic pools. Prints the numbers and saves them to runs/bench/analysis.json.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from backend.analysis import compute, difficulty
from backend.analysis import frontier as F
from backend.analysis.data import Pool
from backend.bench import analysis_estimators
from backend.paths import runs_dir

MODELS = {"cot-0.1m": 100_000, "cot-0.8m": 800_000, "cot-3.2m": 3_200_000, "cot-11m": 11_000_000}
SKILL = {"cot-0.1m": 0.0, "cot-0.8m": 0.15, "cot-3.2m": 0.3, "cot-11m": 0.45}  # extra share of samples made right
VERIFIER_PARAMS = 800_000  # a learned verifier the size of the 0.8M model
TARGET_S = 2.0


def synthetic_model(name: str, prompts: int, samples: int, seed: int) -> list[F.Points]:
    """A model's budget points: a pool (maj@k, best-of-k, weighted maj@k by a verifier), greedy and beam runs."""
    answers, golds, scores, correct = analysis_estimators.synthetic_pool(prompts, samples, seed)  # shared difficulty
    rng = np.random.default_rng([seed, list(MODELS).index(name)])
    fix = (rng.random(correct.shape) < SKILL[name]) & ~correct  # a larger model: more samples right
    correct = correct | fix
    answers = [[0 if f else a for a, f in zip(row, frow)] for row, frow in zip(answers, fix)]
    keys = np.array([f"p{i}" for i in range(prompts)], dtype=object)
    gen = rng.integers(20, 60, size=(prompts, samples)).astype(float)
    flops = np.vectorize(lambda g: compute.flops_per_sequence(MODELS[name], 12, int(g)))(gen)
    vflops = np.vectorize(lambda t: compute.verifier_flops(int(t), VERIFIER_PARAMS))(gen + 12)  # reads prompt + trace
    text = [[None if a is None else str(a) for a in row] for row in answers]
    pool = Pool(f"{name}-pool", name, 0.8, keys, [str(g) for g in golds], text, correct, np.full(correct.shape, 12.0),
                gen, flops, np.zeros(correct.shape), scores={"learned": scores}, score_tokens={"learned": gen + 12},
                score_flops={"learned": vflops})
    ks = [2 ** i for i in range(int(np.log2(samples)) + 1)]
    parts = [F.pool_points(pool, ks=ks, weighted=True, weighted_draws=64, seed=seed)]
    greedy = pd.DataFrame({"prompt_key": keys, "correct": correct[:, 0], "gen_tokens": gen[:, 0],
                           "gen_flops": flops[:, 0], "verifier_flops": 0.0, "n_traces": 1})
    parts.append(F.result_points(greedy, model=name, strategy="greedy"))
    for budget in (4, 16):  # beam search stand-in: a budget of traces, right when over 30% of them are
        beam = greedy.assign(correct=correct[:, :budget].mean(axis=1) > 0.3, gen_tokens=gen[:, :budget].sum(axis=1),
                             gen_flops=flops[:, :budget].sum(axis=1), verifier_flops=vflops[:, :budget].sum(axis=1),
                             n_traces=budget)
        parts.append(F.result_points(beam, model=name, strategy="beam", k=budget, temperature=0.8,
                                     verifier="learned", params={"width": 4}))
    return parts


def run(prompts: int = 1000, samples: int = 64, seed: int = 0, estimators: bool = True) -> dict:
    """Time the estimator benchmark and a full winner map; print both and save them as JSON."""
    out: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if estimators:
        out["estimators"] = analysis_estimators.run()
    t = time.perf_counter()
    parts = [p for m in MODELS for p in synthetic_model(m, prompts, samples, seed)]
    pts = F.concat_points(parts)
    t_points = time.perf_counter() - t
    small = pts.rows((pts.meta["model"] == "cot-0.1m") & (pts.meta["strategy"] == "pass@k") & (pts.meta["k"] == 1))
    bins = difficulty.quantile_bins(small.acc[0], prompt_keys=pts.prompt_keys)
    budgets = F.budget_grid(pts.deployable(), 10)
    t = time.perf_counter()
    wm = F.winner_map(pts, bins, budgets)
    t_map = time.perf_counter() - t
    strategies = sorted(set(pts.meta.loc[pts.meta["deployable"], "strategy"]))
    print(f"\nwinner map: {len(MODELS)} models x {len(strategies)} strategies ({', '.join(strategies)}) x "
          f"{bins.nunique()} bins x {len(budgets)} budgets, {prompts} prompts, pools of {samples}, "
          f"{len(pts.meta)} budget points")
    print(wm.pivot(index="bin", columns="budget", values="model").rename(columns=lambda b: f"{b:.2g}").to_string())
    print(f"budget points built in {t_points:.2f}s (estimators incl. weighted maj@k, 64 draws)")
    print(f"winner map {t_map:.3f}s (target < {TARGET_S:.0f} s)")
    out.update({"winner_map_s": t_map, "points_s": t_points, "models": len(MODELS), "strategies": strategies,
                "bins": int(bins.nunique()), "budgets": len(budgets), "prompts": prompts, "samples": samples,
                "points": len(pts.meta), "target_s": TARGET_S})
    path = runs_dir() / "bench" / "analysis.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"saved {path}")
    return out


def main(argv: list[str] | None = None) -> int:
    run()
    return 0


if __name__ == "__main__":
    main()
