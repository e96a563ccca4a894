"""Live runs for the Playground: validated input, hard caps enforced here (not only in the page), streaming of a
single sample, progress for pools, and the result stored in the cache like any other run."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from backend import models
from backend.build import COT_TOKENS, DIRECT_TOKENS, MAIN_T
from backend.engines.base import SamplingParams
from backend.runner import RunReport, RunSpec, commit_outcomes, execute
from backend.store import Store
from backend.strategies import RunContext
from backend.strategies.base import Outcome, result_row, sample_row
from backend.tasks import PromptRecord, get_task, record_for


@dataclass(frozen=True)
class Caps:
    max_samples: int = 256  # samples (or search budget) per live run
    max_new_tokens: int = 256
    max_seconds: float = 60.0  # wall time per engine call; the run stops and says so
    max_prompt_chars: int = 200


CAPS = Caps()
LIVE_STRATEGIES = {
    "greedy": "one deterministic answer",
    "sample": "n samples at a temperature (majority vote / best-of-n are read from the pool)",
    "beam": "beam search over steps with a verifier (budget = candidates per step)",
    "dvts": "diverse verifier tree search (budget = candidates per step)",
    "budget_forcing": "think for exactly `budget` tokens ('wait' extends, the answer marker cuts)",
}


def live_models() -> list[str]:
    """Models the Playground may run: zoo members and registered local models (never a typed path)."""
    from backend.zoo import registry

    return [c["name"] for c in registry.list_cards()] + sorted(models.registered_models())


def validate_prompt(model: str, text: str) -> PromptRecord:
    """A prompt record for ``text``, or ValueError with one clear line (unreadable characters named)."""
    if not text or not text.strip():
        raise ValueError("type a prompt first")
    if len(text) > CAPS.max_prompt_chars:
        raise ValueError(f"prompts are limited to {CAPS.max_prompt_chars} characters")
    task = models.model_task(model)
    engine = models.load_engine(model)
    engine.encode(text.strip())  # first: name the characters the model cannot read
    record = record_for(task, text)
    engine.encode(record.text)
    return PromptRecord(**{**record.__dict__, "split": "user"})


def plan(model: str, strategy: str, budget: int, temperature: float = MAIN_T, verifier: str | None = None,
         seed: int = 0) -> RunSpec:
    """The RunSpec of a live run; ValueError when a setting is outside the caps."""
    if model not in live_models():
        raise ValueError(f"unknown model {model!r}")
    if strategy not in LIVE_STRATEGIES:
        raise ValueError(f"strategy {strategy!r} cannot run live; choose one of {', '.join(LIVE_STRATEGIES)}")
    if not 1 <= budget <= CAPS.max_samples:
        raise ValueError(f"budget {budget} is outside 1..{CAPS.max_samples}")
    if not 0 < temperature <= 2 and strategy != "greedy":
        raise ValueError("temperature must be in (0, 2]")
    direct = models.model_task(model) == "arith" and model.startswith("direct")
    tokens = DIRECT_TOKENS if direct else min(COT_TOKENS, CAPS.max_new_tokens)
    if strategy == "greedy":
        return RunSpec.make(model, "greedy", SamplingParams(temperature=0, max_new_tokens=tokens, seed=seed))
    if strategy == "sample":
        return RunSpec.make(model, "sample", SamplingParams(n=budget, temperature=temperature, max_new_tokens=tokens, seed=seed))
    if strategy in ("beam", "dvts"):
        width = 4 if budget % 4 == 0 else 1
        return RunSpec.make(model, strategy, SamplingParams(temperature=temperature, max_new_tokens=tokens, seed=seed),
                            {"budget": budget, "width": width}, verifier or "learned")
    if budget + 16 > CAPS.max_new_tokens:
        raise ValueError(f"a thinking budget above {CAPS.max_new_tokens - 16} tokens exceeds the token cap")
    return RunSpec.make(model, "budget_forcing", SamplingParams(n=1, temperature=temperature,
                        max_new_tokens=budget + 16, seed=seed), {"budget": budget, "mode": "force"})


def run(spec: RunSpec, prompt: PromptRecord, *, store: Store,
        on_token: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None) -> RunReport:
    """Run ``spec`` on one prompt now and store it. A single sample streams its text through ``on_token``; pools
    report (samples done, total) through ``on_progress``. Raising from a callback cancels: nothing is stored."""
    engine = models.load_engine(spec.model)
    if spec.strategy in ("greedy", "sample") and spec.sampling.n == 1 and on_token:
        return _streamed(spec, prompt, engine, store, on_token)
    progress = (lambda done, total, tokens: on_progress(done, total)) if on_progress else None
    return execute(spec, [prompt], store=store, engine=engine, max_seconds=CAPS.max_seconds, keep_outcomes=True,
                   progress=progress, max_rows=16, source="live")


def _streamed(spec: RunSpec, prompt: PromptRecord, engine, store: Store, on_token) -> RunReport:
    key = spec.key_for(engine)
    report = RunReport(key)
    if prompt.key in store.done_prompts(key):
        report.prompts_skipped = 1
        return report
    ctx = RunContext(engine=engine, task=get_task(spec.task), sampling=spec.sampling)
    t0, text, gen = time.monotonic(), "", None
    stream = engine.stream(prompt.text, spec.sampling, key=prompt.key, max_seconds=CAPS.max_seconds)
    try:
        for item in stream:
            if isinstance(item, tuple):
                text += item[0]
                on_token(text)
            else:
                gen = item
    finally:
        stream.close()  # a cancelled stream releases the engine at once
    row = sample_row(ctx, prompt, gen, 0, is_final=spec.strategy == "greedy")
    result = result_row(prompt, row["answer"], row["correct"], gen_tokens=gen.gen_tokens, gen_flops=row["flops"],
                        wall_s=time.monotonic() - t0) if spec.strategy == "greedy" else None
    outcome = Outcome(prompt, samples=[row], result=result)
    commit_outcomes(key, spec.run_row(key, engine.n_params, engine.fingerprint, "live"), [outcome], store)
    store.refresh()
    report.prompts_done, report.samples, report.gen_tokens = 1, 1, gen.gen_tokens
    report.flops, report.wall_s, report.outcomes = row["flops"], time.monotonic() - t0, [outcome]
    return report
