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

import hashlib
import json
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from backend.analysis.compute import flops_per_sequence
from backend.store import Store, commit_batch
from backend.tasks import PromptRecord, get_task, gsm8k, gsm8k_record
from backend.tasks import gsm8k_sources as src

CHARS_PER_TOKEN = 4  # rough BPE rate of English text and code (GPT-2/Llama tokenizers: ~3.5-4.5)
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


@dataclass
class ImportReport:
    path: str
    format: str
    problems: int  # distinct questions in the file
    samples: int
    matched: int  # of those problems, found in the test set
    unmatched: int
    runs: list[RunSummary]

    def lines(self) -> list[str]:
        out = [f"{Path(self.path).name}: {self.format}, {self.problems} problems, {self.samples} samples; "
               f"{self.matched} matched to the test set, {self.unmatched} unmatched"]
        for r in self.runs:
            agree = (f"; agrees with the file's labels on {r.agree}/{r.labelled} ({r.agree / r.labelled:.4f})"
                     if r.labelled else "; the file has no per-sample labels")
            state = f"added {r.added} prompts" if r.added else "already stored, nothing added"
            out.append(f"  {r.source} -> run {r.run_key}: {r.model} ({human_count(r.params)} params) "
                       f"{r.strategy} n={r.n}, "
                       f"{r.prompts} prompts, {r.samples} samples, accuracy {r.accuracy:.4f}{agree}; {state}"
                       + (f" ({r.note})" if r.note else ""))
        return out


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
    pt = estimate_tokens(prompt.question)
    gt = estimate_tokens(s.text) if gen_tokens is None else gen_tokens
    cut = task.answer_start(s.text) if s.text else -1
    return {"prompt_key": prompt.key, "sample_idx": idx, "text": s.text, "answer": answer,
            "correct": task.correct(prompt, answer), "prompt_tokens": pt, "gen_tokens": gt,
            "think_tokens": estimate_tokens(s.text[:cut]) if cut >= 0 else gt, "sum_logprob": None,
            "token_logprobs": None, "forced": None, "flops": flops_per_sequence(params, pt, gt),
            "finish_reason": None, "is_final": is_final, "node_id": None}


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


def import_generations(path: str | Path, test_path: str | Path, models: list[tuple[str, int]] | None = None,
                       fmt: str = "auto", store: Store | None = None) -> ImportReport:
    """Import one generation file as runs (one per source in it); prompts are matched to the test set by question
    text. Idempotent: a run already stored for a prompt is not written again."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generation file at {path}")
    detected = src.detect_format(path)
    if fmt != "auto" and fmt != detected:
        raise ValueError(f"{path} looks like {detected}, not {fmt}; use --format auto")
    if detected not in src.READERS:
        raise ValueError(f"{path} is a {detected} dataset, not a generation set; pass it as --test or --data")
    sources = sources_for(detected, list(models or []))
    test = gsm8k.load_jsonl(test_path)
    sets = src.READERS[detected](path)
    matched, unmatched = src.match_to_test(sets, test)
    fp = file_fingerprint(path)
    store = store or Store()
    store.refresh()
    by_source: dict[str, list[tuple[src.SampleSet, gsm8k.Problem]]] = defaultdict(list)
    for sset, problem in matched:
        by_source[sset.source_label].append((sset, problem))
    runs = []
    for label, source in sources.items():
        pairs, seen = [], set()
        for sset, problem in by_source.get(label, []):
            if problem.key not in seen:  # a question repeated in the file counts once (the first)
                seen.add(problem.key)
                pairs.append((gsm8k_record(problem), sset))
        runs.append(_import_run(path, detected, fp, label, source, pairs, store))
    questions = {gsm8k.normalize_question(s.question) for s in sets}
    unmatched_q = {gsm8k.normalize_question(s.question) for s in unmatched}
    return ImportReport(str(path), detected, len(questions), sum(len(s.samples) for s in sets),
                        len(questions) - len(unmatched_q), len(unmatched_q), runs)


def _import_run(path: Path, fmt: str, fp: str, label: str, source: Source,
                pairs: list[tuple[PromptRecord, src.SampleSet]], store: Store) -> RunSummary:
    key = import_key(fp, source.model, label)
    done = store.done_prompts(key)
    n = source.strategy_params.get("n") or max((len(s.samples) for _, s in pairs), default=0)
    samples, results, labelled, agree, correct = [], [], 0, 0, 0
    for prompt, sset in pairs:
        rows, result = _rows(prompt, sset, source)
        correct += sum(r["correct"] for r in rows)
        for row, s in zip(rows, sset.samples):
            if s.label_from_file is not None:
                labelled += 1
                agree += row["correct"] == s.label_from_file
        if prompt.key not in done:
            samples += [{"run_key": key, **r} for r in rows]
            results += [{"run_key": key, **result}] if result else []
    total = sum(len(s.samples) for _, s in pairs)
    summary = RunSummary(key, label, source.model, source.params, source.strategy, n, len(pairs), total,
                         correct / max(1, total), labelled, agree)
    stored = store.sql("SELECT model_params FROM runs WHERE run_key = ?", [key])
    if len(stored) and int(stored["model_params"][0]) != source.params:
        summary.note = f"stored earlier with {human_count(int(stored['model_params'][0]))} params, kept"
    todo = {p.key for p, _ in pairs} - done
    if todo:
        run_row = {"run_key": key, "model": source.model, "model_params": source.params,
                   "model_fingerprint": f"import:{fp}", "task": "gsm8k", "strategy": source.strategy,
                   "strategy_params": json.dumps(source.strategy_params, sort_keys=True),
                   "sampling": json.dumps({"n": n}),  # the files do not say at which temperature
                   "verifier": source.verifier, "engine": f"import:{fmt}", "seed": None, "logprob_kind": None,
                   "source": "import", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "notes": _notes(path, fmt, fp, label, source)}
        commit_batch({"runs": [run_row], "prompts": [p.row() for p, _ in pairs if p.key in todo],
                      "samples": samples, "results": results}, store.root)
        store.refresh()
        summary.added = len(todo)
    return summary
