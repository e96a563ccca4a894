"""A synthetic store N times the size of a real one, for the scale benchmark: every run copied N times under new run
keys (its sampling seed bumped), each copy's samples permuted within their prompt, so answer spreads stay those of
the real pools. Written by DuckDB straight from the source Parquet files (no Python row loop), one batch per copy."""
from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import duckdb

from backend.store.schema import SCHEMA_VERSION, TABLES
from backend.store.writer import BATCH_PREFIX, MANIFEST, ROW_GROUP, batches_dir

_KEYED = ("samples", "scores", "nodes", "results")


def _lit(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def build_scaled(source: Path, dest: Path, scale: int) -> dict:
    """Write a store at ``dest`` holding ``scale`` copies of every run in the store at ``source`` (copy 0 keeps the
    original keys). Returns row counts and seconds."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    src = [d for d in sorted(batches_dir(source).glob(f"{BATCH_PREFIX}*")) if d.is_dir()]
    if not src:
        raise ValueError(f"no batches under {source}")
    if dest.exists():
        shutil.rmtree(dest)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    files = {t: [d / f"{t}.parquet" for d in src if (d / f"{t}.parquet").exists()] for t in TABLES}
    rows: dict[str, int] = {t: 0 for t in TABLES}
    meta = f"KV_METADATA {{ttc_schema_version: '{SCHEMA_VERSION}'}}"
    for i in range(scale):
        name = f"{BATCH_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        out = batches_dir(dest) / name
        out.mkdir(parents=True)
        suffix = "" if i == 0 else f"~x{i}"
        runs_in = {}
        for t, paths in files.items():
            if not paths:
                continue
            cols = list(TABLES[t].names)
            select = ", ".join(cols)
            src_sql = f"read_parquet([{', '.join(_lit(p) for p in paths)}])"
            if t == "prompts":
                if i:
                    continue  # prompts are shared by every copy
                query = f"SELECT {select} FROM {src_sql}"
            elif t == "runs":
                query = (f"SELECT {select.replace('run_key', 'run_key || ? AS run_key').replace('seed', 'seed + ? AS seed')}"
                         f" FROM {src_sql}")
            else:
                query = f"SELECT {select.replace('run_key', 'run_key || ? AS run_key')} FROM {src_sql}"
                if t in ("samples", "scores") and i:
                    # a copy's samples are a permutation of the original's within each prompt: the same spread
                    part = "run_key, prompt_key" + (", verifier" if t == "scores" else "")
                    rank = (f"(row_number() OVER (PARTITION BY {part} ORDER BY hash(run_key, prompt_key, sample_idx, "
                            f"?::INT)) - 1)::INT AS sample_idx")
                    inner = select.replace("sample_idx", rank).replace("run_key,", "run_key || ? AS run_key,", 1)
                    query = f"SELECT {inner} FROM {src_sql}"
            if t == "prompts":
                params = []
            elif t == "runs" or (t in ("samples", "scores") and i):
                params = [suffix, i]  # the placeholders' order: run key suffix, then the seed (runs) or hash seed
            else:
                params = [suffix]
            target = out / f"{t}.parquet"
            order = "prompt_key" if t == "prompts" else "run_key"
            con.execute(f"COPY ({query} ORDER BY {order}) TO {_lit(target)} "
                        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP}, {meta})", params)
            n = con.execute(f"SELECT count(*) FROM read_parquet({_lit(target)})").fetchone()[0]
            rows[t] += n
            if t in _KEYED + ("runs",):
                runs_in[t] = sorted(x[0] for x in con.execute(
                    f"SELECT DISTINCT run_key FROM read_parquet({_lit(target)})").fetchall())
        (out / MANIFEST).write_text(json.dumps({"runs": runs_in}, sort_keys=True))
    return {"scale": scale, "rows": rows, "seconds": time.perf_counter() - t0,
            "bytes": sum(p.stat().st_size for p in dest.rglob("*.parquet"))}
