"""Pure-logic tests of the GSM8K task (no shared data)."""
import json

import pytest

from backend.tasks import gsm8k as g
from backend.tasks import gsm8k_sources as src


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so she makes 9 * 2 = $<<9*2=18>>18\n#### 18", 18),
        ("#### 1,000", 1000),
        ("#### -5", -5),
        ("The answer is $1,000.50.", 1000.5),
        ("the ANSWER is 42!", 42),
        ("Answer: -7 apples", -7),
        ("The answer is 3.50", 3.5),
        ("It was 12 but the answer is 18 dollars. Check: 18 - 2 = 16", 18),  # the marker beats the last number
        ("#### 7\nThe answer is 9", 7),  # #### first
        ("#### \nthe answer is 20", 20),  # an empty #### falls through
        ("16 - 3 - 4 = 9 eggs.", 9),  # a spaced or infix minus is not a sign
        ("The range is 10-15", 15),
        ("x = -3", -3),
        ("she pays -$5", -5),
        ("A: 26", 26),
        ("about .5 cups", 0.5),
        ("the answer is \\boxed{12}", 12),
        ("12,500,000 people", 12500000),
        ("1,2,3", 3),  # a list, not a thousands separator
        ("no numbers here", None),
        ("", None),
        ("####", None),
        (None, None),
        (12, None),
        (["#### 3"], None),
    ],
)
def test_extract_answer(text, expected):
    got = g.extract_answer(text)
    assert got == expected and type(got) is type(expected)


def test_numbers_are_normalised():
    assert g.to_number("3.50") == 3.5 and g.to_number("18.0") == 18 and isinstance(g.to_number("18.0"), int)
    assert g.to_number("$2,125") == 2125 and g.to_number(18.0) == 18 and g.to_number(float("nan")) is None
    assert g.to_number("12 dollars") is None and g.to_number(True) is None
    assert g.answers_equal("3.50", 3.5) and g.answers_equal(18.0, 18) and g.answers_equal(0.1 + 0.2, 0.3)
    assert not g.answers_equal(1_000_000, 1_000_001) and not g.answers_equal(None, None)
    assert not g.answers_equal("[invalid]", 0) and not g.answers_equal(33.33, 100 / 3)
    assert [g.answer_key(v) for v in (18.0, "18", "$1,000", 0.1 + 0.2, "3.50", -1e-9, "x", None)] == [
        "18", "18", "1000", "0.3", "3.5", "0", None, None]


@pytest.mark.parametrize(
    "ann", ["16-3-4=9", "2/2=1", "80000*1.5=120000", "(2+3)*4=20", "3/4=3/4", "-5+2=-3", "10//3=3", "10%3=1",
            "2**10=1024", "2**-2=0.25", "1,000*2=2000", "0.1+0.2=0.3", ".5*4=2"]
)
def test_annotation_accepts_correct(ann):
    assert g.check_annotation(ann)


@pytest.mark.parametrize(
    "ann",
    ["9*2=19", "16/3=5.3333", "1/0=1", "", "=", "1+=2", "x=1", "2(3)=6", "abc", "9**9**9=1", "2**100000=0",
     "10**10**10=1", "(1" * 300 + "=1", "__import__('os').system('echo hi')=0", "open('f').read()=1",
     "().__class__=1", "[1][0]=1", "1 if 1 else 2=1", "1e400=1", "1e99999999=1", "1j=1", "'a'*3=3", "lambda: 1=1", "2**0.5=1.4"],
)
def test_annotation_rejects_wrong_garbage_and_dangerous(ann):
    assert g.check_annotation(ann) is False


def test_annotation_rounding_is_opt_in():
    for ann in ["40/3=13.3333", "2/3=0.6666", "2/3=0.67", "1.87*9=16.830000000000002"]:
        assert not g.check_annotation(ann) and g.check_annotation(ann, rounding=True)
    for ann in ["40/3=13", "2.5*2=5.1", "16/3=5.3331", "25*3=7500"]:  # integers stay exact; wrong stays wrong
        assert not g.check_annotation(ann, rounding=True)


def test_check_annotations_and_steps():
    sol = "A <<2+2=4>>4 and <<3*3=10>>10\nno maths here\n\nB <<5-1=4>>4\n#### 4"
    assert g.check_annotations(sol) == [True, False, True]
    assert g.split_steps(sol) == ["A <<2+2=4>>4 and <<3*3=10>>10", "no maths here", "B <<5-1=4>>4"]
    assert g.step_labels(sol) == [False, True, True]
    assert g.check_annotations(None) == [] and g.check_annotations("<<<>>>") == [False]
    assert g.check_annotations("<<2+2=4\nnext <<1+1=2>>2") == [True]  # an unclosed note does not swallow a step


