"""The cache build plan: which runs the shipped cache holds, and a resumable builder with one progress bar."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from backend.engines.base import SamplingParams
from backend.jobs import write_progress
from backend.levers_plan import lever_runs
from backend.runner import RunSpec, execute, score_pool
from backend.store import Store
from backend.store.lock import build_lock
from backend.tasks import PromptRecord, arith_prompts
from backend.zoo import registry

MAIN_T = 0.8  # the main sampling temperature of the pools
SIDE_T = (0.4, 1.2)
COT_TOKENS, DIRECT_TOKENS = 200, 24


BUDGET_IN_SAMPLES = ("beam", "dvts", "adaptive")  # strategies whose "budget" counts traces, not tokens


@dataclass(frozen=True)
class PlannedRun:
    spec: RunSpec
    prompts: tuple[PromptRecord, ...]

    @property
    def samples(self) -> int:
        """Traces this run produces (for progress): n per prompt, or its budget for search strategies."""
        per_prompt = self.spec.param_dict["budget"] if self.spec.strategy in BUDGET_IN_SAMPLES else self.spec.sampling.n
        return len(self.prompts) * int(per_prompt)


def _max_tokens(card: dict) -> int:
    return COT_TOKENS if card["fmt"] == "cot" else DIRECT_TOKENS


FULL_PATHS = ("single", "multi")  # reasoning-path variants that get every kind of run; others greedy + the main pool


def role(card: dict) -> str:
    """What a zoo member is for: "checkpoint" (of training), "fine-tune" (DPO, router: a lever), "seed" (another
    training seed), "ablation" (another data recipe: no "wait" traces) or "final" (the main recipe, of either
    reasoning-path variant), from its card."""
    from backend.analysis.selection import MAIN_RECIPE

    recipe = card.get("recipe") or {}
    if card.get("checkpoint_of"):
        return "checkpoint"
    if card.get("fine_tune_of"):
        return "fine-tune"
    if card.get("seed", MAIN_RECIPE["seed"]) != MAIN_RECIPE["seed"]:
        return "seed"
    if card.get("fmt") == "cot" and (recipe.get("p_fix"), recipe.get("p_recheck")) != \
            (MAIN_RECIPE["p_fix"], MAIN_RECIPE["p_recheck"]):
        return "ablation"
    return "final"


def full_variant(card: dict) -> bool:
    return (card.get("recipe") or {}).get("paths", "single") in FULL_PATHS


POOL_BASE = (256, 100_928)  # the 0.1M member's main pool: 256 samples per prompt


def pool_size(card: dict) -> int:
    """Main-pool samples per prompt at equal generation compute: 256 for the 0.1M member, n ∝ 1/parameters (a power
    of two, 8 to 256): 32 for 0.8M, 8 for 3.2M. A larger model needs fewer samples to be compared at matched FLOPs,
    and a 2-core CPU builds the pools in hours, not days."""
    n = POOL_BASE[0] * POOL_BASE[1] / max(1, card["params"])
    return int(min(256, max(8, 2 ** math.floor(math.log2(max(1.0, n))))))


def pool_runs(card: dict, prompts: tuple[PromptRecord, ...], quick: bool = False) -> list[PlannedRun]:
    """Greedy for every member; pools by role: final CoT models of a full variant ``pool_size`` samples at MAIN_T and
    a quarter of that at each SIDE_T (when ≥ 8), of the other variant 256 at MAIN_T only; direct 64; other seeds
    and fine-tuned members 64; training checkpoints an eighth of their final model's pool (4 to 32); ablations greedy only."""
    name, mt = card["name"], _max_tokens(card)
    greedy = SamplingParams(temperature=0, max_new_tokens=mt)
    runs = [RunSpec.make(name, "greedy", greedy)]
    pool = lambda n, t: RunSpec.make(name, "sample", SamplingParams(n=n, temperature=t, max_new_tokens=mt, seed=0))
    kind, full = role(card), full_variant(card)
    # single-path pools were built at 256 before the equal-compute rule and are kept (samples are seeded per index)
    paths = (card.get("recipe") or {}).get("paths", "single")
    n = 256 if paths == "single" or not full else pool_size(card)
    if quick:
        runs.append(pool(8, MAIN_T))
    elif kind == "checkpoint":
        runs.append(pool(min(32, max(4, n // 8)), MAIN_T))
    elif kind in ("seed", "fine-tune"):
        runs.append(pool(64, MAIN_T))
    elif kind == "ablation":
        pass
    elif card["fmt"] == "cot":
        side = pool_size(card) // 4
        runs += [pool(n, MAIN_T)] + ([pool(side, t) for t in SIDE_T] if full and side >= 8 else [])
    else:
        runs.append(pool(64, MAIN_T))
    return [PlannedRun(s, prompts) for s in runs]


SEARCH_BUDGETS = (4, 16)
# value heads on a 0.8M and a 3.2M backbone, trained alike (python -m backend train-verifier --name …): a verifier no
# stronger than the policy and one stronger than the small policies; the exact checker is the upper bound
SEARCH_VERIFIERS = ("learned", "learned-3.2m", "steps")
STRATEGY_MAX_PARAMS = 500_000  # search, forcing and adaptive runs on the small policies only (CPU time); routing on all
NOISY_RATES = (0.05, 0.1, 0.2, 0.3)  # the exact checker with label noise: how good must a verifier be?
NOISY_BUDGETS = (4, 16)
FORCING_BUDGETS = (8, 16, 24, 32, 48, 64, 96, 128)
ADAPTIVE_BUDGETS = (4, 8, 16)
ADAPTIVE_VERIFIER = "learned-3.2m"
ROUTE_THRESHOLDS = (0.3, 0.6, 0.9)


def _verifiers_for(card: dict, quick: bool) -> tuple[str, ...]:
    """Search verifiers a policy is run with: each learned verifier that exists, except one smaller than the policy
    (the 0.8M verifier is kept off the 3.2M policy), and the exact checker."""
    from backend.verifiers.learned import verifier_dir

    if quick:
        return ("steps",)
    have = [v for v in SEARCH_VERIFIERS if not v.startswith("learned") or (verifier_dir(v) / "model.safetensors").exists()]
    return tuple(v for v in have if not (v == "learned" and card["params"] > 1_000_000))


def strategy_runs(cards: list[dict], prompts: tuple[PromptRecord, ...], quick: bool = False) -> list[PlannedRun]:
    """For every final CoT model of a full variant: think / no-think routing to the direct model closest in size; for
    those up to STRATEGY_MAX_PARAMS also beam search and DVTS (budgets 4/16, each learned verifier and the exact
    checker), beam with the noisy exact checker at 4 error rates (budgets 4 and 16), budget forcing at 8 thinking
    budgets in two modes, and adaptive vs uniform allocation."""
    finals = [c for c in cards if c["fmt"] == "cot" and role(c) == "final" and (quick or full_variant(c))]
    directs = {c["params"]: c["name"] for c in cards if c["fmt"] == "direct" and role(c) == "final"}
    budgets = SEARCH_BUDGETS[:1] if quick else SEARCH_BUDGETS
    step = SamplingParams(temperature=MAIN_T, max_new_tokens=COT_TOKENS)
    runs = []
    for c in finals:
        name = c["name"]
        if directs:  # route to the direct model closest in size
            direct = directs[min(directs, key=lambda p: abs(p - c["params"]))]
            greedy = SamplingParams(temperature=0, max_new_tokens=COT_TOKENS)
            for th in ROUTE_THRESHOLDS[1:2] if quick else ROUTE_THRESHOLDS:
                runs.append(RunSpec.make(name, "route", greedy, {"direct": direct, "threshold": th}))
        if not quick and c["params"] > STRATEGY_MAX_PARAMS:
            continue
        for strategy in ("beam", "dvts"):
            for verifier in _verifiers_for(c, quick):
                runs += [RunSpec.make(name, strategy, step, {"budget": b, "width": 4}, verifier) for b in budgets]
        if not quick and c["params"] < 1_000_000:
            runs += [RunSpec.make(name, "beam", step, {"budget": b, "width": 4}, f"noisy:steps:{r:g}")
                     for r in NOISY_RATES for b in NOISY_BUDGETS]
        for b in FORCING_BUDGETS[:2] if quick else FORCING_BUDGETS:
            sp = SamplingParams(n=2 if quick else 8, temperature=MAIN_T, max_new_tokens=b + 16)
            for mode in ("force",) if quick else ("force", "cap"):  # exact length (s1) and a plain cap
                runs.append(RunSpec.make(name, "budget_forcing", sp, {"budget": b, "mode": mode}))
        adaptive_verifier = "learned" if quick else ADAPTIVE_VERIFIER
        for b in ADAPTIVE_BUDGETS[:1] if quick else ADAPTIVE_BUDGETS:
            for alloc in ("adaptive", "uniform"):
                runs.append(RunSpec.make(name, "adaptive", step, {"budget": b, "probe": 2, "allocation": alloc},
                                         adaptive_verifier))
    return [PlannedRun(s, prompts) for s in runs]


KINDS = {"greedy": ("greedy",), "pools": ("sample",), "search": ("beam", "dvts"), "forcing": ("budget_forcing",),
         "adaptive": ("adaptive",), "route": ("route",), "router": ("learned_route",), "proxy": ("proxy",)}


def default_plan(models: list[str] | None = None, per_cell: int = 16, quick: bool = False,
                 kinds: list[str] | None = None, verifiers: list[str] | None = None) -> list[PlannedRun]:
    """The shipped cache's runs for these zoo members (default all), optionally only some kinds of run."""
    unknown = set(kinds or ()) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds of run {sorted(unknown)}; choose from {', '.join(KINDS)}")
    prompts = tuple(arith_prompts(per_cell))
    cards = [c for c in registry.list_cards() if models is None or c["name"] in models]
    if models:
        missing = set(models) - {c["name"] for c in cards}
        if missing:
            raise ValueError(f"no zoo members named {sorted(missing)}; train them first (python -m backend train-zoo)")
    plan = []
    for card in cards:
        if card.get("fmt") != "router":  # a router runs only as itself (learned_route)
            plan += pool_runs(card, prompts, quick)
    plan += strategy_runs(cards, prompts, quick)
    plan += lever_runs(cards, prompts, quick)
    wanted = {s for k in (kinds or KINDS) for s in KINDS[k]}
    plan = [r for r in plan if r.spec.strategy in wanted]
    if verifiers is not None:  # runs without a verifier always stay
        plan = [r for r in plan if r.spec.verifier is None or r.spec.verifier in verifiers]
    return plan


def unplanned_runs(store: Store, per_cell: int = 16) -> dict[str, str]:
    """Zoo runs in the store that the default plan no longer holds (run key -> "model strategy"): what a rebuilt
    cache drops when its plan shrank (e.g. the single-path ablation keeps greedy and its main pool only). Live runs,
    imports and registered models' runs are never in this list."""
    from backend.models import model_identity

    planned = set()
    for run in default_plan(per_cell=per_cell):
        fp, chat = model_identity(run.spec.model)
        planned.add(run.spec.key(fp, chat))
    runs = store.sql("SELECT run_key, model, strategy FROM runs WHERE source = 'zoo'")
    return {k: f"{m} {s}" for k, m, s in runs.itertuples(index=False) if k not in planned}


def byo_plan(model: str, prompts: list[PromptRecord], n: int, temperature: float, max_new_tokens: int = 256,
             seed: int = 0, task: str = "gsm8k", prompt_format: str = "") -> list[PlannedRun]:
    """A registered model (bring your own): greedy, and a pool of ``n`` samples at ``temperature`` from which the
    estimators compute pass@k, maj@k and best-of-k for every k <= n."""
    greedy = SamplingParams(temperature=0, max_new_tokens=max_new_tokens)
    pool = SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    return [PlannedRun(RunSpec.make(model, strategy, sp, task=task, prompt_format=prompt_format), tuple(prompts))
            for strategy, sp in (("greedy", greedy), ("sample", pool))]


POOL_VERIFIERS = ("learned", "learned-3.2m")  # rule-based scores are computed from texts (analysis.rescore)


def score_pools(plan: list[PlannedRun], store: Store, quiet: bool = False, keys: list[str] | None = None) -> int:
    """Verifier scores for every sample of every pool in the plan (for best-of-k and weighted majority); ``keys``:
    the run key of each planned run as built (default: as the HF engine keys it)."""
    from backend.verifiers.learned import verifier_dir

    from backend import models
    from backend.zoo.registry import read_card

    # the main pools of final models (the verifier reads arith); side temperatures, seeds and checkpoints unscored
    pools = [r for r in plan if r.spec.strategy == "sample" and r.spec.task == "arith"
             and r.spec.sampling.temperature == MAIN_T]
    pools = [r for r in pools if _is_final(r.spec.model, read_card)]
    trained = lambda v: (verifier_dir(v) / "model.safetensors").exists()
    have = [v for v in POOL_VERIFIERS if trained(v)]
    if not pools or not have:
        if pools:
            print("note: no learned verifier yet (python -m backend train-verifier); pools left unscored",
                  file=sys.stderr)
        return 0
    key_of = dict(zip(plan, keys or ()))
    n = 0
    for run in tqdm(pools, desc="score pools", unit="run", disable=quiet, file=sys.stderr):
        key = key_of[run] if keys is not None else run.spec.key_for(models.load_engine(run.spec.model))
        for verifier in have:
            if verifier != POOL_VERIFIERS[0] and not _equal_compute(run, read_card):
                continue  # the older 256-sample pools of larger members: the 0.8M verifier only (CPU time)
            n += score_pool(key, verifier, store=store)
    return n


def _equal_compute(run: PlannedRun, read_card) -> bool:
    """Whether a pool is at most the 0.1M member's 256-sample pool in samples × policy parameters."""
    try:
        params = read_card(run.spec.model)["params"]
    except (FileNotFoundError, ValueError):
        return True
    return run.spec.sampling.n * params <= POOL_BASE[0] * POOL_BASE[1] * 1.01


def _is_final(model: str, read_card) -> bool:
    try:
        return role(read_card(model)) == "final"
    except (FileNotFoundError, ValueError):
        return True  # a registered model (bring your own) has no card: its pool is scored


def build(plan: list[PlannedRun], store: Store, batch_prompts: int = 16, quiet: bool = False,
          progress_file: Path | None = None, engine: str = "hf", ray_options: dict | None = None) -> dict:
    """Run every planned run, skipping what is stored; one progress bar over all samples of the plan. Holds the
    cache's build lock: a second build at the same time waits, then skips what the first stored.

    ``engine``: "hf" (this process), "vllm" (this process, vLLM on a CUDA GPU) or "ray" (HF engines in the workers
    of a Ray cluster, backend.build_ray; ``ray_options``: address, workers, cpus_per_worker, num_cpus)."""
    from backend.engines import ENGINES

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "vllm":  # before the lock and the progress bar: a missing extra is one line at once
        from backend.engines.vllm import require_vllm

        require_vllm()
    say = (lambda msg: None) if quiet else (lambda msg: print(f"note: {msg}", file=sys.stderr))
    with build_lock(store.root, say=say):
        store.refresh()
        if engine == "ray":
            from backend.build_ray import build_on_ray

            return build_on_ray(plan, store, batch_prompts, quiet, progress_file, **(ray_options or {}))
        return _build(plan, store, batch_prompts, quiet, progress_file, engine)


def _build(plan: list[PlannedRun], store: Store, batch_prompts: int, quiet: bool, progress_file: Path | None,
           engine: str = "hf") -> dict:
    from backend import engines

    loaded = {}  # one engine per model for the whole build
    total = sum(r.samples for r in plan)
    bar = tqdm(total=total, unit="sample", desc="build-cache", disable=quiet, file=sys.stderr,
               mininterval=1 if sys.stderr.isatty() else 20)
    t0, tokens, added, keys = time.monotonic(), 0, 0, []
    for run in plan:
        spec = run.spec
        bar.set_description(f"{spec.model} {spec.strategy} n={spec.sampling.n} T={spec.sampling.temperature}")
        last = {"samples": 0, "tokens": 0}

        def tick(report, todo, _last=last, _n=run.samples // max(1, len(run.prompts))):
            nonlocal tokens
            step = report.prompts_done * _n - _last["samples"]
            tokens += report.gen_tokens - _last["tokens"]
            _last.update(samples=report.prompts_done * _n, tokens=report.gen_tokens)
            bar.update(step)
            rate = tokens / max(1e-9, time.monotonic() - t0)
            bar.set_postfix(prompts=f"{report.prompts_done}/{todo}", tok_s=f"{rate:.0f}")
            if progress_file:
                left = (bar.total - bar.n) / max(1e-9, bar.n / max(1e-9, time.monotonic() - t0))
                write_progress(progress_file, status="running", done=bar.n, total=bar.total, tok_s=rate,
                               eta_s=left, run=bar.desc)

        if spec.model not in loaded:
            loaded[spec.model] = engines.load(spec.model, engine)
        report = execute(spec, list(run.prompts), store=store, batch_prompts=batch_prompts, on_batch=tick,
                         engine=loaded[spec.model])
        bar.update(report.prompts_skipped * run.samples // max(1, len(run.prompts)))
        added += report.prompts_done
        keys.append(report.run_key)
    bar.close()
    if progress_file:
        write_progress(progress_file, status="scoring", done=bar.n, total=bar.total, run="verifier scores of pools")
    scored = score_pools(plan, store, quiet, keys)
    if progress_file:
        write_progress(progress_file, status="done", done=bar.n, total=bar.total, wall_s=time.monotonic() - t0)
    return {"pools_scored": scored, "runs": len(plan), "run_keys": keys, "prompts_added": added, "tokens": tokens, "wall_s": time.monotonic() - t0,
            **store.summary()}
