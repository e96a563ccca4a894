"""Interrupted and concurrent writers: SIGKILLs of build-cache and compact at seeded random moments leave a store
equal to an uninterrupted build (same keys, same sample text, nothing duplicated or missing), and two builds at once
never both compute: the second waits for the build lock, then skips what the first stored."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from backend.store import Store

ROOT = Path(__file__).resolve().parents[1]
BUILD = [sys.executable, "-m", "backend", "build-cache", "--models", "micro-cot-a", "--quick", "--per-cell", "1",
         "--batch-prompts", "2", "--kinds", "greedy", "pools", "--no-derive"]
COMPACT = [sys.executable, "-m", "backend", "compact", "--no-derive"]

pytestmark = pytest.mark.slow


def _cache(micro_cache: Path, name: str) -> tuple[Path, dict]:
    root = micro_cache.parent / name
    root.mkdir(exist_ok=True)
    if not (root / "zoo").exists():
        os.symlink(micro_cache / "zoo", root / "zoo")
    return root, {**os.environ, "PYTHONPATH": str(ROOT), "TTC_CACHE": str(root), "OMP_NUM_THREADS": "1"}


def _content(root: Path) -> list[tuple]:
    st = Store(root / "store")
    return [tuple(r) for r in st.sql("SELECT run_key, prompt_key, sample_idx, text FROM samples ORDER BY 1, 2, 3")
            .itertuples(index=False)]


def _rows_on_disk(root: Path) -> tuple[int, int]:
    """(rows, distinct (run, prompt, sample)) over every committed batch file, duplicates included."""
    files = sorted(str(p) for p in (root / "store" / "batches").glob("b-*/samples.parquet"))
    if not files:
        return 0, 0
    return duckdb.execute("SELECT count(*), count(DISTINCT (run_key, prompt_key, sample_idx)) FROM read_parquet(?)",
                          [files]).fetchone()


def test_random_sigkills_of_build_and_compact_leave_the_uninterrupted_result(micro_cache):
    ref, env_ref = _cache(micro_cache, "kill-ref")
    subprocess.run(BUILD, env=env_ref, check=True, capture_output=True, cwd=ROOT)
    want = _content(ref)
    assert len(want) > 0

    root, env = _cache(micro_cache, "kill-victim")
    rng = random.Random(20261129)
    for i in range(6):  # build killed at random moments, a compaction killed at random moments in between
        proc = subprocess.Popen(BUILD, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        time.sleep(rng.uniform(2.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if i % 2:
            proc = subprocess.Popen(COMPACT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
            time.sleep(rng.uniform(1.5, 5.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    done = subprocess.run(BUILD, env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _content(root) == want  # same keys, same bytes of text: 0 missing, 0 extra
    subprocess.run(COMPACT, env=env, check=True, capture_output=True, cwd=ROOT)
    assert _content(root) == want
    rows, distinct = _rows_on_disk(root)
    assert rows == distinct == len(want)  # after compaction not even a hidden duplicate remains on disk


def test_a_build_waits_while_another_holds_the_lock(micro_cache):
    """Deterministic: this test holds the lock, so the build must say it waits and must not finish until released
    (a real first build can end before a second one starts on a fast machine)."""
    from backend.store.lock import build_lock

    root, env = _cache(micro_cache, "held-lock")
    with build_lock(root / "store", say=lambda msg: None):
        build = subprocess.Popen(BUILD, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        lines: list[str] = []  # read in a thread: a build that neither says it waits nor ends must not hang the test
        reader = threading.Thread(target=lambda: lines.extend(iter(build.stderr.readline, "")), daemon=True)
        reader.start()
        deadline = time.time() + 300  # the start-up (imports, plan) is slow on a loaded machine; no fixed sleep
        while not any("another build" in x for x in lines) and build.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        said = "".join(lines)
        assert "another build" in said and "waiting" in said, said[-2000:]
        time.sleep(2)
        assert build.poll() is None, "the build went on while the lock was held"
    out = build.stdout.read()  # stdout stays small until the build ends; stderr is drained by the reader
    build.wait(timeout=600)
    reader.join(timeout=60)
    err = "".join(lines)
    assert build.returncode == 0, err[-2000:]
    assert '"prompts_added": 0' not in out  # it built once the lock was free


def test_two_builds_at_once_compute_nothing_twice(micro_cache):
    root, env = _cache(micro_cache, "two-builds")
    first = subprocess.Popen(BUILD, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    second = subprocess.run(BUILD, env=env, capture_output=True, text=True, cwd=ROOT)
    first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    rows, distinct = _rows_on_disk(root)
    assert rows == distinct > 0  # whichever started first, no duplicate was ever written
