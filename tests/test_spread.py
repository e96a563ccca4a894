import itertools
import random

import numpy as np
import pytest

from backend.analysis.spread import expected_distinct


def test_expected_distinct_matches_brute_force_over_all_subsets():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 8)
        answers = [rng.choice("abcd") for _ in range(n)]
        k = rng.randint(1, n)
        brute = np.mean([len(set(c)) for c in itertools.combinations(answers, k)])
        counts = [answers.count(a) for a in set(answers)]
        assert expected_distinct(counts, k) == pytest.approx(brute)


def test_expected_distinct_rejects_bad_input():
    for counts, k in (([], 1), ([2, 1], 0), ([2, 1], 4), ([-1, 3], 1)):
        with pytest.raises(ValueError):
            expected_distinct(counts, k)


def test_counts_in_duckdb_equal_the_loaded_pools(on_app_cache):
    """Oracle bins and Spread's prompt list count right samples in DuckDB; the counts, the bins and the list equal
    what the loaded pools give (prompts with fewer than n samples left out alike)."""
    import pandas as pd

    from backend import explore
    from backend.analysis import data, difficulty, selection
    from backend.explore import common, spread

    store = explore.store()
    runs = data.load_runs(store, "sample")
    for key in runs["run_key"]:
        pool = data.load_pool(store, key)
        keys, n, right = data.pool_counts(store, key)
        assert n == pool.n and list(keys) == list(pool.prompt_keys)
        assert np.array_equal(right, pool.correct.sum(axis=1))
    model = common.final_models("cot")[0]
    pool = data.load_pool(store, common.main_pool(model))
    expect = difficulty.oracle_bins(np.full(len(pool.prompt_keys), pool.n), pool.correct.sum(axis=1), pool.prompt_keys)
    pd.testing.assert_series_equal(common.bins("oracle", model), expect)
    for axis in spread.AXES:
        pools = [(c, data.load_pool(store, k)) for c, k in selection.spread_runs(data.load_runs(store), model, axis)]
        if not pools:
            continue
        rows = [{"prompt_key": k, "condition": c, "acc": a} for c, p in pools
                for k, a in zip(p.prompt_keys, p.correct.mean(axis=1))]
        df = pd.DataFrame(rows).pivot_table(index="prompt_key", columns="condition", values="acc")
        got = spread.prompt_options(model, axis).set_index("prompt_key")["swing"]
        pd.testing.assert_series_equal(got.sort_index(), (df.max(axis=1) - df.min(axis=1)).rename("swing").sort_index())
