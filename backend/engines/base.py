"""The engine interface: sampling parameters in, generations out. Strategies only talk to this."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol

# log-probs are those of the model's own distribution (log-softmax of the raw logits at temperature 1), not of the
# tempered / truncated distribution the token was drawn from; this kind is stored with every run
LOGPROB_KIND = "raw"
MAX_SAMPLES_PER_PROMPT = 4096
MAX_NEW_TOKENS = 4096


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


class Engine(Protocol):
    name: str
    n_params: int

    def sample(self, prompts: list[str], params: SamplingParams, *, keys: list[str] | None = None,
               stop_ids: tuple[int, ...] = (), max_seconds: float | None = None,
               controller: TokenController | None = None, progress: ProgressFn | None = None,
               stop_strings: tuple[str, ...] = (),
               ) -> list[list[Generation]]: ...

    def encode(self, text: str) -> list[int]: ...
