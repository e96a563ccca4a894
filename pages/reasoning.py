"""Reasoning vs not: CoT vs direct-answer models; iso-accuracy over training × inference FLOPs."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import common, reasoning
from pages._common import ci_figure, download, explain, header, multiselect, select

header("Reasoning vs not", "Can sampling rescue a model that was never trained to reason?")
models = common.zoo_models()
finals = [m for m in models["name"] if "@" not in m and not m.endswith("-nowait")]
if not finals:
    st.info("No zoo runs in the cache yet.")
    st.stop()
c1, c2 = st.columns([3, 1])
with c1:
    chosen = multiselect("Models", finals, "models",
                         default=[m for m in finals if m in ("cot-0.1m", "direct-0.1m", "cot-0.8m", "direct-0.8m")][:4])
with c2:
    kind = select("Difficulty", ["all", "band"], "bins", default="all", format_func=lambda k: common.BIN_KINDS[k])
labels = common.bin_labels(kind) if kind == "band" else []
label = select("Band", labels, "bin", default="medium") if labels else None
df = reasoning.ceiling(tuple(chosen), kind, label)
if df.empty:
    st.info("Pick models with sampling pools.")
    st.stop()
df["series"] = df["model"] + " · " + df["strategy"].map(common.STRATEGY_LABELS)
st.plotly_chart(ci_figure(df, x="samples", group="series", x_title="samples per prompt",
                          hover=["lo", "hi", "k", "n_prompts"]), key="ceiling")
explain("Coverage (pass@k, dotted) and majority vote (solid) of chain-of-thought models against direct-answer "
        "models of the same size and training data. A model that answers directly plateaus: no number of samples "
        "closes the gap to the model that writes its steps.",
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
        "how much inference compute replaces how much training compute. Where contours run vertical, more samples "
        "cannot stand in for more training — internal scaling builds the capability that external scaling extracts. "
        "Checkpoints are taken mid-schedule (before the learning rate has decayed), so they slightly understate what "
        "a run trained to that budget would reach.", "Snell et al. 2024; Wu et al. 2024 (inference scaling laws)")
download(grid, f"iso_{fam}")
