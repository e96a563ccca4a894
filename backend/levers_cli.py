"""Commands of the other levers: measure-latency, train-router, train-dpo, report-levers (registered by backend.cli).

Each long piece is resumable (state under runs/) and has a ``--quick`` size for tests."""
from __future__ import annotations

import sys


def _threads(args) -> None:
    import torch

    torch.set_num_threads(args.threads or 1)


def one_per_shape(cards: list[dict]) -> list[str]:
    """One member per forward-pass shape (params, layers, width), a CoT one where there is one: its long traces fit
    the per-step time well, and members of the same shape (direct, checkpoints, fine-tunes) share its times."""
    pick: dict[tuple, dict] = {}
    for c in sorted(cards, key=lambda c: (c.get("fmt") != "cot", bool(c.get("checkpoint_of")), c["name"])):
        pick.setdefault((c.get("params"), c.get("layers"), c.get("width")), c)
    return [c["name"] for c in sorted(pick.values(), key=lambda c: c["params"])]


def _measure_latency(args) -> int:
    from backend.engines.timing import WIDTHS, measure, table_path
    from backend.zoo.registry import list_cards

    _threads(args)
    models = args.models or one_per_shape(list_cards())
    widths = tuple(args.widths or ((1, 4) if args.quick else WIDTHS))
    n_fit, n_check = (3, 2) if args.quick else (args.n_fit, args.n_check)
    say = lambda m: print(m, file=sys.stderr)
    measure(models, verifiers=args.verifiers or [], widths=widths, n_fit=n_fit, n_check=n_check, say=say)
    print(table_path())
    return 0


def _train_router(args) -> int:
    from backend.zoo.router import RouterConfig, train_router

    _threads(args)
    kw = dict(base=args.base, reference=args.reference, name=args.name or "", lr=args.lr, epochs=args.epochs,
              n_prompts=400 if args.quick else args.n_prompts, batch_size=32 if args.quick else args.batch_size)
    card = train_router(RouterConfig(**kw), eval_per_cell=2 if args.quick else None)
    ft = card["fine_tune"]
    print(f"{card['name']}: {ft['tokens']:,} fine-tune tokens, {ft['flops']:.3g} FLOPs (training {ft['flops_training']:.3g}"
          f" + labels {ft['flops_labels']:.3g}), labelled short {ft['labelled_short']:.1%}; held-out greedy "
          f"{card.get('heldout_greedy', {}).get('overall')}, short mode chosen {card.get('heldout_short_share')}")
    return 0


def _train_dpo(args) -> int:
    from backend.zoo.dpo import DPOConfig, train_dpo

    _threads(args)
    kw = dict(base=args.base, teacher=args.teacher, name=args.name or "", n_samples=args.n_samples,
              beta=args.beta, lr=args.lr, epochs=args.epochs, batch_pairs=args.batch_pairs,
              n_prompts=64 if args.quick else args.n_prompts)
    card = train_dpo(DPOConfig(**kw), eval_per_cell=2 if args.quick else None)
    ft = card["fine_tune"]
    print(f"{card['name']}: {ft['pairs']} pairs from {ft['teacher_prompts']} teacher prompts; fine-tune FLOPs "
          f"{ft['flops']:.3g} (policy {ft['flops_policy']:.3g}, reference {ft['flops_reference']:.3g}, teacher "
          f"sampling {ft['flops_teacher_sampling']:.3g}); loss {ft['final_loss']}, implicit reward accuracy "
          f"{ft['implicit_reward_accuracy']}; held-out greedy {card.get('heldout_greedy', {}).get('overall')}")
    return 0


def _report_levers(args) -> int:
    import pandas as pd

    from backend.explore import levers

    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)
    print(levers.report_text())
    return 0


def add_commands(sub) -> None:
    """Register the levers' subcommands on the main parser's subparsers."""
    ml = sub.add_parser("measure-latency", help="time decode steps per model and batch width into "
                        "cache/latency/step_times.json (the latency model's table)")
    ml.add_argument("--models", nargs="+", metavar="NAME", help="zoo members (default: one per shape, CoT where "
                    "possible; same-shape members share its times)")
    ml.add_argument("--verifiers", nargs="+", metavar="NAME", help="also time these verifiers' calls (e.g. learned "
                    "steps)")
    ml.add_argument("--widths", nargs="+", type=int, help="batch widths (default 1 4 16 64 256)")
    ml.add_argument("--n-fit", type=int, default=6, help="calibration queries per width")
    ml.add_argument("--n-check", type=int, default=4, help="held-out queries per width (predicted vs measured)")
    ml.add_argument("--quick", action="store_true", help="widths 1 and 4, 3 + 2 queries (for tests)")
    ml.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1, as the zoo's runs)")
    ml.set_defaults(func=_measure_latency)
    tr = sub.add_parser("train-router", help="fine-tune a CoT member into a learned think/no-think router "
                        "(supervised mode labels; resumable)")
    tr.add_argument("--base", required=True, help="the CoT member to start from")
    tr.add_argument("--reference", required=True, help="the direct member whose right greedy answers label 'short'")
    tr.add_argument("--name", help="the new member's name (default <base>-router)")
    tr.add_argument("--n-prompts", type=int, default=40_000, help="training prompts (a think and a short example "
                    "each)")
    tr.add_argument("--epochs", type=int, default=1)
    tr.add_argument("--lr", type=float, default=3e-4)
    tr.add_argument("--batch-size", type=int, default=128)
    tr.add_argument("--quick", action="store_true", help="400 prompts (for tests)")
    tr.add_argument("--threads", type=int, default=None)
    tr.set_defaults(func=_train_router)
    td = sub.add_parser("train-dpo", help="fine-tune a CoT member with DPO on a teacher's correct vs wrong samples "
                        "(resumable)")
    td.add_argument("--base", required=True, help="the CoT member to fine-tune (the smallest)")
    td.add_argument("--teacher", required=True, help="the member whose samples make the pairs (the largest CPU one)")
    td.add_argument("--name", help="the new member's name (default <base>-dpo)")
    td.add_argument("--n-prompts", type=int, default=4000, help="training prompts the teacher samples")
    td.add_argument("--n-samples", type=int, default=8, help="teacher samples per prompt")
    td.add_argument("--beta", type=float, default=0.1)
    td.add_argument("--lr", type=float, default=1e-4)
    td.add_argument("--epochs", type=int, default=2)
    td.add_argument("--batch-pairs", type=int, default=32)
    td.add_argument("--quick", action="store_true", help="64 teacher prompts (for tests)")
    td.add_argument("--threads", type=int, default=None)
    td.set_defaults(func=_train_dpo)
    rl = sub.add_parser("report-levers", help="the other levers against test-time compute on the current cache")
    rl.set_defaults(func=_report_levers)
