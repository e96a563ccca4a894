"""Append-only writer: every committed batch is one folder of Parquet files, written under a temporary name and
renamed in one step, so a reader sees all of a batch or none of it, and a killed writer loses only its batch."""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from backend.paths import cache_dir
from backend.store.schema import SCHEMA_VERSION, TABLES, VERSION_KEY

TMP_PREFIX = "_tmp-"
BATCH_PREFIX = "b-"
MANIFEST = "manifest.json"  # the run keys each table of a batch holds: derived data is keyed per run from these


ROW_GROUP = 65_536  # rows per Parquet row group: files sorted by run let a query for one run skip the others


def store_dir(root: Path | None = None) -> Path:
    return Path(root) if root else cache_dir() / "store"


def batches_dir(root: Path | None = None) -> Path:
    return store_dir(root) / "batches"


def to_table(name: str, rows: list[dict] | pa.Table) -> pa.Table:
    """Rows (dicts, or an Arrow table) → an Arrow table of the named schema; unknown columns are a ValueError."""
    schema = TABLES[name]
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema).replace_schema_metadata({VERSION_KEY: str(SCHEMA_VERSION).encode()})
    extra = set().union(*(r.keys() for r in rows)) - set(schema.names) if rows else set()
    if extra:
        raise ValueError(f"table {name!r} has no columns {sorted(extra)}")
    table = pa.Table.from_pylist(rows, schema=schema)
    return table.replace_schema_metadata({VERSION_KEY: str(SCHEMA_VERSION).encode()})


def commit_batch(tables: dict[str, list[dict] | pa.Table], root: Path | None = None, replaces: list[str] | None = None) -> Path:
    """Write one batch atomically. ``replaces`` names earlier batches this one supersedes (compaction)."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}; expected {sorted(TABLES)}")
    base = batches_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    batch = f"{BATCH_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # names sort by commit time
    tmp = base / f"{TMP_PREFIX}{batch}"
    tmp.mkdir()
    try:
        runs = {}
        for name, rows in tables.items():
            if len(rows):
                table = to_table(name, rows)
                pq.write_table(table, tmp / f"{name}.parquet", compression="zstd", row_group_size=ROW_GROUP)
                if "run_key" in table.column_names:
                    runs[name] = sorted(set(table.column("run_key").to_pylist()) - {None})
        (tmp / MANIFEST).write_text(json.dumps({"runs": runs}, sort_keys=True))
        if replaces:
            (tmp / "replaces.json").write_text(json.dumps(sorted(replaces)))
        os.rename(tmp, base / batch)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return base / batch


def remove_stale_tmp(root: Path | None = None, older_than_s: float = 3600) -> list[Path]:
    """Delete temporary batch folders left by killed writers (only old ones: a live writer may own a new one)."""
    gone = []
    for d in batches_dir(root).glob(f"{TMP_PREFIX}*"):
        if time.time() - d.stat().st_mtime > older_than_s:
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone
