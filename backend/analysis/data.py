"""Loaders: the analysis's only SQL. Each returns plain arrays or tidy frames that the frontier and claims take.

Pools (strategy "sample") come back as [prompts, n] arrays; strategy runs as their ``results`` rows; models as one
table joining the zoo's cards with what the runs table says about models that have no card.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backend.store import Store
from backend.verifiers import canonical_name

__all__ = ["Pool", "POOL_RUNS", "load_runs", "load_prompts", "load_pool", "load_results", "load_routing", "model_table"]

_RUN_COLS = "run_key, model, model_params, task, strategy, strategy_params, sampling, verifier, source"
POOL_RUNS = ("sample", "budget_forcing")  # runs that store n full samples per prompt (budget forcing: n forced traces)


@dataclass
class Pool:
    """One sampling pool: n samples for each of P prompts, as [P, n] arrays (row i is prompt_keys[i])."""

    run_key: str
    model: str
    temperature: float
    prompt_keys: np.ndarray  # [P]
    gold: list  # [P] gold answers (strings)
    answers: list  # [P][n] extracted answers (None = unparseable)
    correct: np.ndarray  # [P, n] bool
    prompt_tokens: np.ndarray  # [P, n]
    gen_tokens: np.ndarray  # [P, n]
    flops: np.ndarray  # [P, n] generation FLOPs per sample, as stored
    sum_logprob: np.ndarray  # [P, n]
    think_tokens: np.ndarray | None = None  # [P, n] tokens before the answer marker (NaN where not recorded)
    scores: dict = field(default_factory=dict)  # verifier -> [P, n] score, NaN where a sample was not scored
    score_tokens: dict = field(default_factory=dict)  # verifier -> [P, n] tokens the verifier read
    score_flops: dict = field(default_factory=dict)  # verifier -> [P, n] FLOPs the verifier spent, as stored
    dropped: int = 0  # prompts left out because their pool was incomplete

    @property
    def n(self) -> int:
        return self.correct.shape[1]


def load_runs(store: Store, strategy: str | None = None, *, run_keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Runs with their JSON parsed: temperature, n, budget (strategy_params["budget"], or None) and params (dict);
    ``run_keys`` reads only those (one run's points must not parse every run's JSON: at 18,400 runs that was 73% of
    the precompute)."""
    where, args = [], []
    if strategy is not None:
        where, args = where + ["strategy = ?"], args + [strategy]
    if run_keys is not None:
        where, args = where + ["run_key IN (SELECT unnest(?::VARCHAR[]))"], args + [list(run_keys)]
    cond = f"WHERE {' AND '.join(where)} " if where else ""
    df = store.sql(f"SELECT {_RUN_COLS} FROM runs {cond}ORDER BY model, strategy, run_key", args)
    sampling = [json.loads(x) if x else {} for x in df["sampling"]]
    params = [json.loads(x) if x else {} for x in df["strategy_params"]]
    df["temperature"] = [float(x.get("temperature", 0.0)) for x in sampling]
    df["n"] = [int(x.get("n", 1)) for x in sampling]
    df["budget"] = pd.Series([p.get("budget") for p in params], index=df.index, dtype=object)
    df["params"] = params
    df["verifier"] = pd.Series([canonical_name(v) if isinstance(v, str) else None for v in df["verifier"]],
                               index=df.index, dtype=object)
    return df


def load_prompts(store: Store) -> pd.DataFrame:
    """Every stored prompt: prompt_key, task, gold, n_ops, digits, split."""
    return store.sql("SELECT prompt_key, task, gold, n_ops, digits, split FROM prompts ORDER BY prompt_key")


