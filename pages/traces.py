"""Traces: one prompt of one run — every sample, its log-probs as colour, verifier scores, the search tree."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import traces
from pages._common import CORRECT, NEUTRAL, WRONG, code_span, download, explain, header, html_safe, safe, select

header("Traces", "What did the model actually write — and can the curves be trusted?")
runs = traces.run_table()
if runs.empty:
    st.info("The cache holds no runs yet.")
    st.stop()

c1, c2, c3 = st.columns([1, 2, 2])
with c1:
    model = select("Model", list(dict.fromkeys(runs["model"])), "model", default="cot-0.8m")
mine = runs[runs["model"] == model]
with c2:
    run_key = select("Run", mine["run_key"].tolist(), "run",
                     format_func=lambda k: mine.set_index("run_key").loc[k, "label"])
prompts = traces.prompt_table(run_key)
with c3:
    default = next((k for k, a in zip(prompts["prompt_key"], prompts["accuracy"]) if 0.2 < a < 0.8),
                   prompts["prompt_key"].iloc[0] if len(prompts) else None)
    questions = dict(zip(prompts["prompt_key"], prompts["question"]))
    prompt_key = select("Prompt", prompts["prompt_key"].tolist(), "prompt", default=default,
                        format_func=lambda k: questions.get(k, k))

row = prompts.set_index("prompt_key").loc[prompt_key]
df = traces.samples(run_key, prompt_key)
st.markdown(f"**Prompt** `{code_span(row['question'])}` ({row['n_ops']} operators, {row['digits']} digits) · gold answer "
            f"**{safe(row['gold'])}** · {len(df)} samples · {df['correct'].mean():.0%} correct")

hist = traces.answer_histogram(df, row["gold"])
left, right = st.columns([1, 2])
with left:
    fig = go.Figure(go.Bar(x=[html_safe(a) for a in hist["answer"].head(15)], y=hist["count"].head(15),
                           marker_color=[CORRECT if g else WRONG for g in hist["is_gold"].head(15)],
                           hovertemplate="answer %{x}<br>%{y} samples<extra></extra>"))
    fig.update_layout(height=300, xaxis_title="answer (green = gold)", yaxis_title="samples", xaxis_type="category",
                      margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="hist")
    download(hist, "answers")
with right:
    grid = traces.token_grid(df)
    if grid["sample_idx"]:
        lp, chars = grid["logprob"], grid["chars"]
        fig = go.Figure(go.Heatmap(z=lp, text=[[html_safe(c) for c in r] for r in chars], texttemplate="%{text}",
                                   colorscale="RdYlGn", zmin=-4, zmax=0, colorbar=dict(title="log p", thickness=12, len=1.0),
                                   hovertemplate="sample %{y}<br>position %{x}<br>token %{text}<br>log p %{z:.3f}<extra></extra>",
                                   y=[f"#{i} {'✓' if c else '✗'}" for i, c in zip(grid['sample_idx'], grid['correct'])]))
        fy, fx = grid["forced"].nonzero()
        if len(fx):
            fig.add_trace(go.Scatter(x=fx, y=[fig.data[0].y[i] for i in fy], mode="markers", name="forced token",
                                     marker=dict(symbol="square-open", size=14, color="#1f1f1f", line=dict(width=2)),
                                     hovertemplate="forced by budget forcing<extra></extra>"))
        fig.update_layout(height=120 + 24 * len(chars), xaxis_title="token position", yaxis_autorange="reversed",
                          margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h"))
        st.plotly_chart(fig, key="tokens")
        explain("Each cell is one generated character coloured by the raw log-probability the model gave it (red = "
                "unlikely). Boxed cells were forced by budget forcing, not chosen by the model.",
                "Per-token log-probs as in Kadavath et al. 2022; forcing as in Muennighoff et al. 2025 (s1)")
    else:
        st.caption("Per-token log-probs are stored for the first 16 samples of each pool only.")

st.subheader("Samples")
show = df[["sample_idx", "answer", "correct", "gen_tokens", "think_tokens", "sum_logprob", "score", "finish_reason",
           "is_final"]]
pick = st.dataframe(show, hide_index=True, on_select="rerun", selection_mode="single-row", key="samples",
                    column_config={"score": st.column_config.NumberColumn("verifier score", format="%.3f")})
download(show, "samples")
chosen = pick.selection.rows[0] if pick and pick.selection.rows else 0
sample = df.iloc[chosen]
st.markdown(f"**Sample #{int(sample['sample_idx'])}** — answer `{code_span(sample['answer'])}` "
            f"({'correct' if sample['correct'] else 'wrong'})")
st.code(sample["text"], language=None)  # model text is shown as text, never rendered
if traces.is_list(sample.get("step_scores")) and len(sample["step_scores"]):
    steps = list(sample["step_scores"])
    fig = go.Figure(go.Bar(x=list(range(1, len(steps) + 1)), y=steps, marker_color=NEUTRAL,
                           hovertemplate="step %{x}<br>score %{y:.3f}<extra></extra>"))
    fig.update_layout(height=220, xaxis_title="step (last bar: the outcome)", yaxis_title="verifier score",
                      yaxis_range=[0, 1], margin=dict(l=10, r=10, t=10, b=10))
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
    for label, mask, color in [("pruned", ~tree["kept"], NEUTRAL), ("kept", tree["kept"] & ~tree["on_answer_path"], "#4c78a8"),
                               ("path of the answer", tree["on_answer_path"], CORRECT)]:
        part = tree[mask]
        fig.add_trace(go.Scatter(x=part["x"], y=part["y"], mode="markers", name=label,
                                 marker=dict(color=color, size=9, line=dict(width=1, color="white")),
                                 text=[html_safe(t) for t in part["text"]], customdata=part[["score", "tokens"]],
                                 hovertemplate="%{text}<br>score %{customdata[0]:.3f} · %{customdata[1]} tokens<extra></extra>"))
    fig.update_layout(height=420, xaxis_title="depth (reasoning steps)", yaxis=dict(visible=False),
                      margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h"))
    st.plotly_chart(fig, key="tree")
    explain("Every dot is one step proposed by the model; the verifier's score decides which branches survive. "
            "Grey branches were pruned; green is the path to the returned answer.",
            "Beam search and DVTS with a process verifier: Snell et al. 2024; Beeching et al. 2024")
    download(tree.drop(columns=["x", "y"]), "tree")
