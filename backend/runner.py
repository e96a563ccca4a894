"""Execute a run (a model × strategy × parameters) over prompts, committing one batch of whole prompts at a time.

The run key hashes every parameter that changes the output, so two settings never share rows; a resumed run skips
the prompts already stored and a killed run loses at most the batch in flight.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Callable

from backend.engines.base import HF_ENGINE, LOGPROB_KIND, Engine, SamplingParams
from backend.store import Store, commit_batch
from backend.strategies import RunContext, get_strategy
from backend.tasks import PromptRecord, get_task


def verifier_fingerprint(name: str | None) -> str | None:
    """Identity of a learned verifier's weights (None for rule-based ones), so retraining it changes run keys."""
    from backend.verifiers import base_name

    base = base_name(name) if name else ""
    if not (base == "learned" or base.startswith("learned-")):
        return None
    from backend.verifiers.learned import verifier_dir
    from backend.zoo.registry import fingerprint

    folder = verifier_dir(base)
    return fingerprint(folder) if folder.exists() else "missing"


@dataclass(frozen=True)
class RunSpec:
    model: str
    strategy: str
    sampling: SamplingParams
    params: tuple[tuple[str, object], ...] = ()  # strategy parameters, sorted (name, value) pairs
    verifier: str | None = None
    task: str = "arith"
    notes: str = ""
    prompt_format: str = ""  # how prompts were written where a task allows several (gsm8k: "4-shot")

    @staticmethod
    def make(model: str, strategy: str, sampling: SamplingParams, params: dict | None = None,
             verifier: str | None = None, task: str = "arith", notes: str = "", prompt_format: str = "") -> "RunSpec":
        get_strategy(strategy)
        get_task(task)
        return RunSpec(model, strategy, sampling, tuple(sorted((params or {}).items())), verifier, task, notes,
                       prompt_format)

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    def key(self, model_fingerprint: str, chat_template: bool = False, engine_id: str = HF_ENGINE) -> str:
        ident = {"model": self.model, "fingerprint": model_fingerprint, "strategy": self.strategy,
                 "params": self.param_dict, "sampling": self.sampling.as_dict(), "verifier": self.verifier,
                 "task": self.task, "engine": engine_id, "logprob_kind": LOGPROB_KIND}
        # what else shapes the text the model reads or where it stops; only when set, so older keys stay valid
        more = {"prompt_format": self.prompt_format, "chat_template": chat_template,
                "stop": list(get_task(self.task).stop), "verifier_weights": verifier_fingerprint(self.verifier)}
        ident.update({k: v for k, v in more.items() if v})
        return hashlib.blake2b(json.dumps(ident, sort_keys=True).encode(), digest_size=10).hexdigest()

    def key_for(self, engine: Engine) -> str:
        """The run key of this spec on a loaded engine (its weights, whether it applies a chat template, and what
        its seeds produce: the HF engine and its Ray wrapper share keys, vLLM has its own)."""
        return self.key(engine.fingerprint, bool(engine.chat_template), engine.engine_id)

    def describe_prompts(self, chat_template: bool = False) -> str:
        """How the prompts were presented, for ``runs.notes`` ("" for the task's one default format)."""
        parts = [f"prompt format: {self.prompt_format}"] if self.prompt_format else []
        return "; ".join(parts + (["chat template applied"] if chat_template else []))

    def run_row(self, key: str, n_params: int, model_fingerprint: str, source: str = "zoo",
                chat_template: bool = False, engine_id: str = HF_ENGINE) -> dict:
        return {"run_key": key, "model": self.model, "model_params": n_params, "model_fingerprint": model_fingerprint,
                "task": self.task, "strategy": self.strategy, "strategy_params": json.dumps(self.param_dict, sort_keys=True),
                "sampling": json.dumps(self.sampling.as_dict(), sort_keys=True), "verifier": self.verifier,
                "engine": engine_id, "seed": self.sampling.seed, "logprob_kind": LOGPROB_KIND, "source": source,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "notes": "; ".join(x for x in (self.notes, self.describe_prompts(chat_template)) if x)}


@dataclass
class RunReport:
    run_key: str
    prompts_done: int = 0
    prompts_skipped: int = 0
    samples: int = 0
    gen_tokens: int = 0
    flops: float = 0.0
    wall_s: float = 0.0
    outcomes: list = field(default_factory=list)


def outcome_tables(key: str, run_row: dict, outcomes: list) -> dict[str, list[dict]]:
    """The store's rows for the outcomes of some prompts of one run (one batch)."""
    tables: dict[str, list[dict]] = {"runs": [run_row], "prompts": [o.prompt.row() for o in outcomes],
                                     "samples": [], "nodes": [], "scores": [], "results": []}
    for o in outcomes:
        for name in ("samples", "nodes", "scores"):
            tables[name] += [{"run_key": key, **r} for r in getattr(o, name)]
        if o.result:
            tables["results"].append({"run_key": key, **o.result})
    return tables


