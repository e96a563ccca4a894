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


def _read_records(path: Path) -> list[dict]:
    """A JSON list or JSONL file as a list of dicts; ValueError naming the file (and line) otherwise."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON ({e})") from None
        lines = range(1, len(rows) + 1)
    else:
        rows, lines = [], []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: invalid JSON line ({e})") from None
                lines.append(lineno)
    for n, row in zip(lines, rows):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise ValueError(f"{path}: record {n} is not an object with a string 'question'")
    return rows


def _format_of(row: dict) -> str | None:
    keys = set(row)
    if set(GPT3_SOURCES) <= keys:
        return "gpt3_verifier"
    if {"generated", "results"} <= keys:
        return "pot_programs"
    if "outputs" in keys and isinstance(row["outputs"], list):
        return "sft_samples"
    if isinstance(row.get("answer"), str) and "####" in row["answer"]:
        return "gsm8k"
    return None


def detect_format(path: str | Path) -> str:
    """Which of :data:`FORMATS` the file is (from its first record); ValueError naming the file otherwise."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        line = f.readline()
        while line and not line.strip():
            line = f.readline()
        try:
            if line.lstrip().startswith("["):  # a JSON list (possibly pretty-printed): parse it whole
                rows = json.loads(line + f.read())
                first = rows[0] if isinstance(rows, list) and rows else rows
            else:
                first = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{path}: neither a JSON list nor JSONL") from None
    fmt = _format_of(first) if isinstance(first, dict) else None
    if fmt is None:
        keys = sorted(first) if isinstance(first, dict) else type(first).__name__
        raise ValueError(f"{path}: unrecognised GSM8K format (first record: {keys}); expected one of {FORMATS}")
    return fmt


def read_gpt3_verifier(path: str | Path) -> list[SampleSet]:
    sets = []
    for i, row in enumerate(_read_records(Path(path))):
        gold = extract_answer(row.get("ground_truth"))  # its solutions end "A: N", not "#### N"
        for col, label in GPT3_SOURCES.items():
            cell = row[col]
            text = cell.get("solution")
            sample = ImportedSample(text, None, cell.get("is_correct"), extract_answer(text))
            sets.append(SampleSet(row["question"], [sample], label, gold, {"index": i}))
    return sets


def read_pot_programs(path: str | Path) -> list[SampleSet]:
    """One sample per generated program; the executed answers are paired with programs only when none failed.

    With k failed programs (``len(results) < len(generated)``) we cannot tell which programs failed: the samples
    are then the ``results`` (text None, aligned False) followed by k failed samples (text None, answer None,
    counted wrong), and the programs are kept, unpaired, in ``SampleSet.extra["unpaired_texts"]``.
    """
    sets = []
    for i, row in enumerate(_read_records(Path(path))):
        programs, results = row["generated"], row["results"]
        if len(results) == len(programs):
            samples = [ImportedSample(p, r, None, to_number(r), {"aligned": True}) for p, r in zip(programs, results)]
            extra = {"index": i}
        else:
            samples = [ImportedSample(None, r, None, to_number(r), {"aligned": False}) for r in results]
            k = len(programs) - len(results)
            samples += [ImportedSample(None, None, None, None, {"aligned": False, "failed": True}) for _ in range(k)]
            extra = {"index": i, "unpaired_texts": list(programs)}
        extra["prediction_from_file"] = row.get("prediction")
        sets.append(SampleSet(row["question"], samples, POT_LABEL, to_number(row.get("answer")), extra))
    return sets


def read_sft_samples(path: str | Path) -> list[SampleSet]:
    """Labels are booleans except ``"[invalid]"`` (the file's extractor found no "The answer is N"): kept as
    False, the file's own verdict, with the raw value in ``extra["raw_label"]``."""
    sets = []
    for row in _read_records(Path(path)):
        samples = []
        for out in row["outputs"]:
            label, extra = out.get("label"), {}
            if not isinstance(label, bool):
                label, extra = False, {"raw_label": label}
            text = out.get("response")
            samples.append(ImportedSample(text, out.get("response_answer"), label, extract_answer(text), extra))
        gold = to_number(str(row.get("ground_truth", "")))
        sets.append(SampleSet(row["question"], samples, SFT_LABEL, gold, {"index": row.get("idx")}))
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
