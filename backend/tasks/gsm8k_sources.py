"""Readers for published GSM8K generation sets, into a neutral structure the store can consume.

Formats (see ``detect_format``):

- ``gsm8k``: the dataset itself (``question``, ``answer`` ending ``#### N``) -> :func:`gsm8k.load_jsonl`.
- ``gpt3_verifier`` (openai/grade-school-math ``example_model_solutions.jsonl``): per test problem, one sample of
  finetuned GPT-3 6B / 175B and the verifier's pick among 100 samples, each ``{is_correct, solution}``.
  One SampleSet per (problem, source): four source labels, one sample each.
- ``pot_programs`` (Llama-2-13B program-of-thought, JSON list): ``generated`` programs and ``results``, their
  executed answers; failed programs are *dropped* from ``results``, so the two lists align only when none failed.
- ``sft_samples`` (OVM, Llama-2-7B-SFT, JSONL): ``outputs`` of ``{response, response_answer, label}``.

Every sample's ``answer`` is re-extracted by our :func:`gsm8k.extract_answer` from its text; the file's own answer
and label are kept beside it (``answer_from_file``, ``label_from_file``) for comparison. The program-of-thought
texts are Python programs: their answer is the value of ``ans`` after running them, which no text extraction can
give and which we will not get by running model-written code, so there ``answer`` is the file's executed result.
Nothing here writes anywhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.importers.records import Record, check, first_record, read_json_records
from backend.tasks.gsm8k import Number, Problem, extract_answer, normalize_question, to_number

GPT3_SOURCES = {  # file column -> source label
    "6b_finetuning": "gpt3-6b-finetuned",
    "6b_verification": "gpt3-6b-verifier-best-of-100",
    "175b_finetuning": "gpt3-175b-finetuned",
    "175b_verification": "gpt3-175b-verifier-best-of-100",
}
POT_LABEL = "llama2-13b-pot"
SFT_LABEL = "llama2-7b-sft"
FORMATS = ("gsm8k", "gpt3_verifier", "pot_programs", "sft_samples")
INVALID = "[invalid]"  # the OVM grader's label for a response it could not parse


@dataclass(frozen=True)
class ImportedSample:
    """One generation: ``answer`` is ours (see module doc); ``*_from_file`` are what the file says."""

    text: str | None
    answer_from_file: Any
    label_from_file: bool | None
    answer: Number | None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SampleSet:
    """All samples of one source for one problem; ``gold_from_file`` is the file's gold answer (normalised)."""

    question: str
    samples: list[ImportedSample]
    source_label: str
    gold_from_file: Number | None = None
    extra: dict = field(default_factory=dict)


def _read_records(path: Path) -> list[Record]:
    """A JSON list or JSONL file as records, each with a string 'question'; ValueError naming file and line."""
    records = read_json_records(path)
    for r in records:
        r.get("question", "str")
    return records


def _format_of(row: dict) -> str | None:
    keys = set(row)
    if set(GPT3_SOURCES) <= keys:
        return "gpt3_verifier"
    if {"generated", "results"} <= keys:
        return "pot_programs"
    if "outputs" in keys:
        return "sft_samples"
    if isinstance(row.get("answer"), str) and "####" in row["answer"]:
        return "gsm8k"
    return None


def detect_format(path: str | Path) -> str:
    """Which of :data:`FORMATS` the file is (from its first record); ValueError naming the file otherwise."""
    path = Path(path)
    first = first_record(path)
    fmt = _format_of(first) if isinstance(first, dict) else None
    if fmt is None:
        keys = sorted(first) if isinstance(first, dict) else type(first).__name__
        raise ValueError(f"{path}: unrecognised GSM8K format (first record: {keys}); expected one of {FORMATS}")
    return fmt


def _number(r: Record, value, name: str) -> Number:
    """A number the file gives as a number or numeric string (executed results, gold answers)."""
    n = to_number(value)
    if n is None:
        raise r.fail(f"{name!r} must be a number, not {json.dumps(value)[:40]}")
    return n


