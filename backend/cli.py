"""Command line: python -m backend <train-zoo | register-model | build-cache | import | bench>."""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path


def _train_zoo(args) -> int:

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
    if args.model:
        return _build_byo(args)
    byo = [f for f in ("task", "data", "limit", "shots", "shots_from") if getattr(args, f) is not None]
    if byo:
        raise ValueError(f"--{byo[0].replace('_', '-')} needs --model (without it, build-cache builds the zoo runs)")
    from backend.explore import store as shared_store

    plan = default_plan(args.models, per_cell=args.per_cell, quick=args.quick, kinds=args.kinds,
                        verifiers=args.verifiers)
    store = shared_store()  # the process's one store, also read by the derived data
    summary = build(plan, store, batch_prompts=args.batch_prompts, progress_file=args.progress_file,
                    engine=args.engine, ray_options=_ray_options(args))
    if args.derive:
        from backend.explore import derived

        summary["derived"] = derived.precompute(store)  # the app reads these on first load
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _ray_options(args) -> dict | None:
    """--ray-address / --workers / --threads (CPUs per worker) for build-cache --engine ray."""
    if args.engine != "ray":
        if args.ray_address or args.workers:
            raise ValueError("--ray-address and --workers need --engine ray")
        return None
    return {"address": args.ray_address, "workers": args.workers, "cpus_per_worker": args.threads or 1}


def _build_byo(args) -> int:
    """build-cache --model: greedy and a pool of --n samples for one local model on a GSM8K-style file."""
    from backend import models
    from backend.build import build, byo_plan
    from backend.explore import store as shared_store
    from backend.tasks import arith_prompts, get_task, gsm8k_prompts

    if args.models or args.quick:
        raise ValueError("--model (bring your own) and --models/--quick (the zoo) do not mix")
    if args.task is not None:
        get_task(args.task)
    name = models.resolve_model(args.model, args.task)
    task = args.task or models.model_task(name)
    if task == "gsm8k":
        if not args.data:
            raise ValueError("--task gsm8k needs --data FILE.jsonl (lines of question, answer ending '#### N')")
        prompts = gsm8k_prompts(args.data, args.limit, args.shots or 0, args.shots_from)
        fmt = f"{args.shots}-shot" if args.shots else ""  # the default zero-shot format leaves run keys alone
        fmt += f" from {Path(args.shots_from).name}" if args.shots and args.shots_from else ""
    else:
        prompts, fmt = arith_prompts(args.per_cell)[: args.limit], ""
    plan = byo_plan(name, prompts, args.n, args.temperature, args.max_new_tokens, args.seed, task, fmt)
    store = shared_store()
    summary = build(plan, store=store, batch_prompts=args.batch_prompts, engine=args.engine,
                    ray_options=_ray_options(args))
    for run, key in zip(plan, summary["run_keys"]):
        acc = store.sql("SELECT count(*) AS n, avg(correct::DOUBLE) AS acc, avg(gen_tokens) AS tok FROM samples "
                        "WHERE run_key = ?", [key]).iloc[0]
        sp = run.spec.sampling
        print(f"{name} {run.spec.strategy} n={sp.n} T={sp.temperature}: run {key}, {int(acc['n'])} samples over "
              f"{len(prompts)} prompts, accuracy {acc['acc']:.3f}, {acc['tok']:.0f} generated tokens per sample")
    return 0


def _register_model(args) -> int:
    from backend.models import register_model

    chat = {"auto": None, "on": True, "off": False}[args.chat_template]
    entry = register_model(args.name, args.path, args.task, chat)
    print(f"registered {args.name}: {entry['params']:,} params (counted from the weights), task {entry['task']}, "
          f"chat template {'on' if entry['chat_template'] else 'off'}, fingerprint {entry['fingerprint']}, "
          f"{entry['path']}")
    return 0


