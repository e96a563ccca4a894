"""The cache schema (DESIGN.md §7): one Arrow schema per table, and the version written into every file."""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1
VERSION_KEY = b"ttc_schema_version"

_f32_list = pa.list_(pa.float32())

TABLES: dict[str, pa.Schema] = {
    # one row per run: a strategy with all its parameters on one model
    "runs": pa.schema([
        ("run_key", pa.string()), ("model", pa.string()), ("model_params", pa.int64()),
        ("model_fingerprint", pa.string()), ("task", pa.string()), ("strategy", pa.string()),
        ("strategy_params", pa.string()), ("sampling", pa.string()), ("verifier", pa.string()),
        ("engine", pa.string()), ("seed", pa.int64()), ("logprob_kind", pa.string()), ("source", pa.string()),
        ("created", pa.string()), ("notes", pa.string()),
    ]),
    # prompts with their difficulty by construction (arith) and gold answer
    "prompts": pa.schema([
        ("prompt_key", pa.string()), ("task", pa.string()), ("text", pa.string()), ("question", pa.string()),
        ("gold", pa.string()), ("n_ops", pa.int32()), ("digits", pa.int32()), ("split", pa.string()),
    ]),
    # every complete trace; token_logprobs kept for a subset of large pools, sum_logprob for all
    "samples": pa.schema([
        ("run_key", pa.string()), ("prompt_key", pa.string()), ("sample_idx", pa.int32()), ("text", pa.string()),
        ("answer", pa.string()), ("correct", pa.bool_()), ("prompt_tokens", pa.int32()), ("gen_tokens", pa.int32()),
        ("think_tokens", pa.int32()), ("sum_logprob", pa.float64()), ("token_logprobs", _f32_list),
        ("forced", pa.list_(pa.bool_())), ("flops", pa.float64()), ("finish_reason", pa.string()),
        ("is_final", pa.bool_()), ("node_id", pa.int32()),
    ]),
    # verifier scores of samples (a pool can be scored by several verifiers after it was generated)
    "scores": pa.schema([
        ("run_key", pa.string()), ("prompt_key", pa.string()), ("sample_idx", pa.int32()), ("verifier", pa.string()),
        ("score", pa.float32()), ("step_scores", _f32_list), ("tokens", pa.int32()), ("flops", pa.float64()),
    ]),
    # search trees (beam search, DVTS): one row per expanded step
    "nodes": pa.schema([
        ("run_key", pa.string()), ("prompt_key", pa.string()), ("node_id", pa.int32()), ("parent_id", pa.int32()),
        ("depth", pa.int32()), ("subtree", pa.int32()), ("text", pa.string()), ("tokens", pa.int32()),
        ("flops", pa.float64()), ("score", pa.float32()), ("verifier_flops", pa.float64()), ("kept", pa.bool_()),
        ("finished", pa.bool_()),
    ]),
    # the answer a strategy returns per prompt, and everything it spent
    "results": pa.schema([
        ("run_key", pa.string()), ("prompt_key", pa.string()), ("answer", pa.string()), ("correct", pa.bool_()),
        ("gen_tokens", pa.int64()), ("gen_flops", pa.float64()), ("verifier_tokens", pa.int64()),
        ("verifier_flops", pa.float64()), ("n_traces", pa.int32()), ("wall_s", pa.float64()),
    ]),
}


class SchemaMismatch(RuntimeError):
    """A cache file written by another schema version."""
