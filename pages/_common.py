"""Shared view helpers: URL-bound selectors with a visible note for bad link values, colours that mean the same
thing on every page, CI-band charts, explanations and CSV downloads. No formulas or SQL here."""
from __future__ import annotations

import math
import re
import threading
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.analysis.points import POOL_STRATEGIES
from backend.analysis.selection import MAIN_TEMPERATURE
from backend.explore import common, fmt, overview, unique_labels
from backend.verifiers import base_name, deployable, noise_rate

# Colour-blind-safe colours (Okabe & Ito 2008; Tol's muted scheme), the same meaning on every page. Correct vs wrong
# is never told by colour alone: MARK puts ✓ / ✗ beside it (plain characters, not emoji).
CORRECT, WRONG, NEUTRAL = "#009E73", "#D55E00", "#999999"
MARK = {True: "✓", False: "✗"}
PALETTE = ["#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#882255", "#44AA99", "#999933", "#332288", "#DDCC77"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon", "pentagon"]
STRATEGY_DASH = {"pass@k": "dot", "maj@k": "solid", "best-of-k": "dash", "weighted-maj@k": "dashdot",
                 "greedy": "solid", "beam": "longdash", "dvts": "longdashdot", "budget_forcing": "solid",
                 "adaptive": "solid", "route": "solid"}
STRATEGY_COLORS = {"maj@k": PALETTE[0], "best-of-k": PALETTE[1], "weighted-maj@k": PALETTE[2], "beam": PALETTE[3],
                   "dvts": PALETTE[4], "budget_forcing": PALETTE[5], "adaptive": PALETTE[6], "route": PALETTE[7],
                   "greedy": "#000000", "pass@k": NEUTRAL}  # the Home chart and the story colour lines by strategy
STRATEGY_SYMBOLS = {"pass@k": "circle-open", "maj@k": "circle", "best-of-k": "square", "weighted-maj@k": "diamond",
                    "beam": "triangle-up", "dvts": "triangle-down", "budget_forcing": "star", "adaptive": "hexagon",
                    "route": "pentagon", "greedy": "diamond"}
STRATEGY_LABELS = {"pass@k": "coverage (pass@k)", "maj@k": "majority vote", "best-of-k": "best-of-N",
                   "weighted-maj@k": "weighted best-of-N", "greedy": "greedy", "beam": "beam search",
                   "dvts": "DVTS", "budget_forcing": "budget forcing", "adaptive": "adaptive allocation",
                   "route": "think / no-think routing", "sample": "sampling pool", "best_of_n": "best-of-N"}
STRATEGY_SHORT = {"pass@k": "coverage", "maj@k": "majority", "best-of-k": "best-of-N", "weighted-maj@k": "weighted",
                  "greedy": "greedy", "beam": "beam", "dvts": "DVTS", "budget_forcing": "forcing",
                  "adaptive": "adaptive", "route": "routing"}  # where space is short (winner-map cells)
UPPER_BOUND = "upper bound: a perfect verifier"  # the name of every curve that reads the gold answer


def verifier_label(verifier: str) -> str:
    """A verifier's display name; the ones that read the gold answer say they are upper bounds."""
    if not verifier:
        return ""
    b = base_name(verifier)
    name = {"learned": "learned verifier", "steps": "exact step checker", "oracle": "oracle"}.get(b, b)
    if noise_rate(verifier):
        name = f"noisy {name} (error rate {noise_rate(verifier):g})"
    return name + ("" if deployable(verifier) else ", reads the gold answer")


def strategy_label(strategy: str, verifier: str = "") -> str:
    """A strategy (with its verifier) for display: "beam search (learned verifier)"."""
    label = STRATEGY_LABELS.get(strategy, strategy)
    v = verifier_label(verifier)
    return f"{label} ({v})" if v else label


def series_label(row, with_model: bool = True) -> str:
    """One line's legend label, made from a budget point's typed columns (model, strategy, verifier, temperature,
    mode, width); upper bounds are named as such."""
    bits = []
    if row.mode:
        bits.append({"force": "forced length", "cap": "capped"}.get(row.mode, row.mode))
    if row.strategy in POOL_STRATEGIES and row.temperature != MAIN_TEMPERATURE:
        bits.append(f"T={row.temperature:g}")
    label = strategy_label(row.strategy, row.verifier) + (f", {', '.join(bits)}" if bits else "")
    label = f"{row.model} · {label}" if with_model else label
    return label if row.deployable else f"{UPPER_BOUND} — {label}"


def with_series(df: pd.DataFrame, with_model: bool = True) -> pd.DataFrame:
    """The curves frame with a ``series`` column (one legend entry per line)."""
    return df.assign(series=[series_label(r, with_model) for r in df.itertuples()]) if len(df) else df


def safe(text: object, limit: int = 80) -> str:
    """User or model text made inert for Markdown (escaped, shortened): it is shown, never interpreted."""
    s = str(text)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", s)


def code_span(text: object, limit: int = 80) -> str:
    """Text for inside a Markdown code span: Markdown is not interpreted there, only backticks must go."""
    s = str(text).replace("`", "'")
    return s if len(s) <= limit else s[: limit - 1] + "…"


@st.cache_data(ttl=30, show_spinner=False)
def _model_order() -> list[str]:
    return overview.model_order()


def model_color(model: str) -> str:
    """One colour per model, fixed by the model's rank in size (the same on every page)."""
    order = _model_order()
    family = model.split("@")[0]
    i = order.index(family) if family in order else zlib.crc32(family.encode())  # stable across processes
    return PALETTE[i % len(PALETTE)]


def select(label: str, options: list, key: str, default=None, help: str | None = None, format_func=str, **kw):
    """A selectbox bound to the URL (``?key=<shown label>``); a link value that is not an option is reported and
    the default shown instead. Returns the option (not its label)."""
    options = list(options)
    if not options:
        st.info(f"Nothing to choose for {label.lower()} in the current cache.")
        st.stop()
    labels = unique_labels([format_func(o) for o in options])
    raw = st.query_params.get(key)
    _own(key, labels)
    index = options.index(default) if default in options else 0
    shown = st.selectbox(label, labels, index=index, key=key, bind="query-params", help=help, **kw)
    if raw is not None and raw not in labels:
        _link_note(key, raw, shown)
    return options[labels.index(shown)]


VARIANT_LABELS = {"single": "single-path traces (default)", "multi": "multi-path traces (zoo v2)"}


def variant() -> str | None:
    """The zoo's CoT trace-path variant this page shows (a sidebar choice bound to the URL as ``?variant=``); None
    when the cache holds one variant only."""
    variants = common.path_variants()
    if len(variants) < 2:
        return None
    with st.sidebar:
        return select("Zoo variant", variants, "variant", format_func=lambda v: VARIANT_LABELS.get(v, v),
                      help="The zoo is trained twice on the same data budget: steps in one canonical order (the "
                           "default: its error profile is the closer to a real model's), or in any legal order "
                           "(sampled paths differ, so errors are less correlated). Real models page: error profile.")


def _own(key: str, labels: list | None = None) -> None:
    """Record that this page binds ``key`` to the URL, and drop a value left in the session that is not one of
    ``labels`` (a value another page stored under the same key must not show up here)."""
    st.session_state.setdefault("_bound", {})[key] = st.session_state.get("_page")
    value = st.session_state.get(key)
    if labels is not None and value is not None:
        values = value if isinstance(value, list) else [value]
        if any(str(v) not in {str(x) for x in labels} for v in values):
            del st.session_state[key]


def _isolate(page: str) -> None:
    """On arriving at a page, forget the widget values other pages bound to the URL under keys this page may share
    (Spread's prompt is not the Traces page's prompt): a page shows its own defaults unless its link says otherwise."""
    if st.session_state.get("_page") == page:
        return
    for key, owner in list(st.session_state.get("_bound", {}).items()):
        if owner != page and key not in st.query_params and key in st.session_state:
            del st.session_state[key]
    st.session_state["_page"] = page


def _link_note(key: str, raw: str, shown: object) -> None:
    st.warning(f"The link asked for {key} = “{safe(raw)}”, which is not available here; showing "
               f"“{safe(shown)}” instead.")


def _same_number(raw: str, value: float) -> bool:
    try:
        x = float(raw)
    except ValueError:
        return False
    return math.isfinite(x) and math.isclose(x, value, rel_tol=1e-9, abs_tol=1e-12)


def select_slider(label: str, options: list, key: str, value, **kw):
    """A select slider bound to the URL; a link value that is not one of the options (``budget=-1``, ``k=NaN``)
    is reported and ``value`` shown instead."""
    raw = st.query_params.get(key)
    _own(key, [kw.get("format_func", str)(o) for o in options] + list(options))
    shown = st.select_slider(label, options, value=value, key=key, bind="query-params", **kw)
    if raw is not None and raw not in {str(shown), kw.get("format_func", str)(shown)}:
        _link_note(key, raw, shown)
    return shown


def slider(label: str, min_value: float, max_value: float, value: float, step: float, key: str, **kw):
    """A number slider bound to the URL; a link value that is not a finite number in range (``queries=1e309``)
    is reported and ``value`` shown instead."""
    raw = st.query_params.get(key)
    _own(key)
    shown = st.slider(label, min_value, max_value, value, step, key=key, bind="query-params", **kw)
    if raw is not None and not _same_number(raw, shown):
        _link_note(key, raw, shown)
    return shown


def toggle(label: str, value: bool, key: str, **kw) -> bool:
    """A toggle bound to the URL; a link value other than true / false is reported and ``value`` shown instead."""
    raw = st.query_params.get(key)
    _own(key)
    shown = st.toggle(label, value=value, key=key, bind="query-params", **kw)
    if raw is not None and raw.lower() != str(shown).lower():
        _link_note(key, raw, "on" if shown else "off")
    return shown


def multiselect(label: str, options: list, key: str, default: list | None = None, help: str | None = None, **kw):
    """A multiselect bound to the URL (``?key=<label>&key=<label>``, the labels shown); link values that are not
    options are dropped with a note. ``default`` None selects the first option; [] selects none."""
    options = list(options)
    shown = [str(kw.get("format_func", str)(o)) for o in options]
    raw = st.query_params.get_all(key) if key in st.query_params else []
    _own(key, shown + [str(o) for o in options])
    default = [d for d in (options[:1] if default is None else default) if d in options]
    value = st.multiselect(label, options, default=default, key=key, bind="query-params", help=help, **kw)
    bad = [r for r in raw if r not in set(shown) | {str(o) for o in options}]
    if bad:
        st.warning(f"The link asked for {key} = “{safe(bad[0])}”, which is not available here; "
                   "unknown values were dropped.")
    return value


def explain(text: str, source: str) -> None:
    """The short plain-language explanation under a chart, with the paper it comes from."""
    st.caption(f"{text}  \n*Source: {source}*")


def download(df: pd.DataFrame, name: str, label: str = "Download the data (CSV)") -> None:
    st.download_button(label, df.to_csv(index=False).encode(), file_name=f"{name}.csv", mime="text/csv",
                       key=f"dl-{name}")


HOVER_NAMES = {"k": "samples k", "n_prompts": "prompts"}


def _x_text(values: pd.Series, x: str) -> list[str]:
    return [fmt.flops(v) if x == "flops" else fmt.count(v) for v in values]


def ci_figure(df: pd.DataFrame, *, x: str, y: str = "acc", lo: str = "lo", hi: str = "hi", group: str,
              color_col: str | None = "model", dash_col: str | None = "strategy", x_title: str,
              y_title: str = "accuracy", log_x: bool = True, hover: list[str] | None = None,
              markers: bool = True, color_by: str = "model", y_range: list | None = None) -> go.Figure:
    """Lines with shaded 95% CI bands, one trace per group; colour by model (or by strategy: color_by="strategy"),
    dash and marker by strategy (fixed app-wide). Upper bounds (a ``deployable`` column that is False) are grey, with
    their strategy's dash and an open marker. Hover texts are formatted numbers (FLOPs as 1.7×10¹⁴)."""
    fig = go.Figure()
    for name, part in df.groupby(group, sort=False):
        part = part.sort_values(x)
        upper = "deployable" in part.columns and not bool(part["deployable"].iloc[0])
        strat = str(part[dash_col].iloc[0]) if dash_col else ""
        key = str(part[color_col].iloc[0]) if color_col else None
        if upper:
            color = NEUTRAL
            dash = STRATEGY_DASH.get(strat, "dash") if strat != "maj@k" else "dash"
            symbol = STRATEGY_SYMBOLS.get(strat, "circle").removesuffix("-open") + "-open"
        else:
            color = (STRATEGY_COLORS.get(key, NEUTRAL) if color_by == "strategy" else model_color(key)) if key else None
            dash = STRATEGY_DASH.get(strat, "solid") if dash_col else "solid"
            symbol = STRATEGY_SYMBOLS.get(strat, "circle")
        rgba = _rgba(color, 0.15) if color else "rgba(128,128,128,0.15)"
        fig.add_trace(go.Scatter(x=pd.concat([part[x], part[x][::-1]]), y=pd.concat([part[hi], part[lo][::-1]]),
                                 fill="toself", fillcolor=rgba, line=dict(width=0), hoverinfo="skip", mode="lines",
                                 showlegend=False, legendgroup=str(name)))
        extra = [h for h in (hover or []) if h not in (lo, hi)]
        custom = np.column_stack([_x_text(part[x], x), [fmt.pct(v) for v in part[y]] if y_title.startswith("accuracy")
                                  else [f"{v:.3g}" for v in part[y]],
                                  [fmt.pct(v) if y_title.startswith("accuracy") else f"{v:.3g}" for v in part[lo]],
                                  [fmt.pct(v) if y_title.startswith("accuracy") else f"{v:.3g}" for v in part[hi]]]
                                 + [[fmt.count(v) if isinstance(v, (int, float, np.number)) else str(v)
                                     for v in part[h]] for h in extra])
        template = "<br>".join([f"<b>{html_safe(name)}</b>", f"{x_title}: %{{customdata[0]}}",
                                f"{y_title}: %{{customdata[1]}}", "95% CI: %{customdata[2]} to %{customdata[3]}"] +
                               [f"{HOVER_NAMES.get(h, h)}: %{{customdata[{i + 4}]}}" for i, h in enumerate(extra)])
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers" if markers else "lines", name=str(name),
                                 line=dict(color=color, dash=dash), marker=dict(symbol=symbol, size=7),
                                 customdata=custom, hovertemplate=template + "<extra></extra>",
                                 legendgroup=str(name)))
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, hovermode="closest", height=460,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.2))
    if log_x:
        fig.update_xaxes(type="log")
        if x == "samples" and len(df):  # sample counts: ticks at 1, 2, 4, 8, … rather than log-axis minor digits
            top = int(np.ceil(np.log2(max(1.0, float(df[x].max())))))
            fig.update_xaxes(tickvals=[2 ** i for i in range(top + 1)], ticktext=[fmt.count(2 ** i) for i in range(top + 1)])
    fig.update_yaxes(range=y_range or ([0, 1.02] if y_title.startswith("accuracy") else None),
                     tickformat=".0%" if y_title.startswith("accuracy") else None)
    return fig


