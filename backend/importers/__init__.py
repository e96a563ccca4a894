"""Import generations other tools wrote, one module per format, into the cache as runs of source "import".

Formats: the published GSM8K sets (``gpt3_verifier``, ``pot_programs``, ``sft_samples``; matched to a ``--test``
file), ``search-and-learn`` outputs, ``lm-eval`` sample logs, ``inspect`` logs and the documented ``generic``
JSONL. Every import reads and checks the whole file first, then writes all of its runs in one batch.
"""
from __future__ import annotations

import json
from pathlib import Path

from backend.importers.common import ImportReport, commit_runs, file_fingerprint, human_count, parse_count
from backend.store import Store

PUBLISHED = ("gpt3_verifier", "pot_programs", "sft_samples")
FORMATS = ("auto", *PUBLISHED, "search-and-learn", "lm-eval", "inspect", "generic")
TASKS = ("auto", "gsm8k", "math")

__all__ = ["FORMATS", "TASKS", "ImportReport", "detect_format", "human_count", "import_file", "parse_count"]


def _looks_like_inspect_json(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b"{"):
        return False
    try:
        json.loads(head.split(b"\n", 1)[0])
        return False  # a whole object on the first line: JSONL
    except ValueError:
        return b'"eval"' in head or b'"version"' in head


def detect_format(path: str | Path) -> str:
    """Which of :data:`FORMATS` a file is, from its suffix and first record; ValueError naming the file."""
    from backend.importers.records import first_record
    from backend.tasks import gsm8k_sources

    path = Path(path)
    if path.suffix == ".eval" or (path.suffix == ".json" and _looks_like_inspect_json(path)):
        return "inspect"
    if path.suffix == ".parquet":
        return "search-and-learn"
    first = first_record(path)
    keys = set(first) if isinstance(first, dict) else set()
    if {"problem", "completions", "scores"} <= keys:
        return "search-and-learn"
    if {"doc_id", "doc", "resps"} <= keys:
        return "lm-eval"
    if {"prompt_id", "sample_idx", "text"} <= keys:
        return "generic"
    return gsm8k_sources.detect_format(path)


def import_file(path: str | Path, store: Store, *, fmt: str = "auto", test: str | Path | None = None,
                models: list[tuple[str, int]] | None = None, task: str = "auto", prm: str = "prm",
                prm_params: int = 0, approach: str | None = None) -> ImportReport:
    """Import one file in one batch (all of it or nothing) and return what it added and how its own numbers
    compare with ours. ``models``: (name, params) of the model(s) that wrote it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file" if not path.exists() else f"{path} is a folder, not a file")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    detected = detect_format(path) if fmt == "auto" or fmt in PUBLISHED else fmt
    if detected == "gsm8k":
        raise ValueError(f"{path} is a GSM8K dataset (question, answer), not a generation set; pass it as --test")
    if detected in PUBLISHED:
        from backend.importers.gsm8k_published import import_generations

        if test is None:
            raise ValueError(f"{path} is a published GSM8K set ({detected}): give the test set, "
                             "--test gsm8k_test.jsonl")
        return import_generations(path, test, models, fmt if fmt in PUBLISHED else "auto", store=store)
    from backend.importers import generic, inspect_log, lm_eval, search_and_learn

    module = {"search-and-learn": search_and_learn, "lm-eval": lm_eval, "inspect": inspect_log,
              "generic": generic}[detected]
    models = list(models or [])
    if len(models) > 1 or (detected != "inspect" and (not models or models[0][0] is None)):
        raise ValueError(f"give the model that wrote {path.name}: --model NAME --params N (e.g. 7e9)")
    fp = file_fingerprint(path)
    plans, prompts = module.plan(path, fp, model=models[0][0] if models else None,
                                 params=models[0][1] if models else None, task=task, prm=prm,
                                 prm_params=prm_params, approach=approach)
    commit_runs(store, plans)
    return ImportReport(str(path), detected, len(prompts), sum(len(p.texts) for p in prompts),
                        [p.summary for p in plans])
