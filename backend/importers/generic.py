"""Import the generic JSONL format: for generations no other importer reads, one line per sample.

    {"prompt_id": "q17", "question": "…", "gold": "42", "sample_idx": 0, "text": "… #### 42",
     "answer": "42", "prompt_tokens": 81, "tokens": 57, "step_scores": [0.9, 0.7], "difficulty": 3}

Required: ``prompt_id`` (string or integer), ``question``, ``gold`` (string or number), ``sample_idx`` (0 … n-1,
each once per prompt, the same n for every prompt), ``text``. Optional: ``answer`` (the file's extracted answer;
without it we extract from ``text``), ``prompt_tokens`` and ``tokens`` (exact counts; without them, estimated at
4 chars/token), ``step_scores`` (a process verifier's score per step: on every line or on none), ``difficulty``
(an integer >= 1, e.g. a MATH level, stored as the prompt's construction difficulty). The task (``--task``
gsm8k | math; auto: gsm8k when every gold is a number) picks the checker. Every error names the file and line.
"""
from __future__ import annotations

from pathlib import Path

from backend.importers.common import PlannedRun, import_key
from backend.importers.pool import ReadPrompt, check_prompt, normalise_gold, plan_pool
from backend.importers.records import Record, check, read_json_records
from backend.tasks import PromptRecord, gsm8k, math_record

FORMAT = "generic"


def _prompt_id(r: Record) -> str:
    pid = r.row.get("prompt_id")
    if isinstance(pid, bool) or not isinstance(pid, (str, int)) or (isinstance(pid, str) and not pid.strip()):
        raise r.fail("missing column 'prompt_id'" if "prompt_id" not in r.row else
                     f"'prompt_id' must be a non-empty string or an integer, not {pid!r}")
    return str(pid)


def _gold(r: Record):
    gold = r.row.get("gold")
    if gold is None:
        raise r.fail("missing column 'gold'" if "gold" not in r.row else "'gold' is null")
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise r.fail(f"'gold' must be a string or a number, not {type(gold).__name__}")
    return check(gold, "str" if isinstance(gold, str) else "num", "gold", r.fail)


def _record(r: Record, question: str, gold, difficulty: int | None, task: str) -> PromptRecord:
    if task == "gsm8k":
        return PromptRecord(f"gsm8k:{gsm8k.question_key(question)}", "gsm8k", gsm8k.format_prompt(question),
                            question, normalise_gold("gsm8k", gold, r.fail), n_ops=difficulty)
    return math_record(question, normalise_gold("math", gold, r.fail), difficulty)


def read_prompts(path: Path, task: str) -> list[ReadPrompt]:
    records = read_json_records(path)
    lines = []
    for r in records:
        difficulty = r.get("difficulty", "int", required=False)
        if difficulty is not None and difficulty < 1:
            raise r.fail(f"'difficulty' must be an integer >= 1, not {difficulty}")
        answer = r.row.get("answer")
        if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
            raise r.fail(f"'answer' must be a string or a number, not {type(answer).__name__}")
        if isinstance(answer, float):
            check(answer, "num", "answer", r.fail)
        lines.append((r, _prompt_id(r), r.get("question", "str"), _gold(r), r.get("sample_idx", "count"),
                      r.get("text", "text"), answer, r.get("prompt_tokens", "count", required=False),
                      r.get("tokens", "count", required=False), r.get("step_scores", "num-list", required=False),
                      difficulty))
    if task == "auto":
        task = "gsm8k" if all(gsm8k.to_number(line[3]) is not None for line in lines) else "math"
    scored = lines[0][9] is not None
    groups: dict[str, dict] = {}
    for r, pid, question, gold, idx, text, answer, pt, gt, steps, difficulty in lines:
        if (steps is not None) != scored:
            raise r.fail("'step_scores' must be on every line or on none (line 1 "
                         f"{'has' if scored else 'has none'})")
        g = groups.get(pid)
        if g is None:
            g = groups[pid] = {"r": r, "head": (question, gold, difficulty, pt), "samples": {}}
        elif (question, gold, difficulty, pt) != g["head"]:
            raise r.fail(f"prompt_id {pid!r} has another question, gold, difficulty or prompt_tokens than at "
                         f"{g['r'].where}")
        if idx in g["samples"]:
            raise r.fail(f"sample_idx {idx} of prompt_id {pid!r} again (first at {g['samples'][idx][0].where})")
        g["samples"][idx] = (r, text, answer, gt, steps)
    n = None
    prompts, seen = [], {}
    for pid, g in groups.items():
        r = g["r"]
        idxs = sorted(g["samples"])
        if idxs != list(range(len(idxs))):
            missing = sorted(set(range(max(idxs) + 1)) - set(idxs))
            raise r.fail(f"prompt_id {pid!r} lacks sample_idx {missing[:5]}: indices run 0 … n-1")
        if n is not None and len(idxs) != n:
            raise r.fail(f"prompt_id {pid!r} has {len(idxs)} samples, but earlier prompts have {n}: a pool needs "
                         "the same number per prompt")
        n = len(idxs)
        question, gold, difficulty, pt = g["head"]
        record = _record(r, question, gold, difficulty, task)
        if record.key in seen:
            raise r.fail(f"prompt_id {pid!r} has the same question as prompt_id {seen[record.key]!r}")
        seen[record.key] = pid
        rows = [g["samples"][i] for i in idxs]
        has_answers = any(row[2] is not None for row in rows)
        prompts.append(ReadPrompt(record, r.where, [row[1] for row in rows],
                                  answers=[row[2] for row in rows] if has_answers else None,
                                  gen_tokens=[row[3] for row in rows], prompt_tokens=pt,
                                  step_scores=[row[4] for row in rows] if scored else None,
                                  extra={"task": task}))
    return prompts


def plan(path: Path, fp: str, *, model: str, params: int, task: str, prm: str, prm_params: int,
         **_) -> tuple[list[PlannedRun], list[ReadPrompt]]:
    prompts = read_prompts(path, task)
    task = prompts[0].extra["task"]
    checked = [check_prompt(task, p) for p in prompts]
    label = f"{FORMAT}:{task}"
    scored = prompts[0].step_scores is not None
    notes = (f"imported from {path.name} ({FORMAT} JSONL, content {fp}); answers: the file's 'answer' where "
             f"given, else extracted from the text, checked by our {task} checker; tokens from the file where "
             "given, else estimated at 4 chars/token"
             + (f"; step scores stored as verifier {prm} per aggregate, charged 2*{prm_params}*tokens read"
                if scored else ""))
    run = plan_pool(prompts, checked, key=import_key(fp, model, label), label=label, model=model, params=params,
                    fp=fp, fmt=FORMAT, task=task, sampling={}, notes=notes, prm=prm if scored else None,
                    prm_params=prm_params)
    return [run], prompts
