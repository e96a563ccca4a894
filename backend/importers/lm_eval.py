"""Import lm-evaluation-harness sample logs (``--log_samples``: ``samples_<task>_<date>.jsonl``).

One line per (document, filter) (lm_eval/evaluator.py, loggers/evaluation_tracker.py): ``doc_id``, ``doc``,
``target``, ``arguments`` (``gen_args_0``: ``arg_0`` the prompt, ``arg_1`` the generation kwargs), ``resps``
(per request, the list of its ``repeats`` responses), ``filtered_resps``, ``filter`` (e.g. ``score-first``,
``maj@64``), ``metrics`` (names) and each metric's value (e.g. ``exact_match``). A generate_until task has one
request per document; with ``repeats`` > 1 (gsm8k_cot_self_consistency: 64) its responses are a pool.

The responses become one pool per file; each filter's per-document metric is the file's label, compared with
ours: a ``maj@K`` filter with our majority over the first K responses, any other with our verdict on the first
response (``take_first``). Tasks: GSM8K (``doc`` has ``question`` and an ``answer`` ending ``#### N``) or MATH
(``doc`` has ``problem``; gold = ``target``), or as ``--task`` says.
"""
from __future__ import annotations

import re
from pathlib import Path

from backend.importers.common import PlannedRun, import_key
from backend.importers.pool import Checked, ReadPrompt, check_prompt, majority_pick, normalise_gold, plan_pool
from backend.importers.records import Record, check, read_json_records
from backend.importers.search_and_learn import parse_level
from backend.tasks import PromptRecord, gsm8k, math_record

FORMAT = "lm-eval"
_MAJ = re.compile(r"maj@(\d+)$")


def task_of(r: Record, doc: dict, task: str) -> str:
    if task != "auto":
        return task
    if isinstance(doc.get("question"), str) and "####" in str(doc.get("answer", "")):
        return "gsm8k"
    if isinstance(doc.get("problem"), str):
        return "math"
    raise r.fail(f"cannot tell the task from doc keys {sorted(doc)[:8]}; pass --task gsm8k or --task math")


def _record(r: Record, doc: dict, target, task: str) -> PromptRecord:
    if task == "gsm8k":
        question = check(doc.get("question"), "str", "doc.question", r.fail)
        answer = doc.get("answer") if "####" in str(doc.get("answer", "")) else target
        gold = normalise_gold("gsm8k", answer, r.fail)
        solution = answer if isinstance(answer, str) else f"#### {gold}"
        return PromptRecord(f"gsm8k:{gsm8k.question_key(question)}", "gsm8k", gsm8k.format_prompt(question),
                            question, gold, n_ops=len(gsm8k.split_steps(solution)) or None)
    problem = check(doc.get("problem"), "str", "doc.problem", r.fail)
    return math_record(problem, normalise_gold("math", target, r.fail), parse_level(r, doc.get("level")))


def _responses(r: Record) -> list[str]:
    resps = r.get("resps", "list")
    if len(resps) != 1:
        raise r.fail(f"{len(resps)} requests for one document: only generate_until tasks (one request with "
                     "`repeats` responses) are generations to import")
    check(resps[0], "list", "resps[0]", r.fail)
    for i, text in enumerate(resps[0]):
        check(text, "text", f"resps[0][{i}]", r.fail)
    return resps[0]


METRICS = ("exact_match", "acc", "em", "correct")  # where an older log has no "metrics" list


def _label(r: Record) -> tuple[str, float] | None:
    """(metric, value) of this line's first numeric metric: the file's verdict under its filter."""
    names = r.row.get("metrics") if isinstance(r.row.get("metrics"), list) else METRICS
    for name in names:
        value = r.row.get(name) if isinstance(name, str) else None
        if value is not None:
            return name, float(value if isinstance(value, bool) else check(value, "num", name, r.fail))
    return None


def _request(r: Record) -> tuple[str | None, dict]:
    """(prompt, generation kwargs) of the line's request: ``arguments`` is {"gen_args_0": {"arg_0", "arg_1"}}
    (lm-eval >= 0.4.3) or [[prompt, kwargs]] (older logs)."""
    args = r.row.get("arguments")
    if isinstance(args, dict):
        first = args.get("gen_args_0") or {}
        prompt, kwargs = first.get("arg_0"), first.get("arg_1")
    elif isinstance(args, list) and args and isinstance(args[0], list) and len(args[0]) == 2:
        prompt, kwargs = args[0]
    else:
        prompt, kwargs = None, None
    return (prompt if isinstance(prompt, str) else None), (kwargs if isinstance(kwargs, dict) else {})


