"""One prompt's samples as an importer reads them, and how a file's prompts become the rows of one run: a pool
(strategy "sample": n exchangeable samples per prompt, so every estimator applies) or, for search files whose
completions are a search's final beams, a strategy run with one results row per prompt.

Answers are re-extracted and checked by our task's checker (GSM8K numbers, MATH answers by math-verify); tokens
come from the file where it has them, else are estimated at CHARS_PER_TOKEN; FLOPs come from the compute module.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from backend.analysis.compute import verifier_flops
from backend.importers.common import (
    PlannedRun, RunSummary, check_answers, estimate_tokens, now, prm_verifiers, sample_row, score_rows, think_tokens,
)
from backend.tasks import PromptRecord, get_task, gsm8k, math_answers


@dataclass
class ReadPrompt:
    """What a file says about one prompt: its samples in index order; None entries are unknown to the file."""

    record: PromptRecord
    where: str  # where its first record is (file:line), for errors
    texts: list[str | None]
    answers: list | None = None  # the file's own answers (generic format); None entries: extract from the text
    gen_tokens: list[int | None] | None = None  # exact generated tokens per sample
    prompt_tokens: int | None = None  # exact prompt tokens; None: estimated from prompt_text
    prompt_text: str | None = None  # the full prompt the model read (shots, template), for the estimate
    step_scores: list[list[float]] | None = None  # a process reward model's per-step scores per sample
    extra: dict = field(default_factory=dict)  # format-specific: the file's labels and picks


@dataclass
class Checked:
    """Our verdict on one prompt's samples: stored answers (grouped, see check_answers) and correctness."""

    answers: list[str | None]
    correct: list[bool]


def normalise_gold(task: str, gold, fail) -> str:
    """The gold answer as stored: GSM8K a canonical number string, MATH the (unboxed) LaTeX answer."""
    if task == "gsm8k":
        key = gsm8k.answer_key(gold if not isinstance(gold, str) else gold.rsplit("####", 1)[-1].strip())
        if key is None:
            raise fail(f"the gold answer {json.dumps(gold)[:40]} is not a number (task gsm8k)")
        return key
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise fail(f"the gold answer must be text or a number, not {json.dumps(gold)[:40]}")
    text = math_answers.strip_boxed(str(gold))
    if not text:
        raise fail("the gold answer is empty")
    return text


def normalise_answer(task: str, answer) -> str | None:
    """A file's own extracted answer, in the form our extraction gives (so both are checked alike)."""
    if answer is None:
        return None
    if task == "gsm8k":
        return gsm8k.answer_key(answer)
    return math_answers.strip_boxed(str(answer)) or None


def check_prompt(task: str, p: ReadPrompt) -> Checked:
    adapter = get_task(task)
    given = p.answers or [None] * len(p.texts)  # a sample without the file's answer: extract it from its text
    raw = [normalise_answer(task, a) if a is not None else adapter.extract(t) if t else None
           for a, t in zip(given, p.texts)]
    keys, correct = check_answers(task, p.record.gold, raw)
    return Checked(keys, correct)


def _tokens(p: ReadPrompt) -> tuple[int, list[int]]:
    pt = p.prompt_tokens if p.prompt_tokens is not None else estimate_tokens(p.prompt_text or p.record.text)
    given = p.gen_tokens or [None] * len(p.texts)
    return pt, [g if g is not None else estimate_tokens(t) for g, t in zip(given, p.texts)]


def run_row(key: str, *, model: str, params: int, fp: str, task: str, strategy: str, strategy_params: dict,
            sampling: dict, verifier: str | None, fmt: str, notes: str) -> dict:
    return {"run_key": key, "model": model, "model_params": params, "model_fingerprint": f"import:{fp}",
            "task": task, "strategy": strategy, "strategy_params": json.dumps(strategy_params, sort_keys=True),
            "sampling": json.dumps(sampling, sort_keys=True), "verifier": verifier, "engine": f"import:{fmt}",
            "seed": None, "logprob_kind": None, "source": "import", "created": now(), "notes": notes}


def _rows(p: ReadPrompt, c: Checked, task: str, params: int, prm: str | None, prm_params: int,
          final: int | None = None) -> tuple[list[dict], dict[str, list[dict]]]:
    adapter = get_task(task)
    pt, gts = _tokens(p)
    samples, scores = [], {}
    for i, (text, gt) in enumerate(zip(p.texts, gts)):
        cut = adapter.answer_start(text) if text else -1
        samples.append(sample_row(p.record.key, i, text, c.answers[i], c.correct[i], pt, gt, params,
                                  think=think_tokens(text, cut, gt), is_final=i == final))
        if p.step_scores is not None:
            for name, row in score_rows(p.record.key, i, p.step_scores[i], pt + gt, prm, prm_params).items():
                scores.setdefault(name, []).append(row)
    return samples, scores