def _import(args) -> int:
    from backend.explore import store as shared_store
    from backend.importers import import_file, parse_count

    names = [n.strip() for n in args.model.split(",")] if args.model else []
    counts = [parse_count(n) for n in args.params.split(",")] if args.params else []
    if counts and not names:  # an Inspect log names its model itself
        names = [None] * len(counts)
    if len(names) != len(counts):
        raise ValueError("give one --params value per --model name (comma-separated for the GPT-3 file)")
    if args.prm_params and not args.prm:
        raise ValueError("--prm-params is the size of the PRM named by --prm; give both")
    report = import_file(args.file, shared_store(), fmt=args.format, test=args.test, models=list(zip(names, counts)),
                         task=args.task, prm=args.prm or "prm",
                         prm_params=parse_count(args.prm_params) if args.prm_params else 0, approach=args.approach)
    print("\n".join(report.lines()))
    return 0


def _train_verifier(args) -> int:
    import torch

    from backend.verifiers.train_learned import train

    if args.threads:
        torch.set_num_threads(args.threads)
    from backend.verifiers.learned import verifier_dir

    kw = dict(generators=tuple(args.generators), init_from=args.init_from, paths=args.paths,
              out=verifier_dir(args.name), epochs=args.epochs, lr=args.lr, device=args.device)
    train(**(kw | dict(n_prompts=300, epochs=1, heldout_per_cell=2) if args.quick else kw))
    return 0


def _compact(args) -> int:
    import json

    from backend.explore import derived
    from backend.explore import store as shared_store
    from backend.store.compact import compact
    from backend.store.lock import build_lock

    store = shared_store()  # the process's one store, also read by the derived data
    drop = set()
    if args.drop_verifier:  # e.g. after retraining the learned verifier: its runs and pool scores are stale
        drop = set(store.sql("SELECT run_key FROM runs WHERE verifier = ?", [args.drop_verifier])["run_key"])
    if args.prune_unplanned:
        from backend.build import unplanned_runs

        unplanned = unplanned_runs(store)
        print(f"note: dropping {len(unplanned)} zoo runs the build plan no longer holds", file=sys.stderr)
        drop |= set(unplanned)
    with build_lock(store.root, say=lambda m: print(f"note: {m}", file=sys.stderr)):
        out = compact(store, drop_runs=drop, drop_scores_by=args.drop_verifier, keep_base=args.new_only)
    if args.derive:
        out["derived"] = derived.precompute(store)  # the app reads these on first load
    print(json.dumps(out, indent=2))
    return 0


def _migrate_flops(args) -> int:
    import json

    from backend.explore import derived
    from backend.explore import store as shared_store
    from backend.migrate_flops import migrate
    from backend.store.lock import build_lock

    store = shared_store()  # the process's one store, also read by the derived data
    with build_lock(store.root, say=lambda m: print(f"note: {m}", file=sys.stderr)):
        out = migrate(store, drop_unmigratable=args.drop_unmigratable)
    if args.derive:
        out["derived"] = derived.precompute(store)
    print(json.dumps(out, indent=2, default=str))
    return 0


BENCHES = ("generation", "analysis", "app", "load")


def _bench(args) -> int:
    import importlib

    return importlib.import_module(f"backend.bench.{args.which}").main(args.rest) or 0


