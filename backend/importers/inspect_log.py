"""Import Inspect AI eval logs (``.eval`` or ``.json``), read with ``inspect_ai.log.read_eval_log``.

A sample's epochs are its samples (epoch e -> sample index e-1), so a task run with ``epochs=N`` is a pool of N
per problem. Text: ``output.completion``; tokens: ``output.usage`` (exact, when the provider reported them);
gold: ``target``. The log's scores (scorer -> value, e.g. "C"/"I") are the file's labels: each scorer's verdict
is compared with ours per sample and the agreement reported. They are not stored as a verifier: Inspect scorers
read the target, so selecting by them would be an oracle, not a deployable strategy.
"""
from __future__ import annotations

from pathlib import Path

from backend.importers.common import PlannedRun, import_key
from backend.importers.pool import Checked, ReadPrompt, check_prompt, normalise_gold, plan_pool
from backend.importers.records import Record
from backend.tasks import PromptRecord, gsm8k, math_record

FORMAT = "inspect"


def read_log(path: Path):
    try:
        from inspect_ai.log import read_eval_log
    except ImportError as e:
        raise ValueError(f"reading Inspect logs needs inspect_ai (pip install inspect-ai==0.3.285): {e}") from None
    try:
        log = read_eval_log(str(path))
    except Exception as e:  # noqa: BLE001 - any unreadable log is one line naming it
        raise ValueError(f"{path}: not a readable Inspect log ({type(e).__name__}: {str(e)[:200]})") from None
    if not log.samples:
        raise ValueError(f"{path}: the log holds no samples (it was written without log_samples, or the eval "
                         "did not run)")
    return log


def _question(r: Record, sample) -> str:
    if isinstance(sample.input, str):
        text = sample.input
    else:  # chat messages: the last user turn is the question
        users = [m for m in sample.input if getattr(m, "role", None) == "user"]
        text = users[-1].text if users else ""
    if not text.strip():
        raise r.fail("the sample's input has no question text")
    return text


def _gold(r: Record, sample):
    target = sample.target[0] if isinstance(sample.target, list) and sample.target else sample.target
    if not isinstance(target, str) or not target.strip():
        raise r.fail(f"the target must be a non-empty string, not {target!r}")
    return target


def _record(r: Record, question: str, target: str, task: str) -> PromptRecord:
    if task == "gsm8k":
        gold = normalise_gold("gsm8k", target, r.fail)
        return PromptRecord(f"gsm8k:{gsm8k.question_key(question)}", "gsm8k", gsm8k.format_prompt(question),
                            question, gold)
    return math_record(question, normalise_gold("math", target, r.fail))


def read_prompts(path: Path, task: str) -> tuple[list[ReadPrompt], object]:
    from inspect_ai.scorer import value_to_float

    log = read_log(path)
    if task == "auto":  # numbers only: GSM8K-style; anything else is checked as a MATH answer
        task = "gsm8k" if all(gsm8k.to_number(str(s.target if isinstance(s.target, str) else (s.target or [""])[0]))
                              is not None for s in log.samples) else "math"
    to_float = value_to_float()
    by_id: dict[str, dict[int, tuple]] = {}
    firsts: dict[str, tuple[Record, str, str]] = {}
    for s in log.samples:
        r = Record(f"{path}: sample {s.id!r} epoch {s.epoch}", {})
        if s.error is not None:
            raise r.fail(f"the sample ended in an error ({str(s.error.message)[:80]}): a pool needs every epoch")
        if s.output is None or not isinstance(s.output.completion, str):
            raise r.fail("the sample has no output completion")
        question, target = _question(r, s), _gold(r, s)
        key = str(s.id)
        if key in firsts and (question, target) != firsts[key][1:]:
            raise r.fail(f"another input or target than {firsts[key][0].where}")
        firsts.setdefault(key, (r, question, target))
        epochs = by_id.setdefault(key, {})
        if s.epoch in epochs:
            raise r.fail("the same sample and epoch twice")
        usage = s.output.usage
        labels = {}
        for name, score in (s.scores or {}).items():
            try:
                labels[name] = float(to_float(score.value))
            except (TypeError, ValueError):
                raise r.fail(f"score {name!r} has a value that is not a verdict: {score.value!r}") from None
        epochs[s.epoch] = (s.output.completion, usage.output_tokens if usage else None,
                           usage.input_tokens if usage else None, labels)
    n = max(len(e) for e in by_id.values())
    prompts, seen = [], {}
    for key, epochs in by_id.items():
        r, question, target = firsts[key]
        if sorted(epochs) != list(range(1, n + 1)):
            raise r.fail(f"epochs {sorted(epochs)}, but the log has {n} per sample: a pool needs every epoch")
        rows = [epochs[e] for e in range(1, n + 1)]
        record = _record(r, question, target, task)
        if record.key in seen:
            raise r.fail(f"the same question as {seen[record.key]}")
        seen[record.key] = r.where
        prompt_tokens = {row[2] for row in rows}
        prompts.append(ReadPrompt(record, r.where, [row[0] for row in rows], gen_tokens=[row[1] for row in rows],
                                  prompt_tokens=prompt_tokens.pop() if len(prompt_tokens) == 1 else None,
                                  extra={"labels": [row[3] for row in rows], "task": task}))
    return prompts, log


def _scorer_means(prompts: list[ReadPrompt]) -> str:
    """The log's own verdicts, kept in the run's notes: each scorer's mean value over all samples."""
    values: dict[str, list[float]] = {}
    for p in prompts:
        for labels in p.extra["labels"]:
            for name, v in labels.items():
                values.setdefault(name, []).append(v)
    return "the log's scores: " + (", ".join(f"{name} mean {sum(v) / len(v):.4f} over {len(v)} samples"
                                             for name, v in sorted(values.items())) or "none")


def agreement(prompts: list[ReadPrompt], checked: list[Checked]) -> list[tuple[str, int, int]]:
    tally: dict[str, list[int]] = {}
    for p, c in zip(prompts, checked):
        for labels, ours in zip(p.extra["labels"], c.correct):
            for name, value in labels.items():
                t = tally.setdefault(f"scorer {name!r} vs our verdict per sample", [0, 0])
                t[0] += ours == (value >= 0.5)
                t[1] += 1
    return [(what, a, n) for what, (a, n) in sorted(tally.items())]


def plan(path: Path, fp: str, *, model: str | None, params: int | None, task: str,
         **_) -> tuple[list[PlannedRun], list[ReadPrompt]]:
    prompts, log = read_prompts(path, task)
    model = model or log.eval.model
    if params is None:
        raise ValueError(f"give the parameter count of {model}: --params N (e.g. 7e9)")
    task = prompts[0].extra["task"]
    checked = [check_prompt(task, p) for p in prompts]
    label = f"{FORMAT}:{log.eval.task}"
    temperature = getattr(log.eval.model_generate_config, "temperature", None)
    notes = (f"imported from {path.name} ({FORMAT} log of task {log.eval.task}, model {log.eval.model}, content "
             f"{fp}); epochs as samples; answers re-extracted from output.completion and checked by our {task} "
             "checker; the log's scores are compared with ours per sample, not stored as a verifier (they read "
             "the target); tokens from output.usage where reported, else estimated at 4 chars/token; "
             + _scorer_means(prompts))
    run = plan_pool(prompts, checked, key=import_key(fp, model, label), label=label, model=model, params=params,
                    fp=fp, fmt=FORMAT, task=task,
                    sampling={} if temperature is None else {"temperature": float(temperature)}, notes=notes)
    run.summary.checks = agreement(prompts, checked)
    return [run], prompts
