"""Zoo members: architecture and training recipe of every model we train, in one table."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MemberSpec:
    name: str
    fmt: str  # "cot" (writes its steps) or "direct" (answer only)
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    train_tokens: int  # data budget: tokens processed (prompt + completion, no padding)
    lr: float
    batch_size: int = 128  # sequences per step
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.1
    seed: int = 1234  # data and init seed: every member with the same seed sees the same problem stream
    p_fix: float = 0.06  # CoT traces with one wrong step corrected after "wait"
    p_recheck: float = 0.04  # CoT traces with one correct step re-checked after "wait"
    checkpoints: tuple[int, ...] = (3_000_000, 6_000_000, 12_000_000)  # tokens at which extra members are saved
    paths: str = "single"  # CoT reduction order: "single" canonical, "multi" drawn uniformly over legal paths
    gpu_only: bool = False  # trained only when a CUDA device is present

    def __post_init__(self):
        if self.fmt not in ("cot", "direct"):
            raise ValueError(f"{self.name}: fmt must be 'cot' or 'direct', not {self.fmt!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"{self.name}: d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.paths not in ("single", "multi"):
            raise ValueError(f"{self.name}: paths must be 'single' or 'multi', not {self.paths!r}")
        if self.train_tokens <= 0 or self.lr <= 0:
            raise ValueError(f"{self.name}: train_tokens and lr must be positive")

    def recipe(self) -> dict:
        return asdict(self)


M = 1_000_000
# Every CPU member sees the same 36M-token data budget. The first run used 24M and was extended to 36M by resuming
# (the cosine schedule is over the fraction of the budget, so the learning rate rose once, then decayed again).
BUDGET = 36 * M
_SMALL = dict(d_model=64, n_layers=2, n_heads=4, d_ff=172, lr=3e-3)
_MID = dict(d_model=128, n_layers=4, n_heads=4, d_ff=344, lr=2e-3)
_LARGE = dict(d_model=256, n_layers=4, n_heads=8, d_ff=688, lr=1e-3)

ZOO: tuple[MemberSpec, ...] = (
    MemberSpec("cot-0.1m", "cot", train_tokens=BUDGET, **_SMALL),
    MemberSpec("cot-0.8m", "cot", train_tokens=BUDGET, **_MID),
    MemberSpec("cot-3.2m", "cot", train_tokens=BUDGET, **_LARGE),
    MemberSpec("direct-0.1m", "direct", train_tokens=BUDGET, checkpoints=(), **_SMALL),
    MemberSpec("direct-0.8m", "direct", train_tokens=BUDGET, checkpoints=(), **_MID),
    # ablation: the same 0.1M CoT model without "wait" traces, to measure whether they cost accuracy
    MemberSpec("cot-0.1m-nowait", "cot", train_tokens=BUDGET, p_fix=0.0, p_recheck=0.0, checkpoints=(), **_SMALL),
    # zoo v2: the same recipes on multi-path traces (any legal order of the steps), so sampled paths differ
    MemberSpec("cot-0.1m-multi", "cot", train_tokens=BUDGET, paths="multi", **_SMALL),
    MemberSpec("cot-0.8m-multi", "cot", train_tokens=BUDGET, paths="multi", **_MID),
    MemberSpec("cot-3.2m-multi", "cot", train_tokens=BUDGET, paths="multi", **_LARGE),
    # training-seed spread: the smallest CoT model of each variant with two more data-and-init seeds
    *(MemberSpec(f"cot-0.1m{v}-s{seed}", "cot", train_tokens=BUDGET, seed=seed, paths=paths, checkpoints=(), **_SMALL)
      for v, paths in (("", "single"), ("-multi", "multi")) for seed in (2, 3)),
    # larger members, proportionally more data, trained only where a GPU is available
    MemberSpec("cot-11m", "cot", d_model=384, n_layers=6, n_heads=8, d_ff=1032, lr=6e-4, batch_size=256,
               train_tokens=80 * M, gpu_only=True),
    MemberSpec("cot-25m", "cot", d_model=512, n_layers=8, n_heads=8, d_ff=1376, lr=5e-4, batch_size=256,
               train_tokens=160 * M, gpu_only=True),
)

_MICRO = dict(n_heads=2, lr=1e-2, batch_size=32, warmup_steps=20)
QUICK: tuple[MemberSpec, ...] = (  # a micro zoo for tests: learns the format (parseable answers), not arithmetic
    MemberSpec("micro-cot-a", "cot", d_model=32, n_layers=2, d_ff=64, train_tokens=800_000, checkpoints=(400_000,), **_MICRO),
    MemberSpec("micro-cot-b", "cot", d_model=48, n_layers=2, d_ff=96, train_tokens=600_000, checkpoints=(), **_MICRO),
    MemberSpec("micro-direct", "direct", d_model=32, n_layers=1, d_ff=64, train_tokens=200_000, checkpoints=(), **_MICRO),
)


def find_spec(name: str, specs: tuple[MemberSpec, ...] = ZOO + QUICK) -> MemberSpec:
    for s in specs:
        if s.name == name:
            return s
    import difflib

    close = difflib.get_close_matches(name, [s.name for s in specs], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise KeyError(f"no zoo member named {name!r}{hint}")

