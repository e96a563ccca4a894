"""Import fuzz (issue 10): every malformed-input kind is one line ``error: file:line: what is wrong`` from the CLI,
a non-zero exit, and nothing written — the store's row counts and batch folders are exactly what they were."""
from __future__ import annotations

import json

import pytest

from backend.cli import main
from backend.importers import import_file
from backend.store import Store

TEST_ROWS = [{"question": "Ann has 2 cats and 3 dogs. How many pets?", "answer": "2+3=<<2+3=5>>5\n#### 5"},
             {"question": "What is 12 times 12?", "answer": "12*12=<<12*12=144>>144\n#### 144"}]
Q1, Q2 = (r["question"] for r in TEST_ROWS)
OUT = {"response": "2+3=5. The answer is 5", "response_answer": "5", "label": True}
SFT = [{"idx": 0, "question": Q1, "answer": "x", "ground_truth": "5", "outputs": [OUT, OUT]},
       {"idx": 1, "question": Q2, "answer": "x", "ground_truth": "144", "outputs": [OUT, OUT]}]
CELL = {"is_correct": True, "solution": "2+3=5\nA: 5"}
GPT3 = [{"question": q, "ground_truth": f"A: {g}", "6b_finetuning": CELL, "6b_verification": CELL,
         "175b_finetuning": CELL, "175b_verification": CELL} for q, g in ((Q1, 5), (Q2, 144))]
POT = [{"question": Q1, "answer": 5, "generated": ["ans=5", "ans=6"], "results": [5.0, 6.0], "prediction": 5.0}]
SAL = [{"problem": "What is $1+1$?", "answer": "2", "level": 1, "completions": ["$\\boxed{2}$", "$\\boxed{3}$"],
        "scores": [[0.9], [0.1]], "completion_tokens": [5, 5]},
       {"problem": "What is $2+2$?", "answer": "4", "level": 2, "completions": ["$\\boxed{4}$", "$\\boxed{5}$"],
        "scores": [[0.9], [0.2, 0.3]], "completion_tokens": [5, 6]}]
LME = [{"doc_id": i, "doc": {"question": r["question"], "answer": r["answer"]}, "target": r["answer"],
        "resps": [["The answer is 5.", "The answer is 6."]], "filtered_resps": ["5"], "filter": "maj@2",
        "metrics": ["exact_match"], "exact_match": 1.0} for i, r in enumerate(TEST_ROWS)]
GEN = [{"prompt_id": p, "question": q, "gold": g, "sample_idx": i, "text": f"#### {g}"}
       for p, q, g in (("a", Q1, 5), ("b", Q2, 144)) for i in range(2)]


def _set(rows, i, path, value):
    """A copy of rows with rows[i][path...] = value (path: keys and indices)."""
    rows = json.loads(json.dumps(rows))
    target = rows[i]
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return rows


def _drop(rows, i, key):
    rows = json.loads(json.dumps(rows))
    del rows[i][key]
    return rows


