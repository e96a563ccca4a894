"""A full disk and a read-only cache, on a small tmpfs (the test mounts one; it skips, saying why, where it cannot):
writes fail with one clear error, leave no temporary file and never touch what was stored; derived data is kept in
memory with one note; the CLI prints one line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.store import Store, commit_batch

ROOT = Path(__file__).resolve().parents[1]


def _mount(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                       text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not permitted'}): full-disk and read-only "
                    f"behaviour is not tested on this machine")


@pytest.fixture()
def tmpfs(tmp_path):
    where = tmp_path / "mnt"
    mounted = []

    def mount(size: str = "4m") -> Path:
        _mount(where, size)
        mounted.append(where)
        return where

    yield mount
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)], capture_output=True)


def _remount_ro(where: Path) -> None:
    r = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")


def _fill(where: Path) -> None:
    with open(where / "filler", "wb", buffering=0) as f:  # unbuffered: close() has nothing left to flush on ENOSPC
        try:
            while True:
                f.write(b"\0" * (1 << 16))
        except OSError:
            pass


def _sample(prompt: str, idx: int) -> dict:
    return {"run_key": "r", "prompt_key": prompt, "sample_idx": idx, "text": "x" * 200, "answer": "1",
            "correct": True, "prompt_tokens": 5, "gen_tokens": 200, "flops": 1.0}


def _leftovers(root: Path) -> list[str]:
    """Temporary files or folders a failed write left behind (batches: ``_tmp-…``, files: ``….tmp``)."""
    return [str(p) for p in root.rglob("*") if p.name.startswith("_tmp-") or p.name.endswith(".tmp")]


def test_a_full_disk_fails_cleanly_and_keeps_what_was_stored(tmpfs):
    root = tmpfs("2m") / "store"
    commit_batch({"samples": [_sample("p1", i) for i in range(4)]}, root)
    _fill(root.parent)
    with pytest.raises(OSError) as e:
        commit_batch({"samples": [_sample(f"q{j}", i) for j in range(200) for i in range(20)]}, root)
    assert e.value.errno == 28
    assert not _leftovers(root) and len(list((root / "batches").iterdir())) == 1
    assert Store(root).sql("SELECT count(*) n FROM samples")["n"][0] == 4


def test_compaction_on_a_full_disk_keeps_every_batch(tmpfs):
    from backend.store.compact import compact

    root = tmpfs("3m") / "store"
    for p in range(3):
        commit_batch({"samples": [_sample(f"p{p}", i) for i in range(50)]}, root)
    before = sorted(d.name for d in (root / "batches").iterdir())
    _fill(root.parent)
    with pytest.raises(OSError):
        compact(Store(root))
    assert sorted(d.name for d in (root / "batches").iterdir()) == before and not _leftovers(root)
    assert Store(root).sql("SELECT count(*) n FROM samples")["n"][0] == 150


def test_derived_data_on_a_full_or_read_only_cache_lives_in_memory_with_one_note(app_cache, tmpfs, monkeypatch):
    from backend import explore
    from backend.explore import derived

    where = tmpfs("64m")
    shutil.copytree(app_cache, where / "cache", symlinks=True)
    shutil.rmtree(where / "cache" / "derived", ignore_errors=True)
    monkeypatch.setenv("TTC_CACHE", str(where / "cache"))
    _remount_ro(where)
    explore.reset_store()
    try:
        pts = derived.points()
        assert len(pts.meta) > 0
        assert "kept in memory" in derived.note() and "Read-only" in derived.note()
        assert derived.points() is pts  # remembered: not recomputed on the next call
        assert not (where / "cache" / "derived").exists()
    finally:
        explore.reset_store()


def test_cli_on_a_read_only_cache_prints_one_line(micro_cache, tmpfs):
    where = tmpfs("64m")
    shutil.copytree(micro_cache / "zoo", where / "cache" / "zoo")
    _remount_ro(where)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTC_CACHE": str(where / "cache")}
    for cmd in (["build-cache", "--models", "micro-cot-a", "--quick", "--per-cell", "1", "--kinds", "greedy"],
                ["compact"]):
        r = subprocess.run([sys.executable, "-m", "backend", *cmd], env=env, capture_output=True, text=True, cwd=ROOT)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-1500:]
        assert lines[-1].startswith("error:") and "Read-only file system" in lines[-1], lines
