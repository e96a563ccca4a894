"""Live runs: caps enforced in the backend, and two users running at once on one loaded model neither corrupt each
other's results nor the cache."""
from __future__ import annotations

import threading

import pytest

from backend import live
from backend.store import Store


def test_caps_and_bad_input_are_clear_errors(use_cache):
    with pytest.raises(ValueError, match="outside 1..256"):
        live.plan("micro-cot-a", "sample", 10_000)
    with pytest.raises(ValueError, match="unknown model"):
        live.plan("../../etc/passwd", "sample", 4)
    with pytest.raises(ValueError, match="cannot run live"):
        live.plan("micro-cot-a", "adaptive", 4)
    with pytest.raises(ValueError, match="'x'"):
        live.validate_prompt("micro-cot-a", "12+x")
    with pytest.raises(ValueError, match="characters"):
        live.validate_prompt("micro-cot-a", "1+" * 150)


def test_two_users_at_once_store_each_run_once(use_cache, tmp_path):
    store = Store(tmp_path / "store")
    spec = live.plan("micro-cot-a", "sample", 8)
    prompts = [live.validate_prompt("micro-cot-a", t) for t in ("12+34*5", "7*8-9")]
    alone = {p.key: [s["text"] for s in live.run(spec, p, store=Store(tmp_path / "alone")).outcomes[0].samples]
             for p in prompts}
    reports, errors = {}, []

    def user(i: int, prompt) -> None:
        try:
            reports[i] = live.run(spec, prompt, store=store)
        except Exception as e:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=user, args=(i, prompts[i % 2])) for i in range(4)]  # two users per prompt
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    store.refresh()
    rows = store.sql("SELECT prompt_key, sample_idx, text FROM samples ORDER BY prompt_key, sample_idx")
    assert len(rows) == 16 and not rows.duplicated(["prompt_key", "sample_idx"]).any()
    for key, texts in alone.items():  # seeded per prompt: the same samples as a run alone
        assert rows[rows["prompt_key"] == key]["text"].tolist() == texts
    done = [r for r in reports.values() if r.outcomes]
    assert len(reports) == 4 and len(done) >= 2
