"""The shipped cache, as a first visitor sees it: every analysis page opens on a selection that draws a chart (a
default that shows nothing, such as Spread on a model without thinking runs, is a bug), without an exception. The
cache is used through a scratch folder (links to its store and zoo, a copy of its derived data), so nothing the pages
might save lands in the repository."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import page_opener

ROOT = Path(__file__).resolve().parents[1]
CHART_PAGES = ["home", "story", "budget_curves", "small_vs_large", "spread", "adaptive", "reasoning", "other_levers",
               "traces", "real_models", "claims", "zoo_cache"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    if not (ROOT / "cache" / "store" / "batches").is_dir():
        pytest.skip("no shipped cache in this checkout")
    root = tmp_path_factory.mktemp("shipped") / "cache"
    root.mkdir()
    for part in (ROOT / "cache").iterdir():
        if part.name == "derived":
            shutil.copytree(part, root / part.name)
        else:
            (root / part.name).symlink_to(part)
    return root


@pytest.fixture()
def on_shipped(shipped, monkeypatch):
    from backend import explore

    monkeypatch.setenv("TTC_CACHE", str(shipped))
    monkeypatch.chdir(ROOT)
    explore.reset_store()
    yield shipped
    explore.reset_store()


@pytest.mark.parametrize("page", CHART_PAGES)
def test_first_visit_draws_a_chart(on_shipped, page):
    at = page_opener(300)(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart"), f"{page} draws no chart on its default selection: {[i.value for i in at.info]}"


def test_every_story_step_draws_a_chart(on_shipped):
    from backend.explore import story

    for i in range(1, len(story.STEPS) + 1):
        at = page_opener(300)("story", step=str(i))
        assert not at.exception, (i, [e.value for e in at.exception])
        assert at.get("plotly_chart"), f"story step {i} draws no chart: {[x.value for x in at.info + at.warning]}"