def read_gpt3_verifier(path: str | Path) -> list[SampleSet]:
    sets = []
    for i, r in enumerate(_read_records(Path(path))):
        gold = extract_answer(r.get("ground_truth", "str"))  # its solutions end "A: N", not "#### N"
        for col, label in GPT3_SOURCES.items():
            cell = r.get(col, "obj")
            text = check(cell.get("solution"), "text", f"{col}.solution", r.fail)
            label_ = check(cell.get("is_correct"), "bool", f"{col}.is_correct", r.fail)
            sample = ImportedSample(text, None, label_, extract_answer(text))
            sets.append(SampleSet(r.row["question"], [sample], label, gold, {"index": i, "where": r.where}))
    return sets


def read_pot_programs(path: str | Path) -> list[SampleSet]:
    """One sample per generated program; the executed answers are paired with programs only when none failed.

    With k failed programs (``len(results) < len(generated)``) we cannot tell which programs failed: the samples
    are then the ``results`` (text None, aligned False) followed by k failed samples (text None, answer None,
    counted wrong), and the programs are kept, unpaired, in ``SampleSet.extra["unpaired_texts"]``.
    """
    sets = []
    for i, r in enumerate(_read_records(Path(path))):
        programs = r.get("generated", "str-list")
        results = [_number(r, x, f"results[{j}]") for j, x in enumerate(r.get("results", "list0"))]
        if len(results) > len(programs):
            raise r.fail(f"{len(results)} results for {len(programs)} generated programs")
        gold = _number(r, r.row.get("answer"), "answer")
        if len(results) == len(programs):
            samples = [ImportedSample(p, x, None, x, {"aligned": True}) for p, x in zip(programs, results)]
            extra = {"index": i}
        else:
            samples = [ImportedSample(None, x, None, x, {"aligned": False}) for x in results]
            k = len(programs) - len(results)
            samples += [ImportedSample(None, None, None, None, {"aligned": False, "failed": True}) for _ in range(k)]
            extra = {"index": i, "unpaired_texts": list(programs)}
        extra["prediction_from_file"] = r.row.get("prediction")
        extra["where"] = r.where
        sets.append(SampleSet(r.row["question"], samples, POT_LABEL, gold, extra))
    return sets


def read_sft_samples(path: str | Path) -> list[SampleSet]:
    """Labels are booleans except ``"[invalid]"`` (the file's extractor found no "The answer is N"): kept as
    False, the file's own verdict, with the raw value in ``extra["raw_label"]``."""
    sets = []
    for r in _read_records(Path(path)):
        samples = []
        for j, out in enumerate(r.get("outputs", "list")):
            check(out, "obj", f"outputs[{j}]", r.fail)
            text = check(out.get("response"), "text", f"outputs[{j}].response", r.fail)
            label, extra = out.get("label"), {}
            if not isinstance(label, bool):
                if label != INVALID:
                    raise r.fail(f"'outputs[{j}].label' must be true, false or {INVALID!r}, not "
                                 f"{json.dumps(label)[:40]}")
                label, extra = False, {"raw_label": label}
            samples.append(ImportedSample(text, out.get("response_answer"), label, extract_answer(text), extra))
        gold = _number(r, r.row.get("ground_truth"), "ground_truth")
        sets.append(SampleSet(r.row["question"], samples, SFT_LABEL, gold, {"index": r.row.get("idx"),
                                                                             "where": r.where}))
    return sets


READERS = {"gpt3_verifier": read_gpt3_verifier, "pot_programs": read_pot_programs, "sft_samples": read_sft_samples}


def read_generations(path: str | Path) -> list[SampleSet]:
    """Read any generation file of a recognised format."""
    fmt = detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"{path}: is a {fmt} dataset, not a generation set; use gsm8k.load_jsonl")
    return READERS[fmt](path)


def match_to_test(
    sets: list[SampleSet], test_problems: list[Problem]
) -> tuple[list[tuple[SampleSet, Problem]], list[SampleSet]]:
    """Pair each set with the test problem of the same normalised question text; the rest are unmatched."""
    by_text = {normalize_question(p.question): p for p in test_problems}
    matched, unmatched = [], []
    for s in sets:
        p = by_text.get(normalize_question(s.question))
        if p is None:
            unmatched.append(s)
        else:
            matched.append((s, p))
    return matched, unmatched