def _tables(heldout: bool = False) -> int:
    """The zoo with 95% CIs, seed spread, the "wait" ablation and search vs best-of-N, as printed tables (README,
    closing notes). heldout: the ablation also on the 1,800 held-out prompts (runs both models, a few minutes)."""
    import pandas as pd

    from backend.analysis import data, selection, summary
    from backend.explore import store as shared_store
    from backend.explore.derived import points

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    store = shared_store()
    zoo = summary.zoo_table()
    ci = lambda b: [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if a == a and a is not None else "" for a, lo, hi in
                    zip(zoo[b], zoo[f"{b}_lo"], zoo[f"{b}_hi"])]
    print(zoo[["model", "params", "tokens", "train_flops", "wall_s", "seed"]].assign(
        **{b: ci(b) for b in ("easy", "medium", "hard", "all")}).to_string(index=False))
    print("(held-out greedy accuracy, Wilson 95% CIs; 600 prompts per band, 1,800 in all)")
    models = data.model_table(store)
    spread = summary.seed_spread(models)
    print("\ntraining-seed spread: " + ("one seed per recipe so far" if spread.empty else spread.to_string(index=False)))
    pts = points(store)
    for a, b in selection.ablation_pairs(models):
        try:
            w = summary.greedy_pair(pts, a, b)
            print(f"\n'wait' traces: {w['a']} {w['acc_a']:.3f} vs {w['b']} {w['acc_b']:.3f} greedy, difference "
                  f"{w['diff']:+.3f} [{w['lo']:+.3f}, {w['hi']:+.3f}] on the cache's {w['n_prompts']} prompts")
        except ValueError as e:
            print(f"\n'wait' ablation: {e}")
        if heldout:
            r = summary.paired_difference(summary.heldout_correct(a), summary.heldout_correct(b))
            d = r["diff"]
            print(f"'wait' traces on the {r['n_prompts']} held-out prompts: {a} {r['acc_a']:.3f} vs {b} "
                  f"{r['acc_b']:.3f}, paired difference {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; per band "
                  + ", ".join(f"{k} {v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]" for k, v in r["per_band"].items()))
    print()
    finals = selection.final_models(models, "cot", have=set(pts.meta["model"]))
    print(summary.search_table(pts, finals).to_string(index=False))
    from backend.analysis.error_profile import profile_table
    from backend.verifiers.learned import verifier_dir

    print("\nlearned verifiers on the main pools: pooled vs within-prompt AUROC, correlation with length")
    names = sorted(p.name for p in verifier_dir().parent.glob("learned*") if (p / "model.safetensors").exists())
    tables = [summary.verifier_table(store, v) for v in names]
    print(pd.concat(tables).to_string(index=False, float_format=lambda v: f"{v:.3f}") if tables else "none trained")
    print("\nerror profile: how errors behave under sampling (pools at T=0.8 with n >= 8, imported pools; 95% CIs)")
    prof = profile_table(store)
    show = lambda c: [f"{a:+.3f} [{lo:+.3f}, {hi:+.3f}]" if a == a else "" for a, lo, hi in
                      zip(prof[c], prof[f"{c}_lo"], prof[f"{c}_hi"])] if c in prof else [""] * len(prof)
    cols = ["pass1", "maj8_gain", "maj24_gain", "maj64_gain", "coverage", "majority_wrong_some_right",
            "error_agreement", "verifier_gain"]
    print(prof[["model", "source", "n", "prompts"]].assign(**{c: show(c) for c in cols}).to_string(index=False))
    return 0


