"""The cache build on a Ray cluster (``build-cache --engine ray``): the same runner, spread over workers.

The plan's work is cut into units, one committed batch each, exactly as the local build cuts it (runner.batches), and
Ray Data streams them through a pool of actors (``map_batches`` with an ActorPoolStrategy), one per worker, each
holding its engines and verifiers for the whole build. A worker runs the strategy on a unit's prompts and commits the
unit as its own batch with ``commit_batch``; a unit retried after a failure commits again and the store keeps the
first batch. Sampling noise depends only on (seed, prompt key), so the cache equals the local build's: the same run
keys and the same samples.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from backend.jobs import write_progress
from backend.runner import RunSpec, batches, outcome_tables, run_context
from backend.store import Store, commit_batch
from backend.tasks import PromptRecord

RESULT_COLUMNS = ("unit", "run_key", "prompts", "samples", "gen_tokens", "flops")


@dataclass(frozen=True)
class Unit:
    """One batch of one run: what a worker runs and commits."""

    spec: RunSpec
    key: str
    run_row: dict
    prompts: tuple[PromptRecord, ...]
    samples: int  # traces it produces (for progress)


def plan_units(plan: list, store: Store, batch_prompts: int) -> tuple[list[Unit], list[str], int]:
    """(units still to run, run key of each planned run, prompts already stored). Keys come from the models' files
    (models.model_identity), as the HF engine a worker loads computes them; the worker checks that they agree."""
    from backend import models
    from backend.engines.base import HF_ENGINE

    units, keys, skipped = [], [], 0
    for run in plan:
        spec = run.spec
        fingerprint, chat = models.model_identity(spec.model)
        key = spec.key(fingerprint, chat, HF_ENGINE)
        keys.append(key)
        done = store.done_prompts(key)
        todo = [p for p in run.prompts if p.key not in done]
        skipped += len(run.prompts) - len(todo)
        if not todo:
            continue
        row = spec.run_row(key, _n_params(spec.model), fingerprint, "zoo", chat, HF_ENGINE)
        per_prompt = run.samples // max(1, len(run.prompts))
        units += [Unit(spec, key, row, tuple(b), per_prompt * len(b)) for b in batches(todo, batch_prompts)]
    return units, keys, skipped


def _n_params(model: str) -> int:
    from backend import models
    from backend.zoo.registry import count_params

    return int(count_params(models.model_path(model)))


class UnitWorker:
    """A Ray Data actor: runs and commits units; engines and verifiers loaded once per model for the whole build."""

    def __init__(self, units: list[Unit], root: str, threads: int = 1):
        import torch

        torch.set_num_threads(threads)  # the worker's CPUs: two workers on two cores must not oversubscribe them
        self.units, self.root, self.verifiers = units, Path(root), {}

    def __call__(self, batch: dict) -> dict:
        from backend import models
        from backend.strategies import get_strategy
        from backend.verifiers import get_verifier

        out = {c: [] for c in RESULT_COLUMNS}
        for i in batch["unit"]:
            unit = self.units[int(i)]
            spec = unit.spec
            engine = models.load_engine(spec.model)
            if spec.key_for(engine) != unit.key:
                raise RuntimeError(f"model {spec.model} on this worker is not the one the build was planned with "
                                   "(its files differ or changed); rebuild")
            if spec.verifier and spec.verifier not in self.verifiers:
                self.verifiers[spec.verifier] = get_verifier(spec.verifier)
            ctx = run_context(spec, engine, self.verifiers.get(spec.verifier))
            outcomes = get_strategy(spec.strategy)(ctx, list(unit.prompts))
            tables = outcome_tables(unit.key, unit.run_row, outcomes)
            commit_batch(tables, self.root)
            for c, v in zip(RESULT_COLUMNS, (int(i), unit.key, len(unit.prompts), len(tables["samples"]),
                                             sum(s["gen_tokens"] for s in tables["samples"]),
                                             sum(o.spent_flops for o in outcomes))):
                out[c].append(v)
        return out


def run_units(units: list[Unit], root: Path, *, workers: int | None = None, cpus_per_worker: int = 1,
              address: str | None = None, num_cpus: int | None = None, on_unit=None) -> dict:
    """Run every unit on the cluster (connected or started by engines.ray.cluster); ``on_unit(row)`` after each
    commit. Returns Ray's start-up and run wall seconds."""
    from backend.engines.ray import cluster

    t0 = time.monotonic()
    with cluster(address, num_cpus) as ray:
        from ray import data as ray_data

        t1 = time.monotonic()
        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False  # the build draws its own bar
        context.print_on_execution_start = False
        free = int(ray.available_resources().get("CPU", 1))
        size = workers or max(1, min(len(units), free // cpus_per_worker))
        # the costliest units first, so no worker is left with a long one at the end
        order = sorted(range(len(units)), key=lambda i: -units[i].samples)
        ds = ray_data.from_items([{"unit": i} for i in order], override_num_blocks=len(order))
        ds = ds.map_batches(UnitWorker, batch_size=1, num_cpus=cpus_per_worker,
                            compute=ray_data.ActorPoolStrategy(size=size),
                            fn_constructor_kwargs=dict(units=units, root=str(root), threads=cpus_per_worker))
        for row in ds.iter_rows():
            if on_unit:
                on_unit(row)
        t2 = time.monotonic()
    return {"workers": size, "ray_start_s": t1 - t0, "ray_run_s": t2 - t1, "ray_stop_s": time.monotonic() - t2}


def build_on_ray(plan: list, store: Store, batch_prompts: int = 16, quiet: bool = False,
                 progress_file: Path | None = None, *, workers: int | None = None, cpus_per_worker: int = 1,
                 address: str | None = None, num_cpus: int | None = None) -> dict:
    """build.build's work over Ray (the caller holds the build lock): returns the same summary, plus Ray's
    timings and worker count."""
    from backend.build import score_pools

    t0 = time.monotonic()
    units, keys, skipped = plan_units(plan, store, batch_prompts)
    total = sum(r.samples for r in plan)
    bar = tqdm(total=total, unit="sample", desc="build-cache (ray)", disable=quiet, file=sys.stderr,
               mininterval=1 if sys.stderr.isatty() else 20)
    bar.update(total - sum(u.samples for u in units))  # already stored
    done = {"prompts": 0, "tokens": 0}

    def tick(row):
        bar.update(units[row["unit"]].samples)
        done["prompts"] += row["prompts"]
        done["tokens"] += row["gen_tokens"]
        rate = done["tokens"] / max(1e-9, time.monotonic() - t0)
        bar.set_postfix(prompts=done["prompts"], tok_s=f"{rate:.0f}")
        if progress_file:
            write_progress(progress_file, status="running", done=bar.n, total=bar.total, tok_s=rate, run="ray")

    timing = run_units(units, store.root, workers=workers, cpus_per_worker=cpus_per_worker, address=address,
                       num_cpus=num_cpus, on_unit=tick) if units else {"workers": 0}
    bar.close()
    store.refresh()
    if progress_file:
        write_progress(progress_file, status="scoring", done=bar.n, total=bar.total, run="verifier scores of pools")
    scored = score_pools(plan, store, quiet, keys)
    if progress_file:
        write_progress(progress_file, status="done", done=bar.n, total=bar.total, wall_s=time.monotonic() - t0)
    return {"pools_scored": scored, "runs": len(plan), "run_keys": keys, "prompts_added": done["prompts"],
            "prompts_skipped": skipped, "tokens": done["tokens"], "wall_s": time.monotonic() - t0, "engine": "ray",
            **timing, **store.summary()}
