"""Shared fixtures: a micro zoo trained once per test session into a temporary cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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
