"""The engine interface: sampling parameters in, generations out. Strategies only talk to this."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

# log-probs are those of the model's own distribution (log-softmax of the raw logits at temperature 1), not of the
# tempered / truncated distribution the token was drawn from; this kind is stored with every run
LOGPROB_KIND = "raw"
MAX_SAMPLES_PER_PROMPT = 4096
MAX_NEW_TOKENS = 4096
HF_ENGINE = "hf-own-loop-v1"  # the HF engine's engine_id; bump when it changes what a seed produces


def noise_seed(seed: int, key: str, block: int = 0) -> int:
    """The seed of one prompt's sampling noise (block: a group of its samples): a function of the run's seed and the
    prompt's key alone, so a prompt's samples do not depend on the batch, the shard or the worker it ran in."""
    h = hashlib.blake2b(f"{seed}\x1f{key}\x1f{block}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class SamplingParams:
    """Everything that changes what is sampled. ``temperature=0`` is greedy (then ``n`` must be 1)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off; transformers would silently use 50
    max_new_tokens: int = 256
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.n <= MAX_SAMPLES_PER_PROMPT:
            raise ValueError(f"n={self.n} samples per prompt is outside 1..{MAX_SAMPLES_PER_PROMPT}")
        if not 0 <= self.temperature <= 10:
            raise ValueError(f"temperature={self.temperature} is outside 0..10")
        if self.temperature == 0 and self.n != 1:
            raise ValueError("greedy decoding (temperature 0) gives one sample; use n=1")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError(f"top_k={self.top_k} must be >= 0 (0 = off)")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} is outside 1..{MAX_NEW_TOKENS}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    """One sampled completion of one prompt (or prefix)."""

    text: str
    token_ids: list[int]
    logprobs: list[float]  # per generated token, LOGPROB_KIND
    prompt_tokens: int
    finish_reason: str  # "eos" | "stop" (a stop token) | "length" | "time"
    forced: list[bool] = field(default_factory=list)  # per generated token: inserted by a controller, not sampled

    @property
    def gen_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.logprobs))


ProgressFn = Callable[[int, int, int], None]  # (rows finished, rows total, tokens generated so far)


class TokenController(Protocol):
    """Per-row hook used by budget forcing: may replace a sampled token by a sequence of forced tokens."""

    def on_token(self, row: int, token: int, generated: list[int]) -> list[int] | None:
        """Return tokens to emit instead of ``token`` (may be empty: drop it), or None to keep it."""


@runtime_checkable
class Engine(Protocol):
    """What strategies, the runner and live runs use of an engine; every engine (HF, Ray-wrapped, vLLM) passes the
    contract tests in tests/test_engine_contract.py."""

    name: str  # the model's name, as stored with its runs
    n_params: int  # parameters N, for FLOPs
    fingerprint: str  # identity of the weights (and tokenizer/config for registered models), part of every run key
    engine_id: str  # what a seed produces: engines that return the same samples share it; part of every run key
    chat_template: bool  # prompts are rendered as one user turn of the model's chat template
    eos: int | None  # the tokenizer's end-of-sequence id (budget forcing treats it as the end of thinking)
    eos_ids: frozenset[int]  # every token that ends a sample (finish reason "eos"): EOS and the end-of-turn tokens
    config: Any  # the model's transformers config: layers and attention width for FLOPs (compute.model_shape)
    token_control: bool  # sample() honours a TokenController (budget forcing); else it refuses one
    time_limit: bool  # sample() and stream() honour max_seconds (finish reason "time"); else they refuse it

    def encode(self, text: str, special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; ValueError naming the characters the tokenizer cannot read."""

    def decode(self, ids: list[int]) -> str:
        """Text of generated ids (special tokens dropped); ``decode(g.token_ids) == g.text``."""

    def token_id(self, text: str) -> int:
        """The id of a text that is one token (tree search's step separator); ValueError otherwise."""

    def prompt_ids(self, prompt: str) -> list[int]:
        """The ids the model reads for ``prompt`` (chat template and BOS applied); ``Generation.prompt_tokens``."""

    def rows_per_pass(self, prompt_len: int, max_new_tokens: int) -> int:
        """Batch limit: how many sample rows one pass decodes together at these lengths."""

    def sample(self, prompts: list[str], params: SamplingParams, *, keys: list[str] | None = None,
               stop_ids: tuple[int, ...] = (), max_seconds: float | None = None,
               controller: TokenController | None = None, progress: ProgressFn | None = None,
               stop_strings: tuple[str, ...] = (), max_rows: int | None = None,
               ) -> list[list[Generation]]:
        """``params.n`` completions per prompt, in order. Sampling noise depends only on (seed, key, sample index):
        a prompt's samples never depend on what else is in the call, so sharding prompts changes nothing.
        ``max_rows`` caps rows per pass (finer progress, same samples)."""

    def stream(self, prompt: str, params: SamplingParams, *, key: str | None = None,
               max_seconds: float | None = None, stop_strings: tuple[str, ...] = (),
               ) -> Iterator[tuple[str, float] | Generation]:
        """(token text, raw log-prob) per generated token of one sample, then its Generation: the sample
        ``sample([prompt], params, keys=[key])`` returns."""