def load_prompt_records(store: Store, keys) -> dict:
    """PromptRecords of these prompts (what a task or verifier reads), by prompt key."""
    from backend.tasks import PromptRecord

    keys = [str(k) for k in keys]
    df = store.sql("SELECT prompt_key, task, text, question, gold, n_ops, digits, split FROM prompts "
                   "WHERE prompt_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
    nan = lambda v: None if pd.isna(v) else v
    return {r.prompt_key: PromptRecord(r.prompt_key, r.task, r.text, r.question, r.gold, nan(r.n_ops), nan(r.digits),
                                       r.split) for r in df.itertuples()}


def load_texts(store: Store, run_key: str, prompt_keys, n: int) -> list[list[str]]:
    """The sample texts of a pool run as [prompts][n] (prompt_keys order, as load_pool returns them)."""
    smp = store.sql("SELECT prompt_key, sample_idx, text FROM samples WHERE run_key = ? ORDER BY prompt_key, "
                    "sample_idx", [run_key])
    by_key = {k: [""] * n for k in prompt_keys}
    for k, i, t in zip(smp["prompt_key"], smp["sample_idx"], smp["text"]):
        if k in by_key and i < n:
            by_key[k][i] = t if isinstance(t, str) else ""
    return [by_key[k] for k in prompt_keys]


def _grid(df: pd.DataFrame, keys: np.ndarray, n: int, col: str, fill=np.nan) -> np.ndarray:
    pos = pd.Index(keys).get_indexer(df["prompt_key"])
    ok = (pos >= 0) & (df["sample_idx"].to_numpy() < n)
    out = np.full((len(keys), n), fill, dtype=float)
    out[pos[ok], df["sample_idx"].to_numpy()[ok]] = df[col].to_numpy(dtype=float)[ok]
    return out


def load_pool(store: Store, run_key: str) -> Pool:
    """The samples of a pool run (see POOL_RUNS) as [P, n] arrays, with every verifier's scores of them; prompts
    with fewer than n samples are dropped (counted in Pool.dropped)."""
    s = store
    run = s.sql(f"SELECT {_RUN_COLS} FROM runs WHERE run_key = ?", [run_key])
    if run.empty:
        raise ValueError(f"no run {run_key!r} in the cache.")
    if run["strategy"][0] not in POOL_RUNS:
        raise ValueError(f"run {run_key!r} is a {run['strategy'][0]!r} run, not a pool ({', '.join(POOL_RUNS)}).")
    sampling = json.loads(run["sampling"][0] or "{}")
    n = int(sampling.get("n", 1))
    smp = s.sql("SELECT s.prompt_key, s.sample_idx, s.answer, s.correct, s.prompt_tokens, s.gen_tokens, "
                "s.think_tokens, s.flops, s.sum_logprob, p.gold FROM samples s JOIN prompts p USING (prompt_key) "
                "WHERE s.run_key = ? ORDER BY s.prompt_key, s.sample_idx", [run_key])
    counts = smp.groupby("prompt_key")["sample_idx"].nunique()
    full = counts.index[counts.to_numpy() == n].to_numpy()
    smp = smp[smp["prompt_key"].isin(full)]
    keys = np.asarray(sorted(full), dtype=object)
    gold = smp.groupby("prompt_key")["gold"].first().reindex(keys).tolist()
    ans = _grid(smp.assign(i=np.arange(len(smp))), keys, n, "i").astype(int) if len(keys) else np.zeros((0, n), int)
    raw = [a if isinstance(a, str) else None for a in smp["answer"]]  # pandas gives NaN for a missing answer
    answers = [[raw[j] for j in row] for row in ans]
    pool = Pool(run_key=run_key, model=run["model"][0], temperature=float(sampling.get("temperature", 0.0)),
                prompt_keys=keys, gold=gold, answers=answers,
                correct=_grid(smp.assign(correct=smp["correct"].fillna(False).astype(float)), keys, n, "correct") > 0.5,
                prompt_tokens=_grid(smp, keys, n, "prompt_tokens"), gen_tokens=_grid(smp, keys, n, "gen_tokens"),
                think_tokens=_grid(smp, keys, n, "think_tokens"),
                flops=_grid(smp, keys, n, "flops"), sum_logprob=_grid(smp, keys, n, "sum_logprob"),
                dropped=int(len(counts) - len(full)))
    sc = s.sql("SELECT prompt_key, sample_idx, verifier, score, tokens, flops FROM scores WHERE run_key = ?", [run_key])
    for name, g in sc.groupby("verifier"):
        v = canonical_name(name)
        pool.scores[v] = _grid(g, keys, n, "score")
        pool.score_tokens[v] = _grid(g, keys, n, "tokens", 0.0)
        pool.score_flops[v] = _grid(g, keys, n, "flops", 0.0)
    return pool


def pool_counts(store: Store, run_key: str) -> tuple[np.ndarray, int, np.ndarray]:
    """(prompt keys, n, right samples per prompt) of a pool run, aggregated in DuckDB — what load_pool(...).correct
    sums to, with the same rule (prompts with fewer than n samples left out), without reading the pool's rows."""
    run = store.sql("SELECT sampling FROM runs WHERE run_key = ?", [run_key])
    if run.empty:
        raise ValueError(f"no run {run_key!r} in the cache.")
    n = int(json.loads(run["sampling"][0] or "{}").get("n", 1))
    c = store.sql("SELECT prompt_key, count(DISTINCT sample_idx) AS k, sum(coalesce(correct, false)::INT) AS right "
                  "FROM samples WHERE run_key = ? GROUP BY prompt_key HAVING k = ? ORDER BY prompt_key", [run_key, n])
    return np.asarray(c["prompt_key"], dtype=object), n, c["right"].to_numpy(dtype=np.int64)


def load_results(store: Store, run_key: str) -> pd.DataFrame:
    """The results rows of a strategy run: prompt_key, answer, correct, gen_tokens, gen/verifier FLOPs, n_traces."""
    return store.sql(
        "SELECT prompt_key, answer, correct, gen_tokens, gen_flops, verifier_tokens, verifier_flops, n_traces "
        "FROM results WHERE run_key = ? ORDER BY prompt_key", [run_key])


def _greedy_rows(store: Store, model: str) -> pd.DataFrame:
    """Per prompt: a model's greedy correctness, FLOPs and trace log-prob, from its built greedy run first (a live
    run fills only prompts the built one lacks). One query per run that supplies a prompt (found from all its greedy
    runs' result keys at once: repeated runs add nothing), each filtered by its run key so the scan reads only that
    run's row groups (a join on the whole samples view read them all)."""
    keys = store.sql("SELECT run_key FROM runs WHERE model = ? AND strategy = 'greedy' "
                     "ORDER BY source = 'live', run_key", [model])["run_key"].tolist()
    if not keys:
        raise ValueError(f"no greedy run of model {model!r} in the cache; run it first.")
    marks = ", ".join("?" * len(keys))
    have = store.sql(f"SELECT DISTINCT run_key, prompt_key FROM results WHERE run_key IN ({marks})", keys)
    prompts_of = have.groupby("run_key")["prompt_key"].agg(set)
    seen: set[str] = set()
    supplying = []
    for k in keys:
        new = prompts_of.get(k, set()) - seen
        if new or k == keys[0]:
            supplying.append(k)
            seen |= new
    q = ("SELECT r.prompt_key, r.correct, r.gen_flops + r.verifier_flops AS flops, s.sum_logprob FROM results r "
         "LEFT JOIN (SELECT prompt_key, sum_logprob FROM samples WHERE run_key = ? AND sample_idx = 0) s "
         "USING (prompt_key) WHERE r.run_key = ?")
    parts = [store.sql(q, [k, k]) for k in supplying]
    return pd.concat(parts, ignore_index=True).drop_duplicates("prompt_key")


def load_routing(store: Store, direct_model: str, cot_model: str) -> pd.DataFrame:
    """Per prompt, both models' greedy correctness and FLOPs, and the direct model's confidence (its trace's log-prob).

    Only prompts both greedy runs answered. Confidence = sum of the direct greedy trace's token log-probs (higher =
    surer); it comes with the direct answer, so routing on it is a cascade: the direct model always runs.
    """
    d, c = _greedy_rows(store, direct_model), _greedy_rows(store, cot_model)
    m = d.merge(c, on="prompt_key", suffixes=("_direct", "_cot"))
    return pd.DataFrame({"prompt_key": m["prompt_key"], "direct_correct": m["correct_direct"].astype(float),
                         "direct_flops": m["flops_direct"], "cot_correct": m["correct_cot"].astype(float),
                         "cot_flops": m["flops_cot"], "confidence": m["sum_logprob_direct"].fillna(-np.inf)})


def model_table(store: Store | None = None, cards: list[dict] | None = None) -> pd.DataFrame:
    """One row per model: name, params, fmt, family, checkpoint_of, fine_tune_of (the base of a fine-tuned member: DPO,
    router), training_tokens, training_flops, layers, width, and the data recipe that tells variants apart (seed, paths, p_fix, p_recheck; NaN when unknown).

    From the zoo's cards (registry.list_cards() unless given); with a store, models that appear only in the runs
    table get params from it and fmt / checkpoint from their name ("cot-…", "direct-…", "…@3M"), with training
    columns left empty.
    """
    if cards is None:
        from backend.zoo.registry import list_cards

        cards = list_cards()
    cols = ["name", "params", "fmt", "family", "checkpoint_of", "fine_tune_of", "training_tokens", "training_flops",
            "layers", "width"]
    recipe = ["seed", "paths", "p_fix", "p_recheck"]
    rows = []
    for card in cards:
        r = card.get("recipe") or {}
        rows.append({**{c: card.get(c) for c in cols}, "seed": card.get("seed", r.get("seed")),
                     "paths": r.get("paths", "single" if r else None),  # members before the knob are single-path
                     "p_fix": r.get("p_fix"), "p_recheck": r.get("p_recheck")})
    known = {r["name"] for r in rows}
    if store is not None:
        runs = store.sql("SELECT model, max(model_params) AS params FROM runs GROUP BY model ORDER BY model")
        for name, params in zip(runs["model"], runs["params"]):
            if name in known:
                continue
            base = name.split("@")[0]
            fmt = base.split("-")[0] if base.split("-")[0] in ("cot", "direct") else None
            rows.append({"name": name, "params": int(params), "fmt": fmt, "family": base,
                         "checkpoint_of": base if "@" in name else None, "fine_tune_of": None, "training_tokens": None,
                         "training_flops": None, "layers": None, "width": None})
    df = pd.DataFrame(rows, columns=cols + recipe)
    df["family"] = df["family"].fillna(df["name"])
    return df.sort_values(["fmt", "params", "name"], na_position="last").reset_index(drop=True)
