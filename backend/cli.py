"""Command line: python -m backend <train-zoo | build-cache | run | bench | report | import>."""
from __future__ import annotations

import argparse
import sys


def _train_zoo(args) -> int:
    import torch

    from backend.zoo.configs import QUICK, ZOO, find_spec
    from backend.zoo.train import pick_device, train_member

    device = pick_device(args.device)
    specs = QUICK if args.quick else ZOO
    if args.only:
        specs = tuple(find_spec(n, specs) for n in args.only)
    else:
        specs = tuple(s for s in specs if not s.gpu_only or device.startswith("cuda"))
    for spec in specs:
        train_member(spec, device=device, threads=args.threads, evaluate=not args.no_eval)
    return 0


def _build_cache(args) -> int:
    import json

    import torch

    from backend.build import build, default_plan

    if args.threads:
        torch.set_num_threads(args.threads)
    plan = default_plan(args.models, per_cell=args.per_cell, quick=args.quick)
    summary = build(plan, batch_prompts=args.batch_prompts)
    print(json.dumps(summary, indent=2))
    return 0


BENCHES = ("generation", "analysis", "app")


def _bench(args) -> int:
    import importlib

    return importlib.import_module(f"backend.bench.{args.which}").main(args.rest) or 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    tz = sub.add_parser("train-zoo", help="train (or resume) the model zoo into cache/zoo")
    tz.add_argument("--quick", action="store_true", help="train the micro zoo (under a minute; for tests)")
    tz.add_argument("--only", nargs="+", metavar="NAME", help="train only these members")
    tz.add_argument("--device", default="auto", help="auto | cpu | cuda")
    tz.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    tz.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    tz.set_defaults(func=_train_zoo)
    bc = sub.add_parser("build-cache", help="generate and store the sampling pools and strategy runs (resumable)")
    bc.add_argument("--models", nargs="+", metavar="NAME", help="only these zoo members (default: all)")
    bc.add_argument("--per-cell", type=int, default=16, help="held-out prompts per (operators, digits) cell")
    bc.add_argument("--quick", action="store_true", help="tiny pools (for tests)")
    bc.add_argument("--batch-prompts", type=int, default=16, help="prompts per committed batch")
    bc.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    bc.set_defaults(func=_build_cache)
    be = sub.add_parser("bench", help="benchmarks that print and save their figures")
    be.add_argument("which", choices=BENCHES)
    be.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark")
    be.set_defaults(func=_bench)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
