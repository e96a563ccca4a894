"""Spread: as temperature or thinking grows, answers spread out; coverage rises while majority vote may fall."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from backend.analysis.spread import METRICS
from backend.explore import common, fmt, spread
from pages._common import (variant, CORRECT, MARK, NEUTRAL, ci_figure, download, explain, header, html_safe, safe, select,
                           select_slider)

header("Spread", "Does thinking longer (or sampling hotter) widen the output distribution — and when does more "
       "thinking start to hurt?")
finals = common.final_models("cot", variant())
if not finals:
    st.info("No CoT models with runs in the cache yet.")
    st.stop()
c1, c2, c3 = st.columns(3)
with c1:  # default: the first model whose thinking can be grown (forcing runs exist for the small policies only)
    model = select("Model", finals, "model",
                   default=next((m for m in finals if "thinking" in spread.axes_of(m)), finals[0]))
with c2:
    axes = spread.axes_of(model) or list(spread.AXES)
    axis = select("Grow", axes, "axis", default="thinking" if "thinking" in axes else axes[0],
                  format_func=lambda a: spread.AXES[a])
with c3:
    k = select_slider("k (samples per estimate)", [2, 4, 8], "k", value=8)

curve = spread.spread_curve(model, axis, k)
if curve.empty:
    st.info(f"{model} has no {spread.AXES[axis]} runs in the cache.")
    st.stop()
x_title = {"temperature": "temperature", "thinking": "forced thinking length (tokens)",
           "cap": "thinking cap (tokens)"}[axis]
acc = curve[curve["metric"].isin(["mass_on_correct", "coverage", "majority"])].assign(
    model=model, strategy=lambda d: d["metric"].map({"coverage": "pass@k", "majority": "maj@k",
                                                     "mass_on_correct": "greedy"}),
    deployable=lambda d: d["metric"] != "coverage", label=lambda d: d["metric"].map(METRICS))
if axis != "temperature":
    st.markdown(f"**How the length is imposed:** {spread.AXES[axis].split('(')[1].rstrip(')')} — "
                + ("the model may stop before the cap, so a longer cap only allows longer thinking."
                   if axis == "cap" else "every trace is exactly the budget long, so steps can be cut mid-way: what "
                   "this does to accuracy measures the forcing as much as longer thinking."))
greedy = spread.greedy_accuracy(model)
left, right = st.columns(2)
with left:
    fig = ci_figure(acc, x="condition", y="value", group="label", color_col="strategy", color_by="strategy",
                    x_title=x_title, log_x=axis != "temperature", hover=["lo", "hi", "k", "n_prompts"])
    if greedy is not None:
        fig.add_hline(y=greedy, line=dict(color="#000000", dash="dot", width=1),
                      annotation_text=f"one greedy answer, no budget: {fmt.pct(greedy)}",
                      annotation_position="top left")
    st.plotly_chart(fig, key="acc")
with right:
    dist = curve[curve["metric"] == "distinct"].assign(model=model, strategy="", label=f"distinct answers in {k}")
    fig = ci_figure(dist, x="condition", y="value", group="label", color_col=None, x_title=x_title,
                    y_title=f"distinct answers among {k} samples", log_x=axis != "temperature",
                    hover=["lo", "hi", "k", "n_prompts"])
    fig.update_yaxes(range=[1, k + 0.2])
    st.plotly_chart(fig, key="distinct")
n = int(curve["n_prompts"].iloc[0])
st.caption(f"{n} prompts, the same for every condition · 95% bootstrap CIs · exact estimates at k={k} samples")
explain("Left: the chance a single sample is right (mass on the correct answer), coverage (pass@k: some sample of k "
        "is right — an upper bound, it needs an oracle to pick) and majority vote (maj@k). Right: how many different "
        "answers k samples give. Thinking budgets are imposed by budget forcing in one of two ways: a cap (thinking "
        "stops at the budget; the model may stop earlier) or a forced length (when the model tries to stop, the "
        "answer marker is suppressed and ';wait ' appended, until exactly the budget). A forced length cuts steps "
        "mid-way, so what it does to accuracy measures the forcing as much as longer thinking; the cap does not. "
        "Claim 5 on the Claims page compares the longest budget with the best one.",
        "Muennighoff et al. 2025 (s1, budget forcing); Brown et al. 2024; Chen et al. 2024 (overthinking)")
download(curve, f"spread_{model}_{axis}")

st.subheader("One prompt")
opts = spread.prompt_options(model, axis)
pk = select("Prompt (largest swing first)", opts["prompt_key"].tolist(), "prompt",
            format_func=lambda p: f"{p.removeprefix('arith:')}  (swing {opts.set_index('prompt_key').loc[p, 'swing']:.0%})")
shares = spread.answer_shares(model, axis, pk)
fig = go.Figure()
wrong = [a for a in dict.fromkeys(shares["answer"]) if not bool(shares.loc[shares["answer"] == a, "is_gold"].iloc[0])]
greys = {a: f"rgb({g},{g},{g})" for a, g in zip(wrong, np.linspace(90, 215, max(1, len(wrong))).astype(int))}
for ans, part in shares.groupby("answer", sort=False):
    gold = bool(part["is_gold"].iloc[0])
    fig.add_trace(go.Bar(x=[fmt.count(c) for c in part["condition"]], y=part["share"],
                         name=f"{MARK[gold]} {html_safe(ans)}" + (" (gold)" if gold else ""),
                         marker_color=CORRECT if gold else greys.get(ans, NEUTRAL),
                         marker_pattern_shape="" if gold else "/", marker_line=dict(width=1, color="#ffffff"),
                         hovertemplate=f"{MARK[gold]} answer {html_safe(ans)}" + (" (gold)" if gold else "") +
                                       "<br>%{y:.0%} of samples<extra></extra>"))
fig.update_layout(barmode="stack", height=380, xaxis_title=x_title, yaxis_title="share of samples",
                  yaxis_tickformat=".0%", margin=dict(l=10, r=10, t=10, b=10), xaxis_type="category",
                  legend_title_text="answer")
st.plotly_chart(fig, key="shares")
st.caption(f"✓ green = the gold answer; ✗ hatched greys = wrong answers (the rarest pooled as “other”). Prompt: "
           f"{safe(pk.removeprefix('arith:'))}")
download(shares, "answer_shares")
