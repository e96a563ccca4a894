"""Derived data keyed per run: after a new run only that run's points are computed, the shipped derived files are
never deleted or rewritten, the combined points equal a fresh computation, and claims say when they are stale."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from backend.engines.base import SamplingParams
from backend.runner import RunSpec, execute
from backend.tasks import arith_prompts


@pytest.fixture()
def cache(app_cache, tmp_path, monkeypatch):
    from backend import explore

    root = tmp_path / "cache"
    shutil.copytree(app_cache, root, symlinks=True)
    monkeypatch.setenv("TTC_CACHE", str(root))
    explore.reset_store()
    yield root
    explore.reset_store()


def _files(root):
    return {p.relative_to(root / "derived"): p.read_bytes() for p in (root / "derived").rglob("*") if p.is_file()}


def test_a_new_run_computes_only_its_own_points_and_keeps_the_shipped_files(cache, monkeypatch):
    from backend import explore
    from backend.analysis import points as P
    from backend.explore import derived

    derived.precompute(explore.store())
    shipped = _files(cache)
    before = derived.points()
    computed = []
    real = derived.collect_points
    monkeypatch.setattr(derived, "collect_points", lambda store, **kw: computed.append(kw["run_keys"]) or real(store, **kw))
    spec = RunSpec.make("micro-cot-a", "sample", SamplingParams(n=3, temperature=0.9, max_new_tokens=30, seed=7))
    rep = execute(spec, arith_prompts(1)[:3], store=explore.store(), source="live")
    after = derived.points()
    assert computed == [[rep.run_key]]  # every other run came from the bundle
    assert set(after.meta["run_key"]) == set(before.meta["run_key"]) | {rep.run_key}
    now = _files(cache)
    assert all(now.get(k) == v for k, v in shipped.items())  # nothing shipped deleted or rewritten
    assert any(str(k).startswith(f"runs/{rep.run_key}-") for k in set(now) - set(shipped))
    fresh = P.collect_points(explore.store())
    mine = after.rows((after.meta["run_key"] == rep.run_key).to_numpy())
    theirs = fresh.rows((fresh.meta["run_key"] == rep.run_key).to_numpy())
    keys = np.intersect1d(mine.prompt_keys, theirs.prompt_keys)
    assert np.allclose(mine.columns(keys).acc, theirs.columns(keys).acc, equal_nan=True)


def test_claims_say_when_they_are_stale(cache):
    from backend import explore
    from backend.explore import derived

    derived.precompute(explore.store())
    assert derived.claims_status()["stale"] is False
    spec = RunSpec.make("micro-cot-a", "greedy", SamplingParams(temperature=0, max_new_tokens=30))
    execute(spec, arith_prompts(1)[-2:], store=explore.store(), source="live")
    status = derived.claims_status()
    assert status["stale"] is True and status["claims"] and status["runs_now"] == status["runs_then"] + 1
    derived.claims()
    assert derived.claims_status()["stale"] is False


def test_concurrent_first_calls_of_one_selection_compute_once():
    """Ten sessions opening the same new selection at once: one computation, every caller gets its result; a failure
    is not remembered."""
    import threading
    import time

    from backend.explore import derived

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    got = []
    threads = [threading.Thread(target=lambda: got.append(derived._once(("test-once", 1), slow))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["value"] * 10 and calls == [1]

    def fail():
        calls.append(2)
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            derived._once(("test-once", 2), fail)
    assert calls == [1, 2, 2]


def test_a_run_whose_points_all_duplicate_another_is_covered_by_the_bundle(cache, monkeypatch):
    """concat_points keeps one point per point key, so a run can leave no point in the bundle; the bundle still
    lists it, and loading the points computes nothing (it was recomputed and re-saved at every start)."""
    from backend import explore
    from backend.explore import derived

    spec = RunSpec.make("micro-cot-a", "greedy", SamplingParams(temperature=0, max_new_tokens=60), notes="twin")
    execute(spec, arith_prompts(1)[:2], store=explore.store(), source="live")  # a subset: its points lose
    derived.precompute(explore.store())
    versions = explore.store().run_versions()
    pts = derived.points()
    assert set(versions) - set(pts.meta["run_key"])  # some run left no point in the bundle
    derived.forget()
    computed = []
    monkeypatch.setattr(derived, "collect_points", lambda store, **kw: computed.append(kw) or None)
    assert len(derived.points().meta) == len(pts.meta) and computed == []


def test_kept_points_are_reused_until_their_own_runs_change(cache, monkeypatch):
    """The verifier-quality chart's rescored pool is kept with the derived data: after a restart it is read, not
    recomputed; a live run (greedy, or a bigger pool of one prompt) leaves it valid and the main pool unchanged; rows
    added to the pool it read make it stale, and precompute removes the stale file."""
    from backend import explore
    from backend.explore import common, derived, verifier_knob
    from backend.store import commit_batch

    model = verifier_knob.knob_models()[0]
    pool = common.main_pool(model)
    first = verifier_knob.knob_points(model)
    kept = {p.name for p in (cache / "derived" / "kept").iterdir()}
    assert kept
    derived.forget()
    calls = []
    real = verifier_knob.rule_scored_pool
    monkeypatch.setattr(verifier_knob, "rule_scored_pool", lambda m: calls.append(m) or real(m))
    again = verifier_knob.knob_points(model)
    assert calls == [] and np.allclose(np.nan_to_num(again.acc), np.nan_to_num(first.acc), atol=1e-12)
    execute(RunSpec.make(model, "greedy", SamplingParams(temperature=0, max_new_tokens=31)), arith_prompts(1)[:1],
            store=explore.store(), source="live")
    execute(RunSpec.make(model, "sample", SamplingParams(n=64, temperature=0.8, max_new_tokens=20, seed=3)),
            arith_prompts(1)[:1], store=explore.store(), source="live")
    verifier_knob.knob_points(model)
    assert calls == [] and common.main_pool(model) == pool
    row = explore.store().sql("SELECT * EXCLUDE (batch) FROM samples WHERE run_key = ? LIMIT 1", [pool])
    commit_batch({"samples": row.assign(prompt_key="a-new-prompt").to_dict("records")}, explore.store().root)
    explore.store().refresh()
    verifier_knob.knob_points(model)
    assert calls and calls[0] == model
    derived.precompute(explore.store())
    now = {p.name for p in (cache / "derived" / "kept").iterdir()}
    mine = lambda names: {n for n in names if n.startswith(("rule-", "weighted-")) and f"-{model}-" in n}
    assert mine(kept) and mine(now) and not mine(kept) & mine(now)  # the stale ones removed, current ones saved


def test_one_runs_points_read_only_that_runs_row(cache, monkeypatch):
    """Per-run points must not parse every run's JSON (at 18,400 runs that was most of the precompute)."""
    import pandas as pd

    from backend import explore
    from backend.analysis import data
    from backend.analysis.points import collect_points

    store = explore.store()
    every = data.load_runs(store)
    keys = list(every["run_key"][::5])
    pd.testing.assert_frame_equal(data.load_runs(store, run_keys=keys).reset_index(drop=True),
                                  every[every["run_key"].isin(keys)].reset_index(drop=True))
    assert data.load_runs(store, run_keys=[]).empty
    asked, real = [], data.load_runs
    monkeypatch.setattr(data, "load_runs", lambda s, *a, **kw: asked.append(kw.get("run_keys")) or real(s, *a, **kw))
    pts = collect_points(store, run_keys=[keys[0]])
    assert asked == [[keys[0]]] and set(pts.meta["run_key"]) == {keys[0]}
