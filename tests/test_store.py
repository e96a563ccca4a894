import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.analysis.compute import sample_flops
from backend.engines.base import SamplingParams
from backend.runner import RunSpec, execute
from backend.store import Store, commit_batch
from backend.store.schema import SchemaMismatch
from backend.tasks import arith_prompts
from backend.zoo.registry import read_card

ROOT = Path(__file__).resolve().parents[1]


def _sample(run="r1", prompt="p1", idx=0, **kw):
    row = {"run_key": run, "prompt_key": prompt, "sample_idx": idx, "text": "T:1+1=2\nA:2", "answer": "2",
           "correct": True, "prompt_tokens": 6, "gen_tokens": 11, "think_tokens": 7, "sum_logprob": -1.5,
           "token_logprobs": [-0.5, -1.0], "forced": None, "flops": 34.0, "finish_reason": "eos",
           "is_final": False, "node_id": None}
    row.update(kw)
    return row


def test_round_trip(tmp_path):
    rows = [_sample(idx=i, text=f"t{i}", token_logprobs=[float(-i)]) for i in range(5)]
    commit_batch({"samples": rows, "prompts": [{"prompt_key": "p1", "task": "arith", "text": "Q:1+1\n",
                                                "question": "1+1", "gold": "2", "n_ops": 1, "digits": 1,
                                                "split": "heldout"}]}, tmp_path)
    st = Store(tmp_path)
    got = st.sql("SELECT * FROM samples WHERE run_key = ? ORDER BY sample_idx", ["r1"])
    assert got["text"].tolist() == [f"t{i}" for i in range(5)]
    assert [list(x) for x in got["token_logprobs"]] == [[float(-i)] for i in range(5)]
    assert st.sql("SELECT gold, n_ops FROM prompts").iloc[0].tolist() == ["2", 1]


def test_later_batches_never_duplicate_a_run_prompt_pair(tmp_path):
    commit_batch({"samples": [_sample(idx=i) for i in range(3)]}, tmp_path)
    commit_batch({"samples": [_sample(idx=i, text="dup") for i in range(3)]}, tmp_path)  # e.g. two live users
    commit_batch({"samples": [_sample(prompt="p2")]}, tmp_path)
    st = Store(tmp_path)
    assert st.sql("SELECT count(*) n FROM samples")["n"][0] == 4
    assert "dup" not in st.sql("SELECT text FROM samples")["text"].tolist()
    assert st.done_prompts("r1") == {"p1", "p2"}


def test_run_keys_differ_in_every_output_changing_parameter():
    base = dict(n=4, temperature=0.8, top_p=1.0, top_k=0, max_new_tokens=100, seed=0)
    ref = RunSpec.make("m", "sample", SamplingParams(**base)).key("fp")
    for field, value in [("n", 5), ("temperature", 0.9), ("top_p", 0.95), ("top_k", 50), ("max_new_tokens", 99),
                         ("seed", 1)]:
        assert RunSpec.make("m", "sample", SamplingParams(**{**base, field: value})).key("fp") != ref, field
    assert RunSpec.make("m2", "sample", SamplingParams(**base)).key("fp") != ref
    assert RunSpec.make("m", "sample", SamplingParams(**base)).key("other-weights") != ref
    assert RunSpec.make("m", "sample", SamplingParams(**base), verifier="v").key("fp") != ref
    assert RunSpec.make("m", "sample", SamplingParams(**base), params={"b": 1}).key("fp") != ref
    assert RunSpec.make("m", "sample", SamplingParams(**base)).key("fp") == ref