def test_load_jsonl_and_problem(tmp_path):
    f = tmp_path / "d.jsonl"
    rows = [{"question": "Q  one?\n", "answer": "1+1=<<1+1=2>>2\n#### 2"}, {"question": "Q2", "answer": "#### 2,125"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    p, q = g.load_jsonl(f)
    assert (p.gold, q.gold) == (2, 2125) and p.key == g.question_key("Q one?") and len(p.key) == 12
    assert p.prompt == "Question: Q  one?\n\nAnswer:"
    with pytest.raises(Exception):
        p.gold = 3  # frozen
    for bad in ['{"question": "q"}', '{"question": "q", "answer": "no marker"}', "not json",
                '{"question": "q", "answer": "#### x"}']:
        f.write_text(json.dumps(rows[0]) + "\n" + bad + "\n")
        with pytest.raises(ValueError, match=r"d\.jsonl:2"):
            g.load_jsonl(f)


def test_prompts_are_deterministic_and_skip_the_question():
    ex = [g.Problem(f"q{i}", f"s{i}\n#### {i}", i) for i in range(4)]
    assert g.format_prompt("q9") == "Question: q9\nAnswer:"
    two = g.format_prompt("q0", shots=2, examples=ex)
    assert two == "Question: q1\nAnswer: s1\n#### 1\n\nQuestion: q2\nAnswer: s2\n#### 2\n\nQuestion: q0\nAnswer:"
    assert two == g.format_prompt("q0", shots=2, examples=ex)
    with pytest.raises(ValueError):
        g.format_prompt("q0", shots=4, examples=ex)
    msgs = g.chat_messages("q9", shots=1, examples=ex)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"] and msgs[-1]["content"] == "q9"
    assert g.chat_messages("q9", system=None) == [{"role": "user", "content": "q9"}]


def _write(path, rows, as_list=False):
    path.write_text(json.dumps(rows, indent=1) if as_list else "\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_sources_on_synthetic_files(tmp_path):
    cell = {"is_correct": True, "solution": "1+1=<<1+1=2>>2\nA: 2"}
    row = {"question": "Q", "ground_truth": "A: 2", **{k: cell for k in src.GPT3_SOURCES}}
    gpt3 = _write(tmp_path / "a.jsonl", [row])
    pot_rows = [{"question": "Q", "answer": 2, "generated": ["ans=2", "ans=1/0"], "results": [2.0], "prediction": 2.0},
                {"question": "R", "answer": 3, "generated": ["ans=3"], "results": [3.0], "prediction": 3.0}]
    pot = _write(tmp_path / "b.json", pot_rows, as_list=True)
    outs = [{"response": "The answer is 2", "response_answer": "2", "label": True},
            {"response": "the answer is 2", "response_answer": "[invalid]", "label": "[invalid]"}]
    sft = _write(tmp_path / "c.jsonl", [{"idx": 0, "question": "Q\n", "ground_truth": "2", "outputs": outs}])
    data = _write(tmp_path / "d.jsonl", [{"question": "Q", "answer": "#### 2"}])
    assert [src.detect_format(p) for p in (data, gpt3, pot, sft)] == list(src.FORMATS)

    sets = src.read_generations(gpt3)
    assert [s.source_label for s in sets] == list(src.GPT3_SOURCES.values())
    assert sets[0].samples[0].answer == 2 and sets[0].samples[0].label_from_file is True and sets[0].gold_from_file == 2

    q, r = src.read_generations(pot)
    assert [(x.text, x.answer) for x in q.samples] == [(None, 2), (None, None)]  # unaligned: texts kept apart
    assert q.samples[1].extra["failed"] and q.extra["unpaired_texts"] == ["ans=2", "ans=1/0"]
    assert [(x.text, x.answer) for x in r.samples] == [("ans=3", 3)]

    (s,) = src.read_generations(sft)
    assert [x.answer for x in s.samples] == [2, 2] and [x.label_from_file for x in s.samples] == [True, False]
    assert s.samples[1].extra == {"raw_label": "[invalid]"}

    test = g.load_jsonl(data)
    matched, unmatched = src.match_to_test([s, q, r], test)
    assert [(m.source_label, p.question) for m, p in matched] == [(src.SFT_LABEL, "Q"), (src.POT_LABEL, "Q")]
    assert unmatched == [r]
    with pytest.raises(ValueError, match="dataset"):
        src.read_generations(data)


@pytest.mark.parametrize("content", ['{"question": "q", "foo": 1}\n', "[1, 2]", "not json", "", '[{"x": 1}]'])
def test_detect_format_refuses_unknown(tmp_path, content):
    f = tmp_path / "x.json"
    f.write_text(content)
    with pytest.raises(ValueError, match="x.json"):
        src.detect_format(f)
