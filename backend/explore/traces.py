"""Data for the Traces page: one prompt of one run, every sample with its tokens and log-probs, verifier step
scores, the search tree laid out for drawing, and forced tokens of budget forcing."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backend.analysis.votes import answer_counts
from backend.explore import store, unique_labels


ORDER = ("sample", "greedy", "best_of_n", "beam", "dvts", "budget_forcing", "adaptive", "route")  # pools first


def run_table(describe=lambda strategy, verifier="": strategy) -> pd.DataFrame:
    """Every run with a label unique within its model (the selectors and links use it), ordered pools first (the
    biggest first), then greedy, search, budget forcing, adaptive and routing runs by budget. ``describe(strategy,
    verifier)`` names a strategy for display."""
    runs = store().sql("SELECT run_key, model, model_params, strategy, strategy_params, sampling, verifier, source "
                       "FROM runs ORDER BY model_params, model, strategy, strategy_params, sampling, run_key")
    sp = [json.loads(x or "{}") for x in runs["sampling"]]
    params = [json.loads(x or "{}") for x in runs["strategy_params"]]
    runs["label"] = [run_label(r, s, p, describe) for r, s, p in zip(runs.itertuples(), sp, params)]
    runs["_order"] = [ORDER.index(x) if x in ORDER else len(ORDER) for x in runs["strategy"]]
    runs["_n"] = [-int(s.get("n", 1)) for s in sp]
    runs["_budget"] = [float(p.get("budget", 0) or 0) for p in params]
    runs = runs.sort_values(["model_params", "model", "_order", "_n", "verifier", "_budget", "run_key"],
                            na_position="first", kind="stable").drop(columns=["_order", "_n", "_budget"])
    runs["label"] = runs.groupby("model", sort=False)["label"].transform(lambda s: unique_labels(list(s)))
    return runs.reset_index(drop=True)


def link_params(run_key: str, prompt_key: str, describe=lambda strategy, verifier="": strategy) -> dict:
    """Query parameters that open the Traces page on this run and prompt."""
    runs = run_table(describe).set_index("run_key")
    q = store().sql("SELECT question FROM prompts WHERE prompt_key = ?", [prompt_key])
    return {"model": runs.loc[run_key, "model"], "run": runs.loc[run_key, "label"],
            "prompt": q["question"].iloc[0] if len(q) else prompt_key}


def run_label(r, sampling: dict, params: dict, describe) -> str:
    """A run in words: "sampling pool · 256 samples at T=0.8", "beam search (learned verifier) · budget 16, width 4",
    "budget forcing · forced to 32 tokens"."""
    verifier = r.verifier if isinstance(r.verifier, str) else ""
    if r.strategy == "sample":
        n, t = int(sampling.get("n", 1)), float(sampling.get("temperature", 0.0))
        return f"sampling pool · {n} sample{'s' if n != 1 else ''} at T={t:g}"
    bits = [describe(r.strategy, verifier)]
    if r.strategy == "budget_forcing":
        how = {"cap": "capped at", "force": "forced to"}.get(params.get("mode", "force"), "budget")
        bits.append(f"{how} {params.get('budget')} tokens")
    elif r.strategy == "adaptive":
        bits.append(f"{params.get('allocation', 'adaptive')} allocation, {params.get('budget')} samples per prompt"
                    + (f" ({params['probe']}-sample probe)" if params.get("probe") else ""))
    elif r.strategy == "route":
        bits.append(" ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(params.items())))
    else:
        bits += [", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(params.items()) if v not in (None, ""))]
    t = float(sampling.get("temperature", 0.0))
    if r.strategy not in ("greedy", "route") and t > 0:
        bits.append(f"T={t:g}")
    return " · ".join(b for b in bits if b)


def prompt_table(run_key: str) -> pd.DataFrame:
    """Prompts of a run with their cell, how often the run got them right and how many distinct answers it gave,
    ordered by operators, digits and prompt."""
    return store().sql(
        "SELECT p.prompt_key, p.question, p.gold, p.n_ops, p.digits, count(*) AS samples, "
        "avg(s.correct::INT) AS accuracy, count(DISTINCT coalesce(s.answer, '')) AS answers "
        "FROM samples s JOIN prompts p USING (prompt_key) "
        "WHERE s.run_key = ? GROUP BY ALL ORDER BY p.n_ops, p.digits, p.prompt_key", [run_key])


def samples(run_key: str, prompt_key: str) -> pd.DataFrame:
    """Every sample of the prompt in this run, with learned-verifier scores when the pool was scored."""
    df = store().sql(
        "SELECT s.sample_idx, s.text, s.answer, s.correct, s.gen_tokens, s.think_tokens, s.sum_logprob, "
        "s.token_logprobs, s.forced, s.finish_reason, s.is_final, s.node_id, sc.score, sc.step_scores, sc.verifier "
        "FROM samples s LEFT JOIN scores sc ON sc.run_key = s.run_key AND sc.prompt_key = s.prompt_key "
        "AND sc.sample_idx = s.sample_idx WHERE s.run_key = ? AND s.prompt_key = ? ORDER BY s.sample_idx",
        [run_key, prompt_key])
    return df.drop_duplicates("sample_idx")


def answer_histogram(df: pd.DataFrame, gold: str) -> pd.DataFrame:
    """How many samples gave each answer (votes.NONE for unparseable), the gold answer flagged."""
    c = answer_counts(a if isinstance(a, str) else None for a in df["answer"])
    counts = pd.DataFrame({"answer": list(c), "count": list(c.values())})
    counts["is_gold"] = counts["answer"] == gold
    counts["share"] = counts["count"] / counts["count"].sum()
    return counts


def token_grid(df: pd.DataFrame, limit: int = 16) -> dict:
    """Characters, raw log-probs and forced flags of the samples that kept per-token log-probs, as a
    [samples, positions] grid for a heatmap (NaN past each sample's end)."""
    rows = df[df["token_logprobs"].notna()].head(limit)
    width = max((len(x) for x in rows["token_logprobs"]), default=0)
    lp = np.full((len(rows), width), np.nan)
    chars = [[""] * width for _ in range(len(rows))]
    forced = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows.itertuples()):
        vals = list(r.token_logprobs)
        lp[i, : len(vals)] = vals
        text = r.text.replace("\n", "¶") + "⏎"  # one character per token; newline shown as ¶, end of sequence as ⏎
        for j in range(len(vals)):
            chars[i][j] = text[j] if j < len(text) else ""
        if is_list(r.forced):
            f = list(r.forced)
            forced[i, : len(f)] = f
    return {"sample_idx": rows["sample_idx"].tolist(), "correct": rows["correct"].tolist(), "logprob": lp,
            "chars": chars, "forced": forced}


