"""Issue 10, the read-only and full-disk gaps: the app's pages on a read-only cache (no exception, the derived-data
note once, charts drawn), ``report`` and ``import`` on a read-only cache (a result or one ``error:`` line, nothing
written), and derived data, spread curves and claims on a full disk (in memory with a note, no ``*.tmp`` left, what
was stored before untouched; ``claims-*.json`` written by temp + rename).

Read-only means a tmpfs remounted read-only where the test can mount one (root, or a user allowed to), else a copy
chmodded read-only (files 0o444, folders 0o555) when that stops this user from writing; otherwise the test skips,
saying why (root ignores file modes)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_full_and_readonly import _fill, _leftovers, tmpfs  # noqa: F401 (tmpfs is a fixture)

ROOT = Path(__file__).resolve().parents[1]
NOTE = "kept in memory only"
GEN = [{"prompt_id": p, "question": q, "gold": g, "sample_idx": i, "text": f"#### {g}"}
       for p, q, g in (("a", "What is 2+3?", 5), ("b", "What is 12 times 12?", 144)) for i in range(2)]


# ------------------------------------------------------------------------------------------------ helpers
def _chmod_tree(root: Path, read_only: bool) -> None:
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o555 if read_only else 0o755)
        else:
            p.chmod(0o444 if read_only else 0o644)


def _can_write(folder: Path) -> bool:
    probe = folder / ".write-probe"
    try:
        probe.write_bytes(b"x")
    except OSError:
        return False
    probe.unlink()
    return True


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time: equal snapshots mean nothing was written."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture()
def read_only_copy(tmp_path):
    """``make(src)``: a read-only copy of the cache ``src`` (its derived data left out, so pages must compute and
    try to save it). A tmpfs remounted read-only where mounting works; else chmod, when chmod stops this user."""
    mounted: list[Path] = []
    chmodded: list[Path] = []

    def make(src: Path) -> Path:
        where = tmp_path / "ro"
        where.mkdir()
        cache = where / "cache"
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(where)], capture_output=True,
                           text=True)
        if r.returncode == 0:
            mounted.append(where)
        shutil.copytree(src, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
        if r.returncode == 0:
            ro = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
            if ro.returncode:
                pytest.skip(f"cannot remount the tmpfs read-only: {ro.stderr.strip()}")
        else:
            _chmod_tree(cache, read_only=True)
            chmodded.append(cache)
            if _can_write(cache / "store"):
                pytest.skip(f"cannot make a read-only cache here: no tmpfs ({r.stderr.strip() or 'mount failed'}) and "
                            f"chmod does not stop this user (uid {os.getuid()}) from writing")
        assert not _can_write(cache) and not _can_write(cache / "store")
        return cache

    try:
        yield make
    finally:
        for c in chmodded:
            _chmod_tree(c, read_only=False)  # pytest must be able to remove it
        for m in mounted:
            subprocess.run(["umount", "-l", str(m)], capture_output=True)


@pytest.fixture()
def fresh(monkeypatch):
    """Point the backend at a cache for one test, with nothing remembered from another cache."""
    from backend import explore

    def use(cache: Path) -> Path:
        monkeypatch.setenv("TTC_CACHE", str(cache))
        explore.reset_store()
        return cache

    monkeypatch.chdir(ROOT)
    yield use
    explore.reset_store()


def _notes(at: AppTest) -> list[str]:
    return [el.value for el in list(at.info) + list(at.warning) if NOTE in el.value]


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


# ------------------------------------------------------------------------------------------------ 1. pages read-only
def test_home_budget_curves_and_claims_on_a_read_only_cache(app_cache, read_only_copy, fresh):
    """Issue 10.5: Home, Budget curves and Claims used to show an OSError traceback on a read-only cache. Now each
    draws its charts, derived data lives in memory, and the note saying so is shown once in the session."""
    from backend.explore import derived

    cache = fresh(read_only_copy(app_cache))
    before = _snapshot(cache)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    seen = {}
    for page in ("home", "budget_curves", "claims"):
        if page != "home":
            at.switch_page(f"pages/{page}.py")
            at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert _charts(at) > 0, f"{page} drew no chart"
        seen[page] = _notes(at)
    assert derived.note() and NOTE in derived.note()
    assert sum(len(v) for v in seen.values()) == 1, seen  # said once, on the first page that needed it
    assert seen["home"] and str(cache / "derived") in seen["home"][0]
    at.switch_page("pages/home.py")
    at.run()
    assert not at.exception and not _notes(at)  # not again in the same session
    assert _snapshot(cache) == before and not (cache / "derived").exists()


@pytest.mark.parametrize("known", [False, True], ids=["found by the page", "known before"])
@pytest.mark.parametrize("page", ["budget_curves", "claims"])
def test_the_note_is_shown_on_whichever_page_meets_the_read_only_cache_first(app_cache, read_only_copy, fresh, page,
                                                                            known):
    """Opened straight from a link (a new session whose first page is not Home), the page says it once: whether
    its own run finds the cache read-only, or another session (the server's warm-up) found it before — Claims
    reruns itself after computing the report, and that rerun must not lose the note."""
    from backend.explore import derived

    cache = fresh(read_only_copy(app_cache))
    if known:
        derived.points()
        assert derived.note()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _charts(at) > 0
    assert len(_notes(at)) == 1, [el.value for el in at.info]
    assert not (cache / "derived").exists()


# ------------------------------------------------------------------------------------------------ 2. CLI read-only
def test_report_on_a_read_only_cache_prints_the_claims_and_writes_nothing(app_cache, read_only_copy):
    cache = read_only_copy(app_cache)
    before = _snapshot(cache)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTC_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "backend", "report"], env=env, capture_output=True, text=True, cwd=ROOT,
                       timeout=900)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-1500:]
    assert any(line[:2] in ("1.", "8.") for line in r.stdout.splitlines()), r.stdout[-1500:]
    assert _snapshot(cache) == before


def test_import_on_a_read_only_cache_is_one_line_and_writes_nothing(app_cache, read_only_copy, fresh, tmp_path,
                                                                     capsys):
    from backend.cli import main

    cache = fresh(read_only_copy(app_cache))
    src = tmp_path / "gen.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in GEN))
    before = _snapshot(cache)
    assert main(["import", str(src), "--model", "m", "--params", "7B"]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "Read-only file system" in err[0] or "Permission denied" in err[0], err
    assert _snapshot(cache) == before


# ------------------------------------------------------------------------------------------------ 3. full disk
def _quick_report(store=None, **kw):
    return [{"claim": 1, "title": "t", "verdict": "supported", "effect": 0.1, "lo": 0.0, "hi": 0.2, "why": "w",
             "metric": "m", "pad": "x" * 20_000}]


def test_claims_are_written_by_temp_and_rename(app_cache, fresh, tmp_path, monkeypatch):
    """The claims report reaches its file by os.replace from a temporary file in the same folder, never by writing
    the final name in place."""
    import backend.analysis.claims as claims_mod
    from backend.explore import derived

    cache = tmp_path / "cache"
    shutil.copytree(app_cache, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
    fresh(cache)
    monkeypatch.setattr(claims_mod, "report", _quick_report)
    calls, real = [], os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((Path(a), Path(b))), real(a, b))[1])
    out = derived.claims()
    final = derived.derived_dir() / f"claims-{derived.signature()}.json"
    assert [c for c in calls if c[1] == final], calls
    src = next(a for a, b in calls if b == final)
    assert src.parent == final.parent and src.name.endswith(".tmp") and not src.exists()
    assert json.loads(final.read_text())["claims"] == out and not _leftovers(cache) and derived.note() is None


def test_a_claims_write_that_runs_out_of_space_leaves_no_partial_file(app_cache, fresh, tmp_path, monkeypatch):
    """A simulated ENOSPC halfway through the claims file (no mount needed): no claims file, no temporary file, the
    report in memory and the note."""
    import errno

    import backend.analysis.claims as claims_mod
    from backend.explore import derived

    cache = tmp_path / "cache"
    shutil.copytree(app_cache, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
    fresh(cache)
    monkeypatch.setattr(claims_mod, "report", _quick_report)
    real = Path.write_text

    def half_then_full(self, data, *a, **kw):
        real(self, data[: len(data) // 2], *a, **kw)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", half_then_full)
    out = derived.claims()
    assert out and out[0]["claim"] == 1
    assert not list(derived.derived_dir().glob("claims-*")) and not _leftovers(cache)
    assert NOTE in derived.note() and "No space left on device" in derived.note()
    assert derived.claims() == out  # remembered, not recomputed into another failed write


def test_derived_data_spread_and_claims_on_a_full_disk(app_cache, tmpfs, fresh):  # noqa: F811
    """Issue 10.6 (the derived half): precompute on a full disk keeps the points, spread curves and claims in
    memory with one note, leaves no temporary file, and the derived files stored before are byte for byte intact."""
    from backend.explore import derived

    where = tmpfs("64m")
    cache = where / "cache"
    shutil.copytree(app_cache, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
    fresh(cache)
    first = derived.precompute()  # with room: the bundle, the spread table and the claims file
    claims_file = derived.derived_dir() / f"claims-{first['signature']}.json"
    saved_claims = json.loads(claims_file.read_text())["claims"]
    assert (derived.derived_dir() / "spread.parquet").exists()
    claims_file.unlink()  # the claims of this state were never saved: the next precompute must write them
    stored = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file() and not p.is_symlink()}
    _fill(where)
    fresh(cache)
    again = derived.precompute()
    assert again["points"] == first["points"] and again["spread_rows"] == first["spread_rows"]
    assert NOTE in derived.note() and "No space left on device" in derived.note()
    assert not _leftovers(cache), _leftovers(cache)
    assert not claims_file.exists() and derived.claims() == saved_claims  # in memory
    assert {p: p.read_bytes() for p in stored} == stored  # nothing already stored damaged
    (where / "filler").unlink()


def test_import_on_a_full_disk_is_one_line_and_keeps_the_store(app_cache, tmpfs, fresh, tmp_path, capsys):  # noqa: F811
    """The CLI on errno 28: one ``error:`` line saying the disk is full, no temporary batch, every batch intact."""
    from backend.cli import main

    where = tmpfs("64m")
    cache = where / "cache"
    shutil.copytree(app_cache, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
    fresh(cache)
    src = tmp_path / "gen.jsonl"
    src.write_text("".join(json.dumps({**r, "text": r["text"] + " " + "y" * 4000}) + "\n" for r in GEN))
    _fill(where)
    stored = {p: p.read_bytes() for p in (cache / "store").rglob("*") if p.is_file()}
    assert main(["import", str(src), "--model", "m", "--params", "7B"]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and "No space left on device" in err[0], err
    assert not _leftovers(cache)
    assert {p: p.read_bytes() for p in stored} == stored
    assert sorted(p for p in (cache / "store").rglob("*") if p.is_file()) == sorted(stored)
