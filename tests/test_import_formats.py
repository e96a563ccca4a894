"""Importing search-and-learn, lm-eval-harness, Inspect AI and generic files built here, into a temporary store:
counts, answers (MATH ones by math-verify), tokens and FLOPs, estimators against hand computation, the files' own
numbers against ours, and idempotent re-import."""
from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backend.analysis.estimators import best_of_k, majority_at_k, pass_at_k, weighted_majority_at_k
from backend.importers import import_file
from backend.store import Store

P1 = "What is $\\frac{1}{2} + \\frac{1}{4}$?"
P2 = "Solve $x^2 = 4$ for $x > 0$."
SAL_ROWS = [
    {"problem": P1, "answer": "\\frac{3}{4}", "level": 2, "unique_id": "test/algebra/1.json",
     "completions": ["Add the halves.\n\nSo the answer is $\\boxed{0.75}$.", "Guess.\n\n$\\boxed{\\frac{1}{2}}$"],
     "scores": [[0.9, 0.5], [0.4, 0.8]], "completion_tokens": [30, 20], "agg_scores": [0.5, 0.8],
     "pred": "Guess.\n\n$\\boxed{\\frac{1}{2}}$", "pred_naive@1": "\\boxed{0.75}", "pred_naive@2": "\\boxed{\\frac12}",
     "pred_maj@1": "\\boxed{0.75}", "pred_maj@2": "\\boxed{0.75}", "pred_weighted@1": "\\boxed{0.75}",
     "pred_weighted@2": "\\boxed{\\frac{1}{2}}"},
    {"problem": P2, "answer": "2", "level": "Level 5", "unique_id": "test/algebra/2.json",
     "completions": ["$x = 2$, so $\\boxed{2}$", "Both roots.\n\nNo wait.\n\n$\\boxed{-2}$"],
     "scores": [[0.7], [0.6, 0.2]], "completion_tokens": [12, 25], "agg_scores": [0.7, 0.2],
     "pred": "$x = 2$, so $\\boxed{2}$", "pred_naive@1": "\\boxed{2}", "pred_naive@2": "\\boxed{2}",
     "pred_maj@1": "\\boxed{2}", "pred_maj@2": "\\boxed{3}",  # wrong on purpose: ours is the first of a tie, 2
     "pred_weighted@1": "\\boxed{2}", "pred_weighted@2": "\\boxed{2}"},
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _batches(store: Store) -> list[str]:
    d = store.root / "batches"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _pool(store: Store, run_key: str, verifier: str | None = None):
    """(prompt keys, [P, n] answers, correct, scores) of a stored run, straight from SQL."""
    s = store.sql("SELECT s.prompt_key, s.sample_idx, s.answer, s.correct, p.gold FROM samples s JOIN prompts p "
                  "USING (prompt_key) WHERE run_key = ? ORDER BY s.prompt_key, s.sample_idx", [run_key])
    keys = sorted(set(s.prompt_key))
    n = len(s) // len(keys)
    answers = [[a if isinstance(a, str) else None for a in g.answer] for _, g in s.groupby("prompt_key")]
    correct = s.correct.to_numpy().reshape(len(keys), n)
    gold = [g.gold.iloc[0] for _, g in s.groupby("prompt_key")]
    scores = None
    if verifier:
        sc = store.sql("SELECT score FROM scores WHERE run_key = ? AND verifier = ? ORDER BY prompt_key, "
                       "sample_idx", [run_key, verifier])
        scores = sc.score.to_numpy().reshape(len(keys), n)
    return keys, answers, correct, gold, scores


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def test_search_and_learn_best_of_n(tmp_path, store):
    f = _jsonl(tmp_path / "best_of_n_completions.jsonl", SAL_ROWS)
    rep = import_file(f, store, models=[("llama-1b", 1_000_000_000)], prm="rlhflow-8b", prm_params=8_000_000_000)
    print("\n".join(rep.lines()))
    (run,) = rep.runs
    assert (rep.format, rep.problems, rep.samples, run.strategy, run.n, run.added) == (
        "search-and-learn", 2, 4, "sample", 2, 2)
    prompts = store.sql("SELECT prompt_key, task, gold, n_ops, digits FROM prompts ORDER BY n_ops")
    assert list(prompts.task) == ["math", "math"] and list(prompts.gold) == ["\\frac{3}{4}", "2"]
    assert list(prompts.n_ops) == [2, 5] and prompts.digits.isna().all()  # MATH levels as construction difficulty
    keys, answers, correct, gold, _ = _pool(store, run.run_key)
    by_gold = {g: (a, c.tolist()) for g, a, c in zip(gold, answers, correct)}
    # 0.75 is right (math-verify), so it is stored as the gold string; \frac{1}{2} and -2 are wrong
    assert by_gold["\\frac{3}{4}"] == (["\\frac{3}{4}", "\\frac{1}{2}"], [True, False])
    assert by_gold["2"] == (["2", "-2"], [True, False])
    # best-of-k by the PRM's step scores under each aggregate, against hand computation
    hand = {"last": {1: 0.5, 2: 0.5}, "min": {1: 0.5, 2: 1.0}, "prod": {1: 0.5, 2: 1.0}}
    for how, want in hand.items():
        *_, scores = _pool(store, run.run_key, f"rlhflow-8b:{how}")
        for k, acc in want.items():
            got = np.mean([best_of_k(s, c, k) for s, c in zip(scores, correct)])
            assert got == pytest.approx(acc), (how, k)
    # weighted majority of both samples: P1 {3/4: 0.5, 1/2: 0.8} -> wrong; P2 {2: 0.7, -2: 0.2} -> right
    *_, last = _pool(store, run.run_key, "rlhflow-8b:last")
    wm = [weighted_majority_at_k(a, s, g, 2)[0] for a, s, g in zip(answers, last, gold)]
    assert sorted(wm) == [0.0, 1.0]
    # tokens and FLOPs: the file's completion tokens, the problem as prompt, the PRM charged 2*8e9 per token read
    s = store.sql("SELECT p.question, s.prompt_tokens, s.gen_tokens, s.flops, x.tokens, x.flops AS vflops "
                  "FROM samples s JOIN prompts p USING (prompt_key) JOIN scores x USING (run_key, prompt_key, "
                  "sample_idx) WHERE x.verifier = 'rlhflow-8b:min' ORDER BY s.gen_tokens")
    assert list(s.gen_tokens) == [12, 20, 25, 30]
    assert (s.prompt_tokens == [math.ceil(len(q) / 4) for q in s.question]).all()
    assert np.allclose(s.flops, 2 * 1e9 * (s.prompt_tokens + s.gen_tokens))
    assert (s.tokens == s.prompt_tokens + s.gen_tokens).all() and np.allclose(s.vflops, 2 * 8e9 * s.tokens)
    steps = store.sql("SELECT step_scores, score FROM scores WHERE verifier = 'rlhflow-8b:prod' ORDER BY score")
    assert [list(np.round(x, 6)) for x in steps.step_scores] == [[0.6, 0.2], [0.4, 0.8], [0.9, 0.5], [0.7]]
    assert np.allclose(steps.score, [0.12, 0.32, 0.45, 0.7])
    # the file's own numbers against ours (pred_maj@2 of P2 was made wrong)
    assert {w.split(" vs ")[0]: (a, n) for w, a, n in run.checks} == {
        "file's agg_scores": (4, 4), "file's pred": (2, 2), "file's pred_maj@k": (3, 4),
        "file's pred_naive@k": (4, 4), "file's pred_weighted@k": (4, 4)}
    # idempotent: a second import adds no batch; a second PRM name adds only its scores
    before = _batches(store)
    again = import_file(f, store, models=[("llama-1b", 1_000_000_000)], prm="rlhflow-8b", prm_params=8_000_000_000)
    assert _batches(store) == before and again.runs[0].added == 0
    assert "already stored, nothing added" in again.lines()[1]
    import_file(f, store, models=[("llama-1b", 1_000_000_000)], prm="other-prm")
    assert len(_batches(store)) == len(before) + 1
    counts = store.sql("SELECT verifier, count(*) AS n, sum(flops) AS f FROM scores GROUP BY ALL ORDER BY verifier")
    assert dict(zip(counts.verifier, counts.n)) == {f"{p}:{h}": 4 for p in ("other-prm", "rlhflow-8b")
                                                    for h in ("last", "min", "prod")}
    assert counts.set_index("verifier").f["other-prm:last"] == 0  # no --prm-params: not charged
    assert store.sql("SELECT count(*) AS n FROM samples")["n"][0] == 4


def test_search_and_learn_parquet_reads_as_jsonl(tmp_path):
    js, pa_ = Store(tmp_path / "a"), Store(tmp_path / "b")
    rows = [{**r, "level": i + 1} for i, r in enumerate(SAL_ROWS)]  # one column type, as Parquet needs
    import_file(_jsonl(tmp_path / "x.jsonl", rows), js, models=[("m", 1000)])
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "x.parquet")
    import_file(tmp_path / "x.parquet", pa_, models=[("m", 1000)])
    q = ("SELECT prompt_key, sample_idx, text, answer, correct, prompt_tokens, gen_tokens, flops FROM samples "
         "ORDER BY prompt_key, sample_idx")
    assert js.sql(q).equals(pa_.sql(q))
    q = "SELECT verifier, prompt_key, sample_idx, score FROM scores ORDER BY ALL"
    assert np.allclose(js.sql(q).score, pa_.sql(q).score, atol=1e-6)


