"""Import huggingface/search-and-learn outputs: the dataset its ``scripts/test_time_compute.py`` saves (JSONL via
``Dataset.to_json``, or the same columns as Parquet), one row per problem.

Columns (src/sal/search/*.py, src/sal/utils/score.py): ``problem``, ``answer`` (gold, LaTeX), optional
``solution``, ``level`` (MATH 1-5), ``unique_id``; ``completions`` (n texts), ``scores`` (per completion, the
PRM's score of each step), ``completion_tokens`` (per completion; DVTS writes -1), ``pred`` (the completion the
PRM picked), ``agg_scores`` (last-step score per completion), and ``pred_weighted@k``, ``pred_maj@k``,
``pred_naive@k`` for k = 1, 2, 4, … ≤ n (boxed answers, computed on the FIRST k completions).

best_of_n files become a pool with the PRM's step scores as a verifier (one name per aggregate: last, min, prod),
so best-of-k and weighted majority come from our exact estimators; the file's picks are recomputed our way on
the same first-k completions and the agreement is reported. beam_search and dvts files hold only the final beams:
they become a beam / dvts run (budget n) whose results row is our pick among them.
"""
from __future__ import annotations

import re
from pathlib import Path

from backend.importers.common import PlannedRun, import_key, same_answer
from backend.importers.pool import (
    Checked, ReadPrompt, best_pick, check_prompt, majority_pick, normalise_gold, plan_pool, plan_search,
    weighted_pick,
)
from backend.importers.records import Record, check, read_json_records
from backend.tasks import math_answers, math_record
from backend.verifiers.base import aggregate

FORMAT = "search-and-learn"
APPROACHES = {"best_of_n": "sample", "beam_search": "beam", "dvts": "dvts"}  # sal approach -> our strategy
_PRED = re.compile(r"pred_(weighted|maj|naive)@(\d+)$")
AGG_TOL = 1e-5  # agg_scores are float32 in Parquet


def read_rows(path: Path) -> list[Record]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as e:  # noqa: BLE001 - any unreadable file is one line naming it
            raise ValueError(f"{path}: not a readable Parquet file ({type(e).__name__}: {e})") from None
        if not rows:
            raise ValueError(f"{path}: no rows in it")
        return [Record(f"{path}: row {i}", r) for i, r in enumerate(rows, 1)]
    return read_json_records(path)


def parse_level(r: Record, value) -> int | None:
    """MATH level as 1-5 from ``3`` or ``"Level 3"``; ``"Level ?"`` (a few MATH problems) and null are None."""
    if value is None or value == "Level ?":
        return None
    ok = isinstance(value, (int, str)) and not isinstance(value, bool)
    m = re.fullmatch(r"(?:Level\s*)?([1-5])", str(value).strip()) if ok else None
    if not m:
        raise r.fail(f"'level' must be a MATH level 1-5 (or \"Level 3\"), not {value!r}")
    return int(m.group(1))


def approach_of(path: Path, approach: str | None) -> str:
    if approach:
        if approach not in APPROACHES:
            raise ValueError(f"unknown search-and-learn approach {approach!r}; use one of {', '.join(APPROACHES)}")
        return approach
    found = [a for a in ("beam_search", "dvts") if a in path.name]  # sal saves {approach}_completions.jsonl
    return found[0] if found else "best_of_n"


def read_prompt(r: Record, n: int | None) -> ReadPrompt:
    """Check one row and read it; ``n``: the pool size of earlier rows (every row must match it)."""
    problem = r.get("problem", "str")
    if r.row.get("answer") is None:
        raise r.fail("missing column 'answer'" if "answer" not in r.row else "'answer' is null")
    gold = normalise_gold("math", r.row["answer"], r.fail)  # text, or a number (AIME-style sets)
    completions = r.get("completions", "str-list")
    if n is not None and len(completions) != n:
        raise r.fail(f"{len(completions)} completions, but earlier rows have {n}: a pool needs the same number "
                     "per problem")
    steps = r.get("scores", "num-lists")
    if len(steps) != len(completions):
        raise r.fail(f"'scores' has {len(steps)} lists for {len(completions)} completions")
    tokens = r.row.get("completion_tokens")
    if tokens is None or tokens == -1:  # DVTS writes -1: not counted
        tokens = None
    else:
        check(tokens, "list", "completion_tokens", r.fail)
        for i, t in enumerate(tokens):
            check(t, "count", f"completion_tokens[{i}]", r.fail)
        if len(tokens) != len(completions):
            raise r.fail(f"'completion_tokens' has {len(tokens)} entries for {len(completions)} completions")
    agg = r.get("agg_scores", "num-list", required=False)
    if agg is not None and len(agg) != len(completions):
        raise r.fail(f"'agg_scores' has {len(agg)} entries for {len(completions)} completions")
    extra = {"agg_scores": agg, "pred": r.get("pred", "text", required=False), "preds": {}}
    for col, value in r.row.items():
        m = _PRED.match(col)
        if m and value is not None:
            k = int(m.group(2))
            if not 1 <= k <= len(completions):
                raise r.fail(f"column {col!r} picks among {k} completions, but the row has {len(completions)}")
            extra["preds"][(m.group(1), k)] = math_answers.strip_boxed(check(value, "text", col, r.fail))
    record = math_record(problem, gold, parse_level(r, r.row.get("level")))
    return ReadPrompt(record, r.where, list(completions), gen_tokens=tokens, step_scores=steps, extra=extra)


