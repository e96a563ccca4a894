"""Importing the real published GSM8K generation sets (shared/data/gsm8k-real, read in place, never copied) into a
temporary cache, and the estimators over the imported rows against numbers recomputed straight from the files."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from backend.analysis.estimators import majority_at_k, pass_at_k
from backend.cli import main
from backend.importers.gsm8k_published import VERIFIER_SAMPLES, import_generations
from backend.store import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k-real"
if not DATA.is_dir():
    pytest.skip(f"real GSM8K files not found at {DATA} (see README: where to get them)", allow_module_level=True)

TEST = DATA / "gsm8k_test.jsonl"
GPT3 = DATA / "gsm8k_gpt3_6b_175b_verifier_solutions.jsonl"
POT = DATA / "llama2-13b_gsm8k_pot1_400x24.json"
SFT = DATA / "llama2-7b-sft_gsm8k_10x500.jsonl"
MODELS = {POT: [("llama2-13b", 13_000_000_000)], SFT: [("llama2-7b-sft", 7_000_000_000)], GPT3: []}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """(store, {file: report}) after importing the three files once."""
    store = Store(tmp_path_factory.mktemp("cache") / "store")
    reports = {path: import_generations(path, TEST, models, store=store) for path, models in MODELS.items()}
    for r in reports.values():
        print("\n".join(r.lines()))
    return store, reports


def test_counts(imported):
    store, reports = imported
    assert [(r.format, r.problems, r.samples, r.matched, r.unmatched) for r in reports.values()] == [
        ("pot_programs", 400, 9600, 400, 0), ("sft_samples", 10, 5000, 10, 0), ("gpt3_verifier", 1319, 5276, 1319, 0)]
    runs = store.sql("SELECT r.model, r.model_params, r.strategy, r.strategy_params, coalesce(r.verifier, '-') AS verifier, r.source, "
                     "count(DISTINCT s.prompt_key) AS prompts, count(*) AS samples, "
                     "count(DISTINCT s.prompt_key || s.sample_idx) AS distinct_samples "
                     "FROM runs r JOIN samples s USING (run_key) GROUP BY ALL ORDER BY r.model, r.strategy")
    got = [(m, p, s, json.loads(sp), v, n, k) for m, p, s, sp, v, n, k in
           runs[["model", "model_params", "strategy", "strategy_params", "verifier", "prompts", "samples"]].itertuples(index=False)]
    assert got == [
        ("gpt3-175b", 175_000_000_000, "best_of_n", {"n": 100, "verifier": "gpt3-175b-verifier"}, "gpt3-175b-verifier", 1319, 1319),
        ("gpt3-175b", 175_000_000_000, "sample", {}, "-", 1319, 1319),
        ("gpt3-6b", 6_700_000_000, "best_of_n", {"n": 100, "verifier": "gpt3-6b-verifier"}, "gpt3-6b-verifier", 1319, 1319),
        ("gpt3-6b", 6_700_000_000, "sample", {}, "-", 1319, 1319),
        ("llama2-13b", 13_000_000_000, "sample", {}, "-", 400, 9600),
        ("llama2-7b-sft", 7_000_000_000, "sample", {}, "-", 10, 5000),
    ]
    assert set(runs["source"]) == {"import"} and (runs["samples"] == runs["distinct_samples"]).all()
    assert store.sql("SELECT count(*) AS n FROM prompts")["n"][0] == 1319  # shared by every run
    assert len(list((store.root / "batches").iterdir())) == 3  # one batch per file: the GPT-3 file's 4 runs in one
    res = store.sql("SELECT r.model, count(*) AS n FROM results x JOIN runs r USING (run_key) GROUP BY ALL")
    assert dict(zip(res["model"], res["n"])) == {"gpt3-6b": 1319, "gpt3-175b": 1319}  # best_of_n only


def test_answers_are_ours_and_agree_with_the_files_labels(imported):
    _, reports = imported
    agreement = {r.source: (r.agree, r.labelled) for rep in reports.values() for r in rep.runs}
    assert agreement["llama2-13b-pot"] == (0, 0)  # no per-sample labels in that file
    assert all(agreement[s] == (1319, 1319) for s in agreement if s.startswith("gpt3"))
    assert agreement["llama2-7b-sft"] == (4999, 5000)  # the one: a response the file's grader marked "[invalid]"


def _pool_by_prompt(store, model):
    df = store.sql("SELECT s.prompt_key, s.answer, s.correct, p.gold, p.question FROM samples s "
                   "JOIN runs r USING (run_key) JOIN prompts p USING (prompt_key) WHERE r.model = ?", [model])
    return {k: g for k, g in df.groupby("prompt_key")}


def test_llama_13b_pass_and_majority_match_the_file(imported):
    store, _ = imported
    pools = _pool_by_prompt(store, "llama2-13b")
    by_question = {g.question.iloc[0]: g for g in pools.values()}
    rows = json.loads(POT.read_text())
    assert len(pools) == len(rows) == 400
    for k in (1, 4, 24):
        ours = np.mean([pass_at_k(len(g), int(g.correct.sum()), k) for g in pools.values()])
        # by hand, from the file: c = executed results equal to the gold answer; failed programs count wrong
        hand = []
        for row in rows:
            n, c = len(row["generated"]), sum(math.isclose(float(r), row["answer"]) for r in row["results"])
            hand.append(1 - math.comb(n - c, k) / math.comb(n, k))
        assert ours == pytest.approx(np.mean(hand), abs=1e-12)
    maj = np.mean([majority_at_k([a if isinstance(a, str) else None for a in g.answer], g.gold.iloc[0], 24)
                   for g in pools.values()])
    hand = []
    for row in rows:  # the whole pool votes; a t-way tie at the top credits the gold answer 1/t
        votes = Counter(float(r) for r in row["results"])
        top = max(votes.values(), default=0)
        tied = [a for a, v in votes.items() if v == top]
        hand.append(any(math.isclose(a, row["answer"]) for a in tied) / len(tied) if tied else 0.0)
        assert by_question[row["question"]].gold.iloc[0] == str(row["answer"])
    assert maj == pytest.approx(np.mean(hand), abs=1e-12)
    print(f"llama2-13b: pass@1 {np.mean([g.correct.mean() for g in pools.values()]):.4f}, maj@24 {maj:.4f}")


def test_gpt3_verifier_and_flops(imported):
    store, _ = imported
    acc = store.sql("SELECT r.model, r.strategy, avg(s.correct::DOUBLE) AS acc FROM samples s JOIN runs r "
                    "USING (run_key) GROUP BY ALL")
    acc = {(m, s): a for m, s, a in acc.itertuples(index=False)}
    rows = [json.loads(line) for line in GPT3.read_text().splitlines()]
    for (model, strategy), col in {("gpt3-6b", "sample"): "6b_finetuning", ("gpt3-6b", "best_of_n"): "6b_verification",
                                   ("gpt3-175b", "sample"): "175b_finetuning",
                                   ("gpt3-175b", "best_of_n"): "175b_verification"}.items():
        assert acc[model, strategy] == pytest.approx(np.mean([r[col]["is_correct"] for r in rows]))
    assert acc["gpt3-6b", "best_of_n"] > acc["gpt3-175b", "sample"]  # Cobbe et al.: a 6B verifier beats 175B finetuned
    both = store.sql("SELECT r.model_params AS n, s.prompt_tokens, s.gen_tokens, s.flops, s.text, p.question, "
                     "x.gen_flops, x.verifier_flops, x.n_traces, x.correct AS res_correct, s.correct "
                     "FROM results x JOIN samples s USING (run_key, prompt_key) JOIN runs r USING (run_key) "
                     "JOIN prompts p USING (prompt_key)")
    assert len(both) == 2 * 1319 and (both.n_traces == VERIFIER_SAMPLES).all() and (both.res_correct == both.correct).all()
    assert (both.prompt_tokens == [math.ceil(len(q) / 4) for q in both.question]).all()
    assert (both.gen_tokens == [math.ceil(len(t) / 4) for t in both.text]).all()
    assert np.allclose(both.flops, 2 * both.n * (both.prompt_tokens + both.gen_tokens))
    assert np.allclose(both.gen_flops, VERIFIER_SAMPLES * both.flops)
    assert np.allclose(both.verifier_flops, VERIFIER_SAMPLES * both.flops)  # a same-size verifier reads each sample


def test_reimport_adds_nothing(imported, monkeypatch, capsys):
    store, reports = imported
    monkeypatch.setenv("TTC_CACHE", str(store.root.parent))
    before = sorted(p.name for p in (store.root / "batches").iterdir())
    assert main(["import", str(SFT), "--test", str(TEST), "--model", "llama2-7b-sft", "--params", "7B"]) == 0
    assert main(["import", str(GPT3), "--test", str(TEST)]) == 0
    out = capsys.readouterr().out
    assert out.count("already stored, nothing added") == 5 and "4999/5000" in out
    assert sorted(p.name for p in (store.root / "batches").iterdir()) == before
    assert main(["import", str(POT), "--test", str(TEST)]) == 2  # a single-model file needs its model named
    assert main(["import", str(GPT3), "--test", str(TEST), "--model", "x", "--params", "1B"]) == 2  # two models
    assert main(["import", str(TEST), "--test", str(TEST), "--model", "x", "--params", "1B"]) == 2
    assert "not a generation set" in capsys.readouterr().err
