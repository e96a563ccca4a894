"""Shared view helpers: URL-bound selectors with a visible note for bad link values, colours that mean the same
thing on every page, CI-band charts, explanations and CSV downloads. No formulas or SQL here."""
from __future__ import annotations

import math
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.analysis.points import POOL_STRATEGIES
from backend.analysis.selection import MAIN_TEMPERATURE
from backend.explore import overview, unique_labels
from backend.verifiers import base_name, deployable, noise_rate

CORRECT, WRONG, NEUTRAL = "#1a9850", "#d73027", "#8c8c8c"  # correct vs wrong: the same pair everywhere
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d", "#eeca3b", "#bab0ac"]
STRATEGY_DASH = {"pass@k": "dot", "maj@k": "solid", "best-of-k": "dash", "weighted-maj@k": "dashdot",
                 "greedy": "solid", "beam": "longdash", "dvts": "longdashdot", "budget_forcing": "solid",
                 "adaptive": "solid", "route": "solid"}
STRATEGY_COLORS = {"maj@k": "#4c78a8", "best-of-k": "#f58518", "weighted-maj@k": "#b279a2", "beam": "#54a24b",
                   "dvts": "#72b7b2", "budget_forcing": "#9d755d", "adaptive": "#e45756", "route": "#eeca3b",
                   "greedy": "#1f1f1f", "pass@k": NEUTRAL}  # the Home chart colours lines by strategy
STRATEGY_LABELS = {"pass@k": "coverage (pass@k)", "maj@k": "majority vote", "best-of-k": "best-of-N",
                   "weighted-maj@k": "weighted best-of-N", "greedy": "greedy", "beam": "beam search",
                   "dvts": "DVTS", "budget_forcing": "budget forcing", "adaptive": "adaptive allocation",
                   "route": "think / no-think routing"}
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
    i = order.index(family) if family in order else abs(hash(family))
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
    index = options.index(default) if default in options else 0
    shown = st.selectbox(label, labels, index=index, key=key, bind="query-params", help=help, **kw)
    if raw is not None and raw not in labels:
        _link_note(key, raw, shown)
    return options[labels.index(shown)]


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
    shown = st.select_slider(label, options, value=value, key=key, bind="query-params", **kw)
    if raw is not None and raw not in {str(shown), kw.get("format_func", str)(shown)}:
        _link_note(key, raw, shown)
    return shown


def slider(label: str, min_value: float, max_value: float, value: float, step: float, key: str, **kw):
    """A number slider bound to the URL; a link value that is not a finite number in range (``queries=1e309``)
    is reported and ``value`` shown instead."""
    raw = st.query_params.get(key)
    shown = st.slider(label, min_value, max_value, value, step, key=key, bind="query-params", **kw)
    if raw is not None and not _same_number(raw, shown):
        _link_note(key, raw, shown)
    return shown


def toggle(label: str, value: bool, key: str, **kw) -> bool:
    """A toggle bound to the URL; a link value other than true / false is reported and ``value`` shown instead."""
    raw = st.query_params.get(key)
    shown = st.toggle(label, value=value, key=key, bind="query-params", **kw)
    if raw is not None and raw.lower() != str(shown).lower():
        _link_note(key, raw, "on" if shown else "off")
    return shown


def multiselect(label: str, options: list, key: str, default: list | None = None, help: str | None = None, **kw):
    options = list(options)
    raw = st.query_params.get_all(key) if key in st.query_params else []
    default = [d for d in (default or options[:1]) if d in options]
    value = st.multiselect(label, options, default=default, key=key, bind="query-params", help=help, **kw)
    bad = [r for r in raw if r not in {str(o) for o in options}]
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


def ci_figure(df: pd.DataFrame, *, x: str, y: str = "acc", lo: str = "lo", hi: str = "hi", group: str,
              color_col: str | None = "model", dash_col: str | None = "strategy", x_title: str,
              y_title: str = "accuracy", log_x: bool = True, hover: list[str] | None = None,
              markers: bool = True, color_by: str = "model") -> go.Figure:
    """Lines with shaded 95% CI bands, one trace per group; colour by model (or by strategy: color_by="strategy"),
    dash by strategy (fixed app-wide). Upper bounds (a ``deployable`` column that is False) are grey and dashed."""
    fig = go.Figure()
    for name, part in df.groupby(group, sort=False):
        part = part.sort_values(x)
        upper = "deployable" in part.columns and not bool(part["deployable"].iloc[0])
        if upper:
            color, dash = NEUTRAL, "dash"
        else:
            key = str(part[color_col].iloc[0]) if color_col else None
            color = (STRATEGY_COLORS.get(key, NEUTRAL) if color_by == "strategy" else model_color(key)) if key else None
            dash = STRATEGY_DASH.get(str(part[dash_col].iloc[0]), "solid") if dash_col else "solid"
        rgba = _rgba(color, 0.15) if color else "rgba(128,128,128,0.15)"
        fig.add_trace(go.Scatter(x=pd.concat([part[x], part[x][::-1]]), y=pd.concat([part[hi], part[lo][::-1]]),
                                 fill="toself", fillcolor=rgba, line=dict(width=0), hoverinfo="skip", mode="lines",
                                 showlegend=False, legendgroup=str(name)))
        custom = part[hover].to_numpy() if hover else None
        template = "<br>".join([f"<b>{html_safe(name)}</b>", f"{x_title}: %{{x:.3g}}", f"{y_title}: %{{y:.3f}}",
                                "95% CI: %{customdata[0]:.3f}–%{customdata[1]:.3f}"] +
                               [f"{h}: %{{customdata[{i + 2}]}}" for i, h in enumerate((hover or [])[2:])])
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers" if markers else "lines", name=str(name),
                                 line=dict(color=color, dash=dash),
                                 customdata=custom, hovertemplate=template + "<extra></extra>" if hover else None,
                                 legendgroup=str(name)))
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, hovermode="closest", height=460,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.2))
    if log_x:
        fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 1.02] if y_title.startswith("accuracy") else None)
    return fig


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


def header(title: str, question: str) -> None:
    use_navigation()
    st.title(title)
    st.markdown(f"**{question}**")


def cache_empty_stop() -> None:
    st.info("The cache holds no runs yet. Build it with `python -m backend build-cache` (see the Zoo & cache page).")
    st.stop()
