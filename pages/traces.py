"""Traces: one prompt of one run — every sample, its log-probs as colour, verifier scores, the search tree."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from backend.explore import common, fmt, traces
from pages._common import (CORRECT, MARK, NEUTRAL, PALETTE, WRONG, code_span, download, explain, header, html_safe,
                           safe, select, strategy_label)

FORCED = "#9ecae1"  # the highlight behind tokens that budget forcing wrote

header("Traces", "What did the model actually write — and can the curves be trusted?")
runs = traces.run_table(strategy_label)
if runs.empty:
    st.info("The cache holds no runs yet.")
    st.stop()

finals = [m for m in common.final_models("cot") if common.main_pool(m)]
c1, c2, c3 = st.columns([1, 2, 2])
with c1:
    model = select("Model", list(dict.fromkeys(runs["model"])), "model", default=finals[0] if finals else None)
mine = runs[runs["model"] == model]
with c2:
    run_key = select("Run", mine["run_key"].tolist(), "run", default=common.main_pool(model),
                     format_func=lambda k: mine.set_index("run_key").loc[k, "label"])
prompts = traces.prompt_table(run_key)
if prompts.empty:
    st.info("This run has no samples yet.")
    st.stop()
with c3:
    questions = dict(zip(prompts["prompt_key"], prompts["question"]))
    prompt_key = select("Prompt (by operators, then digits)", prompts["prompt_key"].tolist(), "prompt",
                        default=traces.default_prompt(prompts), format_func=lambda k: questions.get(k, k))

row = prompts.set_index("prompt_key").loc[prompt_key]
df = traces.samples(run_key, prompt_key)
st.markdown(f"**Prompt** `{code_span(row['question'])}` ({int(row['n_ops'])} operators, {int(row['digits'])} digits) "
            f"· gold answer **{safe(row['gold'])}** · {len(df)} samples · {fmt.pct(df['correct'].mean(), 0)} correct")

hist = traces.answer_histogram(df, row["gold"])
left, right = st.columns([1, 2])
with left:
    top = hist.head(15)
    fig = go.Figure(go.Bar(x=[html_safe(a) for a in top["answer"]], y=top["count"],
                           marker_color=[CORRECT if g else WRONG for g in top["is_gold"]],
                           marker_pattern_shape=["" if g else "/" for g in top["is_gold"]],
                           text=[MARK[bool(g)] for g in top["is_gold"]], textposition="outside",
                           hovertemplate="answer %{x}<br>%{y} samples<extra></extra>"))
    fig.update_layout(height=300, xaxis_title="answer (✓ gold, ✗ wrong)", yaxis_title="samples",
                      xaxis_type="category", yaxis=dict(rangemode="tozero", tickformat="d"),
                      margin=dict(l=10, r=10, t=20, b=10))
    st.plotly_chart(fig, key="hist")
    download(hist, "answers")
with right:
    grid = traces.token_grid(df)
    if grid["sample_idx"]:
        lp, chars, forced = grid["logprob"], grid["chars"], grid["forced"]
        rows = [f"#{i} {MARK[bool(c)]}" for i, c in zip(grid["sample_idx"], grid["correct"])]
        cols = list(range(lp.shape[1]))
        fig = go.Figure(go.Heatmap(z=np.where(forced, np.nan, lp), x=cols, y=rows, colorscale="Viridis", zmin=-4,
                                   zmax=0, colorbar=dict(title="log p", thickness=12, len=1.0), hoverinfo="skip"))
        if forced.any():  # forced tokens: a highlight behind the character, not a box over it
            fig.add_trace(go.Heatmap(z=np.where(forced, 1.0, np.nan), x=cols, y=rows, showscale=False,
                                     colorscale=[[0, FORCED], [1, FORCED]], hoverinfo="skip", name="forced"))
        yy, xx = np.meshgrid(range(len(rows)), cols, indexing="ij")
        text = np.array(chars, dtype=object)
        keep = text != ""
        hover = [f"sample {rows[i]}<br>position {j}<br>token {html_safe(text[i, j])}<br>"
                 + ("forced by budget forcing" if forced[i, j] else f"log p {lp[i, j]:.2f}")
                 for i, j in zip(yy[keep], xx[keep])]
        fig.add_trace(go.Scatter(x=xx[keep], y=[rows[i] for i in yy[keep]], mode="text",
                                 text=[html_safe(t) for t in text[keep]], hovertext=hover, hoverinfo="text",
                                 textfont=dict(size=11, color=["#000000" if f or v > -1.5 else "#ffffff"
                                                               for f, v in zip(forced[keep], lp[keep])]),
                                 showlegend=False))
        fig.update_layout(height=120 + 24 * len(rows), xaxis=dict(title="token position", tickformat="d", dtick=5),
                          yaxis=dict(autorange="reversed", type="category"), margin=dict(l=10, r=10, t=10, b=10))
        st.plotly_chart(fig, key="tokens")
        explain("Each cell is one generated character coloured by the raw log-probability the model gave it (dark = "
                "unlikely, yellow = certain)." + (" Cells highlighted in light blue were forced by budget forcing, "
                                                   "not chosen by the model." if forced.any() else "")
                + " ✓ / ✗ after the sample number: right or wrong.",
                "Per-token log-probs as in Kadavath et al. 2022; forcing as in Muennighoff et al. 2025 (s1)")
    else:
        st.caption("Per-token log-probs are stored for the first 16 samples of each pool only.")

st.subheader("Samples")
show = traces.sample_table(df)
pick = st.dataframe(show, hide_index=True, on_select="rerun", selection_mode="single-row", key="samples")
download(df.drop(columns=["token_logprobs", "forced"], errors="ignore"), "samples")
chosen = pick.selection.rows[0] if pick and pick.selection.rows else 0
sample = df.iloc[chosen]
st.markdown(f"**Sample #{int(sample['sample_idx'])}** — answer `{code_span(sample['answer'] or '(none)')}` "
            f"({MARK[bool(sample['correct'])]} {'right' if sample['correct'] else 'wrong'})")
st.code(sample["text"], language=None)  # model text is shown as text, never rendered
if traces.is_list(sample.get("step_scores")) and len(sample["step_scores"]):
    steps = list(sample["step_scores"])
    fig = go.Figure(go.Bar(x=list(range(1, len(steps) + 1)), y=steps, marker_color=NEUTRAL,
                           hovertemplate="step %{x}<br>score %{y:.3f}<extra></extra>"))
    fig.update_layout(height=220, xaxis=dict(title="step (last bar: the outcome)", dtick=1, tickformat="d"),
                      yaxis_title="verifier score", yaxis_range=[0, 1], margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="steps")

tree = traces.tree(run_key, prompt_key)
if not tree.empty:
    st.subheader("Search tree")
    fig = go.Figure()
    pos = tree.set_index("node_id")[["x", "y"]]
    ex, ey = [], []
    for nid, pid in zip(tree["node_id"], tree["parent_id"]):
        if pid is not None and str(pid) != "<NA>":
            ex += [pos.loc[int(pid), "x"], pos.loc[nid, "x"], None]
            ey += [pos.loc[int(pid), "y"], pos.loc[nid, "y"], None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#cccccc", width=1), hoverinfo="skip",
                             showlegend=False))
    for label, mask, color, symbol in [("pruned", ~tree["kept"], NEUTRAL, "x"),
                                       ("kept", tree["kept"] & ~tree["on_answer_path"], PALETTE[0], "circle"),
                                       ("path of the answer", tree["on_answer_path"], CORRECT, "star")]:
        part = tree[mask]
        fig.add_trace(go.Scatter(x=part["x"], y=part["y"], mode="markers", name=label,
                                 marker=dict(color=color, size=10, symbol=symbol, line=dict(width=1, color="white")),
                                 text=[html_safe(t) for t in part["text"]], customdata=part[["score", "tokens"]],
                                 hovertemplate="%{text}<br>score %{customdata[0]:.3f} · %{customdata[1]} tokens<extra></extra>"))
    fig.update_layout(height=420, xaxis=dict(title="depth (reasoning steps)", dtick=1, tickformat="d"),
                      yaxis=dict(visible=False),
                      margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h"))
    st.plotly_chart(fig, key="tree")
    explain("Every dot is one step proposed by the model; the verifier's score decides which branches survive. "
            "Grey crosses were pruned; green stars mark the path to the returned answer.",
            "Beam search and DVTS with a process verifier: Snell et al. 2024; Beeching et al. 2024")
    download(tree.drop(columns=["x", "y"]), "tree")
