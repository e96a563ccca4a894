"""Compaction: merge every readable batch into one, so a cache of thousands of small batches loads in one read.

The merged batch names the batches it replaces (``replaces.json``) and is committed atomically like any other;
readers skip replaced batches from that moment, so deleting them afterwards is only housekeeping. A batch with a
damaged file is never merged and never deleted: it is moved aside intact into ``store/quarantine/`` and reported.
Rows are never dropped for being orphaned (scores whose samples sit in a quarantined batch stay, as every other
row does); readers index scores by the samples they load, so an orphan is simply not drawn.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from backend.store.batches import quarantine
from backend.store.reader import Store
from backend.store.schema import TABLES
from backend.store.writer import batches_dir, commit_batch, remove_stale_tmp

_ORDER = {"samples": "run_key, prompt_key, sample_idx", "scores": "run_key, verifier, prompt_key, sample_idx",
          "nodes": "run_key, prompt_key, node_id", "results": "run_key, prompt_key", "runs": "run_key",
          "prompts": "prompt_key"}


def _verify(store: Store) -> list[str]:
    """Read every file of every batch in full (footers were checked on load; this checks the data pages), so a
    batch is merged only when all of it was readable. Returns the batches found damaged."""
    bad = []
    for name in store.batches:
        for path in sorted((batches_dir(store.root) / name).glob("*.parquet")):
            try:
                pq.ParquetFile(path).read()
            except Exception as e:  # noqa: BLE001 - any damage keeps the batch out of the merge
                store._drop_batch(name, f"{path}: damaged data ({type(e).__name__})")
                bad.append(name)
                break
    return bad


def compact(store: Store, drop_runs: set[str] = frozenset(), drop_scores_by: str | None = None,
            transform: Callable[[str, pa.Table], pa.Table] | None = None, keep_base: bool = False) -> dict:
    """Rewrite the store's readable batches as one batch (rows deduplicated by the first-batch rule, sorted by run
    and prompt), leaving out the runs in ``drop_runs`` and the scores by ``drop_scores_by``, each table passed
    through ``transform(name, table)`` when given (a migration); damaged batches are quarantined intact.
    ``keep_base``: leave the oldest batch (a shipped base) byte for byte and merge only the batches after it — the
    merged one is newer, so the base still wins every pair it holds. Returns what it did."""
    store.refresh()
    _verify(store)
    damaged = store.damaged
    moved = [str(quarantine(store.root, name)) for name in damaged]
    every = store.batches
    old = every[1:] if keep_base else every
    if keep_base and (drop_runs or drop_scores_by or transform is not None):
        raise ValueError("compact --new-only merges the newer batches as they are; it cannot drop or migrate rows")
    if len(old) <= 1 and not drop_runs and not drop_scores_by and transform is None:
        store.refresh()
        return {"batches_before": len(every), "batches_after": len(every), "quarantined": moved}
    keep = "WHERE run_key NOT IN (SELECT unnest(?::VARCHAR[]))"
    tables, rows = {}, {}
    for name in TABLES:
        where, params = ("", []) if name == "prompts" else (keep, [sorted(drop_runs)])
        if keep_base:
            where, params = f"{where} {'AND' if where else 'WHERE'} batch IN (SELECT unnest(?::VARCHAR[]))", \
                params + [old]
        if name == "scores" and drop_scores_by:
            where, params = where + " AND verifier <> ?", params + [drop_scores_by]
        table = store.arrow(f"SELECT * EXCLUDE (batch) FROM {name} {where} ORDER BY {_ORDER[name]}", params)
        table = table.cast(TABLES[name]) if table.num_rows else pa.Table.from_pylist([], TABLES[name])
        tables[name] = transform(name, table).cast(TABLES[name]) if transform else table
        rows[name] = table.num_rows
    commit_batch(tables, store.root, replaces=old)
    for name in old:
        shutil.rmtree(batches_dir(store.root) / name, ignore_errors=True)
    remove_stale_tmp(store.root)
    store.refresh()
    return {"batches_before": len(every), "batches_after": len(store.batches), "rows": rows,
            "runs_dropped": len(drop_runs), "quarantined": moved}


def compact_path(root: Path | None = None, **kw) -> dict:
    """compact() for a command that owns no store yet (the CLI)."""
    return compact(Store(root), **kw)
