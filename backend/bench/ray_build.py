"""The Ray build's overhead: one plan built locally and on a local Ray instance, each into its own empty store, in one
run; then the two stores compared (same run keys, same samples). Models come from the cache ($TTC_CACHE).

    python -m backend.bench.ray_build --models cot-0.1m direct-0.1m --per-cell 1 --kinds greedy pools --quick
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

COLUMNS = {  # what must agree between two builds of one plan (wall times differ)
    "samples": ["run_key", "prompt_key", "sample_idx", "text", "token_logprobs", "flops", "finish_reason"],
    "results": ["run_key", "prompt_key", "answer", "correct", "gen_tokens", "gen_flops", "verifier_flops", "n_traces"],
    "nodes": ["run_key", "prompt_key", "node_id", "parent_id", "text", "score", "kept"],
    "scores": ["run_key", "prompt_key", "sample_idx", "verifier", "score"],
}


def rows(store, table: str, keys: list[str]) -> list[tuple]:
    """A table's rows of these runs (COLUMNS[table]) as plain tuples, in one order, to compare two stores."""
    cols = COLUMNS[table]
    order = ", ".join(c for c in cols if c in ("run_key", "prompt_key", "sample_idx", "node_id", "verifier"))
    df = store.sql(f"SELECT {', '.join(cols)} FROM {table} WHERE run_key IN (SELECT unnest(?)) ORDER BY {order}",
                   [list(keys)])
    return [tuple(_plain(v) for v in row) for row in df.itertuples(index=False)]


def _plain(v):
    """A cell as a comparable value: list cells arrive as arrays, missing numbers as NaN (which equals nothing)."""
    if getattr(v, "ndim", 0):
        return tuple(v.tolist())
    return None if isinstance(v, float) and math.isnan(v) else v


def main(argv: list[str] | None = None) -> dict:
    import torch

    from backend.build import build, default_plan
    from backend.store import Store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--per-cell", type=int, default=1)
    ap.add_argument("--kinds", nargs="+", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batch-prompts", type=int, default=16)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance (one worker each)")
    ap.add_argument("--local-threads", type=int, default=2, help="torch threads of the local build")
    args = ap.parse_args(argv)
    plan = default_plan(args.models, per_cell=args.per_cell, quick=args.quick, kinds=args.kinds)
    out = {"runs": len(plan), "samples": sum(r.samples for r in plan), "load_1min_start": os.getloadavg()[0],
           "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        local, ray = Store(Path(tmp) / "local"), Store(Path(tmp) / "ray")
        torch.set_num_threads(args.local_threads)
        t0 = time.monotonic()
        a = build(plan, local, batch_prompts=args.batch_prompts, quiet=True)
        out["local_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        b = build(plan, ray, batch_prompts=args.batch_prompts, quiet=True, engine="ray",
                  ray_options={"num_cpus": args.cpus, "cpus_per_worker": 1})
        out["ray_s"] = time.monotonic() - t0
        out.update({k: b[k] for k in ("workers", "ray_start_s", "ray_run_s", "ray_stop_s")})
        same_keys = a["run_keys"] == b["run_keys"]
        same = {t: rows(local, t, a["run_keys"]) == rows(ray, t, b["run_keys"]) for t in COLUMNS}
        out["identical"] = same_keys and all(same.values())
        out["samples_compared"] = len(rows(local, "samples", a["run_keys"]))
    out["load_1min_end"] = os.getloadavg()[0]
    out["overhead_s"] = out["ray_s"] - out["local_s"]
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
