"""Data for the Traces page: one prompt of one run, every sample with its tokens and log-probs, verifier step
scores, the search tree laid out for drawing, and forced tokens of budget forcing."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backend.analysis.votes import answer_counts
from backend.explore import store, unique_labels


def run_table() -> pd.DataFrame:
    """Every run with a label unique within its model (the selectors and links use it)."""
    runs = store().sql("SELECT run_key, model, model_params, strategy, strategy_params, sampling, verifier, source "
                       "FROM runs ORDER BY model_params, model, strategy, strategy_params, sampling, run_key")
    runs["label"] = [run_label(r) for r in runs.itertuples()]
    runs["label"] = runs.groupby("model", sort=False)["label"].transform(lambda s: unique_labels(list(s)))
    return runs


def link_params(run_key: str, prompt_key: str) -> dict:
    """Query parameters that open the Traces page on this run and prompt."""
    runs = run_table().set_index("run_key")
    q = store().sql("SELECT question FROM prompts WHERE prompt_key = ?", [prompt_key])
    return {"model": runs.loc[run_key, "model"], "run": runs.loc[run_key, "label"],
            "prompt": q["question"].iloc[0] if len(q) else prompt_key}


def run_label(r) -> str:
    sp, params = json.loads(r.sampling or "{}"), json.loads(r.strategy_params or "{}")
    bits = [r.strategy]
    if r.strategy == "sample":
        bits.append(f"n={sp.get('n')} T={sp.get('temperature')}")
    elif params:
        bits.append(" ".join(f"{k}={v}" for k, v in sorted(params.items())))
    if isinstance(r.verifier, str) and r.verifier:
        bits.append(f"verifier={r.verifier}")
    return " · ".join(bits)


def prompt_table(run_key: str) -> pd.DataFrame:
    """Prompts of a run with their cell and how often the run got them right."""
    return store().sql(
        "SELECT p.prompt_key, p.question, p.gold, p.n_ops, p.digits, count(*) AS samples, "
        "avg(s.correct::INT) AS accuracy FROM samples s JOIN prompts p USING (prompt_key) "
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