def _report(args) -> int:
    import json

    from backend.analysis.claims import report
    from backend.explore import store as shared_store
    from backend.store import Store

    if args.tables:
        return _tables(args.heldout)
    results = report(Store(args.cache) if args.cache else shared_store(), n_boot=args.n_boot)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
        return 0
    for r in results:
        effect = "" if r["effect"] is None else f"{r['effect']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]  "
        print(f"{r['claim']}. {r['title']}\n   {r['verdict'].upper()}  {effect}{r['why']}")
        if r["comparison"]:
            match = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in r["matching"].items())
            print(f"   compared: {r['comparison']}\n   matching: {match}\n   prompts: {r['prompts']}\n"
                  f"   rule: {r['rule']}")
    return 0


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
    bc.add_argument("--threads", type=int, default=None, help="torch CPU threads (with --engine ray: per worker)")
    bc.add_argument("--engine", choices=("hf", "ray", "vllm"), default="hf",
                    help="hf: this process (default); ray: HF engines in the workers of a Ray cluster "
                    "(pip install -r requirements-scale.txt); vllm: vLLM on a CUDA GPU (requirements-vllm.txt)")
    bc.add_argument("--ray-address", default=None, help="with --engine ray: a running cluster (default: "
                    "$RAY_ADDRESS, else a local Ray instance on this machine)")
    bc.add_argument("--workers", type=int, default=None, help="with --engine ray: workers, one engine actor "
                    "each (default: one per free CPU)")
    byo = bc.add_argument_group("bring your own model (instead of the zoo)")
    byo.add_argument("--model", metavar="PATH_OR_NAME", help="a registered model, or a model folder (registered "
                     "under its folder name first)")
    byo.add_argument("--task", help="task of the prompts (default: the model's registered task)")
    byo.add_argument("--data", metavar="FILE.jsonl", help="GSM8K-style JSONL: question, answer ending '#### N'")
    byo.add_argument("--n", type=int, default=16, help="samples per prompt in the pool (default 16)")
    byo.add_argument("--temperature", type=float, default=0.7, help="pool temperature (default 0.7)")
    byo.add_argument("--limit", type=int, default=None, help="only the first N problems of --data")
    byo.add_argument("--max-new-tokens", type=int, default=256, help="generated tokens per sample (default 256)")
    byo.add_argument("--shots", type=int, default=None, help="worked examples before each question (default 0)")
    byo.add_argument("--shots-from", metavar="FILE.jsonl", help="take the shots from this file (default: --data)")
    byo.add_argument("--seed", type=int, default=0, help="sampling seed of the pool")
    bc.add_argument("--no-derive", dest="derive", action="store_false",
                    help="skip precomputing the app's derived data (budget points, claims) at the end")
    bc.add_argument("--verifiers", nargs="+", metavar="NAME", help="only runs using these verifiers (runs "
                    "without one always run), e.g. --verifiers steps")
    bc.add_argument("--kinds", nargs="+", metavar="KIND", help="only these kinds of run: greedy pools search "
                    "forcing adaptive route (default all)")
    bc.add_argument("--progress-file", type=Path, default=None, help="write progress as JSON here (app jobs)")
    bc.set_defaults(func=_build_cache)
    rm = sub.add_parser("register-model", help="add a local Hugging Face causal LM (safetensors) as a model")
    rm.add_argument("name", help="the name it gets in the cache and the pages")
    rm.add_argument("path", help="folder with *.safetensors, config.json and the tokenizer (save_pretrained)")
    rm.add_argument("--task", default="gsm8k", help="task its prompts come from (default gsm8k)")
    rm.add_argument("--chat-template", choices=("auto", "on", "off"), default="auto",
                    help="write prompts as a chat turn (auto: when the tokenizer has a chat template)")
    rm.set_defaults(func=_register_model)
    im = sub.add_parser("import", help="import generations other tools wrote as cache runs (all or nothing; "
                        "idempotent)")
    im.add_argument("file", help="a published GSM8K set (GPT-3 verifier, program-of-thought, SFT samples), a "
                    "search-and-learn output (.jsonl/.parquet), an lm-eval --log_samples JSONL, an Inspect log "
                    "(.eval/.json) or the generic JSONL (README)")
    im.add_argument("--test", metavar="GSM8K_TEST.jsonl", help="the GSM8K test set (the published sets' gold)")
    im.add_argument("--model", help="name of the model that wrote it; for the GPT-3 file two: NAME_6B,NAME_175B "
                    "(default gpt3-6b,gpt3-175b); an Inspect log's own by default")
    im.add_argument("--params", help="its parameter count (13e9, 13B); for the GPT-3 file two (default 6.7e9,175e9)")
    im.add_argument("--format", default="auto", choices=("auto", "gpt3_verifier", "pot_programs", "sft_samples",
                                                         "search-and-learn", "lm-eval", "inspect", "generic"))
    im.add_argument("--task", default="auto", choices=("auto", "gsm8k", "math"),
                    help="answer checker: GSM8K numbers or MATH answers by math-verify (default: from the file)")
    im.add_argument("--prm", help="name of the process reward model whose step scores the file holds "
                    "(default prm); stored as verifiers NAME:last, NAME:min, NAME:prod")
    im.add_argument("--prm-params", help="its parameter count, to charge its FLOPs (default: not charged)")
    im.add_argument("--approach", choices=("best_of_n", "beam_search", "dvts"),
                    help="search-and-learn approach (default: from the file name, else best_of_n)")
    im.set_defaults(func=_import)
    tv = sub.add_parser("train-verifier", help="train the learned process verifier into cache/verifiers/learned")
    tv.add_argument("--generators", nargs="+", default=["cot-0.1m", "cot-0.1m@6M", "cot-0.8m"])
    tv.add_argument("--init-from", default="cot-0.8m", help="zoo member whose backbone the value head sits on")
    tv.add_argument("--quick", action="store_true", help="a tiny run (for tests)")
    tv.add_argument("--name", default="learned", help="folder under cache/verifiers and the verifier's name")
    tv.add_argument("--paths", choices=("single", "multi"), default="single",
                    help="reduction order of the gold and one-slip contrast traces")
    tv.add_argument("--epochs", type=int, default=3)
    tv.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (linear decay to 10%%); a 3.2M "
                    "backbone needs about 1e-4: at 5e-4 its loss stalls near the base rate")
    tv.add_argument("--threads", type=int, default=None)
    tv.add_argument("--device", default="cpu", help="cpu or cuda (a GPU trains the 3.2M head in minutes)")
    tv.set_defaults(func=_train_verifier)
    cp = sub.add_parser("compact", help="merge all cache batches into one (faster loading; atomic)")
    cp.add_argument("--drop-verifier", metavar="NAME", help="leave out runs using this verifier and its pool scores")
    cp.add_argument("--prune-unplanned", action="store_true",
                    help="leave out zoo runs the build plan no longer holds (live runs and imports stay)")
    cp.add_argument("--no-derive", dest="derive", action="store_false",
                    help="skip recomputing the app's derived data (budget points, claims) afterwards")
    cp.add_argument("--new-only", action="store_true",
                    help="keep the oldest batch (the shipped base) as it is and merge only the batches after it: "
                         "adding runs to the shipped cache then adds one file instead of rewriting it")
    cp.set_defaults(func=_compact)
    mf = sub.add_parser("migrate-flops", help="recompute stored FLOPs with attention (no regeneration; compacts)")
    mf.add_argument("--drop-unmigratable", action="store_true",
                    help="leave out runs whose FLOPs cannot be recomputed from stored rows (search, forcing, …)")
    mf.add_argument("--no-derive", dest="derive", action="store_false", help="skip recomputing derived data")
    mf.set_defaults(func=_migrate_flops)
    be = sub.add_parser("bench", help="benchmarks that print and save their figures")
    be.add_argument("which", choices=BENCHES)
    be.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark")
    be.set_defaults(func=_bench)
    rp = sub.add_parser("report", help="measure the eight claims of DESIGN.md on the current cache")
    rp.add_argument("--json", action="store_true", help="print the full report as JSON")
    rp.add_argument("--cache", default=None, help="store folder (default: cache/store)")
    rp.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples per CI")
    rp.add_argument("--tables", action="store_true", help="print the zoo, ablation and search tables instead")
    rp.add_argument("--heldout", action="store_true", help="with --tables: the 'wait' ablation on the 1,800 held-out "
                    "prompts too (runs both models)")
    rp.set_defaults(func=_report)
    from backend.levers_cli import add_commands

    add_commands(sub)  # measure-latency, train-router, train-dpo, report-levers
    ap.add_argument("--debug", action="store_true", help="print the traceback of a failure instead of one line")
    for p in sub.choices.values():  # also accepted after the command; SUPPRESS keeps a global --debug set
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from backend.explore import own_store
    from backend.store import Store

    own_store(Store)  # a command owns the process's one store (opened on first use, if the command reads the cache)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every failure ends in one line and a non-zero exit; --debug shows where it came from
        from backend.errors import EXPECTED, one_line

        if args.debug:
            traceback.print_exc()
            return 2 if isinstance(e, EXPECTED) else 1
        hint = "" if isinstance(e, EXPECTED) else " (unexpected: rerun with --debug for the traceback)"
        print(f"error: {one_line(e)}{hint}", file=sys.stderr)
        return 2 if isinstance(e, EXPECTED) else 1
