"""The cache build plan: which runs the shipped cache holds, and a resumable builder with one progress bar."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from backend.engines.base import SamplingParams
from backend.jobs import write_progress
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


def pool_runs(card: dict, prompts: tuple[PromptRecord, ...], quick: bool = False) -> list[PlannedRun]:
    """Greedy for every member; pools by kind: final CoT n=256 at MAIN_T and 64 at SIDE_T; direct n=64; the
    no-wait ablation greedy only; training checkpoints a small pool of 32."""
    name, mt = card["name"], _max_tokens(card)
    greedy = SamplingParams(temperature=0, max_new_tokens=mt)
    runs = [RunSpec.make(name, "greedy", greedy)]
    pool = lambda n, t: RunSpec.make(name, "sample", SamplingParams(n=n, temperature=t, max_new_tokens=mt, seed=0))
    if quick:
        runs.append(pool(8, MAIN_T))
    elif card.get("checkpoint_of"):
        runs.append(pool(32, MAIN_T))
    elif name.endswith("-nowait"):
        pass
    elif card["fmt"] == "cot":
        runs += [pool(256, MAIN_T)] + [pool(64, t) for t in SIDE_T]
    else:
        runs.append(pool(64, MAIN_T))
    return [PlannedRun(s, prompts) for s in runs]


SEARCH_BUDGETS = (4, 16, 64)
SEARCH_VERIFIERS = ("learned", "steps")
FORCING_BUDGETS = (8, 16, 24, 32, 48, 64, 96, 128)
ADAPTIVE_BUDGETS = (4, 8, 16)
ROUTE_THRESHOLDS = (0.3, 0.6, 0.9)


def strategy_runs(cards: list[dict], prompts: tuple[PromptRecord, ...], quick: bool = False) -> list[PlannedRun]:
    """Beam search and DVTS (budgets 4/16/64, learned and exact verifiers), budget forcing at 8 thinking budgets,
    adaptive vs uniform allocation, and think/no-think routing — for every final CoT model."""
    finals = [c for c in cards if c["fmt"] == "cot" and not c.get("checkpoint_of") and not c["name"].endswith("-nowait")]
    directs = {c["params"]: c["name"] for c in cards if c["fmt"] == "direct" and not c.get("checkpoint_of")}
    budgets = SEARCH_BUDGETS[:1] if quick else SEARCH_BUDGETS
    step = SamplingParams(temperature=MAIN_T, max_new_tokens=COT_TOKENS)
    runs = []
    for c in finals:
        name = c["name"]
        for strategy in ("beam", "dvts"):
            for verifier in SEARCH_VERIFIERS[1:] if quick else SEARCH_VERIFIERS:
                runs += [RunSpec.make(name, strategy, step, {"budget": b, "width": 4}, verifier) for b in budgets]
        for b in FORCING_BUDGETS[:2] if quick else FORCING_BUDGETS:
            sp = SamplingParams(n=2 if quick else 8, temperature=MAIN_T, max_new_tokens=b + 16)
            for mode in ("force",) if quick else ("force", "cap"):  # exact length (s1) and a plain cap
                runs.append(RunSpec.make(name, "budget_forcing", sp, {"budget": b, "mode": mode}))
        for b in ADAPTIVE_BUDGETS[:1] if quick else ADAPTIVE_BUDGETS:
            for alloc in ("adaptive", "uniform"):
                runs.append(RunSpec.make(name, "adaptive", step, {"budget": b, "probe": 2, "allocation": alloc},
                                         "learned"))
        if directs:  # route to the direct model closest in size
            direct = directs[min(directs, key=lambda p: abs(p - c["params"]))]
            greedy = SamplingParams(temperature=0, max_new_tokens=COT_TOKENS)
            for th in ROUTE_THRESHOLDS[1:2] if quick else ROUTE_THRESHOLDS:
                runs.append(RunSpec.make(name, "route", greedy, {"direct": direct, "threshold": th}))
    return [PlannedRun(s, prompts) for s in runs]


KINDS = {"greedy": ("greedy",), "pools": ("sample",), "search": ("beam", "dvts"), "forcing": ("budget_forcing",),
         "adaptive": ("adaptive",), "route": ("route",)}


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
        plan += pool_runs(card, prompts, quick)
    plan += strategy_runs(cards, prompts, quick)
    wanted = {s for k in (kinds or KINDS) for s in KINDS[k]}
    plan = [r for r in plan if r.spec.strategy in wanted]
    if verifiers is not None:  # runs without a verifier always stay
        plan = [r for r in plan if r.spec.verifier is None or r.spec.verifier in verifiers]
    return plan


def byo_plan(model: str, prompts: list[PromptRecord], n: int, temperature: float, max_new_tokens: int = 256,
             seed: int = 0, task: str = "gsm8k", prompt_format: str = "") -> list[PlannedRun]:
    """A registered model (bring your own): greedy, and a pool of ``n`` samples at ``temperature`` from which the
    estimators compute pass@k, maj@k and best-of-k for every k <= n."""
    greedy = SamplingParams(temperature=0, max_new_tokens=max_new_tokens)
    pool = SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    return [PlannedRun(RunSpec.make(model, strategy, sp, task=task, prompt_format=prompt_format), tuple(prompts))
            for strategy, sp in (("greedy", greedy), ("sample", pool))]


POOL_VERIFIERS = ("learned",)  # oracle and exact-step scores of a finished trace are its correctness: not stored


def score_pools(plan: list[PlannedRun], store: Store, quiet: bool = False, keys: list[str] | None = None) -> int:
    """Verifier scores for every sample of every pool in the plan (for best-of-k and weighted majority); ``keys``:
    the run key of each planned run as built (default: as the HF engine keys it)."""
    from backend.verifiers.learned import verifier_dir

    pools = [r for r in plan if r.spec.strategy == "sample" and r.spec.task == "arith"]  # the verifier reads arith
    if not pools:
        return 0
    if not (verifier_dir() / "model.safetensors").exists():
        print("note: no learned verifier yet (python -m backend train-verifier); pools left unscored", file=sys.stderr)
        return 0
    key_of = dict(zip(plan, keys or ()))
    n = 0
    for run in tqdm(pools, desc="score pools", unit="run", disable=quiet, file=sys.stderr):
        from backend import models

        key = key_of[run] if keys is not None else run.spec.key_for(models.load_engine(run.spec.model))
        for verifier in POOL_VERIFIERS:
            n += score_pool(key, verifier, store=store)
    return n


def build(plan: list[PlannedRun], store: Store, batch_prompts: int = 16, quiet: bool = False,
          progress_file: Path | None = None, engine: str = "hf", ray_options: dict | None = None) -> dict:
    """Run every planned run, skipping what is stored; one progress bar over all samples of the plan. Holds the
    cache's build lock: a second build at the same time waits, then skips what the first stored.

    ``engine``: "hf" (this process), "vllm" (this process, vLLM on a CUDA GPU) or "ray" (HF engines in the workers
    of a Ray cluster, backend.build_ray; ``ray_options``: address, workers, cpus_per_worker, num_cpus)."""
    from backend.engines import ENGINES

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
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
