"""The story: the answer in eight steps, one chart each, every sentence computed from the current cache by the claims'
rules (backend.explore.story). The step is in the URL (?step=3); each step links to its full page with the same
selection."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from backend.explore import common, derived, fmt, spread, story
from pages._common import (CORRECT, NEUTRAL, STRATEGY_COLORS, STRATEGY_LABELS, UPPER_BOUND, ci_figure, html_safe,
                           safe, select, start_page, strategy_label, unit_label, verifier_label,
                           with_series)
from pages._figures import headline_figure, winner_figure

start_page("The story")
n_steps = len(story.STEPS)
st.title(f"The answer in {n_steps} steps")
st.caption("Each step is one chart and what it shows, in sentences computed from this cache with the same verdict "
           "rules as the Claims page. Change a selection and the sentences follow.")

raw = st.query_params.get("step", "1")
i = int(raw) if raw.isdigit() and 1 <= int(raw) <= n_steps else 1
if raw != str(i):
    st.warning(f"The link asked for step = “{safe(raw)}”, which is not a step; showing step 1 instead.")
step = story.STEPS[i - 1]


def go_to(j: int) -> None:
    st.query_params["step"] = str(j)


def nav(where: str) -> None:
    back, mid, nxt = st.columns([1, 3, 1])
    back.button("← Back", key=f"back-{where}", disabled=i == 1, on_click=go_to, args=(i - 1,),
                width="stretch")
    nxt.button("Next →", key=f"next-{where}", disabled=i == n_steps, on_click=go_to, args=(i + 1,), type="primary",
               width="stretch")
    mid.progress(i / n_steps, text=f"Step {i} of {n_steps}")


nav("top")
st.subheader(f"{i}. {step.title}")
st.markdown(f"**{step.question}**")

LABELS = {"model": "Model", "small": "Small model", "large": "Large model", "bins": "Difficulty bins",
          "direct": "Direct-answer model"}
FORMAT = {"bins": lambda k: common.BIN_KINDS[k].split(":")[0]}
controls = story.choices(step.key)
sel = {}
cols = st.columns(max(1, len(controls)))
for col, (name, (options, default)) in zip(cols, controls.items()):
    with col:
        if name == "large" and "small" in sel:  # only models larger than the small one
            ordered = list(dict.fromkeys(controls["small"][0] + options))
            options = ordered[ordered.index(sel["small"]) + 1:]
        sel[name] = select(LABELS[name], options, name, default=default, format_func=FORMAT.get(name, str))

with st.spinner("Computing this step from the cache…"):
    d = story.data(step.key, **sel)


def verifier_name(v: str) -> str:
    return verifier_label(v).split(",")[0]


def annotate(fig, x, y, text, ax=40, ay=-40, log_x=True) -> None:
    fig.add_annotation(x=np.log10(x) if log_x else x, y=y, text=text, showarrow=True, arrowhead=2, ax=ax, ay=ay,
                       font=dict(size=12, color="#111111"), bgcolor="rgba(255,255,255,0.85)", bordercolor="#666",
                       borderwidth=1)


def last_point(curves, strategy, verifier=""):
    c = curves[(curves["strategy"] == strategy) & (curves["verifier"] == verifier)].sort_values("k")
    return c.iloc[-1] if len(c) else None


def chart_coverage(d):
    df = with_series(d["curves"], with_model=False)
    fig = ci_figure(df, x="samples", group="series", x_title="samples per prompt", hover=["lo", "hi", "k"],
                    color_col="strategy", color_by="strategy")
    c0 = df[(df["strategy"] == "pass@k") & (df["k"] == 1)]
    cn = last_point(df, "pass@k")
    if len(c0):
        annotate(fig, 1, float(c0["acc"].iloc[0]), f"one sample: {fmt.pct(c0['acc'].iloc[0])}", ax=40, ay=50)
    if cn is not None:
        annotate(fig, cn["samples"], cn["acc"], f"some sample right:<br>{fmt.pct(cn['acc'])} at k={int(cn['k'])}",
                 ax=-70, ay=-30)
    return fig


def chart_selection(d):
    df = with_series(d["curves"], with_model=False)
    fig = ci_figure(df, x="samples", group="series", x_title="samples per prompt", hover=["lo", "hi", "k"],
                    color_col="strategy", color_by="strategy")
    cn = last_point(df, "pass@k")
    if cn is not None:
        annotate(fig, cn["samples"], cn["acc"], f"{UPPER_BOUND}<br>(coverage): {fmt.pct(cn['acc'])}", ax=-80, ay=-30)
    for s, ay in zip(d["selectors"], (40, 70, 100)):
        p = last_point(df, s["strategy"], s["verifier"])
        if p is not None:
            annotate(fig, p["samples"], p["acc"], f"{strategy_label(s['strategy'], s['verifier'])}: "
                                                  f"{fmt.pct(p['acc'])}", ax=-90, ay=ay)
    return fig


def chart_verifier(d):
    df = d["curves"]
    fig = go.Figure()
    grey = ["#333333", "#666666", "#888888", "#aaaaaa", "#cccccc"]
    lines = [("maj@k", "", "majority vote", STRATEGY_COLORS["maj@k"], "solid")]
    lines += [("best-of-k", v, f"best-of-N, {verifier_name(v)}", STRATEGY_COLORS["best-of-k"], "solid")
              for v in d["learned"]]
    lines += [("best-of-k", v, f"{UPPER_BOUND} — {verifier_name(v)}", grey[0], "dot") for v in d["exact"]]
    lines += [("best-of-k", v, f"best-of-N, step checker erring on {fmt.pct(float(v.rsplit(':', 1)[1]), 0)} of steps "
                               "(reads the gold answer)", grey[min(j + 1, 4)], "dash")
              for j, v in enumerate(d["noisy"])]
    for strat, v, name, color, dash in lines:
        c = df[(df["strategy"] == strat) & (df["verifier"] == v)].sort_values("k")
        if c.empty:
            continue
        fig.add_trace(go.Scatter(x=c["samples"], y=c["acc"], mode="lines+markers", name=name,
                                 line=dict(color=color, dash=dash), marker=dict(size=6),
                                 customdata=np.column_stack([[fmt.pct(a) for a in c["acc"]], c["k"]]),
                                 hovertemplate=f"{html_safe(name)}<br>k=%{{customdata[1]}}<br>accuracy "
                                               "%{customdata[0]}<extra></extra>"))
        annotate(fig, float(c["samples"].iloc[-1]), float(c["acc"].iloc[-1]), fmt.pct(c["acc"].iloc[-1]), ax=35, ay=0)
    fig.update_layout(height=460, xaxis=dict(type="log", title="samples per prompt (best of k)"),
                      yaxis=dict(title="accuracy", range=[0, 1.02], tickformat=".0%"),
                      margin=dict(l=10, r=60, t=30, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def chart_matched(d):
    return headline_figure(d["headline"])[0]


def chart_winner(d):
    from backend.explore.small_large import winner_grid
    from pages._common import STRATEGY_SHORT

    g = winner_grid(d["map"], d["models"], d["order"], lambda s: STRATEGY_SHORT.get(s, s))
    return winner_figure(g, d["models"])


def chart_reasoning(d):
    df = with_series(d["curves"][d["curves"]["strategy"] != "greedy"])
    fig = ci_figure(df, x="samples", group="series", x_title="samples per prompt", hover=["lo", "hi", "k"])
    fig.add_hline(y=d["cot_acc"], line=dict(color="#000000", dash="dot", width=1))
    annotate(fig, 1, d["cot_acc"], f"{html_safe(d['cot'])}, one greedy answer: {fmt.pct(d['cot_acc'])}", ax=80, ay=-25)
    p = last_point(df[df["model"] == d["direct"]], "maj@k")
    if p is not None:
        annotate(fig, p["samples"], p["acc"], f"{html_safe(d['direct'])}'s ceiling:<br>majority vote "
                                              f"{fmt.pct(p['acc'])}", ax=-60, ay=-45)
    return fig


def chart_thinking(d):
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for mode, curve in d["curves"].items():
        dash = "solid" if mode == "cap" else "dash"
        label = "capped" if mode == "cap" else "forced"
        for metric, name, color, y2 in [("mass_on_correct", f"accuracy of one sample, {label}", CORRECT, False),
                                        ("distinct", f"distinct answers among 8, {label}", NEUTRAL, True)]:
            c = curve[curve["metric"] == metric].sort_values("condition")
            name = name.replace("among 8", f"among {d['k']}")
            fig.add_trace(go.Scatter(x=c["condition"], y=c["value"], name=name, mode="lines+markers",
                                     line=dict(color=color if mode == "cap" else ("#000000" if y2 else CORRECT),
                                               dash=dash if not y2 else "dot"),
                                     marker=dict(symbol="circle" if mode == "cap" else "square", size=7),
                                     error_y=dict(type="data", array=c["hi"] - c["value"],
                                                  arrayminus=c["value"] - c["lo"], thickness=1),
                                     customdata=[fmt.pct(v) if not y2 else f"{v:.1f}" for v in c["value"]],
                                     hovertemplate=f"{name}<br>%{{x}} tokens<br>%{{customdata}}<extra></extra>"),
                          secondary_y=y2)
        r = d["results"].get(mode)
        if r:
            peak = r["peak"][0]
            annotate(fig, peak, dict(zip(r["budgets"], r["accuracy"]))[peak], f"{label}: peak at {peak} tokens",
                     ax=30 if mode == "cap" else -30, ay=-50 if mode == "cap" else 50)
    if not fmt.missing(d["greedy"]):
        fig.add_hline(y=d["greedy"], line=dict(color="#000000", dash="dot", width=1), secondary_y=False,
                      annotation_text=f"one greedy answer, no budget: {fmt.pct(d['greedy'])}",
                      annotation_position="top left")
    fig.update_xaxes(type="log", title="thinking budget (tokens)")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", secondary_y=False)
    fig.update_yaxes(title_text=f"distinct answers among {d['k']} samples", range=[1, d["k"] + 0.2], dtick=1,
                     showgrid=False, secondary_y=True)
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def chart_allocate(d):
    front, mix = d["front"], d["mix"]
    fig = go.Figure(go.Scatter(x=front["flops"], y=front["acc"], mode="lines+markers", line=dict(shape="hv",
                               color=STRATEGY_COLORS["route"]), name="router: the direct model answers when confident",
                               error_y=dict(type="data", array=front["hi"] - front["acc"],
                                            arrayminus=front["acc"] - front["lo"], thickness=1),
                               customdata=np.column_stack([[fmt.flops(f) for f in front["flops"]],
                                                           [fmt.pct(a) for a in front["acc"]]]),
                               hovertemplate="router<br>%{customdata[0]} FLOPs<br>accuracy %{customdata[1]}"
                                             "<extra></extra>"))
    fig.add_trace(go.Scatter(x=mix["flops"], y=mix["acc"], mode="lines", line=dict(color=NEUTRAL, dash="dash"),
                             name="random mix of the two models at the same FLOPs",
                             customdata=np.column_stack([[fmt.flops(f) for f in mix["flops"]],
                                                         [fmt.pct(a) for a in mix["acc"]]]),
                             hovertemplate="random mix<br>%{customdata[0]} FLOPs<br>accuracy %{customdata[1]}"
                                           "<extra></extra>"))
    for share, who, ax in ((0.0, d["direct"], 50), (1.0, d["model"], -60)):  # the mix's ends: one model alone
        end = mix[np.isclose(mix["share_cot"], share)]
        if len(end):
            annotate(fig, float(end["flops"].iloc[0]), float(end["acc"].iloc[0]), f"{html_safe(who)} alone", ax=ax,
                     ay=-40)
    lo = float(min(front["lo"].min(), mix["acc"].min()))
    hi = float(max(front["hi"].max(), mix["acc"].max()))
    fig.update_layout(height=420, xaxis=dict(type="log", title="inference FLOPs per prompt (mean)"),
                      yaxis=dict(title="accuracy", range=[max(0, lo - 0.05), min(1.02, hi + 0.05)], tickformat=".0%"),
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


CHARTS = {"coverage": chart_coverage, "selection": chart_selection, "verifier": chart_verifier,
          "matched": chart_matched, "winner": chart_winner, "reasoning": chart_reasoning,
          "thinking": chart_thinking, "allocate": chart_allocate}

if d.get("missing"):
    st.info(d["missing"])
else:
    st.plotly_chart(CHARTS[step.key](d), key=f"story-{step.key}")
    for sentence in story.sentences(d, strategy_label, verifier_name):
        st.markdown(sentence)

    # the full page's own URL values are the labels it shows
    LINK_FORMAT = {"strategies": lambda v: STRATEGY_LABELS.get(v, v), "unit": unit_label,
                   "bins": lambda k: common.BIN_KINDS[k], "axis": lambda a: spread.AXES[a]}
    params = {k: [LINK_FORMAT.get(k, str)(x) for x in v] if isinstance(v, list) else LINK_FORMAT.get(k, str)(v)
              for k, v in d["link"].items()}
    title = {"pages/budget_curves.py": "Budget curves", "pages/home.py": "Home",
             "pages/small_vs_large.py": "Small vs large", "pages/reasoning.py": "Reasoning vs not",
             "pages/spread.py": "Spread", "pages/adaptive.py": "Adaptive compute"}[step.page]
    st.page_link(step.page, label=f"Open {title} with this selection", icon=":material/open_in_new:",
                 query_params=params)

status = derived.claims_status()
if status["stale"] and status["claims"]:
    new = max(0, (status["runs_now"] or 0) - (status["runs_then"] or 0))
    c1, c2 = st.columns([3, 1])
    c1.caption(f"The verdicts quoted from the Claims page were computed before {new} new run"
               f"{'' if new == 1 else 's'} were added.")
    if c2.button("Recompute the claims", key="recompute"):
        with st.spinner("Measuring the eight claims on the current cache…"):
            derived.claims()
        st.rerun()
st.divider()
nav("bottom")