def test_corrupt_file_is_named_and_skipped(tmp_path, capsys):
    good = commit_batch({"samples": [_sample()]}, tmp_path)
    bad = commit_batch({"samples": [_sample(prompt="p2")]}, tmp_path)
    data = (bad / "samples.parquet").read_bytes()
    (bad / "samples.parquet").write_bytes(data[: len(data) // 2])  # truncated
    st = Store(tmp_path)
    assert st.sql("SELECT prompt_key FROM samples")["prompt_key"].tolist() == ["p1"]
    assert any(str(bad / "samples.parquet") in p for p in st.problems)
    assert "skipping batch" in capsys.readouterr().err
    assert good.exists()


def test_schema_version_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    import backend.store.writer as w

    monkeypatch.setattr(w, "SCHEMA_VERSION", 999)
    commit_batch({"samples": [_sample()]}, tmp_path)
    monkeypatch.undo()
    with pytest.raises(SchemaMismatch, match="schema v999"):
        Store(tmp_path)


def test_temporary_folders_are_invisible(tmp_path):
    commit_batch({"samples": [_sample()]}, tmp_path)
    tmp = tmp_path / "batches" / "_tmp-b-half"
    tmp.mkdir()
    (tmp / "samples.parquet").write_bytes(b"PAR1 half written")
    assert Store(tmp_path).sql("SELECT count(*) n FROM samples")["n"][0] == 1


def test_recorded_flops_follow_the_formula(use_cache, tmp_path):
    prompts = arith_prompts(1)[:6]
    spec = RunSpec.make("micro-cot-a", "sample", SamplingParams(n=4, temperature=1.0, max_new_tokens=40))
    st = Store(tmp_path)
    rep = execute(spec, prompts, store=st, batch_prompts=4)
    rows = st.sql("SELECT s.*, r.model_params FROM samples s JOIN runs r USING (run_key)")
    assert len(rows) == 24 and rep.samples == 24
    card = read_card("micro-cot-a")  # FLOPs follow from token counts and the model's shape, attention included
    for _, r in rows.iterrows():
        assert r["flops"] == pytest.approx(sample_flops(card, r["prompt_tokens"], r["gen_tokens"]), rel=1e-12)
        assert r["flops"] > 2 * r["model_params"] * (r["prompt_tokens"] + r["gen_tokens"])
    again = execute(spec, prompts, store=st)
    assert again.prompts_done == 0 and again.prompts_skipped == 6


WRITER = """
import sys, time
from backend.engines.base import SamplingParams
from backend.runner import RunSpec, execute
from backend.tasks import arith_prompts
spec = RunSpec.make("micro-cot-a", "sample", SamplingParams(n=16, temperature=1.0, max_new_tokens=60))
from backend.store import Store
execute(spec, arith_prompts(2), store=Store(), batch_prompts=3,
        on_batch=lambda r, t: print("committed", r.prompts_done, flush=True))
"""


def test_sigkill_mid_batch_leaves_a_readable_cache_and_resume_completes(use_cache, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTC_CACHE": str(use_cache.parent / "killcache")}
    (use_cache.parent / "killcache").mkdir(exist_ok=True)
    os.symlink(use_cache / "zoo", use_cache.parent / "killcache" / "zoo")
    proc = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True)
    commits = 0
    while commits < 2:  # let two batches land, then kill during the third
        line = proc.stdout.readline()
        assert line, "writer ended before it was killed"
        commits += line.startswith("committed")
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store_root = use_cache.parent / "killcache" / "store"
    st = Store(store_root)
    per_prompt = st.sql("SELECT prompt_key, count(*) n FROM samples GROUP BY 1")
    assert len(per_prompt) % 3 == 0 and len(per_prompt) >= 6
    assert set(per_prompt["n"]) == {16}  # whole prompts only, never half a batch
    done = subprocess.run([sys.executable, "-c", WRITER], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    st.refresh()
    counts = st.sql("SELECT count(*) n, count(DISTINCT prompt_key) p FROM samples").iloc[0]
    assert counts["p"] == len(arith_prompts(2)) and counts["n"] == 16 * counts["p"]
    assert st.sql("SELECT count(*) n FROM (SELECT DISTINCT run_key, prompt_key, sample_idx FROM samples)")["n"][0] == counts["n"]


def test_compaction_of_new_batches_only_keeps_the_base_byte_for_byte(tmp_path):
    """--new-only: the oldest batch stays as it is, the later ones become one batch, the rows read are the same,
    and a later batch's duplicate of a base pair still loses to the base."""
    from backend.store.compact import compact

    commit_batch({"samples": [_sample(prompt="p0", idx=i) for i in range(3)],
                  "runs": [{"run_key": "r1", "model": "m", "model_params": 10}]}, tmp_path)
    base = sorted((tmp_path / "batches").iterdir())[0]
    base_bytes = {f.name: f.read_bytes() for f in base.iterdir()}
    commit_batch({"samples": [_sample(prompt="p0", idx=0, text="dup")]}, tmp_path)
    for p in range(1, 4):
        commit_batch({"samples": [_sample(prompt=f"p{p}", idx=i) for i in range(2)]}, tmp_path)
    before = Store(tmp_path).sql("SELECT * FROM samples ORDER BY prompt_key, sample_idx").drop(columns="batch")
    out = compact(Store(tmp_path), keep_base=True)
    assert out["batches_before"] == 5 and out["batches_after"] == 2
    assert {f.name: f.read_bytes() for f in base.iterdir()} == base_bytes
    after = Store(tmp_path).sql("SELECT * FROM samples ORDER BY prompt_key, sample_idx").drop(columns="batch")
    assert before.astype(str).equals(after.astype(str)) and "dup" not in after["text"].tolist()
    with pytest.raises(ValueError, match="new-only"):
        compact(Store(tmp_path), keep_base=True, drop_runs={"r1"})


def test_compaction_keeps_every_row_once_and_readers_see_no_gap(tmp_path):
    from backend.store.compact import compact

    for p in range(5):
        commit_batch({"samples": [_sample(prompt=f"p{p}", idx=i, token_logprobs=[0.5] * i) for i in range(3)],
                      "runs": [{"run_key": "r1", "model": "m", "model_params": 10}]}, tmp_path)
    early = Store(tmp_path)
    before = early.sql("SELECT * FROM samples ORDER BY prompt_key, sample_idx").drop(columns="batch")
    out = compact(Store(tmp_path))
    assert out["batches_before"] == 5 and out["batches_after"] == 1
    after = Store(tmp_path).sql("SELECT * FROM samples ORDER BY prompt_key, sample_idx").drop(columns="batch")
    assert before.astype(str).equals(after.astype(str))
    early.refresh()  # a reader opened before compaction reloads cleanly
    assert early.sql("SELECT count(*) n FROM samples")["n"][0] == 15
    assert len(list((tmp_path / "batches").iterdir())) == 1
