"""Import published GSM8K generation sets (``backend.tasks.gsm8k_sources``) into the cache as runs of source
"import", so the pages show real large models beside our own.

Every answer is our own: re-extracted from the text by the gsm8k task and checked against the gold of *our* test
set (the file's labels are only compared with, in the summary). The one exception is program-of-thought: its
answer is the file's executed result, because we do not run model-written code (see ``gsm8k_sources``).

The files hold no token counts: tokens are estimated at :data:`CHARS_PER_TOKEN` characters per token, the prompt
as the question alone (the published prompts' instructions and shots are not in the files, so FLOPs are a lower
bound), and FLOPs follow DESIGN §5: 2·N·(prompt + generated tokens) per sample. Runs are keyed by (file content,
model name, source), so importing a file again adds nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from backend.analysis.compute import flops_per_sequence
from backend.importers.common import (
    CHARS_PER_TOKEN, ImportReport, PlannedRun, RunSummary, commit_runs, estimate_tokens, file_fingerprint,
    import_key, sample_row, think_tokens,
)
from backend.importers.pool import run_row
from backend.importers.records import decode_utf8
from backend.store import Store
from backend.tasks import PromptRecord, get_task, gsm8k, gsm8k_record
from backend.tasks import gsm8k_sources as src

GPT3_MODELS = {"6b": ("gpt3-6b", 6_700_000_000), "175b": ("gpt3-175b", 175_000_000_000)}  # Brown et al. 2020
VERIFIER_SAMPLES = 100  # Cobbe et al. 2021: the verifier ranks 100 samples of the generator


@dataclass(frozen=True)
class Source:
    """How one source label of a file becomes a run."""

    model: str
    params: int
    strategy: str  # "sample" (a pool, or one sample) | "best_of_n" (one pick among n by a verifier)
    strategy_params: dict = field(default_factory=dict)
    verifier: str | None = None


def sources_for(fmt: str, models: list[tuple[str, int]]) -> dict[str, Source]:
    """Source label -> run description. ``models`` are (name, params) as the user gave them: one for a single-model
    file, none or two (6B, 175B) for the GPT-3 file."""
    if fmt == "gpt3_verifier":
        if len(models) not in (0, 2):
            raise ValueError("the GPT-3 file holds two models: give --model NAME_6B,NAME_175B --params N_6B,N_175B, "
                             "or neither for gpt3-6b (6.7e9) and gpt3-175b (175e9)")
        (small, n_small), (large, n_large) = models or list(GPT3_MODELS.values())
        out = {}
        for size, (name, n) in (("6b", (small, n_small)), ("175b", (large, n_large))):
            verifier = f"{name}-verifier"
            out[src.GPT3_SOURCES[f"{size}_finetuning"]] = Source(name, n, "sample")
            out[src.GPT3_SOURCES[f"{size}_verification"]] = Source(
                name, n, "best_of_n", {"n": VERIFIER_SAMPLES, "verifier": verifier}, verifier)
        return out
    if len(models) != 1:
        raise ValueError("give the model that wrote these generations: --model NAME --params N (e.g. 13e9)")
    name, n = models[0]
    label = {"pot_programs": src.POT_LABEL, "sft_samples": src.SFT_LABEL}[fmt]
    return {label: Source(name, n, "sample")}


def _notes(path: Path, fmt: str, fp: str, label: str, source: Source) -> str:
    parts = [f"imported from {path.name} ({fmt}, content {fp}), source {label!r}"]
    if fmt == "pot_programs":
        parts.append("answers: the file's executed program results (model-written programs are not run here), "
                     "checked against our test gold; failed programs are samples with no answer; where a problem "
                     "has failed programs the file does not say which, so its samples carry no text")
    else:
        parts.append("answers re-extracted from the text and checked against our test gold; the file's labels "
                     "are not stored")
    parts.append(f"tokens estimated at {CHARS_PER_TOKEN} chars/token, prompt = the question alone (published "
                 "prompts are not in the file: a lower bound); flops = 2*N*(prompt + generated tokens)")
    if source.strategy == "best_of_n":
        parts.append(f"only the verifier's pick among {VERIFIER_SAMPLES} samples is in the file: gen_flops = "
                     f"{VERIFIER_SAMPLES} x the pick's cost, verifier_flops = {VERIFIER_SAMPLES} x 2*N_verifier*"
                     "(prompt + pick tokens) with a verifier the size of the generator (Cobbe et al. 2021)")
    parts.append("sampling temperature not stated in the file (left out of runs.sampling)")
    return "; ".join(parts)


def _sample_row(prompt: PromptRecord, s: src.ImportedSample, idx: int, params: int, *, is_final: bool,
                gen_tokens: int | None = None) -> dict:
    task = get_task("gsm8k")
    answer = gsm8k.answer_key(s.answer)
    gt = estimate_tokens(s.text) if gen_tokens is None else gen_tokens
    cut = task.answer_start(s.text) if s.text else -1
    return sample_row(prompt.key, idx, s.text, answer, task.correct(prompt, answer), estimate_tokens(prompt.question),
                      gt, params, think=think_tokens(s.text, cut, gt), is_final=is_final)


def _rows(prompt: PromptRecord, sset: src.SampleSet, source: Source) -> tuple[list[dict], dict | None]:
    """The samples rows of one problem, and for best_of_n its results row."""
    unpaired = sset.extra.get("unpaired_texts")
    # programs of a problem with failures are not paired with answers: charge each sample their mean length
    mean_tokens = round(sum(map(estimate_tokens, unpaired)) / len(unpaired)) if unpaired else None
    best = source.strategy == "best_of_n"
    rows = [_sample_row(prompt, s, i, source.params, is_final=best, gen_tokens=mean_tokens)
            for i, s in enumerate(sset.samples)]
    if not best:
        return rows, None
    (pick,) = rows
    n = VERIFIER_SAMPLES
    tokens = pick["prompt_tokens"] + pick["gen_tokens"]
    result = {"prompt_key": prompt.key, "answer": pick["answer"], "correct": pick["correct"],
              "gen_tokens": n * pick["gen_tokens"], "gen_flops": n * pick["flops"], "verifier_tokens": n * tokens,
              "verifier_flops": n * flops_per_sequence(source.params, tokens, 0), "n_traces": n, "wall_s": None}
    return rows, result


def load_test(path: str | Path) -> list[gsm8k.Problem]:
    """The GSM8K test set the file's problems are matched to; one-line errors for a bad or empty file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (--test is the GSM8K test set, gsm8k_test.jsonl)")
    decode_utf8(path, path.read_bytes())  # names the line of a non-UTF-8 byte
    problems = gsm8k.load_jsonl(path)
    if not problems:
        raise ValueError(f"{path}: no problems in it (empty --test file); give the GSM8K test set")
    return problems


