"""The default engine: batched sampling with any transformers causal LM, embedded, on CPU or CUDA.

Our own decode loop over the model's forward pass (KV cache, left padding, prompts prefilled once and the cache
repeated ``n`` times, finished rows pruned) rather than ``generate``, because it needs three things ``generate``
does not give together: per-token raw log-probs for every sample, sampling noise that depends only on
(seed, prompt key, sample index) — so a result never depends on how prompts were batched or on a resumed build —
and a per-row controller for budget forcing. Sampling is exact Gumbel-max over the processed logits.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import torch
from transformers import DynamicCache

from backend.engines.base import HF_ENGINE, Generation, ProgressFn, SamplingParams, TokenController, noise_seed
from backend.engines.text import TextCodec, end_ids

NOISE_BLOCK = 64  # samples of one prompt that share a noise generator; chunks are cut at block boundaries
KV_BUDGET_BYTES = 1.5e9  # KV cache held at once; sets how many rows a forward pass carries
PRUNE_FRACTION = 0.25  # drop finished rows from the cache once this share of the batch is done


class HFEngine(TextCodec):
    """Batched sampler over one loaded model; thread-compatible but not thread-safe (one call at a time)."""

    engine_id = HF_ENGINE
    token_control = True
    time_limit = True

    def __init__(self, model, tokenizer, name: str, n_params: int | None = None, fingerprint: str = "unsaved",
                 chat_template: bool = False):
        self.model = model.eval()
        self.tok = tokenizer
        self.name = name
        self.n_params = int(n_params or sum(p.numel() for p in model.parameters()))
        self.fingerprint = fingerprint  # identity of the weights, part of every run key
        self._lock = threading.RLock()  # one decode at a time: concurrent app users share one loaded model
        if chat_template and not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"the tokenizer of model {name} has no chat template; run it without one")
        self.chat_template = bool(chat_template)  # prompts become one user turn of the model's chat template
        self.device = next(model.parameters()).device
        self.eos = tokenizer.eos_token_id
        self.eos_ids = end_ids(tokenizer, getattr(model, "generation_config", None))
        pads = (tokenizer.pad_token_id, self.eos, min(self.eos_ids, default=None), 0)
        self.pad = next(t for t in pads if t is not None)  # padding is masked out: any id will do
        cfg = model.config
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        self._kv_bytes_per_token = 2 * cfg.num_hidden_layers * kv_heads * head_dim * 4

    @classmethod
    def from_path(cls, path: str | Path, name: str | None = None, device: str = "cpu",
                  chat_template: bool | None = None) -> "HFEngine":
        """Load a saved model; ``chat_template=None`` uses the tokenizer's chat template when it has one."""
        from backend.zoo.registry import count_params, fingerprint, load_model

        model, tok = load_model(path, device)
        if chat_template is None:
            chat_template = bool(getattr(tok, "chat_template", None))
        return cls(model, tok, name or Path(path).name, count_params(Path(path)), fingerprint(Path(path)),
                   chat_template=chat_template)

    @property
    def config(self):
        """The model's transformers config (FLOPs read its layers and attention width)."""
        return self.model.config

    # -- sampling ----------------------------------------------------------------------------------------------
    def new_cache(self):
        """The KV cache of one decode (a composite engine, e.g. proxy tuning, holds one per model)."""
        return DynamicCache()

    def rows_per_pass(self, prompt_len: int, max_new_tokens: int) -> int:
        per_row = self._kv_bytes_per_token * (prompt_len + max_new_tokens)
        return int(max(1, min(8192, KV_BUDGET_BYTES // per_row)))

    @torch.inference_mode()
    def sample(self, prompts: list[str], params: SamplingParams, *, keys: list[str] | None = None,
               stop_ids: tuple[int, ...] = (), max_seconds: float | None = None,
               controller: TokenController | None = None, progress: ProgressFn | None = None,
               stop_strings: tuple[str, ...] = (), max_rows: int | None = None,
               ) -> list[list[Generation]]:
        """``params.n`` completions of every prompt. ``keys`` name the prompts for seeding (default: the text),
        so equal keys give equal samples whatever else is in the batch. Stops at EOS, at a token of ``stop_ids``
        or once the text holds one of ``stop_strings`` (both kept in the text; finish reason "stop"), at
        ``max_new_tokens``, or when ``max_seconds`` have passed (finish reason "time")."""
        keys = list(keys) if keys is not None else list(prompts)
        if len(keys) != len(prompts):
            raise ValueError("keys and prompts differ in length")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError("max_seconds must be positive")
        encoded = [self.prompt_ids(p) for p in prompts]
        deadline = time.monotonic() + max_seconds if max_seconds else None
        n, block = params.n, min(params.n, NOISE_BLOCK)
        # work items: (prompt index, first sample, rows); whole noise blocks, longest prompts first
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        items = [(i, s, min(block, n - s)) for i in order for s in range(0, n, block)]
        out: list[list[Generation | None]] = [[None] * n for _ in prompts]
        total_rows, done_rows, gen_tokens = len(prompts) * n, 0, 0
        while items:
            cap = self.rows_per_pass(len(encoded[items[0][0]]), params.max_new_tokens)
            cap = min(cap, max_rows) if max_rows else cap  # smaller passes: finer progress, same samples
            chunk, rows = [], 0
            while items and (not chunk or rows + items[0][2] <= cap):
                chunk.append(items.pop(0))
                rows += chunk[-1][2]
            with self._lock:
                decoded = list(self._decode(chunk, encoded, keys, params, stop_ids, deadline, controller, stop_strings))
            for (pi, s, _), gens in zip(chunk, decoded):
                out[pi][s : s + len(gens)] = gens
                done_rows += len(gens)
                gen_tokens += sum(g.gen_tokens for g in gens)
            if progress:
                progress(done_rows, total_rows, gen_tokens)
        return out  # type: ignore[return-value]

    @torch.inference_mode()  # torch wraps a generator so the mode holds only while it runs
    def stream(self, prompt: str, params: SamplingParams, *, key: str | None = None, max_seconds: float | None = None,
               stop_strings: tuple[str, ...] = ()):
        """Yield (token text, raw log-prob) of one sample as it is decoded, then the finished Generation — the same
        sample ``sample([prompt], params, keys=[key])`` returns."""
        if params.n != 1:
            raise ValueError("stream() decodes a single sample; use n=1")
        ids = self.prompt_ids(prompt)
        deadline = time.monotonic() + max_seconds if max_seconds else None
        with self._lock:
            for item in self._decode([(0, 0, 1)], [ids], [key or prompt], params, (), deadline, None, stop_strings,
                                     stream=True):
                yield item if isinstance(item, Generation) else (self.tok.decode([item[0]], skip_special_tokens=True), item[1])

    def _noise(self, chunk, gens: list[torch.Generator], vocab: int) -> torch.Tensor:
        return torch.cat([torch.rand((rows, vocab), generator=g) for (_, _, rows), g in zip(chunk, gens)]).to(self.device)

    @torch.inference_mode()
    def _hits_stop(self, ids: list[int], stop_strings: tuple[str, ...], window: int) -> bool:
        """Whether the text of the last ``window`` tokens holds a stop string (checked after every token, so a
        window of the longest stop string's length plus a few tokens always sees one as it completes)."""
        tail = self.tok.decode(ids[-window:], skip_special_tokens=True)
        return any(s in tail for s in stop_strings)

    def _decode(self, chunk, encoded, keys, params: SamplingParams, stop_ids, deadline, controller,
                stop_strings=(), stream=False):
        """Decode one chunk; returns one list of Generations per chunk item (or yields tokens when streaming)."""
        dev = self.device
        prompt_ids = [encoded[pi] for pi, _, _ in chunk]
        reps = torch.tensor([rows for _, _, rows in chunk], device=dev)
        width = max(len(p) for p in prompt_ids)
        inp = torch.full((len(chunk), width), self.pad, dtype=torch.long, device=dev)
        mask = torch.zeros((len(chunk), width), dtype=torch.long, device=dev)
        for r, p in enumerate(prompt_ids):
            inp[r, width - len(p) :] = torch.tensor(p, device=dev)
            mask[r, width - len(p) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = self.new_cache()
        logits = self.model(input_ids=inp, attention_mask=mask, position_ids=pos, cache=cache,
                            use_cache=True).logits[:, -1, :].float()
        # one cache row per sample: prefill each prompt once, then repeat it
        if int(reps.max()) > 1 or len(chunk) > 1:
            idx = torch.repeat_interleave(torch.arange(len(chunk), device=dev), reps)
            cache.batch_select_indices(idx)
            logits, mask = logits[idx], mask[idx]
        next_pos = mask.sum(-1)
        gens = [torch.Generator().manual_seed(noise_seed(params.seed, keys[pi], s // NOISE_BLOCK)) for pi, s, _ in chunk]
        R = int(reps.sum())
        row_item = torch.repeat_interleave(torch.arange(len(chunk)), reps.cpu()).tolist()
        toks: list[list[int]] = [[] for _ in range(R)]
        lps: list[list[float]] = [[] for _ in range(R)]
        forced: list[list[bool]] = [[] for _ in range(R)]
        queue: list[list[int]] = [[] for _ in range(R)]
        finish: list[str | None] = [None] * R
        active = list(range(R))  # original row ids, aligned with the cache rows
        stop_set = set(stop_ids)
        window = max((len(s) for s in stop_strings), default=0) + 4
        for step in range(params.max_new_tokens):
            logp = torch.log_softmax(logits, dim=-1)
            if params.greedy:
                choice = logits.argmax(-1)
            else:
                noise = self._noise(chunk, gens, logits.shape[-1])[torch.tensor(active, device=dev)]
                choice = (self._process(logits, params) - torch.log(-torch.log(noise.clamp(1e-12, 1 - 1e-7)))).argmax(-1)
            choice_l = choice.tolist()
            emitted = []
            for a, row in enumerate(active):
                if finish[row] is not None:  # finished but not yet pruned: feed padding, record nothing
                    emitted.append(self.pad)
                    continue
                tok, was_forced = choice_l[a], False
                if queue[row]:
                    tok, was_forced = queue[row].pop(0), True
                elif controller is not None:
                    repl = controller.on_token(row, tok, toks[row])
                    if repl:
                        tok, was_forced, queue[row] = repl[0], True, list(repl[1:])
                emitted.append(tok)
                toks[row].append(tok)
                forced[row].append(was_forced)
                lps[row].append(float(logp[a, tok]))
                if queue[row]:
                    continue
                if tok in self.eos_ids:
                    finish[row] = "eos"
                elif tok in stop_set or (stop_strings and self._hits_stop(toks[row], stop_strings, window)):
                    finish[row] = "stop"
                elif len(toks[row]) >= params.max_new_tokens:
                    finish[row] = "length"
            if stream:
                yield toks[0][-1], lps[0][-1]
            if deadline is not None and time.monotonic() > deadline:
                for row in active:
                    finish[row] = finish[row] or "time"
            keep = [a for a, row in enumerate(active) if finish[row] is None]
            if not keep:
                break
            nxt = torch.tensor(emitted, device=dev)
            if len(keep) < len(active) * (1 - PRUNE_FRACTION):
                k = torch.tensor(keep, device=dev)
                cache.batch_select_indices(k)
                mask, next_pos, nxt = mask[k], next_pos[k], nxt[k]
                active = [active[a] for a in keep]
            mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype, device=dev)], dim=-1)
            logits = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                                cache=cache, use_cache=True).logits[:, -1, :].float()
            next_pos = next_pos + 1
        results: list[list[Generation]] = [[] for _ in chunk]
        for row in range(R):
            item = row_item[row]
            results[item].append(Generation(
                text=self.decode(toks[row]), token_ids=toks[row], logprobs=lps[row],
                prompt_tokens=len(prompt_ids[item]), finish_reason=finish[row] or "length", forced=forced[row],
            ))
        if stream:  # the finished sample closes the stream
            yield results[0][0]
            return
        yield from results

    @staticmethod
    def _process(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        """Temperature, then top-k, then top-p (nucleus) masking; masked logits are -inf."""
        x = logits / params.temperature
        if params.top_k and params.top_k < x.shape[-1]:
            kth = x.topk(params.top_k, dim=-1).values[:, -1:]
            x = x.masked_fill(x < kth, float("-inf"))
        if params.top_p < 1.0:
            sorted_x, idx = x.sort(dim=-1, descending=True)
            probs = sorted_x.softmax(-1)
            drop = probs.cumsum(-1) - probs > params.top_p  # keep the smallest prefix reaching top_p
            x = x.masked_fill(drop.scatter(-1, idx, drop), float("-inf"))
        return x