def acc_range(lo, hi, pad: float = 0.05) -> list[float]:
    """A y-range for accuracies zoomed to the data (lows and highs: frames or arrays), padded and kept in [0, 1]."""
    a, b = float(np.nanmin(np.asarray(lo, dtype=float))), float(np.nanmax(np.asarray(hi, dtype=float)))
    return [max(0.0, a - pad), min(1.02, b + pad)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def html_safe(text: object) -> str:
    """Plotly labels accept a few HTML tags: escape model or user text before it becomes one."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unit_label(unit: str) -> str:
    return {"samples": "samples per prompt", "tokens": "generated tokens per prompt",
            "flops": "inference FLOPs per prompt"}[unit]


def use_navigation() -> None:
    """With a pages/ folder beside app.py, Streamlit serves the very first session of a new server in its legacy
    multipage mode when that session opens a page URL directly (the page runs without app.py's navigation).
    Switching the flag off and rerunning puts that session, and every later one, on app.py's st.navigation.
    Once per session: a rerun later would swallow a button click (AppTest resets the flag on every run)."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get("_navigation_fixed"):
        PagesManager.uses_pages_directory = False
        st.session_state["_navigation_fixed"] = True
        st.rerun()


_page_run = threading.local()  # the note slot of the page this script run draws (one thread per run)


def _cache_notes() -> list[tuple[str, str, str]]:
    """(key, kind, text) of what a session is told once about the cache: derived data that cannot be saved, and
    each damaged batch the store skips."""
    from backend import explore
    from backend.explore import derived

    out = []
    note = derived.note()
    if note:
        out.append(("derived", "info", note[0].upper() + note[1:] + "."))
    for problem in explore.store_problems():
        out.append((f"problem {problem}", "warning",
                    f"Part of the cache cannot be read and is left out of every page: {safe(problem, 400)}. "
                    "`python -m backend compact` moves the damaged batch aside, intact, into store/quarantine/."))
    return out


def _say_cache_notes() -> None:
    """Show, in this run's slot, the notes the session has not been shown yet (a note counts as shown once a run
    that drew it completes: a run cut short by st.rerun() loses what it drew)."""
    slot = getattr(_page_run, "slot", None)
    if slot is None:
        return
    said = st.session_state.get("_cache_noted", set())
    for key, kind, text in _cache_notes():
        if key not in said and key not in _page_run.shown:
            _page_run.shown.add(key)
            getattr(slot, kind)(text)


def start_page(page: str) -> None:
    """What every page does first: the app's navigation, its own widget state (not another page's), and a slot at
    the top for what a session is told once about the cache (derived data that cannot be saved, damaged batches
    skipped): filled now with what is known, and by :func:`finish_page` with what this page run found."""
    use_navigation()
    _isolate(page)
    _page_run.slot, _page_run.shown = st.container(), set()
    _say_cache_notes()


def finish_page() -> None:
    """After a page ran (app.py): the notes its own run gave rise to (a first save of derived data that failed, a
    batch found damaged while reading), at the top of that page rather than on the next one."""
    _say_cache_notes()
    if getattr(_page_run, "slot", None) is not None:
        st.session_state["_cache_noted"] = st.session_state.get("_cache_noted", set()) | _page_run.shown
    _page_run.slot = None


def header(title: str, question: str) -> None:
    start_page(title)
    st.title(title)
    st.markdown(f"**{question}**")


def cache_empty_stop() -> None:
    st.info("The cache holds no runs yet. Build it with `python -m backend build-cache` (see the Zoo & cache page).")
    st.stop()
