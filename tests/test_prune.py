"""compact --prune-unplanned: zoo runs the build plan no longer holds are listed (and dropped); planned runs, live
runs and imports are not."""
from backend.build import default_plan, unplanned_runs
from backend.engines.base import SamplingParams
from backend.runner import RunSpec, execute
from backend.store import Store
from backend.tasks import arith_prompts


def test_only_zoo_runs_outside_the_plan_are_listed(use_cache, tmp_path):
    store = Store(tmp_path / "store")
    prompts = arith_prompts(1)[:2]
    planned = default_plan(["micro-cot-a"], per_cell=1, kinds=["greedy"])[0].spec
    execute(planned, prompts, store=store)
    extra = RunSpec.make("micro-cot-a", "sample", SamplingParams(n=3, temperature=0.55, max_new_tokens=20))
    rep = execute(extra, prompts, store=store)
    live = RunSpec.make("micro-cot-a", "sample", SamplingParams(n=2, temperature=0.65, max_new_tokens=20))
    execute(live, prompts[:1], store=store, source="live")
    assert unplanned_runs(store, per_cell=1) == {rep.run_key: "micro-cot-a sample"}
