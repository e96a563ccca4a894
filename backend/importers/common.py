"""What every importer shares: run keys, token and FLOPs rows, the import report, and the one all-or-nothing commit.

An import reads and checks the whole file first (any bad record is a one-line ``file:line:`` ValueError), plans
every run's rows in memory, and then writes them in ONE batch (:func:`commit_runs`): a file is imported whole or
not at all. Runs are keyed by (file content, model name, source), so importing a file again adds nothing.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.analysis.compute import flops_per_sequence, verifier_flops
from backend.store import Store, commit_batch
from backend.verifiers.base import AGGREGATES, aggregate

CHARS_PER_TOKEN = 4  # rough BPE rate of English text and code (GPT-2/Llama tokenizers: ~3.5-4.5)


def human_count(n: int) -> str:
    """13000000000 -> "13B", 6700000000 -> "6.7B", 350000000 -> "350M"."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def parse_count(text: str) -> int:
    """``"13e9"``, ``"13B"``, ``"6.7b"``, ``"350M"``, ``"175000000000"`` -> an int; ValueError otherwise."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbt]?)\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"not a parameter count: {text!r} (write e.g. 13e9, 13B or 350M)")
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[m.group(2).lower()]
    if not 1 <= value < 1e15:
        raise ValueError(f"parameter count {text!r} is out of range")
    return int(round(value))


def file_fingerprint(path: str | Path) -> str:
    """Identity of a file's content (blake2b of its bytes): the same file under another name imports as itself."""
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def estimate_tokens(text: str | None) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def import_key(file_fp: str, model: str, source: str) -> str:
    ident = {"file": file_fp, "model": model, "source": source}
    return hashlib.blake2b(json.dumps(ident, sort_keys=True).encode(), digest_size=10).hexdigest()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ----------------------------------------------------------------------------------------------- report
@dataclass
class RunSummary:
    run_key: str
    source: str
    model: str
    params: int
    strategy: str
    n: int  # samples per prompt the run stands for (best_of_n: the verifier's pool)
    prompts: int
    samples: int
    accuracy: float  # mean correctness over all samples (for best_of_n: of the picks)
    labelled: int = 0  # samples the file labels correct/wrong
    agree: int = 0  # ... of which our verdict equals the file's
    added: int = 0  # prompts added by this import (0: already stored)
    note: str = ""
    checks: list[tuple[str, int, int]] = field(default_factory=list)  # (what, agree, of): the file's own numbers


@dataclass
class ImportReport:
    path: str
    format: str
    problems: int  # distinct questions in the file
    samples: int
    runs: list[RunSummary]
    matched: int | None = None  # of those problems, found in the test set (formats matched to a --test file)
    unmatched: int | None = None

    def lines(self) -> list[str]:
        head = f"{Path(self.path).name}: {self.format}, {self.problems} problems, {self.samples} samples"
        if self.matched is not None:
            head += f"; {self.matched} matched to the test set, {self.unmatched} unmatched"
        out = [head]
        for r in self.runs:
            agree = (f"; agrees with the file's labels on {r.agree}/{r.labelled} ({r.agree / r.labelled:.4f})"
                     if r.labelled else "" if r.checks else "; the file has no per-sample labels")
            state = f"added {r.added} prompts" if r.added else "already stored, nothing added"
            out.append(f"  {r.source} -> run {r.run_key}: {r.model} ({human_count(r.params)} params) "
                       f"{r.strategy} n={r.n}, "
                       f"{r.prompts} prompts, {r.samples} samples, accuracy {r.accuracy:.4f}{agree}; {state}"
                       + (f" ({r.note})" if r.note else ""))
            out += [f"    {what}: ours agrees on {a}/{n} ({a / n:.4f})" for what, a, n in r.checks if n]
        return out


# ----------------------------------------------------------------------------------------------- rows
def think_tokens(text: str | None, cut: int, gen_tokens: int) -> int:
    """Generated tokens before the answer starts (character offset ``cut``; -1: no answer, all of them)."""
    if not text or cut < 0:
        return gen_tokens
    return round(gen_tokens * cut / len(text))


def sample_row(prompt_key: str, idx: int, text: str | None, answer: str | None, correct: bool, prompt_tokens: int,
               gen_tokens: int, params: int, *, think: int | None = None, is_final: bool = False) -> dict:
    """A samples row of an imported generation: FLOPs = 2·N·(prompt + generated tokens) (compute module)."""
    return {"prompt_key": prompt_key, "sample_idx": idx, "text": text, "answer": answer, "correct": bool(correct),
            "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens,
            "think_tokens": gen_tokens if think is None else think, "sum_logprob": None, "token_logprobs": None,
            "forced": None, "flops": flops_per_sequence(params, prompt_tokens, gen_tokens), "finish_reason": None,
            "is_final": is_final, "node_id": None}


