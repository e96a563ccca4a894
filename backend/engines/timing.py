"""Measured decode speed: the per-step times the latency model (backend.analysis.latency) multiplies.

For each model and batch width w (samples of one query decoded together), real queries are timed through the
engine — prompt prefill, then one forward pass per generated token for all w rows — and wall = prefill_s + steps ×
step_s is fitted by least squares over calibration prompts, steps being the query's longest sample (parallel samples
share steps). Held-out prompts, timed interleaved with the calibration ones (same machine load), check the fit: the
table records predicted vs measured wall time per query and their median ratio (one query slowed by another process
on a shared machine moves a sum, not the median). Verifier calls are timed per width the same way (one call scoring w
traces). The table is saved as JSON under cache/latency/ (small: a few numbers per model and width).
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from backend.engines.base import SamplingParams
from backend.paths import cache_dir

WIDTHS = (1, 4, 16, 64, 256)
TABLE = "step_times.json"


def table_path(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "latency" / TABLE


def time_query(engine, prompt: str, width: int, key: str, max_new_tokens: int = 200, temperature: float = 0.8,
               repeats: int = 3) -> tuple[float, int, list[str]]:
    """(wall seconds, decode steps = longest sample's tokens, texts) of one query of ``width`` samples; the wall
    time is the median of ``repeats`` identical runs (the same seed: the same tokens), so one run slowed by another
    process on the machine does not set it."""
    sp = SamplingParams(n=width, temperature=temperature if width > 1 else 0.0, max_new_tokens=max_new_tokens)
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        (gens,) = engine.sample([prompt], sp, keys=[key])
        walls.append(time.perf_counter() - t0)
    return float(np.median(walls)), max(g.gen_tokens for g in gens), [g.text for g in gens]


def fit_steps(walls, steps) -> tuple[float, float]:
    """(prefill_s, step_s) of wall = prefill_s + steps·step_s by least squares; a negative intercept (noise) is
    refitted through the origin."""
    w, s = np.asarray(walls, dtype=float), np.asarray(steps, dtype=float)
    if len(w) < 2 or np.ptp(s) == 0:
        return 0.0, float(w.sum() / max(1.0, s.sum()))
    b, a = np.polyfit(s, w, 1)
    if a < 0 or b <= 0:
        return 0.0, float((w * s).sum() / (s * s).sum())
    return float(a), float(b)


def measure_model(engine, fit_prompts: list[str], check_prompts: list[str], widths=WIDTHS,
                  max_new_tokens: int = 200, say=print) -> tuple[dict, list[dict], dict[int, list[str]]]:
    """Per-width fit, per-query check rows (predicted vs measured) and some texts per width (for verifier timing)."""
    fits, checks, texts = {}, [], {}
    for w in widths:
        engine.sample([fit_prompts[0]], SamplingParams(n=w, temperature=0.8, max_new_tokens=8), keys=["warm-up"])
        runs = {"fit": [], "check": []}
        for i in range(max(len(fit_prompts), len(check_prompts))):  # interleaved: both see the same machine load
            for kind, prompts in (("fit", fit_prompts), ("check", check_prompts)):
                if i < len(prompts):
                    wall, steps, out = time_query(engine, prompts[i], w, f"latency/{kind}/{i}", max_new_tokens)
                    runs[kind].append((wall, steps))
                    texts.setdefault(w, out)
        prefill, step = fit_steps(*zip(*runs["fit"]))
        fits[w] = {"prefill_s": prefill, "step_s": step, "n_fit": len(runs["fit"])}
        for wall, steps in runs["check"]:
            checks.append({"width": w, "steps": steps, "measured_s": wall, "predicted_s": prefill + steps * step})
        say(f"  width {w}: prefill {prefill * 1e3:.1f} ms + {step * 1e3:.2f} ms/step")
    return fits, checks, texts


def measure_verifier(verifier, prompt_records, texts: dict[int, list[str]], repeats: int = 3) -> dict:
    """Median seconds of one verifier call scoring w traces, per width."""
    out = {}
    for w, ts in sorted(texts.items()):
        batch = (ts * w)[:w]
        prompts = [prompt_records[0]] * len(batch)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            verifier.score(prompts, batch)
            times.append(time.perf_counter() - t0)
        out[str(w)] = {"call_s": float(np.median(times))}
    return out


def measure(models: list[str], *, verifiers: list[str] = (), widths=WIDTHS, n_fit: int = 6, n_check: int = 4,
            max_new_tokens: int = 200, root: Path | None = None, say=print) -> dict:
    """Measure every model (and verifier) and merge the results into the saved table (other entries kept)."""
    import torch

    from backend.models import load_engine
    from backend.tasks import arith_prompts

    prompts = arith_prompts(1)  # one per (operators, digits) cell: lengths from the shortest to the longest
    picked = [prompts[i] for i in np.linspace(0, len(prompts) - 1, n_fit + n_check).round().astype(int)]
    fit_p, check_p = picked[0::2][:n_fit], picked[1::2][:n_check]
    path = table_path(root)
    table = json.loads(path.read_text()) if path.exists() else {"models": {}, "verifiers": {}}
    table.update({"host": platform.node(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "load": f"1-minute load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at the start"})
    texts = {}
    for name in models:
        engine = load_engine(name)
        say(f"{name} ({engine.n_params:,} params)")
        fits, checks, texts = measure_model(engine, [p.text for p in fit_p], [p.text for p in check_p], widths,
                                            max_new_tokens, say=say)
        ratios = [c["predicted_s"] / c["measured_s"] for c in checks]
        total = sum(c["predicted_s"] for c in checks) / sum(c["measured_s"] for c in checks)
        table["models"][name] = {"fingerprint": engine.fingerprint, "params": engine.n_params,
                                 "widths": {str(w): v for w, v in fits.items()}, "checks": checks,
                                 "check_ratio": float(np.median(ratios)), "check_ratio_total": total}
        say(f"  held-out queries: predicted / measured wall time, median {np.median(ratios):.3f} (quartiles "
            f"{np.quantile(ratios, 0.25):.3f}–{np.quantile(ratios, 0.75):.3f}), all together {total:.3f}")
    if verifiers:
        from backend.verifiers import get_verifier

        for v in verifiers:
            table["verifiers"][v] = {"widths": measure_verifier(get_verifier(v), check_p, texts)}
            say(f"verifier {v}: " + ", ".join(f"w={w} {x['call_s'] * 1e3:.1f} ms" for w, x in
                                              table["verifiers"][v]["widths"].items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return table
