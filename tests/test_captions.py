"""No hard-coded caption states a result: every sentence the pages show about who wins, what plateaus or what is
enough must be computed from the data it describes (an f-string over the numbers, or backend text built from them).
A plain string literal shown by a page — a caption, an explanation, a markdown line — may explain a method, never a
finding, because the next cache can contradict it."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOWN = {"caption", "markdown", "write", "info", "warning", "success", "error", "explain", "title", "subheader"}
RESULT = re.compile(r"\b(is enough|only (parameters|size|scale) helps?|beats?|outperforms?|as good as|close[sd]? the gap|"
                    r"plateaus|plateaued|flattens?|keeps? climbing|hurts|no number of samples|cannot stand in|is cheaper|"
                    r"wins?|matches|rescued|is not rescued|converge[sd]?|is the (efficient )?frontier)\b", re.I)


def shown_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every plain string literal inside a call that shows text (st.caption, explain, …); the
    constant parts of f-strings are skipped: an f-string is a sentence computed from its values."""
    tree = ast.parse(path.read_text())
    out = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name not in SHOWN:
            continue
        for arg in call.args[:1] + [k.value for k in call.keywords if k.arg in ("body", "text")]:
            fstring_parts = {id(v) for j in ast.walk(arg) if isinstance(j, ast.JoinedStr) for v in j.values}
            for node in ast.walk(arg):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in fstring_parts:
                    out.append((node.lineno, node.value))
    return out


def result_claims(path: Path) -> list[str]:
    # a question ("… before search beats voting?") asks what the data answers: it states no result
    return [f"{path.name}:{line}: {m.group(0)!r} in {text[:90]!r}" for line, text in shown_literals(path)
            if not text.rstrip().endswith("?") for m in [RESULT.search(text)] if m]


FILES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"] + sorted((ROOT / "backend" / "explore").glob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_hard_coded_caption_states_a_result(path):
    assert not result_claims(path), "a caption states a result; compute it from the data instead"


def test_the_check_catches_the_captions_it_is_for(tmp_path):
    """The winner-map and Home captions this check was written against, as they were."""
    old = tmp_path / "old_page.py"
    old.write_text('import streamlit as st\n'
                   'explain("For each bin the winner is the best. On easy prompts a small model with a few samples is "\n'
                   '        "enough; on hard ones only parameters help.", "Snell et al. 2024")\n'
                   'st.markdown("Thinking longer can make a small model as good as a larger one.")\n'
                   'st.caption(f"{n} prompts: majority vote plateaus at {acc:.1%}")\n'
                   'st.subheader("When does search beat voting?")\n')
    found = result_claims(old)
    assert len(found) == 2 and "is enough" in found[0] and "as good as" in found[1]  # the f-string is computed


def test_the_home_sentences_follow_the_numbers():
    """The headline sentences are made from headline()'s numbers: change the numbers and the sentences change."""
    from backend.explore.curves import headline_sentences

    label = lambda s, v: f"{s}/{v}" if v else s
    base = {"small": "s", "large": "l", "target_acc": 0.8,
            "deployable": {"reaches": False, "best_acc": 0.46, "best_lo": 0.4, "best_hi": 0.5, "best_strategy": "maj@k",
                           "best_verifier": "", "best_k": 23, "best_ratio": 1.7},
            "upper_bound": {"reaches": True, "reach_strategy": "beam", "reach_verifier": "steps", "reach_k": 16,
                            "reach_ratio": 0.9, "best_acc": 0.9}}
    never = headline_sentences(base, label)
    assert "never reaches" in never[0] and "46.0%" in never[0] and "80.0%" in never[0]
    assert "Only a perfect verifier" in never[1] and "beam/steps" in never[1] and "0.9×" in never[1]
    reached = headline_sentences({**base, "deployable": {**base["deployable"], "reaches": True,
                                                         "reach_strategy": "maj@k", "reach_verifier": "",
                                                         "reach_k": 8, "reach_ratio": 2.5}}, label)
    assert "matches" in reached[0] and "2.5×" in reached[0] and reached != never
    assert headline_sentences({**base, "deployable": None}, label) == []


STORY_RESULT = re.compile(RESULT.pattern[:-3] + r"|persists?|keeps? growing|falls? (further )?behind|keeps? pace|"
                          r"does not grow|all three hold|does not hold)\b", re.I)


def story_result_literals(path: Path) -> list[str]:
    """Plain string literals of a story module that state a result outside a verdict-chosen phrase: the story may
    word a result only as an argument of ``say(verdict, supported=…, not_supported=…, …)`` (or inside an f-string,
    computed from numbers)."""
    tree = ast.parse(path.read_text())
    allowed, skip = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "say":
            allowed |= {id(n) for k in node.keywords for n in ast.walk(k.value)}
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)) and ast.get_docstring(node) is not None:
            skip.add(id(node.body[0].value))
    return [f"{path.name}:{n.lineno}: {m.group(0)!r} in {n.value[:90]!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in allowed | skip
            for m in [STORY_RESULT.search(n.value)] if m]


def test_the_story_words_results_only_by_the_verdict_ladder():
    assert not story_result_literals(ROOT / "backend" / "explore" / "story.py"), \
        "a story sentence states a result outside say(verdict, …): choose the words by the claims' verdict"


def test_the_story_check_catches_a_fixed_result(tmp_path):
    bad = tmp_path / "story.py"
    bad.write_text('def s(d):\n    """Docs may say it persists."""\n'
                   '    ok = say(d["v"], supported="the gap persists", not_supported="it closes", inconclusive="?")\n'
                   '    computed = f"{d[\'m\']} falls behind by {d[\'x\']}"\n'
                   '    return [ok, computed, "majority vote plateaus at 47%"]\n')
    found = story_result_literals(bad)
    assert len(found) == 1 and "plateaus" in found[0]
