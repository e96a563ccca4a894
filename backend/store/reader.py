"""The read side: DuckDB views over the committed batches' Parquet files (no row passes through Python), refreshed
incrementally as batches appear. A (run, prompt) pair belongs to the first batch that stored it; rows of the same pair
in later batches (two live users running one prompt, two builds at once) are left out by an anti-join in SQL.
A batch with an unreadable file is named and skipped whole; a file of another schema version is an error."""
from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backend.store.batches import Batch, open_batch, visible_batches
from backend.store.schema import TABLES
from backend.store.writer import store_dir

# tables whose rows belong to a (run, prompt) pair, with the columns that name the owner of a row
_KEYED = {"samples": ("run_key", "prompt_key"), "scores": ("run_key", "prompt_key", "verifier"),
          "nodes": ("run_key", "prompt_key"), "results": ("run_key", "prompt_key")}
_UNIQUE = {"runs": "run_key", "prompts": "prompt_key"}  # small tables, kept in memory: first batch per key wins
_BATCH = "parse_filename(parse_dirpath(filename))"  # the batch folder a row was read from


def _files(paths: list[Path]) -> str:
    """Our own file paths as a DuckDB list literal (a view cannot take parameters); quotes are doubled."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _scan(paths: list[Path]) -> str:
    return f"SELECT * EXCLUDE (filename), {_BATCH} AS batch FROM read_parquet({_files(paths)}, filename = true)"


class Store:
    """Query the cache with parametrised SQL: ``store.sql("SELECT … WHERE run_key = ?", [key])``.

    One Store per process (the app's, or a CLI command's), passed to whatever reads or writes the cache."""

    def __init__(self, root: Path | None = None):
        self.root = store_dir(root)
        self.problems: list[str] = []  # one line per skipped file or batch
        self._lock = threading.RLock()
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")  # long scans must not draw on a user's terminal
        # batch files are written once and never changed in place: their footers can be kept between queries
        self._con.execute("SET parquet_metadata_cache = true")
        self._batches: dict[str, Batch] = {}  # loaded, readable batches by name
        self._bad: dict[str, list[str]] = {}  # skipped batches and their problems
        self._superseded: frozenset[str] = frozenset()
        self._runs_of: dict[str, dict[str, list[str]]] = {}  # batch -> table -> run keys it holds
        self._versions: tuple[tuple, dict[str, str]] = ((None,), {})  # run_versions() for one set of batches
        for name, schema in TABLES.items():
            self._con.register("_e", schema.empty_table())
            self._con.execute(f"CREATE TABLE _empty_{name} AS SELECT *, ''::VARCHAR AS batch FROM _e")
            self._con.unregister("_e")
            if name in _UNIQUE:
                self._con.execute(f"CREATE TABLE {name} AS SELECT * FROM _empty_{name}")
            else:
                cols = ", ".join(f"{c} VARCHAR" for c in _KEYED[name])
                self._con.execute(f"CREATE TABLE _losers_{name} (batch VARCHAR, {cols})")
        self._views()
        self.refresh()

    # -- loading ------------------------------------------------------------------------------------------------
    def _problem(self, msg: str) -> None:
        if msg not in self.problems:
            self.problems.append(msg)
            print(f"warning: {msg}", file=sys.stderr)

    def refresh(self) -> int:
        """Take in batches committed since the last call; returns how many. Full reload after a compaction."""
        with self._lock:
            dirs, superseded = visible_batches(self.root, self._problem)
            if superseded != self._superseded and superseded & (set(self._batches) | set(self._bad)):
                self._reset()
            self._superseded = superseded
            new = []
            for d in dirs:
                if d.name in self._batches or d.name in self._bad:
                    continue
                batch, problems = open_batch(d)
                if batch is None:
                    self._bad[d.name] = problems
                    for p in problems:
                        self._problem(f"skipping batch {d.name}: {p}")
                else:
                    new.append(batch)
            gone = [n for n in self._batches if not (self.root / "batches" / n).is_dir()]
            if gone:  # deleted by hand: forget them rather than fail every query
                self._reset()
                return self.refresh()
            if new:
                self._take_checked(new)
            return len(new)

    def _take_checked(self, new: list[Batch]) -> None:
        """_take(new) in one transaction; when DuckDB cannot read them (data pages damaged behind a valid footer,
        an error that need not name the file), the damaged batches are found by reading each file in full, named
        and skipped, and the others taken."""
        try:
            self._con.begin()
            self._take(new)
            self._con.commit()
            return
        except duckdb.Error as e:
            self._con.rollback()
            for b in new:  # _take registered none of them: the transaction was rolled back
                self._batches.pop(b.name, None)
            error = e
        good = []
        for b in new:
            why = self._data_problem(b)
            if why is None:
                good.append(b)
            else:
                self._bad[b.name] = [why]
                self._problem(f"skipping batch {b.name}: {why}")
        if len(good) == len(new):
            raise error
        if good:
            self._take(good)
        else:
            self._views()

    def _data_problem(self, batch: Batch) -> str | None:
        """Why one of the batch's files cannot be read in full (its data pages, not only its footer), else None."""
        for path in batch.files.values():
            try:
                pq.ParquetFile(path).read()
                self._con.sql(f"SELECT * FROM read_parquet({_files([path])})").to_arrow_table()
            except (duckdb.Error, pa.ArrowException, OSError, ValueError) as e:  # the data cannot be read
                first = "".join(c if c.isprintable() else "?" for c in (str(e).splitlines() or [""])[0])
                return f"{path}: damaged data ({type(e).__name__}: {first})"
        return None

    def _reset(self) -> None:
        for name in TABLES:
            self._con.execute(f"DELETE FROM {name if name in _UNIQUE else '_losers_' + name}")
        self._batches.clear()
        self._bad.clear()
        self._views()

    def _take(self, new: list[Batch]) -> None:
        for table, cols in _KEYED.items():
            files = [b.files[table] for b in new if table in b.files]
            if not files:
                continue
            key = ", ".join(cols)
            had = any(table in b.files for b in self._batches.values())
            # a pair loses when an earlier batch already stored it, or an earlier one of these new batches did
            old = f"OR ({key}) IN (SELECT DISTINCT {key} FROM {table})" if had else ""
            self._con.execute(f"""
                INSERT INTO _losers_{table}
                WITH n AS (SELECT DISTINCT {key}, {_BATCH} AS batch FROM read_parquet({_files(files)}, filename = true))
                SELECT batch, {key} FROM n
                WHERE batch <> (SELECT min(m.batch) FROM n m WHERE {' AND '.join(f'm.{c} = n.{c}' for c in cols)})
                   {old}""")
        for table, col in _UNIQUE.items():
            files = [b.files[table] for b in new if table in b.files]
            if files:
                self._con.execute(f"""
                    INSERT INTO {table} SELECT * FROM ({_scan(files)})
                    WHERE {col} NOT IN (SELECT {col} FROM {table})
                    QUALIFY row_number() OVER (PARTITION BY {col} ORDER BY batch) = 1""")
        for b in new:
            self._batches[b.name] = b
        self._views()

    def _views(self) -> None:
        order = sorted(self._batches)
        for table, cols in _KEYED.items():
            files = [self._batches[n].files[table] for n in order if table in self._batches[n].files]
            if not files:
                body = f"SELECT * FROM _empty_{table}"
            elif self._con.execute(f"SELECT count(*) FROM _losers_{table}").fetchone()[0] == 0:
                body = _scan(files)
            else:
                on = " AND ".join(f"s.{c} = l.{c}" for c in ("batch",) + cols)
                body = f"SELECT s.* FROM ({_scan(files)}) s ANTI JOIN _losers_{table} l ON {on}"
            self._con.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")

    def _drop_batch(self, name: str, why: str) -> None:
        """Stop reading a batch found damaged at query time (its footer was fine, its data was not)."""
        self._bad[name] = [why]
        self._problem(f"skipping batch {name}: {why}")
        keep = [b for n, b in sorted(self._batches.items()) if n != name]
        for table in TABLES:
            self._con.execute(f"DELETE FROM {table if table in _UNIQUE else '_losers_' + table}")
        self._batches.clear()
        self._take(keep) if keep else self._views()

    def _blame(self, error: Exception) -> tuple[str, str] | None:
        """The loaded batch a query error comes from, and why: named in the message, else (DuckDB need not name
        the file) the first batch a full read of each file finds damaged. None: no batch is to blame."""
        msg = str(error)
        for name, b in self._batches.items():
            if any(str(p) in msg for p in b.files.values()):
                return name, f"damaged data ({type(error).__name__}: {msg.splitlines()[0]})"
        if isinstance(error, (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)):
            return None  # the query is wrong, not the data
        for name, b in sorted(self._batches.items()):
            why = self._data_problem(b)
            if why is not None:
                return name, why
        return None

    # -- queries ------------------------------------------------------------------------------------------------
    def sql(self, query: str, params: list | tuple | None = None) -> pd.DataFrame:
        """Run a parametrised query (``?`` placeholders) and return a DataFrame. A file that turns out damaged when
        read is named, its batch skipped, and the query run again without it."""
        return self._run(lambda: self._con.execute(query, params or []).df())

    def arrow(self, query: str, params: list | tuple | None = None):
        """sql(), as an Arrow table (no pandas conversion: compaction, exports)."""
        return self._run(lambda: self._con.sql(query, params=params or None).to_arrow_table())

    def _run(self, fetch):
        with self._lock:
            for _ in range(8):
                try:
                    return fetch()
                except duckdb.Error as e:
                    if self.refresh():  # a compaction may have replaced the files under us
                        continue
                    blamed = self._blame(e)
                    if blamed is None:
                        raise
                    self._drop_batch(*blamed)
            return fetch()

    def done_prompts(self, run_key: str) -> set[str]:
        """Prompts a run has fully stored (a batch commits whole prompts)."""
        df = self.sql("SELECT prompt_key FROM samples WHERE run_key = ? UNION SELECT prompt_key FROM results "
                      "WHERE run_key = ?", [run_key, run_key])
        return set(df["prompt_key"])

    def scored_prompts(self, run_key: str, verifier: str) -> set[str]:
        """Prompts of a pool already scored by ``verifier``."""
        df = self.sql("SELECT DISTINCT prompt_key FROM scores WHERE run_key = ? AND verifier = ?", [run_key, verifier])
        return set(df["prompt_key"])

    @property
    def batches(self) -> list[str]:
        """Names of the batches read, oldest first."""
        with self._lock:
            return sorted(self._batches)

    @property
    def damaged(self) -> dict[str, list[str]]:
        """Batches skipped because a file could not be read, with the reasons."""
        with self._lock:
            return dict(self._bad)

    def runs_by_batch(self) -> dict[str, set[str]]:
        """Batch name -> run keys it holds rows of, from the manifests (DuckDB reads older batches' run_key column)."""
        with self._lock:
            out = {}
            for name, b in sorted(self._batches.items()):
                if name not in self._runs_of:
                    runs = b.runs
                    if runs is None:
                        runs = {t: self._con.execute(f"SELECT DISTINCT run_key FROM read_parquet({_files([p])})")
                                .df()["run_key"].dropna().tolist() for t, p in b.files.items() if t != "prompts"}
                    self._runs_of[name] = runs
                out[name] = set().union(*self._runs_of[name].values()) if self._runs_of[name] else set()
            return out

    def run_versions(self) -> dict[str, str]:
        """Run key -> a version of its content (a hash of the batches holding its rows): it changes exactly when a
        batch adds rows to that run, so data derived from one run is reused until then. Remembered per set of
        batches (every page call asks); callers must not modify the dict."""
        with self._lock:
            state = tuple(sorted(self._batches))
            if self._versions[0] == state:
                return self._versions[1]
            owners: dict[str, list[str]] = {}
            for name, runs in self.runs_by_batch().items():
                for r in runs:
                    owners.setdefault(r, []).append(name)
            versions = {r: hashlib.blake2b("\n".join(b).encode(), digest_size=8).hexdigest() for r, b in owners.items()}
            self._versions = (state, versions)
            return versions

    def summary(self) -> dict:
        counts = {t: int(self.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]) for t in TABLES}
        size = sum(f.stat().st_size for f in self.root.rglob("*.parquet")) if self.root.exists() else 0
        return {"rows": counts, "batches": len(self.batches), "bytes": size, "problems": list(self.problems)}