def prm_verifiers(prm: str) -> dict[str, str]:
    """Verifier name per aggregate of a process reward model's step scores: ``prm:last``, ``prm:min``, ``prm:prod``."""
    return {how: f"{prm}:{how}" for how in AGGREGATES}


def score_rows(prompt_key: str, idx: int, steps: list[float], tokens: int, prm: str,
               prm_params: int) -> dict[str, dict]:
    """One scores row per aggregate (verifier name -> row): the PRM read ``tokens`` (prompt + completion) once per
    trace, charged 2·N_prm·tokens (0 when its size was not given)."""
    flops = verifier_flops(tokens, prm_params)
    return {name: {"prompt_key": prompt_key, "sample_idx": idx, "verifier": name, "score": aggregate(steps, how),
                   "step_scores": [float(s) for s in steps], "tokens": tokens, "flops": flops}
            for how, name in prm_verifiers(prm).items()}


def check_answers(task: str, gold: str, answers: list[str | None]) -> tuple[list[str | None], list[bool]]:
    """Stored answers and correctness of one prompt's samples: GSM8K numbers are compared as canonical strings;
    MATH answers are grouped by math-verify, so equal answers share one string and the gold's is the gold."""
    if task == "math":
        from backend.tasks import math_answers

        return math_answers.group_answers(gold, answers)
    return list(answers), [a is not None and a == gold for a in answers]


def same_answer(task: str, gold: str | None, answer: str | None) -> bool:
    """Whether two answers are the same by the task's checker (comparing the file's picks with ours)."""
    if gold is None or answer is None:
        return gold is None and answer is None
    return check_answers(task, gold, [answer])[1][0]


# ----------------------------------------------------------------------------------------------- commit
@dataclass
class PlannedRun:
    """Every row one run of a file would add, by prompt, before anything is written."""

    summary: RunSummary
    run: dict  # the runs row
    prompts: dict[str, dict]  # prompt_key -> prompts row
    samples: dict[str, list[dict]] = field(default_factory=dict)  # prompt_key -> samples rows (no run_key)
    results: dict[str, dict] = field(default_factory=dict)  # prompt_key -> results row
    scores: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # verifier -> prompt_key -> rows


def commit_runs(store: Store, runs: list[PlannedRun]) -> Path | None:
    """Write what the store lacks of these runs in ONE batch (all or nothing); set each summary's ``added``.

    A (run, prompt) already stored is skipped, and so is a (run, verifier, prompt) already scored, so importing
    a file twice adds nothing, and a second PRM name adds only its scores. Returns the batch, None if nothing new.
    """
    store.refresh()
    tables: dict[str, list[dict]] = {"runs": [], "prompts": [], "samples": [], "scores": [], "results": []}
    stored_runs = set(store.sql("SELECT run_key FROM runs")["run_key"])
    stored_prompts = set(store.sql("SELECT prompt_key FROM prompts")["prompt_key"])
    needed: dict[str, dict] = {}
    for pr in runs:
        key = pr.run["run_key"]
        done = store.done_prompts(key)
        todo = sorted((set(pr.samples) | set(pr.results)) - done)
        for k in todo:
            tables["samples"] += [{"run_key": key, **row} for row in pr.samples.get(k, [])]
            if k in pr.results:
                tables["results"].append({"run_key": key, **pr.results[k]})
        touched = set(todo)
        for verifier, by_prompt in pr.scores.items():
            scored = store.scored_prompts(key, verifier)
            for k in sorted(set(by_prompt) - scored):
                tables["scores"] += [{"run_key": key, **row} for row in by_prompt[k]]
                touched.add(k)
        if touched and key not in stored_runs:
            tables["runs"].append(pr.run)
        needed.update({k: pr.prompts[k] for k in touched if k not in stored_prompts})
        pr.summary.added = len(todo)
        if key in stored_runs:
            params = store.sql("SELECT model_params FROM runs WHERE run_key = ?", [key])["model_params"]
            if len(params) and int(params.iloc[0]) != pr.summary.params:
                pr.summary.note = f"stored earlier with {human_count(int(params.iloc[0]))} params, kept"
    tables["prompts"] = list(needed.values())
    if not any(tables[t] for t in ("samples", "scores", "results")):
        return None
    batch = commit_batch(tables, store.root)
    store.refresh()
    return batch