def commit_outcomes(key: str, run_row: dict, outcomes: list, store: Store) -> dict[str, list[dict]]:
    """Commit the outcomes of some prompts as one atomic batch; returns the rows written."""
    tables = outcome_tables(key, run_row, outcomes)
    commit_batch(tables, store.root)
    return tables


def run_context(spec: RunSpec, engine: Engine, verifier=None, **kw) -> RunContext:
    """The strategy's context for ``spec`` on ``engine`` (its verifier loaded by name unless given); ``kw``:
    max_seconds, progress, max_rows. Local and distributed builds both make it here."""
    if verifier is None and spec.verifier:
        from backend.verifiers import get_verifier

        verifier = get_verifier(spec.verifier)
    return RunContext(engine=engine, task=get_task(spec.task), sampling=spec.sampling, params=spec.param_dict,
                      verifier=verifier, **kw)


def batches(todo: list[PromptRecord], batch_prompts: int) -> list[list[PromptRecord]]:
    """The prompts of each committed batch: results of batch-level strategies (adaptive allocation) depend on it,
    so every executor cuts the same way."""
    if batch_prompts < 1:
        raise ValueError("batch_prompts must be at least 1")
    return [todo[i : i + batch_prompts] for i in range(0, len(todo), batch_prompts)]


def execute(spec: RunSpec, prompts: list[PromptRecord], *, store: Store, batch_prompts: int = 16,
            max_seconds: float | None = None, keep_outcomes: bool = False,
            on_batch: Callable[[RunReport, int], None] | None = None, engine: Engine | None = None, verifier=None,
            source: str = "zoo", progress=None, max_rows: int | None = None) -> RunReport:
    """Run ``spec`` on every prompt not yet stored for it; commit after each batch of ``batch_prompts`` prompts.

    ``on_batch(report, total_todo)`` is called after every commit (progress bars, cancellation by raising)."""
    from backend import models

    engine = engine or models.load_engine(spec.model)
    key = spec.key_for(engine)
    store.refresh()
    done = store.done_prompts(key)
    todo = [p for p in prompts if p.key not in done]
    report = RunReport(key, prompts_skipped=len(prompts) - len(todo))
    ctx = run_context(spec, engine, verifier, max_seconds=max_seconds, progress=progress, max_rows=max_rows)
    strategy = get_strategy(spec.strategy)
    run_row = spec.run_row(key, engine.n_params, engine.fingerprint, source, engine.chat_template, engine.engine_id)
    t0 = time.monotonic()
    for batch in batches(todo, batch_prompts):
        outcomes = strategy(ctx, batch)
        tables = commit_outcomes(key, run_row, outcomes, store)
        report.prompts_done += len(batch)
        report.samples += len(tables["samples"])
        report.gen_tokens += sum(s["gen_tokens"] for s in tables["samples"])
        report.flops += sum(o.spent_flops for o in outcomes)
        report.wall_s = time.monotonic() - t0
        if keep_outcomes:
            report.outcomes += outcomes
        if on_batch:
            on_batch(report, len(todo))
    store.refresh()
    return report


def _opt_int(x) -> int | None:
    import pandas as pd

    return None if pd.isna(x) else int(x)


def score_pool(run_key: str, verifier_name: str, *, store: Store, batch_prompts: int = 32,
               on_batch: Callable[[int, int], None] | None = None) -> int:
    """Score every sample of a stored run with a verifier (resumable: scored prompts are skipped); the scores
    feed best-of-k and weighted majority. Returns the number of prompts scored."""
    from backend.verifiers import aggregate, cost, get_verifier

    verifier = get_verifier(verifier_name)
    store.refresh()
    done = store.scored_prompts(run_key, verifier.name)
    rows = store.sql(
        "SELECT s.prompt_key, s.sample_idx, s.text, p.task, p.text AS prompt_text, p.question, p.gold, p.n_ops, "
        "p.digits, p.split FROM samples s JOIN prompts p USING (prompt_key) WHERE s.run_key = ? "
        "ORDER BY s.prompt_key, s.sample_idx", [run_key])
    todo = [k for k in dict.fromkeys(rows["prompt_key"]) if k not in done]
    for i in range(0, len(todo), batch_prompts):
        part = rows[rows["prompt_key"].isin(todo[i : i + batch_prompts])]
        prompts = [PromptRecord(r.prompt_key, r.task, r.prompt_text, r.question, r.gold, _opt_int(r.n_ops),
                                _opt_int(r.digits), r.split) for r in part.itertuples()]
        texts = part["text"].tolist()
        steps = verifier.score(prompts, texts)
        out = []
        for p, t, idx, s in zip(prompts, texts, part["sample_idx"], steps):
            tokens, flops = cost(verifier, [p], [t])
            out.append({"run_key": run_key, "prompt_key": p.key, "sample_idx": int(idx), "verifier": verifier.name,
                        "score": aggregate(s), "step_scores": s, "tokens": tokens, "flops": flops})
        commit_batch({"scores": out}, store.root)
        if on_batch:
            on_batch(min(i + batch_prompts, len(todo)), len(todo))
    store.refresh()
    return len(todo)