def test_search_and_learn_beam_search_is_a_search_run(tmp_path, store):
    f = _jsonl(tmp_path / "beam_search_completions.jsonl", SAL_ROWS)
    (run,) = import_file(f, store, models=[("llama-1b", 1_000_000_000)]).runs
    assert (run.strategy, run.n, run.accuracy) == ("beam", 2, 0.5)  # P1 picks 1/2 (0.8 > 0.5), P2 picks 2
    res = store.sql("SELECT p.gold, x.answer, x.correct, x.n_traces, x.gen_tokens FROM results x JOIN prompts p "
                    "USING (prompt_key) ORDER BY p.gold")
    assert res.values.tolist() == [["2", "2", True, 2, 37], ["\\frac{3}{4}", "\\frac{1}{2}", False, 2, 50]]
    finals = store.sql("SELECT count(*) AS n FROM samples WHERE is_final")["n"][0]
    assert finals == 2
    row = store.sql("SELECT strategy, strategy_params, verifier FROM runs").iloc[0]
    assert row.strategy == "beam" and json.loads(row.strategy_params) == {"budget": 2, "verifier": "prm:last"}


GSM_DOCS = [
    ({"question": "Tom has 3 apples and buys 2 more. How many apples does he have?",
      "answer": "3+2=<<3+2=5>>5\n#### 5"},
     ["3 + 2 = 5. The answer is 5.", "The answer is 6.", "He has 5. The answer is 5.", "no idea"],
     {"score-first": 1, "maj@4": 1, "maj@2": 1}),
    ({"question": "A box holds 4 pens. How many pens are in 3 boxes?", "answer": "4*3=<<4*3=12>>12\n#### 12"},
     ["The answer is 7.", "4 * 3 = 12. The answer is 12.", "The answer is 7.", "The answer is 12."],
     {"score-first": 0, "maj@4": 0, "maj@2": 1}),  # maj@2 labelled right on purpose: the first of 7, 12 is 7
]


