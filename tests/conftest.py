"""Shared fixtures: a micro zoo trained once per test session into a temporary cache."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch


def pytest_configure(config):
    """The test session owns the process's one cache store (as app.py and the CLI do), opened on first use."""
    from backend.explore import own_store
    from backend.store import Store

    own_store(Store)


SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_DATA = SHARED / "data" / "gsm8k-real"

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def micro_cache(tmp_path_factory) -> Path:
    """A cache folder holding the quick micro zoo (trained in well under a minute)."""
    from backend.zoo.configs import QUICK
    from backend.zoo.train import train_member

    root = tmp_path_factory.mktemp("cache")
    for spec in QUICK:
        train_member(spec, device="cpu", root=root / "zoo", state_dir=root / "state", eval_per_cell=8, quiet=True)
    return root


@pytest.fixture()
def use_cache(micro_cache, monkeypatch) -> Path:
    """Point the backend at the micro cache for one test."""
    monkeypatch.setenv("TTC_CACHE", str(micro_cache))
    return micro_cache


@pytest.fixture(scope="session")
def app_cache(micro_cache, tmp_path_factory) -> Path:
    """The micro zoo, a quickly trained learned verifier and a quick build of every kind of run (18 prompts)."""
    from backend import explore
    from backend.build import build, default_plan
    from backend.verifiers.learned import verifier_dir
    from backend.verifiers.train_learned import train

    root = tmp_path_factory.mktemp("appcache")
    shutil.copytree(micro_cache / "zoo", root / "zoo")
    old = os.environ.get("TTC_CACHE")
    os.environ["TTC_CACHE"] = str(root)
    try:
        explore.reset_store()
        train(verifier_dir(), generators=("micro-cot-a",), init_from="micro-cot-b", n_prompts=60, n_per_prompt=2,
              epochs=1, heldout_per_cell=1, quiet=True)
        build(default_plan(per_cell=1, quick=True), explore.store(), quiet=True)
        if REAL_DATA.exists():  # published generations, so the Real models page has something to show
            from backend.importer import import_generations

            test = REAL_DATA / "gsm8k_test.jsonl"
            import_generations(REAL_DATA / "llama2-7b-sft_gsm8k_10x500.jsonl", test, [("llama2-7b-sft", 7_000_000_000)],
                               store=explore.store())
            import_generations(REAL_DATA / "gsm8k_gpt3_6b_175b_verifier_solutions.jsonl", test, store=explore.store())
    finally:
        if old is None:
            os.environ.pop("TTC_CACHE")
        else:
            os.environ["TTC_CACHE"] = old
    return root




@pytest.fixture()
def on_app_cache(app_cache, monkeypatch):
    """The shared store pointed at the app cache for one test, forgotten before and after."""
    from backend import explore

    monkeypatch.setenv("TTC_CACHE", str(app_cache))
    explore.reset_store()
    yield app_cache
    explore.reset_store()


def page_opener(timeout: int, always_run_home: bool = False):
    """An AppTest opener: ``open_page(page, **params)`` runs app.py, switches to pages/<page>.py (Home stays on app.py
    unless ``always_run_home``) and sets the query parameters after the switch (a switch starts from a clean URL)."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]

    def open_page(page: str, **params):
        at = AppTest.from_file(str(root / "app.py"), default_timeout=timeout)
        if page != "home" or always_run_home:
            at.run()
            at.switch_page(f"pages/{page}.py")
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        return at

    return open_page