def plan_pool(prompts: list[ReadPrompt], checked: list[Checked], *, key: str, label: str, model: str, params: int,
              fp: str, fmt: str, task: str, sampling: dict, notes: str, prm: str | None = None,
              prm_params: int = 0) -> PlannedRun:
    """A pool run: every sample of every prompt, and, when the file has step scores, the PRM's scores of them
    under one verifier name per aggregate (best-of-k and weighted majority then come from our estimators)."""
    n = len(prompts[0].texts)
    summary = RunSummary(key, label, model, params, "sample", n, len(prompts), n * len(prompts),
                         sum(map(sum, (c.correct for c in checked))) / max(1, n * len(prompts)))
    plan = PlannedRun(summary, run_row(key, model=model, params=params, fp=fp, task=task, strategy="sample",
                                       strategy_params={}, sampling={"n": n, **sampling}, verifier=None, fmt=fmt,
                                       notes=notes),
                      {p.record.key: p.record.row() for p in prompts})
    for p, c in zip(prompts, checked):
        plan.samples[p.record.key], scores = _rows(p, c, task, params, prm, prm_params)
        for name, rows in scores.items():
            plan.scores.setdefault(name, {})[p.record.key] = rows
    return plan


def plan_search(prompts: list[ReadPrompt], checked: list[Checked], *, key: str, label: str, strategy: str,
                model: str, params: int, fp: str, fmt: str, task: str, sampling: dict, notes: str, prm: str,
                prm_params: int) -> PlannedRun:
    """A search run (beam search, DVTS) whose final beams are in the file: the beams as samples, the PRM's scores
    of them, and one results row per prompt with our pick (highest last-step score, the first on ties)."""
    n = max(len(p.texts) for p in prompts)
    verifier = prm_verifiers(prm)["last"]
    picks = [best_pick([s[-1] for s in p.step_scores]) for p in prompts]
    acc = sum(c.correct[i] for c, i in zip(checked, picks)) / len(prompts)
    summary = RunSummary(key, label, model, params, strategy, n, len(prompts), sum(len(p.texts) for p in prompts),
                         acc)
    plan = PlannedRun(summary, run_row(key, model=model, params=params, fp=fp, task=task, strategy=strategy,
                                       strategy_params={"budget": n, "verifier": verifier}, sampling=sampling,
                                       verifier=verifier, fmt=fmt, notes=notes),
                      {p.record.key: p.record.row() for p in prompts})
    for p, c, pick in zip(prompts, checked, picks):
        samples, scores = _rows(p, c, task, params, prm, prm_params, final=pick)
        plan.samples[p.record.key] = samples
        for name, rows in scores.items():
            plan.scores.setdefault(name, {})[p.record.key] = rows
        read = sum(s["prompt_tokens"] + s["gen_tokens"] for s in samples)
        plan.results[p.record.key] = {
            "prompt_key": p.record.key, "answer": c.answers[pick], "correct": c.correct[pick],
            "gen_tokens": sum(s["gen_tokens"] for s in samples), "gen_flops": sum(s["flops"] for s in samples),
            "verifier_tokens": read, "verifier_flops": verifier_flops(read, prm_params), "n_traces": len(samples),
            "wall_s": None}
    return plan


# ----------------------------------------------------------------------------------------------- picks
def best_pick(scores: list[float]) -> int:
    """Index of the highest score, the first on ties (numpy.argmax, as search-and-learn picks)."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def majority_pick(answers: list[str | None]) -> str | None:
    """The most frequent answer, the first seen on ties (collections.Counter, as lm-eval and search-and-learn
    vote); None answers do not vote."""
    votes = Counter(a for a in answers if a is not None)
    return votes.most_common(1)[0][0] if votes else None


def weighted_pick(answers: list[str | None], scores: list[float]) -> str | None:
    """The answer with the largest summed score, the first seen on ties (search-and-learn's weighted vote)."""
    total: dict[str, float] = {}
    for a, s in zip(answers, scores):
        if a is not None:
            total[a] = total.get(a, 0.0) + s
    return max(total, key=lambda a: total[a]) if total else None