def _lm_eval_lines(docs):
    lines = []
    for i, (doc, resps, labels) in enumerate(docs):
        prompt = f"Q: {doc['question']}\nA:"
        for flt, value in labels.items():
            lines.append({"doc_id": i, "doc": doc, "target": doc["answer"].split("####")[-1].strip(),
                          "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["Q:", "\n\n"],
                                                                                   "do_sample": True,
                                                                                   "temperature": 0.2}}},
                          "resps": [resps], "filtered_resps": ["x"], "filter": flt, "metrics": ["exact_match"],
                          "doc_hash": "h", "prompt_hash": "p", "target_hash": "t", "exact_match": float(value)})
    return lines


def test_lm_eval_self_consistency(tmp_path, store):
    f = _jsonl(tmp_path / "samples_gsm8k_cot_self_consistency_2025.jsonl", _lm_eval_lines(GSM_DOCS))
    rep = import_file(f, store, models=[("llama-7b", 7e9)])
    print("\n".join(rep.lines()))
    (run,) = rep.runs
    assert (rep.format, rep.problems, rep.samples, run.n, run.added) == ("lm-eval", 2, 8, 4, 2)
    assert json.loads(store.sql("SELECT sampling FROM runs")["sampling"][0]) == {"n": 4, "temperature": 0.2}
    keys, answers, correct, gold, _ = _pool(store, run.run_key)
    by_gold = dict(zip(gold, answers))
    assert by_gold["5"] == ["5", "6", "5", None] and by_gold["12"] == ["7", "12", "7", "12"]
    assert [pass_at_k(4, int(c.sum()), 2) for c in correct] == pytest.approx([5 / 6, 5 / 6])
    # exact maj@4: prompt 1 wins 2-1; prompt 2 ties 2-2 and is credited 1/2
    assert np.mean([majority_at_k(a, g, 4) for a, g in zip(answers, gold)]) == pytest.approx(0.75)
    assert {w.split(" (")[0]: (a, n) for w, a, n in run.checks} == {
        "filter 'maj@2'": (1, 2), "filter 'maj@4'": (2, 2), "filter 'score-first'": (2, 2)}
    p = store.sql("SELECT s.prompt_tokens, p.question FROM samples s JOIN prompts p USING (prompt_key)")
    assert (p.prompt_tokens == [math.ceil(len(f"Q: {q}\nA:") / 4) for q in p.question]).all()  # the logged prompt
    before = _batches(store)
    assert import_file(f, store, models=[("llama-7b", 7e9)]).runs[0].added == 0 and _batches(store) == before


