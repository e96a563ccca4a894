"""vLLM's offline engine (``LLM.generate``) behind the Engine protocol, for real checkpoints on a CUDA GPU.

Optional: vLLM pins its own torch and transformers, so it lives in its own environment (requirements-vllm.txt).
Prompts go in as token ids made by the same TextCodec as the HF engine (same chat template, same BOS rule); each
prompt gets its own seed from (run seed, prompt key), and vLLM gives each of the ``n`` samples of a seeded request
its own seed, so a prompt's samples do not depend on the batch it ran in. Log-probs are vLLM's ``raw_logprobs``
(log-softmax of the unprocessed logits), the project's LOGPROB_KIND. Samples differ from the HF engine's for the
same seed (another noise source), hence another engine_id and other run keys.

Not supported, refused with a clear error: a TokenController (budget forcing needs per-token control) and
``max_seconds`` (the offline engine has no wall-time cap). ``stream`` yields the finished sample token by token.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from backend.engines.base import Generation, ProgressFn, SamplingParams, TokenController, noise_seed
from backend.engines.text import TextCodec, end_ids

MAX_NUM_SEQS = 256  # sequences vLLM's scheduler decodes together (its batch limit)
SEED_RANGE = 1 << 62  # request seeds stay far from overflow when vLLM adds the sample index


def require_vllm():
    """The vllm module, or ImportError saying how to get it (asked before a build starts, so it fails at once)."""
    try:
        import vllm
    except ImportError:
        raise ImportError("the vllm engine needs vLLM and a CUDA GPU: pip install -r requirements-vllm.txt "
                          "in an environment of its own") from None
    return vllm


class VLLMEngine(TextCodec):
    """One model loaded by vLLM (safetensors only, no remote code, raw log-probs)."""

    token_control = False
    time_limit = False

    def __init__(self, path: str | Path, name: str | None = None, chat_template: bool = False,
                 fingerprint: str = "unsaved", n_params: int | None = None, dtype: str = "auto", **llm_kwargs):
        vllm = require_vllm()
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig

        from backend.zoo.registry import count_params

        path = Path(path)
        self.name, self.fingerprint = name or path.name, fingerprint
        self.tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        if chat_template and not getattr(self.tok, "chat_template", None):
            raise ValueError(f"the tokenizer of model {self.name} has no chat template; run it without one")
        self.chat_template = bool(chat_template)
        self.config = AutoConfig.from_pretrained(path, trust_remote_code=False)
        try:
            generation_config = GenerationConfig.from_pretrained(path)
        except OSError:  # no generation_config.json: the tokenizer's EOS alone ends a sample
            generation_config = None
        self.eos, self.eos_ids = self.tok.eos_token_id, end_ids(self.tok, generation_config)
        self.n_params = int(n_params or count_params(path))
        self.engine_id = f"vllm-{vllm.__version__}"
        self.llm = vllm.LLM(model=str(path), tokenizer=str(path), trust_remote_code=False, dtype=dtype,
                            load_format="safetensors", logprobs_mode="raw_logprobs", max_num_seqs=MAX_NUM_SEQS,
                            **llm_kwargs)

    @classmethod
    def from_path(cls, path: str | Path, name: str | None = None, chat_template: bool | None = None,
                  fingerprint: str | None = None, **kwargs) -> "VLLMEngine":
        """Load a saved model as HFEngine.from_path does (fingerprint from the weights unless given)."""
        from backend.zoo.registry import fingerprint as weights_fingerprint

        if chat_template is None:
            from transformers import AutoTokenizer

            chat_template = bool(getattr(AutoTokenizer.from_pretrained(path), "chat_template", None))
        return cls(path, name, chat_template, fingerprint or weights_fingerprint(Path(path)), **kwargs)

    def rows_per_pass(self, prompt_len: int, max_new_tokens: int) -> int:
        return MAX_NUM_SEQS

    def _request(self, params: SamplingParams, key: str, stop_ids: tuple[int, ...], stop_strings: tuple[str, ...]):
        from vllm import SamplingParams as VParams

        return VParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                       top_k=params.top_k or -1, max_tokens=params.max_new_tokens,
                       seed=noise_seed(params.seed, key) % SEED_RANGE, logprobs=0,
                       stop_token_ids=list(stop_ids) or None, stop=list(stop_strings) or None,
                       include_stop_str_in_output=True, skip_special_tokens=True)

    def _generation(self, out, prompt_tokens: int) -> Generation:
        ids = list(out.token_ids)
        logprobs = [float(position[t].logprob) for position, t in zip(out.logprobs, ids)]
        if out.finish_reason == "length":
            reason = "length"
        else:  # vLLM's stop_reason is None when EOS ended the sample, the stop token or string otherwise
            reason = "eos" if out.stop_reason is None else "stop"
        return Generation(text=self.decode(ids), token_ids=ids, logprobs=logprobs, prompt_tokens=prompt_tokens,
                          finish_reason=reason, forced=[False] * len(ids))

    def sample(self, prompts: list[str], params: SamplingParams, *, keys: list[str] | None = None,
               stop_ids: tuple[int, ...] = (), max_seconds: float | None = None,
               controller: TokenController | None = None, progress: ProgressFn | None = None,
               stop_strings: tuple[str, ...] = (), max_rows: int | None = None,
               ) -> list[list[Generation]]:
        """As Engine.sample; ``max_rows`` is ignored (vLLM schedules its own batches), progress is reported once."""
        if controller is not None:
            raise ValueError(f"the {self.engine_id} engine cannot run a token controller (budget forcing); use the "
                             "hf or ray engine")
        if max_seconds is not None:
            raise ValueError(f"the {self.engine_id} engine has no wall-time cap; run without max_seconds")
        keys = list(keys) if keys is not None else list(prompts)
        if len(keys) != len(prompts):
            raise ValueError("keys and prompts differ in length")
        encoded = [self.prompt_ids(p) for p in prompts]
        requests = [self._request(params, k, tuple(stop_ids), tuple(stop_strings)) for k in keys]
        outputs = self.llm.generate([{"prompt_token_ids": ids} for ids in encoded], requests, use_tqdm=False)
        gens = [[self._generation(o, len(ids)) for o in sorted(out.outputs, key=lambda o: o.index)]
                for out, ids in zip(outputs, encoded)]
        if progress:
            rows = sum(len(g) for g in gens)
            progress(rows, rows, sum(x.gen_tokens for g in gens for x in g))
        return gens

    def stream(self, prompt: str, params: SamplingParams, *, key: str | None = None,
               max_seconds: float | None = None, stop_strings: tuple[str, ...] = (),
               ) -> Iterator[tuple[str, float] | Generation]:
        if params.n != 1:
            raise ValueError("stream() decodes a single sample; use n=1")
        (gen,), = self.sample([prompt], params, keys=[key or prompt], max_seconds=max_seconds,
                              stop_strings=stop_strings)
        for t, lp in zip(gen.token_ids, gen.logprobs):
            yield self.tok.decode([t], skip_special_tokens=True), lp
        yield gen