def read_prompts(path: Path) -> list[ReadPrompt]:
    out, seen, n = [], {}, None
    for r in read_rows(path):
        p = read_prompt(r, n)
        n = len(p.texts)
        if p.record.key in seen:
            raise r.fail(f"the same problem as {seen[p.record.key]}")
        seen[p.record.key] = r.where
        out.append(p)
    return out


def agreement(prompts: list[ReadPrompt], checked: list[Checked]) -> list[tuple[str, int, int]]:
    """The file's own numbers against ours: agg_scores vs our last-step aggregate (per completion); pred vs our
    best-of-n pick; each pred_*@k vs our pick on the same first k completions (answers compared by math-verify)."""
    agg_ok = agg_n = pred_ok = pred_n = 0
    kinds: dict[str, list[int]] = {}
    for p, c in zip(prompts, checked):
        last = [aggregate(s, "last") for s in p.step_scores]
        if p.extra["agg_scores"] is not None:
            agg_n += len(last)
            agg_ok += sum(abs(a - b) <= AGG_TOL for a, b in zip(p.extra["agg_scores"], last))
        if p.extra["pred"] is not None:
            pred_n += 1
            pred_ok += same_answer("math", math_answers.extract(p.extra["pred"]), c.answers[best_pick(last)])
        for (kind, k), theirs in p.extra["preds"].items():
            a, s = c.answers[:k], last[:k]
            ours = {"naive": lambda: a[best_pick(s)], "maj": lambda: majority_pick(a),
                    "weighted": lambda: weighted_pick(a, s)}[kind]()
            tally = kinds.setdefault(kind, [0, 0])
            tally[0] += same_answer("math", theirs or None, ours)
            tally[1] += 1
    out = [("file's agg_scores vs our last-step score", agg_ok, agg_n),
           ("file's pred vs our best-of-n pick", pred_ok, pred_n)]
    out += [(f"file's pred_{kind}@k vs ours on the same first k", a, n) for kind, (a, n) in sorted(kinds.items())]
    return out


def plan(path: Path, fp: str, *, model: str, params: int, prm: str, prm_params: int, approach: str | None,
         **_) -> tuple[list[PlannedRun], list[ReadPrompt]]:
    approach = approach_of(path, approach)
    prompts = read_prompts(path)
    checked = [check_prompt("math", p) for p in prompts]
    label = f"{FORMAT}:{approach}"
    notes = (f"imported from {path.name} ({FORMAT} {approach}, content {fp}); answers: the last \\boxed{{}} of each "
             f"completion, checked against the file's gold by math-verify; step scores: the file's PRM ({prm}), "
             f"stored per aggregate (last, min, prod), charged 2*{prm_params}*(prompt + completion tokens)"
             f"{'' if prm_params else ' = 0: give --prm-params to charge it'}; generated tokens: the file's "
             "completion_tokens where given, else estimated at 4 chars/token; prompt tokens estimated from the "
             "problem alone (the system prompt and chat template are not in the file: a lower bound)")
    key = import_key(fp, model, label)
    common = dict(key=key, label=label, model=model, params=params, fp=fp, fmt=FORMAT, task="math", sampling={},
                  notes=notes, prm=prm, prm_params=prm_params)
    if approach == "best_of_n":
        run = plan_pool(prompts, checked, **common)
    else:
        run = plan_search(prompts, checked, strategy=APPROACHES[approach], **common)
        run.run["notes"] += ("; only the final beams are in the file: generation tokens and PRM reads of pruned "
                             "beams are not counted (a lower bound)")
    run.summary.checks = agreement(prompts, checked)
    return [run], prompts
