"""Compaction: merge every committed batch into one, so a cache of thousands of small batches loads in one read.

The merged batch names the batches it replaces (``replaces.json``) and is committed atomically like any other;
readers skip replaced batches from that moment, so deleting them afterwards is only housekeeping.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc

from backend.store.reader import Store
from backend.store.schema import TABLES
from backend.store.writer import batches_dir, commit_batch, remove_stale_tmp

_ORDER = {"samples": "run_key, prompt_key, sample_idx", "scores": "run_key, verifier, prompt_key, sample_idx",
          "nodes": "run_key, prompt_key, node_id", "results": "run_key, prompt_key", "runs": "run_key",
          "prompts": "prompt_key"}


def compact(root: Path | None = None, drop_runs: set[str] = frozenset(), drop_scores_by: str | None = None) -> dict:
    """Rewrite the store as one batch (rows deduplicated and sorted by run and prompt), leaving out the runs in
    ``drop_runs`` (e.g. runs scored by a verifier that was retrained); returns what it did."""
    store = Store(root)
    old = sorted(store._loaded)
    if len(old) <= 1 and not drop_runs and not drop_scores_by:
        return {"batches_before": len(old), "batches_after": len(old)}
    keep = "WHERE run_key NOT IN (SELECT unnest(?))"
    with store._lock:
        tables = {name: store._con.sql(f"SELECT * FROM {name} {keep if name != 'prompts' else ''} "
                                       f"ORDER BY {_ORDER[name]}", params=[sorted(drop_runs)] if name != "prompts" else None)
                  .to_arrow_table() for name in TABLES}
        if drop_scores_by:
            scores = tables["scores"]
            tables["scores"] = scores.filter(pc.not_equal(scores.column("verifier"), drop_scores_by))
    commit_batch(tables, store.root, replaces=old)
    for name in old:
        shutil.rmtree(batches_dir(store.root) / name, ignore_errors=True)
    remove_stale_tmp(store.root)
    after = Store(root)
    return {"batches_before": len(old), "batches_after": len(after._loaded),
            "rows": {t: v.num_rows for t, v in tables.items()}, "runs_dropped": len(drop_runs)}
