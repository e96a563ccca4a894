"""Reasoning vs not: CoT vs direct-answer models; iso-accuracy over training × inference FLOPs."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import common, fmt, reasoning
from pages._common import STRATEGY_LABELS, ci_figure, download, explain, header, multiselect, select, with_series

header("Reasoning vs not", "Can sampling rescue a model that was never trained to reason?")
finals = reasoning.reasoning_models()
if not finals:
    st.info("No zoo runs in the cache yet.")
    st.stop()
c1, c2 = st.columns([3, 1])
with c1:
    pairs = [(common.partner(d), d) for d in common.final_models("direct") if common.partner(d)]
    chosen = multiselect("Models", finals, "models", default=list(pairs[-1]) if pairs else finals[:2])
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
    f"{r.model} {STRATEGY_LABELS[r.strategy]} {fmt.pct(r.acc)} (k={r.k})" for r in ends.itertuples()) + ".")
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
g = reasoning.iso_matrix(grid)
ks, members, z = g["ks"], g["members"], g["acc"]
xs, ys = list(range(len(ks))), list(range(len(members)))
fig = go.Figure(go.Heatmap(x=xs, y=ys, z=z, colorscale="Viridis", zmin=0, zmax=1, xgap=1, ygap=1,
                           colorbar=dict(title="majority-vote accuracy", tickformat=".0%"),
                           text=[[fmt.pct(v, 0) for v in row] for row in z], texttemplate="%{text}",
                           customdata=[[f"{members[i]}, k={ks[j]}, {fmt.flops(g['inference_flops'][i][j])} FLOPs per "
                                        f"prompt" for j in xs] for i in ys],
                           hovertemplate="%{customdata}<br>accuracy %{text}<extra></extra>"))
if len(xs) > 1 and len(ys) > 1:  # iso-accuracy lines drawn over the same regular grid (checkpoint × log2 k)
    fig.add_trace(go.Contour(x=xs, y=ys, z=z, contours=dict(coloring="lines", showlabels=True, labelformat=".0%",
                                                            labelfont=dict(color="#ffffff", size=11)),
                             line=dict(width=2), colorscale=[[0, "#ffffff"], [1, "#ffffff"]], showscale=False,
                             hoverinfo="skip",
                             ncontours=8))
fig.update_layout(height=120 + 60 * len(ys), margin=dict(l=10, r=10, t=10, b=10),
                  xaxis=dict(title="samples per prompt, majority vote (inference compute grows →)", tickvals=xs,
                             ticktext=[str(k) for k in ks]),
                  yaxis=dict(title="training compute (6·N·D) →", tickvals=ys,
                             ticktext=[f"{m}: {fmt.flops(t)}" for m, t in zip(members, g["training_flops"])]))
st.plotly_chart(fig, key="iso")
explain("Each cell is one training checkpoint (a row: its training FLOPs) voting over k samples (a column: k doubles "
        "to the right, so does the inference compute). Along a white line accuracy is constant: how much inference "
        "compute replaces how much training compute. Where lines run vertical, accuracy depends on sampling alone; "
        "where they run flat, on training alone (claim 4 on the Claims page measures the interaction). Checkpoints "
        "are taken mid-schedule (before the learning rate has decayed), so they slightly understate what a run "
        "trained to that budget would reach.", "Snell et al. 2024; Wu et al. 2024 (inference scaling laws)")
download(grid, f"iso_{fam}")
