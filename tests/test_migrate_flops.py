"""The FLOPs migration: one-sequence runs and verifier scores recomputed with attention from their token counts,
other runs refused (or dropped when asked), nothing else changed."""
import pytest

from backend.analysis.compute import model_shape, sample_flops
from backend.engines.base import SamplingParams
from backend.migrate_flops import migrate
from backend.runner import RunSpec, execute
from backend.store import Store
from backend.tasks import arith_prompts
from backend.zoo.registry import read_card


def _old_style(store: Store) -> None:
    """Rewrite the stored FLOPs as 2·N·T (what caches before the attention term held)."""
    from backend.store.compact import compact

    params = dict(zip(store.sql("SELECT run_key, model_params FROM runs")["run_key"],
                      store.sql("SELECT run_key, model_params FROM runs")["model_params"]))

    def old(name, table):
        import pyarrow as pa

        if name != "samples":
            return table
        n = [params[r] for r in table.column("run_key").to_pylist()]
        t = [a + b for a, b in zip(table.column("prompt_tokens").to_pylist(), table.column("gen_tokens").to_pylist())]
        return table.set_column(table.schema.get_field_index("flops"), "flops",
                                pa.array([2.0 * x * y for x, y in zip(n, t)]))

    compact(store, transform=old)


def test_migration_recomputes_one_sequence_runs_and_refuses_the_rest(use_cache, tmp_path):
    prompts = arith_prompts(1)[:4]
    store = Store(tmp_path / "store")
    for strategy, sp, params in (("sample", SamplingParams(n=3, temperature=1.0, max_new_tokens=30), None),
                                 ("greedy", SamplingParams(temperature=0, max_new_tokens=30), None)):
        execute(RunSpec.make("micro-cot-a", strategy, sp, params), prompts, store=store)
    want = store.sql("SELECT run_key, prompt_key, sample_idx, flops FROM samples ORDER BY 1, 2, 3")
    _old_style(store)
    assert not store.sql("SELECT flops FROM samples ORDER BY run_key, prompt_key, sample_idx")["flops"].equals(
        want["flops"])
    out = migrate(store)
    got = store.sql("SELECT run_key, prompt_key, sample_idx, flops FROM samples ORDER BY 1, 2, 3")
    assert got["flops"].tolist() == pytest.approx(want["flops"].tolist(), rel=1e-12)
    shape = model_shape(read_card("micro-cot-a"))
    r = store.sql("SELECT r.gen_flops, s.prompt_tokens, s.gen_tokens FROM results r JOIN samples s USING (run_key, "
                  "prompt_key)")
    assert r["gen_flops"].tolist() == pytest.approx(
        [sample_flops(shape, a, b) for a, b in zip(r["prompt_tokens"], r["gen_tokens"])])
    assert out["recomputed"]["samples"] == len(got) and out["recomputed"]["results"] == len(prompts)

    execute(RunSpec.make("micro-cot-a", "budget_forcing", SamplingParams(n=1, temperature=1.0, max_new_tokens=24),
                         {"budget": 8, "mode": "force"}), prompts[:1], store=store)
    with pytest.raises(ValueError, match="budget_forcing"):
        migrate(store)
    out = migrate(store, drop_unmigratable=True)
    assert out["runs_dropped"] == 1
    assert set(store.sql("SELECT strategy FROM runs")["strategy"]) == {"sample", "greedy"}
