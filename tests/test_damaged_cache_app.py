"""Issue 10 (hostile-files guard rail, the app and ``report`` half): a cache with a truncated Parquet file in one batch
is read by ``python -m backend report`` and by every page of the app. The batch is named, its rows are left out, no
traceback is shown, and nothing is deleted or moved (only ``compact`` quarantines, see test_hostile_files.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_hostile_files import _garbled_pages, _truncated
from tests.test_rendered_text import PAGES  # every page, Other levers included

ROOT = Path(__file__).resolve().parents[1]


def _damaged_copy(app_cache: Path, where: Path, damage=_truncated) -> tuple[Path, Path]:
    """A copy of the app cache (no derived data: pages compute from the damaged store) with one batch's
    samples.parquet damaged; returns (cache, victim batch folder)."""
    cache = where / "cache"
    shutil.copytree(app_cache, cache, symlinks=True, ignore=shutil.ignore_patterns("derived"))
    batches = sorted(d for d in (cache / "store" / "batches").iterdir() if (d / "samples.parquet").exists())
    victim = batches[len(batches) // 2]  # a zoo run's batch, neither the first nor an import
    damage(victim / "samples.parquet")
    return cache, victim


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def damaged(app_cache, tmp_path_factory):
    cache, victim = _damaged_copy(app_cache, tmp_path_factory.mktemp("damaged"))
    return cache, victim, _files(victim)


@pytest.fixture()
def open_page(monkeypatch):
    from backend import explore

    def run(cache: Path, page: str) -> AppTest:
        monkeypatch.setenv("TTC_CACHE", str(cache))
        explore.reset_store()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        if page != "home":
            at.run()
            at.switch_page(f"pages/{page}.py")
        at.run()
        return at

    monkeypatch.chdir(ROOT)
    yield run
    explore.reset_store()


def _named(at: AppTest, batch: str) -> list[str]:
    """Notes naming the batch (Markdown escapes removed: pages escape paths and names)."""
    texts = [el.value.replace("\\", "") for el in list(at.warning) + list(at.info) + list(at.error)]
    return [t for t in texts if batch in t]


def test_report_names_and_skips_the_damaged_batch(damaged):
    cache, victim, intact = damaged
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTC_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "backend", "report"], env=env, capture_output=True, text=True, cwd=ROOT,
                       timeout=900)
    assert r.returncode == 0 and "Traceback" not in r.stderr + r.stdout, r.stderr[-2000:]
    warnings = [x for x in r.stderr.splitlines() if victim.name in x]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipping batch") and "samples.parquet" in warnings[0]
    assert any(line[:2] == "1." for line in r.stdout.splitlines()), r.stdout[-1500:]
    assert _files(victim) == intact  # read, never deleted or moved


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_a_damaged_cache_loads_without_a_traceback(damaged, open_page, page):
    cache, victim, intact = damaged
    at = open_page(cache, page)
    assert not at.exception, (page, [e.value for e in at.exception])
    assert at.title, f"{page} has no title"
    assert "Traceback" not in " ".join(el.value for el in list(at.error) + list(at.warning) + list(at.markdown))
    assert _files(victim) == intact


@pytest.mark.parametrize("damage", [_truncated, _garbled_pages], ids=["truncated", "garbled pages"])
def test_the_first_page_names_the_skipped_batch_once(app_cache, tmp_path, open_page, damage):
    """Whichever page a session opens first says which batch is left out (a truncated file is found when the
    store opens, garbled data pages only when a query reads them); the next page does not repeat it."""
    from backend import explore

    cache, victim = _damaged_copy(app_cache, tmp_path, damage)
    at = open_page(cache, "home")
    assert not at.exception, [e.value for e in at.exception]
    assert any(victim.name in p for p in explore.store().problems)
    assert len(_named(at, victim.name)) == 1, [el.value for el in list(at.warning) + list(at.info)]
    at.switch_page("pages/budget_curves.py")
    at.run()
    assert not at.exception and not _named(at, victim.name)


def test_zoo_and_cache_lists_the_skipped_batch(damaged, open_page):
    cache, victim, _ = damaged
    at = open_page(cache, "zoo_cache")
    assert not at.exception
    assert _named(at, victim.name), [w.value for w in at.warning]


def test_a_store_whose_key_columns_are_garbled_opens_and_names_the_batch(tmp_path):
    """Damaged data pages behind a valid footer, where the store reads the keys as it opens: it used to raise
    DuckDB's "don't know what type" from Store() (every page and command failed); now the batch is named and skipped
    and the others read."""
    from backend.store import Store, commit_batch
    from tests.test_hostile_files import _sample

    commit_batch({"samples": [_sample(f"p{i}") for i in range(50)]}, tmp_path)
    victim = commit_batch({"samples": [_sample(f"q{i}-{'x' * 40}", 0, f"r{i}") for i in range(3000)]}, tmp_path)
    _garbled_pages(victim / "samples.parquet")
    st = Store(tmp_path)
    assert [p for p in st.problems if victim.name in p and "samples.parquet" in p], st.problems
    assert st.sql("SELECT count(*) n FROM samples")["n"][0] == 50 and victim.name in st.damaged
