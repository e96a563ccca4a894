"""Reasoning vs not: CoT vs direct-answer models; iso-accuracy over training × inference FLOPs."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import common, reasoning
from pages._common import STRATEGY_LABELS, ci_figure, download, explain, header, multiselect, select, with_series

header("Reasoning vs not", "Can sampling rescue a model that was never trained to reason?")
finals = reasoning.reasoning_models()
if not finals:
    st.info("No zoo runs in the cache yet.")
    st.stop()
c1, c2 = st.columns([3, 1])
with c1:
    chosen = multiselect("Models", finals, "models",
                         default=finals[:4])
with c2:
    kind = select("Difficulty", ["all", "band"], "bins", default="all", format_func=lambda k: common.BIN_KINDS[k])
labels = common.bin_labels(kind) if kind == "band" else []
label = select("Band", labels, "bin", default="medium") if labels else None
df = reasoning.ceiling(tuple(chosen), kind, label)
if df.empty:
    st.info("Pick models with sampling pools.")
    st.stop()
df = with_series(df)
st.plotly_chart(ci_figure(df, x="samples", group="series", x_title="samples per prompt",
                          hover=["lo", "hi", "k", "n_prompts"]), key="ceiling")
ends = df.sort_values("k").groupby(["model", "strategy"], sort=False).tail(1)
st.markdown("At each model's largest k: " + "; ".join(
    f"{r.model} {STRATEGY_LABELS[r.strategy]} {r.acc:.1%} (k={r.k})" for r in ends.itertuples()) + ".")
explain("Majority vote (solid, deployable) and coverage (pass@k, grey dashed: an oracle picks a right sample whenever "
        "there is one, an upper bound) of chain-of-thought models against direct-answer models of the same size and "
        "training data. Claim 3 on the Claims page tests whether any sample count reaches the CoT model.",
        "Wei et al. 2022 (chain of thought); Snell et al. 2024; DESIGN claim 3")
download(df, "ceiling")

st.subheader("Training compute × inference compute")
fams = reasoning.families()
if not fams:
    st.info("Iso-accuracy needs CoT training checkpoints with sampling pools in the cache.")
    st.stop()
fam = select("Model family (training checkpoints)", fams, "family", default=fams[-1])
grid = reasoning.iso_grid(fam)
if grid.empty:
    st.info("No pools for these checkpoints.")
    st.stop()
fig = go.Figure(go.Contour(x=grid["inference_flops"], y=grid["training_flops"], z=grid["acc"], colorscale="Viridis",
                           contours=dict(showlabels=True, labelformat=".2f"), colorbar=dict(title="maj@k acc"),
                           hovertemplate="inference %{x:.3g} FLOPs/prompt<br>training %{y:.3g} FLOPs<br>accuracy "
                                         "%{z:.3f}<extra></extra>"))
fig.add_trace(go.Scatter(x=grid["inference_flops"], y=grid["training_flops"], mode="markers",
                         marker=dict(size=5, color="white", line=dict(width=1, color="black")),
                         text=grid["model"] + " k=" + grid["k"].astype(str), hoverinfo="text", showlegend=False))
fig.update_layout(height=460, xaxis=dict(type="log", title="inference FLOPs per prompt (majority vote over k samples)"),
                  yaxis=dict(type="log", title="training FLOPs (6·N·D at the checkpoint)"),
                  margin=dict(l=10, r=10, t=10, b=10))
st.plotly_chart(fig, key="iso")
explain("Each dot is a training checkpoint of one model voting over k samples. Along a contour accuracy is constant: "
        "how much inference compute replaces how much training compute. Where contours run vertical, accuracy depends "
        "on training compute alone (claim 4 on the Claims page measures the interaction). Checkpoints are taken mid-schedule (before the learning rate has decayed), so they slightly understate what "
        "a run trained to that budget would reach.", "Snell et al. 2024; Wu et al. 2024 (inference scaling laws)")
download(grid, f"iso_{fam}")