def _temperature(kwargs: dict) -> float | None:
    if kwargs.get("do_sample") is False:
        return 0.0
    t = kwargs.get("temperature")
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None


def read_prompts(path: Path, task: str) -> tuple[list[ReadPrompt], dict]:
    """One ReadPrompt per document, its filters' labels in ``extra["labels"]`` (filter -> (metric, value))."""
    by_doc: dict[int, ReadPrompt] = {}
    first_line: dict[int, Record] = {}
    meta: dict = {"tasks": set(), "temperature": None}
    n = None
    for r in read_json_records(path):
        doc_id = r.get("doc_id", "count")
        doc = r.get("doc", "obj")
        texts = _responses(r)
        flt = r.get("filter", "str", required=False, default="none")
        if doc_id in by_doc:
            if texts != by_doc[doc_id].texts:
                raise r.fail(f"doc_id {doc_id} has other responses than at {first_line[doc_id].where}")
        else:
            if n is not None and len(texts) != n:
                raise r.fail(f"{len(texts)} responses, but earlier documents have {n}: a pool needs the same "
                             "number per document (the task's `repeats`)")
            n = len(texts)
            t = task_of(r, doc, task)
            meta["tasks"].add(t)
            prompt_text, kwargs = _request(r)
            by_doc[doc_id] = ReadPrompt(_record(r, doc, r.row.get("target"), t), r.where, texts,
                                        prompt_text=prompt_text, extra={"labels": {}, "task": t})
            first_line[doc_id] = r
            if meta["temperature"] is None:
                meta["temperature"] = _temperature(kwargs)
        label = _label(r)
        if label is not None:
            by_doc[doc_id].extra["labels"][flt] = label
    if len(meta["tasks"]) > 1:
        raise ValueError(f"{path}: documents of both tasks {sorted(meta['tasks'])}; pass --task gsm8k or math")
    prompts = list(by_doc.values())
    seen: dict[str, str] = {}
    for p in prompts:
        if p.record.key in seen:
            raise ValueError(f"{p.where}: the same question as {seen[p.record.key]}")
        seen[p.record.key] = p.where
    return prompts, meta


def _filter_means(prompts: list[ReadPrompt]) -> str:
    """The log's own scores, kept in the run's notes: each filter's metric averaged over its documents."""
    values: dict[tuple[str, str], list[float]] = {}
    for p in prompts:
        for flt, (metric, v) in p.extra["labels"].items():
            values.setdefault((flt, metric), []).append(v)
    return "the log's scores: " + (", ".join(f"{flt} {metric} {sum(v) / len(v):.4f} over {len(v)} documents"
                                             for (flt, metric), v in sorted(values.items())) or "none")


def agreement(prompts: list[ReadPrompt], checked: list[Checked]) -> list[tuple[str, int, int]]:
    tally: dict[str, list[int]] = {}
    for p, c in zip(prompts, checked):
        for flt, (metric, value) in p.extra["labels"].items():
            m = _MAJ.match(flt)
            k = min(int(m.group(1)), len(c.answers)) if m else 1
            ours = majority_pick(c.answers[:k]) == p.record.gold if m else c.correct[0]
            t = tally.setdefault(f"filter {flt!r} ({metric}) vs our "
                                 + (f"majority of the first {k}" if m else "verdict on the first response"), [0, 0])
            t[0] += ours == (value >= 0.5)
            t[1] += 1
    return [(what, a, n) for what, (a, n) in sorted(tally.items())]


def plan(path: Path, fp: str, *, model: str, params: int, task: str, **_) -> tuple[list[PlannedRun], list[ReadPrompt]]:
    prompts, meta = read_prompts(path, task)
    task = prompts[0].extra["task"]
    checked = [check_prompt(task, p) for p in prompts]
    label = f"{FORMAT}:{task}"
    notes = (f"imported from {path.name} ({FORMAT} sample log, content {fp}); answers re-extracted from the "
             f"responses and checked by our {task} checker; each filter's metric is compared with ours, not "
             "stored; prompt tokens estimated at 4 chars/token from the logged prompt (arguments.gen_args_0), "
             "generated tokens from the response text (the log holds no token counts); " + _filter_means(prompts))
    sampling = {} if meta["temperature"] is None else {"temperature": meta["temperature"]}
    run = plan_pool(prompts, checked, key=import_key(fp, model, label), label=label, model=model, params=params,
                    fp=fp, fmt=FORMAT, task=task, sampling=sampling, notes=notes)
    run.summary.checks = agreement(prompts, checked)
    return [run], prompts
