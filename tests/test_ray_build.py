"""build-cache --engine ray: the same runner over Ray Data on a local Ray instance (2 CPUs, 127.0.0.1) reproduces the
single-process build, and a unit committed twice (a retried worker) changes nothing."""
from __future__ import annotations

import contextlib
import importlib.util

import pytest

from backend.bench.ray_build import COLUMNS, rows
from backend.build import build, default_plan
from backend.build_ray import UnitWorker, plan_units
from backend.store import Store
from tests.test_engine_contract import ray_or_skip


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray (pip install -r requirements-scale.txt)")
def test_ray_build_reproduces_the_local_build(app_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(app_cache))  # the micro zoo and its learned verifier
    plan = default_plan(per_cell=1, quick=True)  # every kind of run, adaptive and search with verifiers included
    local = build(plan, Store(tmp_path / "local"), batch_prompts=4, quiet=True)
    store = Store(tmp_path / "ray")
    with ray_or_skip(contextlib.nullcontext()):
        ray = build(plan, store, batch_prompts=4, quiet=True, engine="ray", ray_options={"num_cpus": 2})
    assert ray["workers"] == 2 and ray["run_keys"] == local["run_keys"]
    assert ray["prompts_added"] == local["prompts_added"] > 0
    for table in COLUMNS:  # same samples for the same seeds, and all that was derived from them
        ours, theirs = rows(store, table, ray["run_keys"]), rows(Store(tmp_path / "local"), table, local["run_keys"])
        assert ours == theirs and (ours or table == "scores"), table
    assert {r[1] for r in rows(store, "samples", ray["run_keys"])} == {p.key for p in plan[0].prompts}
    again = build(plan, store, batch_prompts=4, quiet=True, engine="ray", ray_options={"num_cpus": 2})
    assert again["prompts_added"] == 0 and again["workers"] == 0  # resumed: nothing left, no cluster started


def test_a_retried_unit_commits_again_and_the_store_keeps_one_copy(use_cache, tmp_path):
    plan = default_plan(["micro-cot-a"], per_cell=1, quick=True, kinds=["pools"])
    store = Store(tmp_path / "store")
    units, keys, skipped = plan_units(plan, store, batch_prompts=4)
    assert skipped == 0 and len(units) == -(-len(plan[0].prompts) // 4)
    worker = UnitWorker(units, str(store.root))
    first = worker({"unit": [0]})
    store.refresh()
    once = rows(store, "samples", keys)
    again = worker({"unit": [0]})  # the same unit on a "restarted" worker: a second batch of the same rows
    store.refresh()
    assert first["samples"] == again["samples"] == [len(once)] and rows(store, "samples", keys) == once
    assert len(list((store.root / "batches").iterdir())) == 2
    left, _, _ = plan_units(plan, store, batch_prompts=4)
    assert [u.prompts for u in left] == [u.prompts for u in units[1:]]  # a resumed plan skips the stored unit
