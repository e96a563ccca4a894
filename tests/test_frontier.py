"""backend/analysis (points, curves, exchange, allocation, routing, data): curves, frontier and winner map on a
hand-made cache; exchange rate, allocation and routing on constructed cases with known answers; brute-force checks of
the knapsack and Pareto front."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from backend.analysis import data
from backend.analysis import difficulty as D
from backend.analysis import frontier as F
from backend.analysis.allocation import _knapsack
from backend.analysis.data import Pool
from backend.store import Store, commit_batch

GOLD = "7"


# ----------------------------------------------------------------------------------------------- cache builders
def run_row(key, model, params, strategy, *, n=1, t=0.0, sp=None, verifier=None) -> dict:
    return {"run_key": key, "model": model, "model_params": params, "task": "arith", "strategy": strategy,
            "strategy_params": json.dumps(sp or {}, sort_keys=True), "sampling": json.dumps({"n": n, "temperature": t}),
            "verifier": verifier}


def prompt_rows(n_ops: list[int]) -> list[dict]:
    return [{"prompt_key": f"arith:q{i}", "task": "arith", "text": f"q{i}", "question": f"q{i}", "gold": GOLD,
             "n_ops": o, "digits": 1, "split": "heldout"} for i, o in enumerate(n_ops)]


def pool_rows(key, prompt_key, answers, flops=10.0, gen_tokens=10) -> list[dict]:
    flops = np.broadcast_to(np.asarray(flops, dtype=float), (len(answers),))
    return [{"run_key": key, "prompt_key": prompt_key, "sample_idx": i, "answer": a, "correct": a == GOLD,
             "prompt_tokens": 5, "gen_tokens": gen_tokens, "flops": float(f), "sum_logprob": -1.0, "is_final": False}
            for i, (a, f) in enumerate(zip(answers, flops))]


def score_rows(key, prompt_key, scores, verifier, tokens=10, flops=2.0) -> list[dict]:
    return [{"run_key": key, "prompt_key": prompt_key, "sample_idx": i, "verifier": verifier, "score": float(s),
             "tokens": tokens, "flops": flops} for i, s in enumerate(scores)]


def result_row(key, prompt_key, correct, flops, *, gen_tokens=10, verifier_flops=0.0, n_traces=1) -> dict:
    return {"run_key": key, "prompt_key": prompt_key, "answer": GOLD if correct else "0", "correct": bool(correct),
            "gen_tokens": gen_tokens, "gen_flops": float(flops), "verifier_tokens": 0,
            "verifier_flops": float(verifier_flops), "n_traces": n_traces, "wall_s": 0.0}


def greedy_rows(key, prompt_key, correct, flops, logprob=-1.0) -> tuple[dict, dict]:
    s = pool_rows(key, prompt_key, [GOLD if correct else "0"], flops)[0]
    s.update(sum_logprob=float(logprob), is_final=True)
    return s, result_row(key, prompt_key, correct, flops)


def pool_of(model, answers_per_prompt, *, flops=1.0, scores=None, t=0.8) -> Pool:
    """An in-memory pool (no store): answers per prompt (all of the same length), optional scores by "learned"."""
    p, n = len(answers_per_prompt), len(answers_per_prompt[0])
    correct = np.array([[a == GOLD for a in row] for row in answers_per_prompt])
    pool = Pool(f"rk-{model}-{t}", model, t, np.array([f"p{i}" for i in range(p)], dtype=object), [GOLD] * p,
                [list(r) for r in answers_per_prompt], correct, np.full((p, n), 5.0), np.full((p, n), 10.0),
                np.full((p, n), float(flops)), np.zeros((p, n)))
    if scores is not None:
        pool.scores["learned"] = np.asarray(scores, dtype=float)
        pool.score_tokens["learned"] = np.full((p, n), 10.0)
        pool.score_flops["learned"] = np.zeros((p, n))
    return pool


def greedy_points(model, correct, flops) -> F.Points:
    df = pd.DataFrame({"prompt_key": [f"p{i}" for i in range(len(correct))], "correct": correct, "gen_tokens": 10,
                       "gen_flops": float(flops), "verifier_flops": 0.0, "n_traces": 1})
    return F.result_points(df, model=model, strategy="greedy")


# ----------------------------------------------------------------------------------------------- hand-made cache
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """8 prompts (4 easy, 4 hard). small (100 params): pools "7 7 7 w" on 6 prompts, never right on 2 hard ones,
    10 FLOPs per sample on average; large (1000): "7 7 7 w" on 7 prompts, 40 FLOPs per sample; large greedy right on
    4 of 8."""
    root = tmp_path_factory.mktemp("store")
    n_ops = [1, 1, 2, 2, 5, 5, 6, 6]
    keys = [r["prompt_key"] for r in prompt_rows(n_ops)]
    runs = [run_row("s", "small", 100, "sample", n=4, t=0.8), run_row("l", "large", 1000, "sample", n=4, t=0.8),
            run_row("g", "large", 1000, "greedy")]
    samples, results = [], []
    for i, k in enumerate(keys):
        samples += pool_rows("s", k, ["w"] * 4 if i in (6, 7) else [GOLD, GOLD, GOLD, "w"], flops=[8, 12, 10, 10])
        samples += pool_rows("l", k, ["w"] * 4 if i == 7 else [GOLD, GOLD, GOLD, "w"], flops=40.0)
        s, r = greedy_rows("g", k, i in (0, 2, 4, 6), 40.0)
        samples.append(s)
        results.append(r)
    commit_batch({"runs": runs, "prompts": prompt_rows(n_ops), "samples": samples, "results": results}, root)
    store = Store(root)
    return store, F.collect_points(store), D.construction_bins(data.load_prompts(store))


def test_loaders_read_pools_and_runs(cache):
    store, _, _ = cache
    pool = data.load_pool(store, "s")
    assert pool.correct.shape == (8, 4) and pool.n == 4 and pool.temperature == 0.8
    assert pool.correct.sum() == 18 and pool.answers[0] == [GOLD, GOLD, GOLD, "w"]
    runs = data.load_runs(store)
    assert set(runs["strategy"]) == {"sample", "greedy"} and set(runs["n"]) == {1, 4}
    with pytest.raises(ValueError, match="not a pool"):
        data.load_pool(store, "g")
    with pytest.raises(ValueError, match="no run"):
        data.load_pool(store, "nope")


def test_budget_curves_convert_pools_to_samples_tokens_and_flops(cache):
    _, pts, _ = cache
    cur = F.budget_curves(pts)
    assert list(cur.columns[:6]) == ["model", "strategy", "temperature", "verifier", "k", "deployable"]
    assert {"samples", "tokens", "flops", "acc", "lo", "hi", "n_prompts"} <= set(cur.columns)
    assert set(cur.loc[cur.strategy == "maj@k", "temperature"]) == {0.8} and set(cur.loc[cur.strategy == "greedy",
                                                                                       "temperature"]) == {0.0}
    row = cur[(cur.model == "small") & (cur.strategy == "maj@k") & (cur.k == 3)].iloc[0]
    # budget k costs k × the MEAN per-sample FLOPs of each prompt (8, 12, 10, 10 → 10), never the first k samples
    assert (row.samples, row.tokens, row.flops) == (3, 30, 30)
    assert row.acc == pytest.approx(0.75) and row.lo <= 0.75 <= row.hi and row.n_prompts == 8
    cov = cur[(cur.model == "small") & (cur.strategy == "pass@k")]
    assert not cov.deployable.any() and cov.acc.tolist() == pytest.approx([0.5625, 0.75, 0.75, 0.75])
    greedy = cur[cur.strategy == "greedy"].iloc[0]
    assert (greedy.model, greedy.k, greedy.flops, greedy.acc) == ("large", 1, 40, 0.5)
    hard = F.budget_curves(pts, bins=cache[2], bin="hard")
    assert hard[(hard.model == "small") & (hard.strategy == "maj@k") & (hard.k == 4)].acc.iloc[0] == pytest.approx(0.5)
    assert set(hard.n_prompts) == {4}


def test_frontier_picks_the_known_best(cache):
    _, pts, _ = cache
    front = F.frontier(pts, 40.0).set_index(["model", "strategy"])
    assert front.loc[("small", "maj@k"), "k"] == 3  # ties with k=4 at 0.75; the cheaper one wins
    assert front.loc[("small", "maj@k"), "acc"] == pytest.approx(0.75)
    assert front.loc[("large", "maj@k"), "k"] == 1
    assert front.loc[("large", "greedy"), "acc"] == 0.5
    assert ("large", "pass@k") not in front.index
    assert len(F.frontier(pts, 10.0)) == 1  # only the small pool is affordable: its maj@1 (deployable)
    upper = F.frontier(pts, 10.0, upper_bounds=True)
    assert set(upper["strategy"]) == {"maj@k", "pass@k"} and not upper.set_index("strategy").loc["pass@k", "deployable"]


def test_winner_map_on_the_hand_made_cache(cache):
    _, pts, bins = cache
    wm = F.winner_map(pts, bins, [5.0, 40.0, 120.0]).set_index(["bin", "budget"])
    assert pd.isna(wm.loc[("easy", 5.0), "model"])  # nothing fits
    assert tuple(wm.loc[("easy", 40.0), ["model", "strategy", "k"]]) == ("small", "maj@k", 3)
    assert wm.loc[("easy", 120.0), "model"] == "small"  # ties large's 1.0 at a quarter of the FLOPs
    assert tuple(wm.loc[("hard", 40.0), ["model", "strategy", "k"]]) == ("large", "maj@k", 1)
    assert tuple(wm.loc[("hard", 120.0), ["model", "strategy", "k"]]) == ("large", "maj@k", 3)
    row = wm.loc[("hard", 120.0)]
    assert row.acc == pytest.approx(0.75) and row.runner_up_model == "small"
    assert row.margin == pytest.approx(0.25) and row.margin_lo <= 0.25 <= row.margin_hi
    assert "medium" not in wm.index.get_level_values("bin")  # no medium prompts in this cache


# ----------------------------------------------------------------------------------------------- exchange rate
def test_exchange_rate_known_answer():
    # best-of-k with a perfect verifier on "7 w w w" is pass@k = k/4; the large model's greedy is right on 6 of 10
    rows = [[GOLD, "a", "b", "c"]] * 10
    small = F.pool_points(pool_of("small", rows, scores=[[1, 0, 0, 0]] * 10), weighted=False)
    pts = F.concat_points([small, greedy_points("large", [1] * 6 + [0] * 4, 8.0)])
    r = F.exchange_rate(pts, "small", "large", method="best-of-k")
    assert (r["k"], r["never"], r["reason"], r["target_acc"]) == (3, False, "reached", 0.6)
    assert r["acc_at_k"] == pytest.approx(0.75) and r["flops_ratio"] == pytest.approx(3 / 8)
    assert r["k_lo"] <= 3 <= r["k_hi"] and r["p_never"] == 0.0


def test_weighted_majority_points_and_lifetime_at_the_exchange_rate():
    rows = [[GOLD, "a", "b", "c"]] * 10
    small = F.pool_points(pool_of("small", rows, scores=[[1, 0, 0, 0]] * 10))
    w = small.meta[small.meta["strategy"] == "weighted-maj@k"]
    assert list(w["k"]) == [1, 2, 4]  # powers of two and the largest k
    assert np.nanmean(small.acc[w.index[-1]]) == 1.0  # the whole pool: the only scored answer wins
    pts = F.concat_points([small, greedy_points("large", [1] * 6 + [0] * 4, 2.0)])
    models = pd.DataFrame({"name": ["small", "large"], "training_flops": [10.0, 100.0]})
    life = F.small_vs_large_lifetime(pts, models, "small", "large", [0, 90, 200], method="best-of-k")
    assert life["model"].iloc[0] == "small + best-of-k k=3" and set(life["break_even_queries"]) == {90.0}
    at = life[life["queries"] == 90.0]["total_flops"].tolist()
    assert at[0] == pytest.approx(at[1])  # 10 + 90·3 = 100 + 90·2
    with pytest.raises(ValueError, match="training FLOPs"):
        F.small_vs_large_lifetime(pts, models.iloc[:1], "small", "large", [1], method="best-of-k")


def test_exchange_rate_never_when_coverage_is_below_the_target():
    rows = [[GOLD, "a", "b", "c"]] * 5 + [["a", "b", "c", "d"]] * 5  # coverage 0.5 < target 0.6
    small = F.pool_points(pool_of("small", rows, scores=[[1, 0, 0, 0]] * 5 + [[0] * 4] * 5), weighted=False)
    pts = F.concat_points([small, greedy_points("large", [1] * 6 + [0] * 4, 8.0)])
    r = F.exchange_rate(pts, "small", "large", method="best-of-k")
    assert r["never"] and r["k"] is None and r["reason"] == "coverage" and r["coverage"] == pytest.approx(0.5)
    # majority vote against a popular wrong answer plateaus below the target although coverage reaches it
    rows = [[GOLD, "w", "w", "w"]] * 10
    pts = F.concat_points([F.pool_points(pool_of("small", rows), weighted=False),
                           greedy_points("large", [1] * 6 + [0] * 4, 8.0)])
    r = F.exchange_rate(pts, "small", "large", method="maj@k")
    assert r["never"] and r["reason"] == "plateau" and r["coverage"] == 1.0 and r["k_hi"] is None
    table = F.exchange_table(pts, "small", "large")
    assert list(table["bin"]) == ["all"] and bool(table["never"][0])


# ----------------------------------------------------------------------------------------------- allocation
def _two_bin_points():
    easy = [[GOLD] * 4] * 6
    hard = [[GOLD, "a", "b", "c"]] * 6
    pts = F.pool_points(pool_of("m", easy + hard, scores=[[1, 1, 1, 1]] * 6 + [[1, 0, 0, 0]] * 6), weighted=False)
    bins = pd.Series(pd.Categorical(["easy"] * 6 + ["hard"] * 6, ["easy", "hard"], ordered=True),
                     index=pts.prompt_keys)
    return pts, bins


def test_allocation_beats_uniform_where_it_must():
    pts, bins = _two_bin_points()
    r = F.allocate(pts, bins, 2.5)
    # uniform: best-of-2 everywhere = (1 + 0.5)/2; adaptive: 1 sample on easy, 4 on hard = 1.0 at the same 2.5
    assert r["uniform_acc"] == pytest.approx(0.75) and r["alloc_acc"] == pytest.approx(1.0)
    assert r["gain"] == pytest.approx(0.25) and r["alloc_flops"] <= 2.5 + 1e-9
    per = r["per_bin"].set_index("bin")
    assert per.loc["easy", "k"] == 1 and per.loc["hard", "k"] == 4 and per.loc["hard", "strategy"] == "best-of-k"
    cf = F.crossfit_allocation(pts, bins, 2.5)
    assert cf["gain"] == pytest.approx(0.25)
    curve = F.allocation_curve(pts, bins, [1.0, 2.5, 4.0])
    assert (curve["gain"] >= -1e-12).all() and list(curve["budget"]) == [1.0, 2.5, 4.0]
    with pytest.raises(ValueError, match="no allocation fits"):
        F.allocate(pts, bins, 0.5)


def test_knapsack_matches_brute_force_and_never_loses_to_uniform():
    rng = np.random.default_rng(3)
    for _ in range(40):
        n_bins, n_opt = rng.integers(1, 4), rng.integers(1, 5)
        acc, flops = rng.random((n_bins, n_opt)), rng.integers(1, 6, (n_bins, n_opt)).astype(float)
        sizes = rng.integers(1, 4, n_bins).astype(float)
        cap = float(rng.integers(1, 6)) * sizes.sum()
        best = max(((sizes * acc[np.arange(n_bins), c]).sum() for c in itertools.product(range(n_opt), repeat=n_bins)
                    if (sizes * flops[np.arange(n_bins), c]).sum() <= cap), default=None)
        pick = _knapsack(acc, flops, sizes, cap)
        if best is None:
            assert pick is None
        else:
            assert (sizes * acc[np.arange(n_bins), pick]).sum() == pytest.approx(best)
            uni = [(sizes * acc[:, j]).sum() for j in range(n_opt) if (sizes * flops[:, j]).sum() <= cap]
            assert all(best >= u - 1e-12 for u in uni)


# ----------------------------------------------------------------------------------------------- routing
def test_routing_front_hand_made():
    front = F.routing_front([1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0], [10, 10, 10, 10], [0.9, 0.8, 0.2, 0.1])
    assert list(front["policy"]) == ["direct", "route"]
    assert front["acc"].tolist() == [0.5, 0.75] and front["flops"].tolist() == [1.0, 6.0]
    assert front["threshold"].iloc[1] == 0.8 and front["frac_direct"].iloc[1] == 0.5
    routed = F.routing_front([1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0], [10, 10, 10, 10], [0.9, 0.8, 0.2, 0.1],
                             mode="route", router_flops=0.5)
    assert routed["flops"].iloc[-1] == pytest.approx(0.5 + 5.5)  # a router pays only the model it picks


def test_routing_front_is_the_brute_force_pareto_set():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = 12
        dc, cc = rng.random(p) < 0.4, rng.random(p) < 0.8
        df_, cf, conf = rng.integers(1, 3, p), rng.integers(5, 9, p), rng.integers(0, 5, p).astype(float)
        front = F.routing_front(dc, df_, cc, cf, conf, n_boot=10)
        pol = [(dc.mean(), df_.mean()), (cc.mean(), cf.mean())]
        for t in list(np.unique(conf)) + [np.inf]:
            s = conf >= t
            pol.append((np.where(s, dc, cc).mean(), (df_ + np.where(s, 0, cf)).mean()))
        pareto = {(a, f) for a, f in pol if not any((a2 >= a and f2 <= f) and (a2 > a or f2 < f) for a2, f2 in pol)}
        assert set(zip(front["acc"].round(12), front["flops"].round(12))) == {(round(a, 12), round(f, 12))
                                                                            for a, f in pareto}


def test_lifetime_table():
    models = pd.DataFrame({"model": ["small+ttc", "large"], "training_flops": [1.0, 10.0],
                           "flops_per_query": [2.0, 0.5]})
    t = F.lifetime_table(models, [0, 6])
    assert t["total_flops"].tolist() == [1.0, 13.0, 10.0, 13.0]  # break-even at 6 queries
    assert list(t.columns) == ["model", "queries", "training_flops", "inference_flops", "total_flops"]


# ----------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_a_value_error(cache):
    _, pts, bins = cache
    pool = pool_of("m", [[GOLD, "a"]] * 3)
    cases = [
        lambda: F.pool_points(pool, ks=[3]),  # k > n
        lambda: F.pool_points(pool, ks=[0]),
        lambda: F.default_ks(0),
        lambda: F.result_points(pd.DataFrame({"prompt_key": ["a"], "correct": [True], "gen_tokens": [-1],
                                              "gen_flops": [1.0], "verifier_flops": [0.0], "n_traces": [1]}),
                                model="m", strategy="beam"),  # negative counts
        lambda: F.result_points(pd.DataFrame({"prompt_key": ["a"]}), model="m", strategy="beam"),
        lambda: F.budget_curves(pts, bins, "impossible"),  # unknown bin
        lambda: F.budget_curves(pts, None, "hard"),
        lambda: F.frontier(pts, -1.0),
        lambda: F.winner_map(pts, {"a": 1}),
        lambda: F.exchange_rate(pts, "tiny", "large"),
        lambda: F.exchange_rate(pts, "small", "large", target="best"),
        lambda: F.exchange_rate(pts, "small", "large", temperature=9.0),
        lambda: F.exchange_rate(pts, "small", "large", method="pass@k"),  # an upper bound has no exchange rate
        lambda: F.routing_front([1, 0], [1, 1], [1], [1, 1], [0.1, 0.2]),  # mismatched lengths
        lambda: F.routing_front([1, 0], [1, -1], [1, 1], [1, 1], [0.1, 0.2]),
        lambda: F.routing_front([1, 0], [1, 1], [1, 1], [1, 1], [0.1, 0.2], mode="psychic"),
        lambda: F.lifetime_table(pd.DataFrame({"model": ["a"]}), [1]),
        lambda: F.lifetime_table(pd.DataFrame({"model": ["a"], "training_flops": [1], "flops_per_query": [1]}), [-1]),
        lambda: F.allocate(pts, bins, float("nan")),
        lambda: F.concat_points([]),
        lambda: F.Points(pts.meta, pts.prompt_keys, pts.acc[:, :2], pts.samples, pts.tokens, pts.flops),
    ]
    for call in cases:
        with pytest.raises(ValueError):
            call()


def test_load_pool_gives_none_for_unparseable_answers(tmp_path):
    """Missing answers must be None (they never vote), not NaN (which would vote as one answer)."""
    from backend.analysis.data import load_pool
    from backend.store import Store, commit_batch

    rows = [{"run_key": "r", "prompt_key": "p", "sample_idx": i, "answer": a, "correct": a == "1",
             "prompt_tokens": 1, "gen_tokens": 1, "flops": 1.0} for i, a in enumerate(["1", None, None, "2"])]
    commit_batch({"runs": [{"run_key": "r", "model": "m", "model_params": 1, "strategy": "sample",
                            "sampling": '{"n": 4, "temperature": 1.0}'}],
                  "prompts": [{"prompt_key": "p", "gold": "1"}], "samples": rows}, tmp_path)
    pool = load_pool(Store(tmp_path), "r")
    assert pool.answers == [["1", None, None, "2"]]


def test_concat_points_equals_stacking_everything_then_dropping_duplicates():
    """concat_points lays out only the points it keeps; the result equals stacking every part over the union of
    prompts and then keeping, per point key, the point measured on most prompts (the first such)."""
    import numpy as np
    import pandas as pd

    from backend.analysis.points import POINT_KEY, Points, concat_points

    rng = np.random.default_rng(0)
    parts = []
    for i in range(6):
        keys = np.array([f"p{j}" for j in sorted(rng.choice(12, size=rng.integers(3, 10), replace=False))], dtype=object)
        n = int(rng.integers(1, 5))
        meta = pd.DataFrame({"model": rng.choice(["a", "b"], n), "strategy": "maj@k", "temperature": 0.8,
                             "verifier": "", "k": rng.choice([1, 2], n), "run_key": f"r{i}"})
        acc = rng.random((n, len(keys)))
        acc[rng.random(acc.shape) < 0.2] = np.nan
        parts.append(Points(meta, keys, acc, acc * 0 + 1, acc * 0 + 10, acc * 0 + 100))
    got = concat_points(parts)
    keys = pd.Index(pd.unique(np.concatenate([p.prompt_keys for p in parts])))
    rows = sum(len(p.meta) for p in parts)
    full = {name: np.full((rows, len(keys)), np.nan) for name in ("acc", "samples", "tokens", "flops")}
    row = 0
    for p in parts:
        for name in full:
            full[name][row:row + len(p.meta), keys.get_indexer(p.prompt_keys)] = getattr(p, name)
        row += len(p.meta)
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    count = (~np.isnan(full["acc"])).sum(axis=1)
    keep = np.sort(meta.iloc[np.lexsort((-count,))].drop_duplicates(POINT_KEY).index.to_numpy())
    assert list(got.prompt_keys) == list(keys)
    for name in full:
        assert np.array_equal(getattr(got, name), full[name][keep], equal_nan=True), name
    assert got.meta["run_key"].tolist() == meta["run_key"].iloc[keep].tolist()
