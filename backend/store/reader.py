"""The read side: committed batches loaded into an in-memory DuckDB database, appended incrementally as new batches
appear. Corrupt files are reported by name and skipped; a schema-version mismatch is an error; rows of a
(run, prompt) pair already stored by an earlier batch are dropped, so concurrent writers never duplicate."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backend.store.schema import SCHEMA_VERSION, TABLES, VERSION_KEY, SchemaMismatch
from backend.store.writer import BATCH_PREFIX, batches_dir, store_dir

_KEYED = ("samples", "scores", "nodes", "results")  # tables whose rows belong to a (run, prompt) pair
_UNIQUE = {"runs": "run_key", "prompts": "prompt_key"}


def visible_batches(root: Path, on_problem=None) -> tuple[list[Path], frozenset[str]]:
    """The committed batch folders a reader loads (those no compaction replaced), and the replaced ones; reads only
    the folder listing, so the cache state can be identified without loading it."""
    base = batches_dir(root)
    dirs = sorted(d for d in base.glob(f"{BATCH_PREFIX}*") if d.is_dir()) if base.exists() else []
    superseded: set[str] = set()
    for d in dirs:
        rep = d / "replaces.json"
        if rep.exists():
            try:
                superseded |= set(json.loads(rep.read_text()))
            except (OSError, json.JSONDecodeError) as e:
                if on_problem:
                    on_problem(f"{rep}: unreadable ({e}); its batch is skipped")
                superseded.add(d.name)
    return [d for d in dirs if d.name not in superseded], frozenset(superseded)


class Store:
    """Query the cache with parametrised SQL: ``store.sql("SELECT … WHERE run_key = ?", [key])``."""

    def __init__(self, root: Path | None = None):
        self.root = store_dir(root)
        self.problems: list[str] = []  # one line per skipped file
        self._lock = threading.RLock()
        self._con = duckdb.connect()
        self._loaded: set[str] = set()
        self._pairs: dict[str, dict[str, set[str]]] = {t: {} for t in _KEYED}  # table -> run -> prompts
        self._unique: dict[str, set[str]] = {t: set() for t in _UNIQUE}
        self._superseded: frozenset[str] = frozenset()
        for name, schema in TABLES.items():
            self._con.register("_empty", schema.empty_table())
            self._con.execute(f"CREATE TABLE {name} AS SELECT *, ''::VARCHAR AS batch FROM _empty")
            self._con.unregister("_empty")
        self.refresh()

    # -- loading ------------------------------------------------------------------------------------------------
    def _batches(self) -> tuple[list[Path], frozenset[str]]:
        return visible_batches(self.root, self._problem)

    def _problem(self, msg: str) -> None:
        if msg not in self.problems:
            self.problems.append(msg)
            print(f"warning: {msg}", file=sys.stderr)

    def _read(self, path: Path) -> pa.Table | None:
        try:
            meta = pq.read_metadata(path).metadata or {}
            version = meta.get(VERSION_KEY, b"?").decode()
            if version != str(SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"{path} was written with cache schema v{version}; this code reads v{SCHEMA_VERSION}. "
                    f"Rebuild the cache (python -m backend build-cache) or use a matching version of ttc-lab.")
            return pq.read_table(path).cast(TABLES[path.stem])
        except SchemaMismatch:
            raise
        except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, named, and never fatal
            self._problem(f"skipping corrupt cache file {path}: {type(e).__name__}: {e}")
            return None

    def refresh(self) -> int:
        """Load batches committed since the last call; returns how many were added. Full reload after compaction."""
        with self._lock:
            dirs, superseded = self._batches()
            if superseded != self._superseded and superseded & self._loaded:
                self._reset()
            self._superseded = superseded
            new = [d for d in dirs if d.name not in self._loaded]
            for d in new:
                self._load_batch(d)
                self._loaded.add(d.name)
            return len(new)

    def _reset(self) -> None:
        for name in TABLES:
            self._con.execute(f"DELETE FROM {name}")
        self._loaded.clear()
        for s in self._pairs.values():
            s.clear()
        for s in self._unique.values():
            s.clear()

    def _load_batch(self, d: Path) -> None:
        tables = {}
        for name in TABLES:
            path = d / f"{name}.parquet"
            if path.exists():
                t = self._read(path)
                if t is None:
                    return  # a batch with a corrupt file is skipped whole: never half a batch
                tables[name] = t
        batch_pairs = set()
        for name, t in tables.items():
            if name in _KEYED:
                runs, prompts = t.column("run_key").to_pylist(), t.column("prompt_key").to_pylist()
                if name == "scores":  # a pool may be scored by several verifiers: they are separate owners
                    runs = [f"{r}\x1f{v}" for r, v in zip(runs, t.column("verifier").to_pylist())]
                pairs = list(zip(runs, prompts))
                stored = self._pairs[name]
                keep = [pr not in stored.get(r, ()) for r, pr in pairs]  # the first batch to store a pair wins
                t = t.filter(pa.array(keep))
                batch_pairs |= {(name, p) for p, k in zip(pairs, keep) if k}
            elif name in _UNIQUE:
                col = _UNIQUE[name]
                vals = t.column(col).to_pylist()
                seen, keep = set(), []
                for v in vals:
                    keep.append(v not in self._unique[name] and v not in seen)
                    seen.add(v)
                t = t.filter(pa.array(keep))
                self._unique[name] |= set(pc.unique(t.column(col)).to_pylist())
            if t.num_rows:
                t = t.append_column("batch", pa.array([d.name] * t.num_rows, pa.string()))
                self._con.register("_new", t)
                self._con.execute(f"INSERT INTO {name} SELECT * FROM _new")
                self._con.unregister("_new")
        for name, (r, pr) in batch_pairs:
            self._pairs[name].setdefault(r, set()).add(pr)

    # -- queries ------------------------------------------------------------------------------------------------
    def sql(self, query: str, params: list | tuple | None = None) -> pd.DataFrame:
        """Run a parametrised query (``?`` placeholders) and return a DataFrame."""
        with self._lock:
            return self._con.execute(query, params or []).df()

    def done_prompts(self, run_key: str) -> set[str]:
        """Prompts a run has fully stored (a batch commits whole prompts)."""
        with self._lock:
            return set(self._pairs["samples"].get(run_key, ())) | self._pairs["results"].get(run_key, set())

    def scored_prompts(self, run_key: str, verifier: str) -> set[str]:
        """Prompts of a pool already scored by ``verifier``."""
        with self._lock:
            return set(self._pairs["scores"].get(f"{run_key}\x1f{verifier}", ()))

    def summary(self) -> dict:
        counts = {t: int(self.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]) for t in TABLES}
        size = sum(f.stat().st_size for f in self.root.rglob("*.parquet")) if self.root.exists() else 0
        return {"rows": counts, "batches": len(self._loaded), "bytes": size, "problems": list(self.problems)}