def test_lm_eval_math_task(tmp_path, store):
    doc = {"problem": "Compute $\\sqrt{8}$.", "solution": "It is $\\boxed{2\\sqrt{2}}$.", "level": "Level 3",
           "type": "Algebra"}
    line = {"doc_id": 0, "doc": doc, "target": "2\\sqrt{2}", "resps": [["$\\boxed{\\sqrt{8}}$", "$\\boxed{3}$"]],
            "filtered_resps": ["x"], "filter": "none", "metrics": ["exact_match"], "exact_match": 0.0}
    (run,) = import_file(_jsonl(tmp_path / "m.jsonl", [line]), store, models=[("m", 1000)]).runs
    got = store.sql("SELECT s.answer, s.correct, p.n_ops, p.task FROM samples s JOIN prompts p USING (prompt_key) "
                    "ORDER BY sample_idx").values.tolist()
    assert got == [["2\\sqrt{2}", True, 3, "math"], ["3", False, 3, "math"]]
    assert run.checks == [("filter 'none' (exact_match) vs our verdict on the first response", 0, 1)]


@pytest.mark.parametrize("log_format", ["eval", "json"])
def test_inspect_log_epochs_as_samples(tmp_path, store, log_format):
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.log import read_eval_log
    from inspect_ai.model import ModelOutput, ModelUsage
    from inspect_ai.scorer import match
    from inspect_ai.solver import solver

    texts = {("p1", 1): "So $\\boxed{2.5}$", ("p1", 2): "It is $\\boxed{\\frac{5}{2}}$", ("p1", 3): "$\\boxed{3}$",
             ("p2", 1): "The answer is 4", ("p2", 2): "$\\boxed{4}$", ("p2", 3): "$\\boxed{-4}$"}
    ours = {("p1", 1): True, ("p1", 2): True, ("p1", 3): False, ("p2", 1): True, ("p2", 2): True, ("p2", 3): False}

    @solver
    def replay():  # outputs chosen per (sample, epoch): no model is called
        async def solve(state, generate):
            text = texts[(state.sample_id, state.epoch)]
            state.output = ModelOutput.from_content("mockllm/model", text)
            state.output.usage = ModelUsage(input_tokens=11, output_tokens=len(text), total_tokens=11 + len(text))
            state.messages.append(state.output.message)
            return state
        return solve

    data = [Sample(id="p1", input="What is 10/4?", target="\\frac{5}{2}"),
            Sample(id="p2", input="What is $\\sqrt{16}$?", target="4")]
    (log,) = inspect_eval(Task(dataset=data, solver=[replay()], scorer=match(), epochs=3), model="mockllm/model",
                          log_dir=str(tmp_path / "logs"), display="none", log_format=log_format)
    assert log.status == "success" and log.location.endswith(f".{log_format}")
    rep = import_file(log.location, store, models=[(None, 3_000_000_000)], task="math")  # format detected
    print("\n".join(rep.lines()))
    (run,) = rep.runs
    assert (rep.format, rep.problems, rep.samples, run.n, run.model) == ("inspect", 2, 6, 3, "mockllm/model")
    s = store.sql("SELECT p.question, s.sample_idx, s.correct, s.prompt_tokens, s.gen_tokens, s.text FROM samples s "
                  "JOIN prompts p USING (prompt_key) ORDER BY p.question, s.sample_idx")
    ids = {"What is 10/4?": "p1", "What is $\\sqrt{16}$?": "p2"}
    assert all(c == ours[(ids[q], i + 1)] for q, i, c in zip(s.question, s.sample_idx, s.correct))
    assert (s.prompt_tokens == 11).all() and (s.gen_tokens == s.text.str.len()).all()  # from output.usage
    # the log's own scorer (exact match on the text's end) against our verdicts, counted by hand from the log
    logged = read_eval_log(log.location)
    hand = sum((x.scores["match"].value == "C") == ours[(x.id, x.epoch)] for x in logged.samples)
    assert run.checks == [("scorer 'match' vs our verdict per sample", hand, 6)]
    mean = sum(x.scores["match"].value == "C" for x in logged.samples) / 6  # the log's verdicts, kept in the notes
    assert f"the log's scores: match mean {mean:.4f} over 6 samples" in store.sql("SELECT notes FROM runs").notes[0]
    assert import_file(log.location, store, models=[(None, 3_000_000_000)], task="math").runs[0].added == 0


