"""One owner per resource and clean layers, checked on the source: no library module builds its own store (the app,
a CLI command or a benchmark owns it and passes it down), the backend never imports Streamlit, pages hold no SQL."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWNERS = ("backend/store/", "backend/cli.py", "backend/bench/", "backend/importers/bench.py")  # process owners


def _sources(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()


def test_no_library_code_constructs_its_own_store():
    offenders = [name for name, text in _sources("backend")
                 if not name.startswith(OWNERS) and re.search(r"\bStore\(", text)]
    assert not offenders, f"these build a hidden Store(): {offenders}"


def test_the_shared_store_is_opened_only_by_its_declared_owner(monkeypatch):
    """explore.store() opens what the process's owner declared, and says so in one line when nobody did."""
    import pytest

    from backend import explore

    monkeypatch.setattr(explore, "_opener", None)
    monkeypatch.setattr(explore, "_store", None)
    with pytest.raises(RuntimeError, match="own_store"):
        explore.store()
    from backend.store.writer import store_dir

    class Opened:
        def __init__(self):
            self.root = store_dir()

        def refresh(self):
            return 0

    opened = []
    explore.own_store(lambda: opened.append(1) or Opened())
    one = explore.store()
    assert isinstance(one, Opened) and explore.store() is one and opened == [1]
    monkeypatch.setenv("TTC_CACHE", "/elsewhere")  # the store follows the cache folder
    assert explore.store() is not one and opened == [1, 1]
    app = (ROOT / "app.py").read_text()
    assert "own_store(Store)" in app


def test_backend_never_imports_streamlit():
    offenders = [name for name, text in _sources("backend")
                 if re.search(r"^\s*(import streamlit|from streamlit)", text, re.MULTILINE)]
    assert not offenders


def test_pages_hold_no_sql():
    offenders = [name for name, text in _sources("pages") if re.search(r"\b(SELECT|INSERT INTO)\b .* FROM\b", text)]
    assert not offenders