def is_list(x) -> bool:
    return isinstance(x, (list, tuple, np.ndarray))


def tree(run_key: str, prompt_key: str) -> pd.DataFrame:
    """Search tree nodes with plotting positions: x = depth, y = the leaf order (parents centred on children)."""
    nodes = store().sql("SELECT * FROM nodes WHERE run_key = ? AND prompt_key = ? ORDER BY node_id",
                        [run_key, prompt_key])
    if nodes.empty:
        return nodes
    nodes["parent_id"] = nodes["parent_id"].astype("Int64")
    children: dict[int, list[int]] = {}
    for nid, pid in zip(nodes["node_id"], nodes["parent_id"]):
        if pd.notna(pid):
            children.setdefault(int(pid), []).append(int(nid))
    y: dict[int, float] = {}
    counter = [0]

    def place(nid: int) -> float:
        kids = children.get(nid, [])
        if not kids:
            y[nid] = counter[0]
            counter[0] += 1
        else:
            y[nid] = float(np.mean([place(k) for k in kids]))
        return y[nid]

    place(0)
    nodes["y"] = nodes["node_id"].map(y)
    nodes["x"] = nodes["depth"]
    final = store().sql("SELECT node_id FROM samples WHERE run_key = ? AND prompt_key = ? AND is_final",
                        [run_key, prompt_key])["node_id"].dropna().astype(int).tolist()
    on_final = set()
    by_id = nodes.set_index("node_id")
    for leaf in final:
        nid = leaf
        while nid is not None and nid in by_id.index:
            on_final.add(nid)
            pid = by_id.loc[nid, "parent_id"]
            nid = int(pid) if pd.notna(pid) else None
    nodes["on_answer_path"] = nodes["node_id"].isin(on_final)
    return nodes


def default_prompt(prompts: pd.DataFrame) -> str | None:
    """The prompt a reader should see first: a 4–5-operator prompt with mixed answers (right between 20% and 80%
    of the time, the most distinct answers), else the most mixed one."""
    if prompts.empty:
        return None
    mixed = prompts[prompts["accuracy"].between(0.2, 0.8)]
    pick = mixed[mixed["n_ops"].between(4, 5)]
    pick = pick if len(pick) else mixed if len(mixed) else prompts
    pick = pick.assign(off=(pick["accuracy"] - 0.5).abs())
    return pick.sort_values(["answers", "off", "prompt_key"], ascending=[False, True, True])["prompt_key"].iloc[0]


def sample_table(df: pd.DataFrame) -> pd.DataFrame:
    """The samples as a table to read: words for column names, ✓ / ✗ for right and wrong, "—" where a value does not
    exist (an unscored sample, no thinking marker)."""
    from backend.explore import fmt

    num = lambda col, f: [f(v) for v in df[col]] if col in df.columns else [fmt.MISSING] * len(df)
    return pd.DataFrame({
        "sample": df["sample_idx"].astype(int), "answer": [a if isinstance(a, str) else "(none)" for a in df["answer"]],
        "right": ["✓" if c else "✗" for c in df["correct"]],
        "tokens": num("gen_tokens", lambda v: fmt.MISSING if fmt.missing(v) else str(int(v))),
        "thinking tokens": num("think_tokens", lambda v: fmt.MISSING if fmt.missing(v) else str(int(v))),
        "log-prob": num("sum_logprob", lambda v: fmt.MISSING if fmt.missing(v) else f"{v:.2f}"),
        "verifier score": num("score", lambda v: fmt.MISSING if fmt.missing(v) else f"{v:.3f}"),
        "stopped by": [{"eos": "end of sequence", "length": "token limit", "stop": "answer given"}.get(x, x)
                       if isinstance(x, str) else fmt.MISSING for x in df["finish_reason"]],
        "returned": ["yes" if x else "" for x in df["is_final"].fillna(False)]})