def _generic_lines():
    q = {"a": ("Ann has 2 cats and 3 dogs. How many pets?", 5, 1), "b": ("What is 12 times 12?", "144", 2)}
    samples = {"a": [("2 + 3 = 5\n#### 5", [0.9, 0.2]), ("2 + 3 = 6\n#### 6", [0.8, 0.7]),
                     ("#### 5", [0.3])],
               "b": [("#### 144", [0.6]), ("#### 124", [0.9]), ("12*12=144\n#### 144", [0.5, 0.95])]}
    return [{"prompt_id": pid, "question": q[pid][0], "gold": q[pid][1], "sample_idx": i, "text": t,
             "tokens": 10 + i, "step_scores": st, "difficulty": q[pid][2]}
            for pid in q for i, (t, st) in enumerate(samples[pid])]


def test_generic_jsonl(tmp_path, store):
    f = _jsonl(tmp_path / "gen.jsonl", _generic_lines())
    (run,) = import_file(f, store, models=[("my-model", 2e9)], prm="v", prm_params=1e8).runs
    assert (run.n, run.prompts, run.samples, run.accuracy) == (3, 2, 6, pytest.approx(4 / 6))
    keys, answers, correct, gold, last = _pool(store, run.run_key, "v:last")
    assert sorted(gold) == ["144", "5"]
    # best-of-2 by the last step score, by hand over the 3 pairs of each prompt:
    # a: scores .2 (right) .7 (wrong) .3 (right) -> pairs {.2,.7} wrong, {.2,.3} right, {.7,.3} wrong = 1/3
    # b: scores .6 (right) .9 (wrong) .95 (right) -> {.6,.9} wrong, {.6,.95} right, {.9,.95} right = 2/3
    got = {g: best_of_k(s, c, 2) for g, s, c in zip(gold, last, correct)}
    assert got == {"5": pytest.approx(1 / 3), "144": pytest.approx(2 / 3)}
    p = store.sql("SELECT gold, n_ops, task FROM prompts ORDER BY n_ops").values.tolist()
    assert p == [["5", 1, "gsm8k"], ["144", 2, "gsm8k"]]
    assert list(store.sql("SELECT gen_tokens FROM samples ORDER BY sample_idx, prompt_key").gen_tokens) == [
        10, 10, 11, 11, 12, 12]
    before = _batches(store)
    import_file(f, store, models=[("my-model", 2e9)], prm="v", prm_params=1e8)
    assert _batches(store) == before


def test_the_files_own_scores_are_kept_in_the_run_notes(tmp_path, store):
    f = _jsonl(tmp_path / "samples.jsonl", _lm_eval_lines(GSM_DOCS))
    import_file(f, store, models=[("llama-7b", 7e9)])
    notes = store.sql("SELECT notes FROM runs")["notes"][0]
    assert ("the log's scores: maj@2 exact_match 1.0000 over 2 documents, maj@4 exact_match 0.5000 over 2 "
            "documents, score-first exact_match 0.5000 over 2 documents") in notes
