"""The batch folders of a store: which are visible (committed, not replaced by a compaction), whether each of their
files can be read with this code's schema (from the Parquet footer alone), what runs a batch holds (its manifest),
and moving a damaged batch aside, intact, into ``quarantine/``."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from backend.store.schema import SCHEMA_VERSION, TABLES, VERSION_KEY, SchemaMismatch
from backend.store.writer import BATCH_PREFIX, MANIFEST, batches_dir

QUARANTINE = "quarantine"


@dataclass(frozen=True)
class Batch:
    """A committed batch whose every file is readable: its Parquet file per table, and the run keys each table holds
    (None when the batch predates manifests; the reader then asks DuckDB)."""

    name: str
    path: Path
    files: dict[str, Path]
    runs: dict[str, list[str]] | None


def visible_batches(root: Path, on_problem=None) -> tuple[list[Path], frozenset[str]]:
    """The committed batch folders a reader loads (those no compaction replaced), and the replaced ones; reads only
    the folder listing and the small ``replaces.json`` files."""
    base = batches_dir(root)
    dirs = sorted(d for d in base.glob(f"{BATCH_PREFIX}*") if d.is_dir()) if base.exists() else []
    superseded: set[str] = set()
    for d in dirs:
        rep = d / "replaces.json"
        if rep.exists():
            try:
                superseded |= set(json.loads(rep.read_text()))
            except (OSError, json.JSONDecodeError, TypeError) as e:
                if on_problem:
                    on_problem(f"{rep}: unreadable ({e}); its batch is skipped")
                superseded.add(d.name)
    return [d for d in dirs if d.name not in superseded], frozenset(superseded)


def _same_types(got: pa.Schema, want: pa.Schema) -> bool:
    # list item names ("item" / "element") differ between writers and do not matter
    return got.names == want.names and all(
        g.type == w.type or (pa.types.is_list(g.type) and pa.types.is_list(w.type)
                             and g.type.value_type == w.type.value_type)
        for g, w in zip(got, want))


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as its table (None when it can), from its footer; SchemaMismatch for a file of
    another schema version (the whole cache is then of another version: a clear error, not a skip)."""
    name = path.stem
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # noqa: BLE001 - any unreadable footer: truncated, random bytes, empty, not Parquet
        return f"{path}: unreadable Parquet ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    version = (schema.metadata or {}).get(VERSION_KEY, b"?").decode(errors="replace")
    if version != str(SCHEMA_VERSION):
        raise SchemaMismatch(
            f"{path} was written with cache schema v{version}; this code reads v{SCHEMA_VERSION}. "
            f"Rebuild the cache (python -m backend build-cache) or use a matching version of ttc-lab.")
    want = TABLES[name]
    if not _same_types(schema.remove_metadata(), want):
        extra = sorted(set(schema.names) - set(want.names))
        missing = sorted(set(want.names) - set(schema.names))
        what = (f"extra columns {extra}" if extra else "") + (" and " if extra and missing else "") + \
               (f"missing columns {missing}" if missing else "")
        return f"{path}: columns differ from the {name!r} table ({what or 'column types differ'})"
    return None


def open_batch(d: Path) -> tuple[Batch | None, list[str]]:
    """The batch in folder ``d`` and no problems, or None and the problems of its files (one line each). A batch
    with any unreadable file is skipped whole, so a reader never sees half a batch."""
    files, problems = {}, []
    for name in TABLES:
        path = d / f"{name}.parquet"
        if path.exists():
            problem = file_problem(path)
            if problem:
                problems.append(problem)
            files[name] = path
    unknown = sorted(p.name for p in d.glob("*.parquet") if p.stem not in TABLES)
    if unknown:
        problems.append(f"{d}: files of no known table {unknown}")
    if problems:
        return None, problems
    return Batch(d.name, d, files, read_manifest(d)), []


def read_manifest(d: Path) -> dict[str, list[str]] | None:
    try:
        runs = json.loads((d / MANIFEST).read_text())["runs"]
        return {t: list(v) for t, v in runs.items()} if isinstance(runs, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def quarantine(root: Path, name: str) -> Path:
    """Move a damaged batch aside intact (``store/quarantine/<name>``), out of every reader's and compaction's
    way; what was readable in it can be recovered by hand. Returns where it went."""
    src = batches_dir(root) / name
    dst_dir = Path(root) / QUARANTINE
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / name
    if dst.exists():  # quarantined before under the same name: keep both
        dst = dst_dir / f"{name}-{os.getpid()}"
    shutil.move(str(src), str(dst))
    return dst
