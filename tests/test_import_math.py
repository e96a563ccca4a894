"""MATH-style answers checked by math-verify (fractions, radicals, intervals, sets, units, degrees), grouped so that
vote counts by string are counts by value; MATH levels as construction difficulty; a clear error without the
package."""
from __future__ import annotations

import sys

import pandas as pd
import pytest

from backend.analysis.difficulty import construction_bins
from backend.tasks import get_task, math_answers as m, math_record

SAME = [("\\frac{1}{2}", "0.5"), ("\\frac{1}{2}", "\\dfrac12"), ("2\\sqrt{2}", "\\sqrt{8}"),
        ("(-\\infty, 3]", "(-\\infty,3]"), ("10\\text{ cm}", "10"), ("90^\\circ", "90"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"), ("x^2+2x", "2x+x^2"),
        ("\\{1,2\\}", "\\{2,1\\}"), ("\\$18.90", "18.9"), ("\\text{(C)}", "C")]
DIFFERENT = [("(-\\infty, 3]", "(-\\infty,3)"), ("5", "6"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("\\sqrt{2}", "2"),
             ("x^2", "x^3"), ("\\text{Devon}", "\\text{Evan}")]


@pytest.mark.parametrize("gold,answer", SAME)
def test_equivalent_answers(gold, answer):
    assert m.equivalent(gold, answer)


@pytest.mark.parametrize("gold,answer", DIFFERENT)
def test_different_answers(gold, answer):
    assert not m.equivalent(gold, answer)


def test_extraction():
    assert m.last_boxed("so \\boxed{\\frac{1}{2}} and finally \\boxed{x^{2}+1}.") == "x^{2}+1"  # nested braces
    assert m.last_boxed("\\fbox{3}") == "3" and m.last_boxed("\\boxed{open") is None and m.last_boxed(None) is None
    assert m.extract("Therefore, the final answer is: $\\boxed{\\frac{3}{4}}$. I hope it is correct.") == "\\frac{3}{4}"
    assert m.extract("The answer is 42.") == "42"  # no box: math-verify's own extraction
    assert m.strip_boxed("\\boxed{\\frac12}") == "\\frac12" and m.strip_boxed(" 7 ") == "7"
    assert m.split_steps("## Step 1: a\n\n## Step 2: b\n\n\n\n") == ["## Step 1: a", "## Step 2: b"]
    text = "Work.\n\n$\\boxed{4}$"
    assert text[m.answer_position(text):].startswith("\\boxed") and m.answer_position("none") == -1


def test_group_answers_makes_votes_count_values():
    keys, correct = m.group_answers("\\frac12", ["0.5", "1/2", "\\dfrac{1}{2}", "2", "2.0", None, "abc", "abc"])
    assert keys == ["\\frac12"] * 3 + ["2", "2", None, "abc", "abc"]
    assert correct == [True, True, True, False, False, False, False, False]


def test_math_task_checks_with_math_verify():
    task = get_task("math")
    p = math_record("What is $1/2$ as a decimal?", "\\frac{1}{2}", level=1)
    assert (p.key.startswith("math:"), p.task, p.n_ops, p.digits) == (True, "math", 1, None)
    assert task.correct(p, "0.5") and not task.correct(p, "0.6") and not task.correct(p, None)
    assert task.extract("... $\\boxed{0.5}$") == "0.5"
    assert math_record("What is  $1/2$ as a decimal?", "x").key == p.key  # keyed by normalised text
    with pytest.raises(ValueError, match="no exact step checker"):
        task.step_labels(p, "a\n\nb")


def test_math_levels_are_construction_bins():
    prompts = pd.DataFrame({"prompt_key": ["a", "b", "c"], "n_ops": [3, 1, 5], "digits": [None, None, None]})
    bins = construction_bins(prompts, "level")
    assert list(bins.cat.categories) == [1, 2, 3, 4, 5] and bins.to_dict() == {"a": 3, "b": 1, "c": 5}
    with pytest.raises(ValueError, match="1-5"):
        construction_bins(prompts.assign(n_ops=[3, 6, 1]), "level")
    with pytest.raises(ValueError, match="no a MATH level"):
        construction_bins(prompts.assign(n_ops=[3, None, 1]), "level")


def test_without_math_verify_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # import fails as if not installed
    with pytest.raises(ValueError, match=r"math-verify package \(pip install math-verify==0.9.0"):
        m.equivalent("\\frac{1}{7919}", "a value never parsed before")
