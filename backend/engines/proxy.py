"""Proxy tuning (Liu et al. 2024): decode a base model with its logits shifted by the difference of two other models,
``base + α·(expert − anti-expert)``, leaving every model's weights untouched.

The three models run in lockstep through the ordinary engine's decode loop (same seeds, sampling, stopping and
budget-forcing hooks): a composite module returns the combined logits and a composite KV cache keeps one cache per
model. All three must share one tokenizer (the zoo's character tokenizer does). Log-probs stored with a sample are
those of the combined distribution (log-softmax of the combined logits).
"""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import torch
from transformers import DynamicCache

from backend.engines.hf import HFEngine


def proxy_logits(base: torch.Tensor, expert: torch.Tensor, anti: torch.Tensor, alpha: float) -> torch.Tensor:
    """The proxy-tuned logits: base + α·(expert − anti-expert)."""
    return base + alpha * (expert - anti)


class ProxyCache:
    """One KV cache per model, selected together (the engine prunes finished rows and repeats prompt rows)."""

    def __init__(self, n: int = 3):
        self.caches = [DynamicCache() for _ in range(n)]

    def batch_select_indices(self, idx: torch.Tensor) -> None:
        for c in self.caches:
            c.batch_select_indices(idx)


class ProxyLM(torch.nn.Module):
    """Base, expert and anti-expert behind one forward pass that returns the proxy-tuned logits."""

    def __init__(self, base, expert, anti, alpha: float):
        super().__init__()
        self.base, self.expert, self.anti, self.alpha = base, expert, anti, float(alpha)
        self.config = base.config  # sizes the engine's KV budget (an underestimate by the two other models' caches)
        self.generation_config = getattr(base, "generation_config", None)

    def forward(self, input_ids, attention_mask, position_ids, cache: ProxyCache, use_cache: bool = True):
        out = [m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=c,
                 use_cache=use_cache).logits for m, c in zip((self.base, self.expert, self.anti), cache.caches)]
        return SimpleNamespace(logits=proxy_logits(out[0].float(), out[1].float(), out[2].float(), self.alpha))


class ProxyEngine(HFEngine):
    """An engine over the proxy-tuned combination of three loaded engines (base, expert, anti-expert)."""

    def __init__(self, base: HFEngine, expert: HFEngine, anti: HFEngine, alpha: float):
        if not (alpha == alpha and abs(alpha) < 1e6):
            raise ValueError(f"alpha must be a finite number, got {alpha!r}")
        vocab = base.tok.get_vocab()
        for e in (expert, anti):
            if e.tok.get_vocab() != vocab:
                raise ValueError(f"proxy tuning needs one shared tokenizer: {e.name} and {base.name} differ")
        self.members = (base, expert, anti)
        ident = "\x1f".join([base.fingerprint, expert.fingerprint, anti.fingerprint, repr(float(alpha))])
        super().__init__(ProxyLM(base.model, expert.model, anti.model, alpha), base.tok,
                         f"{base.name}+{alpha:g}·({expert.name}−{anti.name})",
                         n_params=base.n_params + expert.n_params + anti.n_params,
                         fingerprint=hashlib.blake2b(ident.encode(), digest_size=8).hexdigest())

    def new_cache(self) -> ProxyCache:
        return ProxyCache(len(self.members))