def _lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# (kind, file name, file bytes, extra CLI args, what the one-line error must say)
PUB = ["--test", "{test}"]
MODEL = ["--model", "m", "--params", "7B"]
CASES = [
    ("outputs as a string", "s.jsonl", _lines(_set(SFT, 1, ["outputs"], "oops")), PUB + MODEL,
     "s.jsonl:2: 'outputs' must be a list, not a string"),
    ("outputs as a dict", "s.jsonl", _lines(_set(SFT, 1, ["outputs"], {"response": "x"})), PUB + MODEL,
     "s.jsonl:2: 'outputs' must be a list, not an object"),
    ("response as an int", "s.jsonl", _lines(_set(SFT, 1, ["outputs", 1, "response"], 5)), PUB + MODEL,
     "s.jsonl:2: 'outputs[1].response' must be a string, not an integer"),
    ("NaN", "s.jsonl", _lines(SFT[:1]) + json.dumps(SFT[1]).replace('"ground_truth": "144"',
                                                                     '"ground_truth": NaN').encode() + b"\n",
     PUB + MODEL, "s.jsonl:2: invalid JSON line (NaN is not a number JSON allows)"),
    ("non-UTF-8 bytes", "s.jsonl", _lines(SFT[:1]) + _lines(SFT[1:]).replace(b"144", b"14\xff"), PUB + MODEL,
     "s.jsonl:2: not UTF-8 text (byte 0xff)"),
    ("missing column", "s.jsonl", _lines(_drop(SFT, 1, "outputs")), PUB + MODEL,
     "s.jsonl:2: missing column 'outputs'"),
    ("empty outputs list", "s.jsonl", _lines(_set(SFT, 1, ["outputs"], [])), PUB + MODEL,
     "s.jsonl:2: 'outputs' is an empty list"),
    ("unknown label", "s.jsonl", _lines(_set(SFT, 0, ["outputs", 0, "label"], "yes")), PUB + MODEL,
     "s.jsonl:1: 'outputs[0].label' must be true, false or '[invalid]'"),
    ("null question", "s.jsonl", _lines(_set(SFT, 1, ["question"], None)), PUB + MODEL,
     "s.jsonl:2: 'question' is null"),
    ("truncated JSON line", "s.jsonl", _lines(SFT[:1]) + _lines(SFT[1:])[:40] + b"\n", PUB + MODEL,
     "s.jsonl:2: invalid JSON line"),
    ("a line that is not an object", "s.jsonl", _lines(SFT[:1]) + b"[1, 2]\n", PUB + MODEL,
     "s.jsonl:2: each record must be a JSON object, not a list"),
    ("empty generation file", "s.jsonl", b"", PUB + MODEL, "s.jsonl: empty file"),
    ("empty --test file", "s.jsonl", _lines(SFT), ["--test", "{empty}"] + MODEL,
     "empty.jsonl: no problems in it (empty --test file)"),
    ("non-UTF-8 --test file", "s.jsonl", _lines(SFT), ["--test", "{badtest}"] + MODEL,
     "badtest.jsonl:2: not UTF-8 text (byte 0xe9)"),
    ("Infinity", "gen.jsonl", _lines(GEN[:3]) + json.dumps(GEN[3]).replace('"gold": 144', '"gold": Infinity')
     .encode() + b"\n", MODEL, "gen.jsonl:4: invalid JSON line (Infinity is not a number JSON allows)"),
    ("no model named (s&l)", "sal.jsonl", _lines(SAL), [], "give the model that wrote sal.jsonl: --model NAME"),
    ("PRM size without its name", "sal.jsonl", _lines(SAL), MODEL + ["--prm-params", "8B"],
     "--prm-params is the size of the PRM named by --prm"),
    ("no problem in the --test file", "s.jsonl", _lines(SFT), ["--test", "{other}"] + MODEL,
     "s.jsonl: none of its 2 problem sets has a question of"),
    ("answer is a list (s&l)", "sal.jsonl", _lines(_set(SAL, 1, ["answer"], ["4"])), MODEL,
     "sal.jsonl:2: the gold answer must be text or a number"),
    ("int solution (GPT-3, last line)", "g.jsonl", _lines(_set(GPT3, 1, ["175b_verification", "solution"], 7)), PUB,
     "g.jsonl:2: '175b_verification.solution' must be a string, not an integer (7)"),
    ("is_correct not a boolean (GPT-3)", "g.jsonl", _lines(_set(GPT3, 0, ["6b_finetuning", "is_correct"], "yes")),
     PUB, "g.jsonl:1: '6b_finetuning.is_correct' must be true or false, not a string"),
    ("executed result not a number (PoT)", "p.json", json.dumps(_set(POT, 0, ["results", 1], "abc")).encode(),
     PUB + MODEL, "p.json: record 1: 'results[1]' must be a number"),
    ("more results than programs (PoT)", "p.json", json.dumps(_set(POT, 0, ["results"], [5, 6, 7])).encode(),
     PUB + MODEL, "p.json: record 1: 3 results for 2 generated programs"),
    ("scores not one list per completion (s&l)", "sal.jsonl", _lines(_set(SAL, 1, ["scores"], [[0.5]])), MODEL,
     "sal.jsonl:2: 'scores' has 1 lists for 2 completions"),
    ("step score as a string (s&l)", "sal.jsonl", _lines(_set(SAL, 1, ["scores", 1, 0], "0.2")), MODEL,
     "sal.jsonl:2: 'scores[1][0]' must be a finite number, not a string"),
    ("pool size changes (s&l)", "sal.jsonl", _lines(_set(SAL, 1, ["completions"], ["a", "b", "c"])), MODEL,
     "sal.jsonl:2: 3 completions, but earlier rows have 2"),
    ("level out of range (s&l)", "sal.jsonl", _lines(_set(SAL, 0, ["level"], 7)), MODEL,
     "sal.jsonl:1: 'level' must be a MATH level 1-5"),
    ("not Parquet (s&l)", "sal.parquet", b"PAR1 this is not parquet", MODEL,
     "sal.parquet: not a readable Parquet file"),
    ("loglikelihood responses (lm-eval)", "l.jsonl",
     _lines(_set(LME, 1, ["resps"], [[[-1.5, False]], [[-0.5, True]]])), MODEL,
     "l.jsonl:2: 2 requests for one document: only generate_until tasks"),
    ("response not a string (lm-eval)", "l.jsonl", _lines(_set(LME, 1, ["resps"], [[5, "x"]])), MODEL,
     "l.jsonl:2: 'resps[0][0]' must be a string, not an integer"),
    ("missing doc_id (lm-eval)", "l.jsonl", _lines(_drop(LME, 1, "doc_id")), ["--format", "lm-eval"] + MODEL,
     "l.jsonl:2: missing column 'doc_id'"),
    ("sample index twice (generic)", "gen.jsonl", _lines(_set(GEN, 3, ["sample_idx"], 0)), MODEL,
     "gen.jsonl:4: sample_idx 0 of prompt_id 'b' again (first at"),
    ("sample index missing (generic)", "gen.jsonl", _lines(_set(GEN, 3, ["sample_idx"], 2)), MODEL,
     "gen.jsonl:3: prompt_id 'b' lacks sample_idx [1]"),
    ("step scores on some lines only (generic)", "gen.jsonl", _lines(_set(GEN, 2, ["step_scores"], [0.5])), MODEL,
     "gen.jsonl:3: 'step_scores' must be on every line or on none"),
    ("another gold for one prompt (generic)", "gen.jsonl", _lines(_set(GEN, 1, ["gold"], 6)), MODEL,
     "gen.jsonl:2: prompt_id 'a' has another question, gold, difficulty or prompt_tokens"),
    ("negative token count (generic)", "gen.jsonl", _lines(_set(GEN, 0, ["tokens"], -3)), MODEL,
     "gen.jsonl:1: 'tokens' must be a non-negative integer"),
    ("unreadable Inspect log", "x.eval", b"PK\x03\x04 not a zip", MODEL, "x.eval: not a readable Inspect log"),
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A scratch cache holding one valid import (so 'unchanged' is about real rows), and the test set files."""
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "cache"))
    (tmp_path / "test.jsonl").write_bytes(_lines(TEST_ROWS))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "other.jsonl").write_bytes(_lines([{"question": "Another question?", "answer": "#### 1"}]))
    (tmp_path / "badtest.jsonl").write_bytes(_lines(TEST_ROWS[:1]) + _lines(TEST_ROWS[1:]).replace(b"What", b"Wh\xe9t"))
    (tmp_path / "ok.jsonl").write_bytes(_lines(GEN))
    import_file(tmp_path / "ok.jsonl", Store(tmp_path / "cache" / "store"), models=[("ok", 1000)])
    return tmp_path


def _state(root):
    store = Store(root / "cache" / "store")
    counts = {t: int(store.sql(f"SELECT count(*) AS n FROM {t}")["n"][0])
              for t in ("runs", "prompts", "samples", "scores", "results")}
    return counts, sorted(p.name for p in (root / "cache" / "store" / "batches").iterdir())


@pytest.mark.parametrize("kind,name,content,args,message", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_is_one_line_and_writes_nothing(cache, capsys, kind, name, content, args, message):
    f = cache / name
    f.write_bytes(content)
    before = _state(cache)
    names = {n: cache / f"{n}.jsonl" for n in ("test", "empty", "badtest", "other")}
    argv = ["import", str(f)] + [a.format(**names) for a in args]
    capsys.readouterr()
    assert main(argv) != 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert _state(cache) == before  # nothing stored: same rows, no batch folder added


def test_the_valid_files_import(cache, capsys):
    """The unbroken versions of the files above import, so each case fails for its one defect."""
    files = {"s.jsonl": (_lines(SFT), PUB + MODEL), "g.jsonl": (_lines(GPT3), PUB),
             "p.json": (json.dumps(POT).encode(), PUB + MODEL), "sal.jsonl": (_lines(SAL), MODEL),
             "l.jsonl": (_lines(LME), MODEL), "bom.jsonl": (b"\xef\xbb\xbf" + _lines(GEN), MODEL)}
    for name, (content, args) in files.items():
        (cache / name).write_bytes(content)
        argv = ["import", str(cache / name)] + [a.format(test=cache / "test.jsonl") for a in args]
        assert main(argv) == 0, (name, capsys.readouterr().err)
    assert "added" in capsys.readouterr().out


def test_gpt3_file_with_a_bad_last_line_commits_nothing_then_all_runs_in_one_batch(cache):
    """Issue 10.3: a bad value on the last line used to commit 3 of the 4 runs; now nothing, and the fixed file
    commits its 4 runs in one batch."""
    store = Store(cache / "cache" / "store")
    bad = cache / "g.jsonl"
    bad.write_bytes(_lines(_set(GPT3, 1, ["175b_verification", "solution"], 7)))
    before = _state(cache)
    with pytest.raises(ValueError, match="g.jsonl:2"):
        import_file(bad, store, test=cache / "test.jsonl")
    assert _state(cache) == before
    bad.write_bytes(_lines(GPT3))
    rep = import_file(bad, store, test=cache / "test.jsonl")
    counts, batches = _state(cache)
    assert len(batches) == len(before[1]) + 1 and [r.added for r in rep.runs] == [2, 2, 2, 2]
    assert counts["runs"] == before[0]["runs"] + 4