def import_generations(path: str | Path, test_path: str | Path, models: list[tuple[str, int]] | None = None,
                       fmt: str = "auto", *, store: Store) -> ImportReport:
    """Import one generation file as runs (one per source in it), all in one batch; prompts are matched to the
    test set by question text. Idempotent: a run already stored for a prompt is not written again."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    detected = src.detect_format(path)
    if fmt != "auto" and fmt != detected:
        raise ValueError(f"{path} looks like {detected}, not {fmt}; use --format auto")
    if detected not in src.READERS:
        raise ValueError(f"{path} is a {detected} dataset, not a generation set; pass it as --test or --data")
    sources = sources_for(detected, list(models or []))
    test = load_test(test_path)
    sets = src.READERS[detected](path)  # every record is checked here, before anything is written
    matched, unmatched = src.match_to_test(sets, test)
    if not matched:
        raise ValueError(f"{path}: none of its {len(sets)} problem sets has a question of {test_path} (matched by "
                         "question text); is that the GSM8K test set the file was generated from?")
    fp = file_fingerprint(path)
    by_source: dict[str, list[tuple[src.SampleSet, gsm8k.Problem]]] = defaultdict(list)
    for sset, problem in matched:
        by_source[sset.source_label].append((sset, problem))
    plans = []
    for label, source in sources.items():
        pairs, seen = [], set()
        for sset, problem in by_source.get(label, []):
            if problem.key not in seen:  # a question repeated in the file counts once (the first)
                seen.add(problem.key)
                pairs.append((gsm8k_record(problem), sset))
        plans.append(_plan_run(path, detected, fp, label, source, pairs))
    commit_runs(store, plans)
    questions = {gsm8k.normalize_question(s.question) for s in sets}
    unmatched_q = {gsm8k.normalize_question(s.question) for s in unmatched}
    return ImportReport(str(path), detected, len(questions), sum(len(s.samples) for s in sets),
                        [p.summary for p in plans], len(questions) - len(unmatched_q), len(unmatched_q))


def _plan_run(path: Path, fmt: str, fp: str, label: str, source: Source,
              pairs: list[tuple[PromptRecord, src.SampleSet]]) -> PlannedRun:
    key = import_key(fp, source.model, label)
    n = source.strategy_params.get("n") or max((len(s.samples) for _, s in pairs), default=0)
    run = run_row(key, model=source.model, params=source.params, fp=fp, task="gsm8k", strategy=source.strategy,
                  strategy_params=source.strategy_params, sampling={"n": n}, verifier=source.verifier, fmt=fmt,
                  notes=_notes(path, fmt, fp, label, source))  # the files do not say at which temperature
    total = sum(len(s.samples) for _, s in pairs)
    summary = RunSummary(key, label, source.model, source.params, source.strategy, n, len(pairs), total, 0.0)
    plan = PlannedRun(summary, run, {p.key: p.row() for p, _ in pairs})
    correct = 0
    for prompt, sset in pairs:
        rows, result = _rows(prompt, sset, source)
        correct += sum(r["correct"] for r in rows)
        for row, s in zip(rows, sset.samples):
            if s.label_from_file is not None:
                summary.labelled += 1
                summary.agree += row["correct"] == s.label_from_file
        plan.samples[prompt.key] = rows
        if result:
            plan.results[prompt.key] = result
    summary.accuracy = correct / max(1, total)
    return plan
