"""Small vs large: at matched FLOPs, where does a larger model win? Winner map, exchange rate, lifetime compute."""
import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from backend.explore import common, small_large
from pages._common import UPPER_BOUND, download, explain, header, model_color, safe, select, strategy_label, slider

header("Small vs large", "At the same inference FLOPs per prompt, when does a bigger model beat a small one that "
       "thinks more?")
finals = common.final_models("cot")
if len(finals) < 2:
    st.info("This page needs at least two trained CoT models with runs in the cache.")
    st.stop()

st.subheader("Winner map")
c1, c2 = st.columns(2)
with c1:
    kind = select("Difficulty bins", [k for k in common.BIN_KINDS if k != "all"], "bins", default="band",
                  format_func=lambda k: common.BIN_KINDS[k])
with c2:
    ref = select("Bins defined by", finals, "ref", default=finals[0], disabled=kind not in common.REFERENCE_BINS,
                 help="oracle and predicted bins are quintiles of one model's own pool")
if kind in common.REFERENCE_BINS:
    st.caption(f"{common.BIN_KINDS[kind].split(':')[0].capitalize()} bins of **{ref}**'s own main pool: they are "
               f"tailored to {ref} (on its own samples it looks better on easy bins and worse on hard ones than it "
               "is), so read its cells with that in mind.")
try:
    wm = small_large.winner_map(tuple(finals), (), kind, ref)
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
g = small_large.winner_grid(wm, finals, common.bin_labels(kind, ref))
wm = g["table"]
fig = go.Figure(go.Heatmap(
    z=g["model_index"], x=[f"{b:.2g}" for b in g["budgets"]], y=g["bins"],
    colorscale=[[i / max(1, len(finals) - 1), model_color(m)] for i, m in enumerate(finals)],
    zmin=0, zmax=max(1, len(finals) - 1), showscale=False,
    text=g["label"], texttemplate="%{text}", textfont=dict(size=10), customdata=g["acc"],
    hovertemplate="bin %{y}<br>≤ %{x} FLOPs/prompt<br>%{text}<br>accuracy %{customdata:.3f}<extra></extra>"))
fig.update_layout(height=140 + 70 * len(g["bins"]), xaxis_title="inference FLOPs per prompt (budget, log-spaced)",
                  xaxis_type="category", yaxis_type="category",
                  yaxis_title=f"difficulty ({kind})", margin=dict(l=10, r=10, t=10, b=10))
st.plotly_chart(fig, key="winner")
st.caption("Colour = winning model (" + ", ".join(finals) + "); text = its best strategy and budget k. Only "
           f"deployable strategies compete: oracle selection (pass@k) and the exact step checker are the {UPPER_BOUND} "
           "and never win a cell.")
summary = small_large.winner_summary(wm, finals)
if summary["n_cells"]:
    cells = ", ".join(f"{m} {summary['cells'][m]} ({summary['clear'][m]} by a margin whose CI excludes 0)"
                      for m in finals if summary["cells"][m])
    ends = "; ".join(f"{b}: {v['cheapest']} at the smallest budget, {v['dearest']} "
                     f"({strategy_label(v['dearest_strategy'])}, k={v['dearest_k']}) at the largest"
                     for b, v in summary["per_bin"].items())
    st.markdown(f"Cells won, of {summary['n_cells']}: {cells}. By bin — {ends}.")
explain("For each difficulty bin and FLOPs budget, every model may use any deployable strategy whose cost fits. The "
        "winner is the highest mean accuracy; the table below gives its 95% CI and the paired margin over the best "
        "other model. The sentence above is computed from this map.",
        "Snell et al. 2024 (compute-optimal test-time scaling vs a 14× larger model)")
download(wm, "winner_map")
with st.expander("Winner map as a table (with CIs and margins)"):
    st.dataframe(wm, hide_index=True)

st.subheader("Exchange rate")
c1, c2, c3 = st.columns(3)
with c1:
    small = select("Small model", finals[:-1], "small", default=finals[0])
with c2:
    larger = [m for m in finals if finals.index(m) > finals.index(small)]
    large = select("Large model", larger, "large", default=larger[0])
with c3:
    method = select("Small model's strategy", list(small_large.METHODS), "method", default="maj@k",
                    format_func=lambda m: strategy_label(*small_large.METHODS[m]))
try:
    ex = small_large.exchange(small, large, method, "band")
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
show = ex[["bin", "target_acc", "k", "k_lo", "k_hi", "p_never", "ceiling", "coverage", "reason", "flops_ratio",
           "n_prompts"]].copy()
show["k"] = [("never" if k is None or k != k else int(k)) for k in show["k"]]
st.dataframe(show, hide_index=True, column_config={
    "target_acc": st.column_config.NumberColumn(f"{large} greedy acc", format="%.3f"),
    "k": st.column_config.TextColumn(f"samples of {small} to match"),
    "k_lo": st.column_config.NumberColumn("95% CI low"), "k_hi": st.column_config.NumberColumn("95% CI high"),
    "p_never": st.column_config.NumberColumn("P(never) in bootstrap", format="%.2f"),
    "ceiling": st.column_config.NumberColumn(f"{small} at its largest k", format="%.3f"),
    "coverage": st.column_config.NumberColumn(f"{small} pass@n", format="%.3f"),
    "flops_ratio": st.column_config.NumberColumn("FLOPs ratio at match", format="%.2f")})
explain("The smallest number of samples at which the small model's accuracy (a deployable strategy) reaches one "
        "greedy answer of the large model, with a bootstrap CI over prompts. 'never' means no sample count in the pool "
        "gets there, for one of two reasons: 'plateau' when the strategy stops short of the target although coverage "
        "(the upper bound) reaches it, 'coverage' when even coverage stays below it.",
        "Snell et al. 2024; Brown et al. 2024")
download(ex, "exchange_rate")

st.subheader("Total compute over a deployment's lifetime")
q_exp = slider("Queries served (log10)", 0.0, 12.0, 6.0, 0.5, "queries")
queries = small_large.QUERY_GRID
try:
    life = small_large.lifetime(small, large, queries, method)
except ValueError as e:
    st.info(safe(e, 300) + " — so there is no small+TTC deployment to put a price on.")
else:
    fig = px.line(life, x="queries", y="total_flops", color="model", log_x=True, log_y=True,
                  color_discrete_sequence=[model_color(small), model_color(large)])
    fig.add_vline(x=10 ** q_exp, line_dash="dot", annotation_text=f"{10 ** q_exp:.2g} queries")
    be = float(life["break_even_queries"].iloc[0])
    if np.isfinite(be):
        fig.add_vline(x=be, line_color="#888", annotation_text=f"break-even {be:.2g}")
    fig.update_layout(height=380, xaxis_title="queries served over the lifetime",
                      yaxis_title="total FLOPs (training + inference)", margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="lifetime")
    cheaper = small_large.cheaper_at(life, 10 ** q_exp)
    st.markdown(f"At {10 ** q_exp:.2g} queries the cheaper deployment is **{safe(cheaper)}**.")
    explain("Training costs 6·N·D once; every query then costs the per-prompt inference FLOPs at which the two "
            "options are equally accurate. At the break-even volume both totals are equal; the chart shows which total "
            "is lower at every volume.",
            "Snell et al. 2024 §7; Sardana & Frankle 2023 (beyond Chinchilla-optimal)")
    download(life, "lifetime")
