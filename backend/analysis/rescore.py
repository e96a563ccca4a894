"""Rule-based verifier scores of a stored pool, computed from its sample texts: the exact step checker and noisy
wrappers of it at any error rate. They need no model and no regeneration, so best-of-N by a verifier of known quality
can be measured on the pools already in the cache. Scores aggregate a trace's step scores as tree search does
("last": on a finished trace, the step checker's outcome entry; see backend.verifiers.rules)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from backend.analysis import data
from backend.analysis.data import Pool
from backend.analysis.compute import model_shape, sample_flops
from backend.verifiers import aggregate, base_name, get_verifier

__all__ = ["RULE_BASED", "with_rule_scores"]

RULE_BASED = ("steps",)  # verifiers (and noisy wrappers of them) computable from text alone


class _Known:
    """A verifier that returns step scores computed earlier (so noisy wrappers at several rates share one pass of
    the exact checker)."""

    def __init__(self, verifier, scores: dict):
        self.name, self.n_params, self._v, self._scores = verifier.name, verifier.n_params, verifier, scores

    def score(self, prompts, texts):
        return [self._scores[(p.key, t)] for p, t in zip(prompts, texts)]

    def tokens(self, prompts, texts):
        return self._v.tokens(prompts, texts)


def with_rule_scores(store, pool: Pool, verifiers: Sequence[str]) -> Pool:
    """The pool with scores (and tokens / FLOPs read) of each rule-based verifier in ``verifiers`` added, e.g.
    ("steps", "noisy:steps:0.1", "noisy:steps:0.3"); verifiers already scored in the store are kept as stored.
    Noise is the wrapper's own (deterministic per prompt, trace prefix and step, seed 0), as in a search run."""
    todo = [v for v in verifiers if v not in pool.scores]
    bad = [v for v in todo if base_name(v) not in RULE_BASED]
    if bad:
        raise ValueError(f"{bad} need a model to score; only {RULE_BASED} and noisy wrappers of them are computed "
                         "from stored text.")
    if not todo or not len(pool.prompt_keys):
        return pool
    records = data.load_prompt_records(store, pool.prompt_keys)
    texts = data.load_texts(store, pool.run_key, pool.prompt_keys, pool.n)
    exact = {}
    for b in sorted({base_name(v) for v in todo}):
        v = get_verifier(b)
        for key, row in zip(pool.prompt_keys, texts):
            for t, s in zip(row, v.score([records[key]] * len(row), row)):
                exact[(b, key, t)] = s
    for name in todo:
        b = base_name(name)
        known = _Known(get_verifier(b), {(k, t): s for (bb, k, t), s in exact.items() if bb == b})
        v = known if name == b else type(get_verifier(name))(known, get_verifier(name).error_rate)
        sc, tok = np.empty((len(pool.prompt_keys), pool.n)), np.empty((len(pool.prompt_keys), pool.n))
        for i, (key, row) in enumerate(zip(pool.prompt_keys, texts)):
            sc[i] = [aggregate(s, "last") for s in v.score([records[key]] * len(row), row)]
            tok[i] = [v.tokens([records[key]], [t]) for t in row]
        pool.scores[name], pool.score_tokens[name] = sc, tok
        pool.score_flops[name] = sample_flops(model_shape(v), 0, tok)  # a forward pass over each trace
    return pool
