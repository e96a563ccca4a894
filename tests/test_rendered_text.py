"""What a reader sees is formatted: on every page (and every story step) no "None", "nan" or "null", no Python repr, no
raw internal column name and no unformatted number of a million or more — in the text, the tables (headers and cells),
the selectors' labels and the charts' names, labels, annotations and hover texts. Model text (code blocks, prompt
options) is shown as it is and not checked."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.conftest import page_opener

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["home", "story", "budget_curves", "small_vs_large", "spread", "adaptive", "reasoning", "other_levers", "traces",
         "playground", "real_models", "claims", "zoo_cache"]
EMPTY = re.compile(r"(?<![\w-])(None|nan|NaN|null|undefined|<NA>|NaT)(?![\w-])")
REPR = re.compile(r"\{'|\['|np\.\w+\(|array\(|dtype|object at 0x|\(\s*[\w.@-]+,\s*\)|Timestamp\(")
BIG = re.compile(r"(?<![\w.,×/:+-])\d{7,}(?![\w.])|\b\d+(\.\d+)?[eE][+-]?\d+\b")
RAW = re.compile(r"\b(alloc_acc|uniform_acc|alloc_flops|n_prompts|sample_idx|gen_tokens|think_tokens|sum_logprob|"
                 r"finish_reason|is_final|flops_per_problem|majority_wrong_but_solved|prompt_key|run_key|"
                 r"strategy_params|budget_forcing|best_of_n|weighted-maj@k)\b")


def problems(text: str) -> list[str]:
    """What is wrong with one piece of rendered text (empty: nothing)."""
    text = re.sub(r"%\{[^}]*\}", "", str(text))  # hover placeholders are filled by Plotly
    return [f"{name} {m.group(0)!r} in {text[:120]!r}" for name, rx in
            (("empty value", EMPTY), ("Python repr", REPR), ("unformatted number", BIG), ("internal name", RAW))
            for m in [rx.search(text)] if m]


def _chart_texts(spec: dict) -> list[str]:
    out = []
    layout = spec.get("layout", {})
    for ax in [v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]:
        out.append(str((ax.get("title") or {}).get("text", "")))
        out += [str(t) for t in ax.get("ticktext", []) or []]
    out += [str(a.get("text", "")) for a in layout.get("annotations", [])]
    out.append(str((layout.get("title") or {}).get("text", "")))
    for tr in spec.get("data", []):
        out.append(str(tr.get("name", "")))
        out.append(str(tr.get("hovertemplate", "")))
        for key in ("text", "hovertext", "customdata"):
            v = tr.get(key)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, list):
                out += [json.dumps(x, ensure_ascii=False) if isinstance(x, list) else str(x) for x in v]
    return [t for t in out if t]


def rendered(at: AppTest) -> list[tuple[str, str]]:
    """(where, text) of everything the page shows, model text excepted."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text",
                 "latex"):
        out += [(kind, el.value) for el in getattr(at, kind)]
    out += [("metric", f"{m.label} {m.value}") for m in at.metric]
    for kind in ("selectbox", "multiselect", "select_slider", "slider", "toggle", "text_input", "button", "radio"):
        out += [(kind, el.label) for el in getattr(at, kind)]
    for kind in ("selectbox", "select_slider"):
        for el in getattr(at, kind):
            if el.key not in ("prompt", "example", "problem"):  # prompt texts are data, shown as they are
                out += [(f"{kind} {el.key}", str(o)) for o in el.options]
    for df in at.dataframe:
        frame = df.value
        out += [("table header", str(c)) for c in frame.columns]
        for col in frame.columns:
            if frame[col].dtype == object or str(frame[col].dtype).startswith(("str", "string")):
                out += [(f"table {col}", "" if v == "" else str(v)) for v in frame[col]]
            else:
                out += [(f"table {col}", "nan") for v in frame[col] if v != v]  # a missing number shows as None
    for el in at.get("plotly_chart"):
        out += [("chart", t) for t in _chart_texts(json.loads(el.proto.spec))]
    return out


@pytest.fixture()
def app(on_app_cache, monkeypatch):
    monkeypatch.chdir(ROOT)
    return page_opener(180)


def test_the_check_catches_what_it_is_for():
    bad = ["k=1 (cot-0.1m, )", "accuracy None", "nan%", "12000000 FLOPs", "1.2e+07 FLOPs", "{'budget': 16}",
           "alloc_acc", "null", "array([1, 2])"]
    good = ["1.2×10⁷ FLOPs", "12M parameters", "45.9%", "k=16", "cot-0.1m", "majority vote (maj@k)",
            "sampling pool · 256 samples at T=0.8", "2025-01-01", "arith:12+34*5", "non-null", "+4.5 points"]
    assert all(problems(t) for t in bad), [t for t in bad if not problems(t)]
    assert not any(problems(t) for t in good), [problems(t) for t in good]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_formatted_text(app, page):
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    found = [f"{where}: {p}" for where, text in rendered(at) for p in problems(text)]
    assert not found, "\n".join(found[:20])


def test_every_story_step_renders_formatted_text(app):
    from backend.explore import story

    for i, s in enumerate(story.STEPS, 1):
        at = app("story", step=str(i))
        assert not at.exception, (s.key, [e.value for e in at.exception])
        found = [f"{where}: {p}" for where, text in rendered(at) for p in problems(text)]
        assert not found, (s.key, found[:20])
