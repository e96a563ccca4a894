"""Damaged caches: every kind of hostile Parquet file in a batch is named and skipped by the reader, never fatal,
never deleted; compaction quarantines the damaged batch intact and never loses a readable row."""
from __future__ import annotations

import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backend.store import Store, commit_batch
from backend.store.compact import compact
from backend.store.schema import SCHEMA_VERSION, TABLES, VERSION_KEY

META = {VERSION_KEY: str(SCHEMA_VERSION).encode()}


def _sample(prompt: str, idx: int = 0, run: str = "r1") -> dict:
    return {"run_key": run, "prompt_key": prompt, "sample_idx": idx, "text": f"T:{prompt}\nA:{idx}", "answer": str(idx),
            "correct": idx == 0, "prompt_tokens": 6, "gen_tokens": 11, "think_tokens": 7, "sum_logprob": -1.5,
            "token_logprobs": [-0.5], "forced": None, "flops": 34.0, "finish_reason": "eos", "is_final": False,
            "node_id": None}


def _run_row(run: str = "r1") -> dict:
    return {"run_key": run, "model": "m", "model_params": 10, "strategy": "sample"}


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path):
    path.write_bytes(random.Random(0).randbytes(4000))


def _empty(path):
    path.write_bytes(b"")


def _extra_column(path):
    t = pq.read_table(path)
    pq.write_table(t.append_column("surprise", pa.array([1] * t.num_rows)).replace_schema_metadata(META), path)


def _missing_column(path):
    t = pq.read_table(path)
    pq.write_table(t.drop_columns(["answer"]).replace_schema_metadata(META), path)


def _garbled_pages(path):
    """A valid footer over damaged data pages: only reading the data finds it."""
    data = bytearray(path.read_bytes())
    for i in range(8, len(data) // 2):
        data[i] = 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {"truncated": _truncated, "random bytes": _random_bytes, "empty": _empty, "extra column": _extra_column,
          "missing column": _missing_column}


def _cache(root):
    """Three batches: two good ones around the one the test damages (its runs file stays readable)."""
    commit_batch({"runs": [_run_row()], "samples": [_sample("p1", i) for i in range(3)]}, root)
    victim = commit_batch({"runs": [_run_row("r2")], "samples": [_sample("p2", i, "r2") for i in range(3)]}, root)
    commit_batch({"samples": [_sample("p3", i) for i in range(3)]}, root)
    return victim


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_file_is_named_skipped_and_quarantined_intact(tmp_path, kind, capsys):
    victim = _cache(tmp_path)
    DAMAGE[kind](victim / "samples.parquet")
    before = {p.name: p.read_bytes() for p in victim.iterdir()}
    st = Store(tmp_path)
    assert sorted(st.sql("SELECT DISTINCT prompt_key FROM samples")["prompt_key"]) == ["p1", "p3"]
    assert st.sql("SELECT run_key FROM runs")["run_key"].tolist() == ["r1"]  # never half a batch
    assert any(victim.name in p and "samples.parquet" in p for p in st.problems)
    out = compact(st)
    assert out["quarantined"] == [str(tmp_path / "quarantine" / victim.name)]
    moved = tmp_path / "quarantine" / victim.name
    assert {p.name: p.read_bytes() for p in moved.iterdir()} == before  # intact: recoverable by hand
    after = Store(tmp_path)
    assert after.sql("SELECT count(*) n FROM samples")["n"][0] == 6 and not after.problems
    assert len(after.batches) == 1


def test_damaged_data_pages_behind_a_valid_footer_are_found_and_never_deleted(tmp_path):
    victim = _cache(tmp_path)
    _garbled_pages(victim / "samples.parquet")
    st = Store(tmp_path)
    out = compact(st)  # compaction reads every page before it merges a batch
    assert (tmp_path / "quarantine" / victim.name / "samples.parquet").exists() and out["quarantined"]
    assert Store(tmp_path).sql("SELECT count(*) n FROM samples")["n"][0] == 6


def test_a_zero_row_table_in_a_batch_reads_as_empty(tmp_path):
    commit_batch({"runs": [_run_row()], "samples": [_sample("p1")]}, tmp_path)
    d = commit_batch({"runs": [_run_row("r2")]}, tmp_path)
    for name in ("samples", "scores", "results", "nodes"):
        pq.write_table(TABLES[name].empty_table().replace_schema_metadata(META), d / f"{name}.parquet")
    st = Store(tmp_path)
    assert st.sql("SELECT count(*) n FROM samples")["n"][0] == 1
    assert set(st.sql("SELECT run_key FROM runs")["run_key"]) == {"r1", "r2"} and not st.problems
    assert compact(st)["batches_after"] == 1


def test_orphaned_scores_are_kept_and_ignored_by_pool_loading(tmp_path):
    """Scores whose samples sit in a quarantined batch stay stored (one rule: rows are never dropped for being
    orphaned) and a pool built from the samples that remain simply does not use them."""
    from backend.analysis.data import load_pool

    prompts = [{"prompt_key": p, "task": "arith", "text": "Q:1\n", "question": "1", "gold": "0"} for p in ("p1", "p2")]
    commit_batch({"runs": [{**_run_row(), "sampling": '{"n": 2}'}], "prompts": prompts,
                  "samples": [_sample("p1", i) for i in range(2)]}, tmp_path)
    victim = commit_batch({"samples": [_sample("p2", i) for i in range(2)]}, tmp_path)
    score = lambda p, i: {"run_key": "r1", "prompt_key": p, "sample_idx": i, "verifier": "v", "score": 0.5,
                          "step_scores": [0.5], "tokens": 3, "flops": 0.0}
    commit_batch({"scores": [score(p, i) for p in ("p1", "p2") for i in range(2)]}, tmp_path)
    _truncated(victim / "samples.parquet")
    st = Store(tmp_path)
    compact(st)
    assert st.sql("SELECT count(*) n FROM scores")["n"][0] == 4
    pool = load_pool(st, "r1")
    assert pool.prompt_keys.tolist() == ["p1"] and pool.scores["v"].shape == (1, 2)


def test_a_corrupt_replaces_file_never_hides_data(tmp_path):
    commit_batch({"samples": [_sample("p1")]}, tmp_path)
    d = commit_batch({"samples": [_sample("p2")]}, tmp_path)
    (d / "replaces.json").write_text("{not json")
    st = Store(tmp_path)
    assert st.sql("SELECT prompt_key FROM samples")["prompt_key"].tolist() == ["p1"]
    assert any("replaces.json" in p for p in st.problems)


def test_a_batch_deleted_by_hand_is_forgotten_not_fatal(tmp_path):
    commit_batch({"samples": [_sample("p1")]}, tmp_path)
    d = commit_batch({"samples": [_sample("p2")]}, tmp_path)
    st = Store(tmp_path)
    shutil.rmtree(d)
    assert st.sql("SELECT prompt_key FROM samples")["prompt_key"].tolist() == ["p1"]
