"""Small vs large: at matched FLOPs, where does a larger model win? Winner map, exchange rate, lifetime compute."""
import numpy as np
import plotly.express as px
import streamlit as st

from backend.explore import common, fmt, small_large
from pages._common import (variant, STRATEGY_SHORT, UPPER_BOUND, download, explain, header, model_color,
                           multiselect, safe, select, slider, strategy_label)
from pages._figures import winner_figure

header("Small vs large", "At the same inference FLOPs per prompt, when does a bigger model beat a small one that "
       "thinks more?")
finals = common.final_models("cot", variant())
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
tuned = common.fine_tuned_models(finals)
if tuned:
    tuned = multiselect("Also competing", tuned, "also", default=[],
                        help="fine-tuned members (DPO from a teacher): their fine-tune FLOPs are on the Other levers "
                             "page; here they compete per query like any model")
competing = finals + [m for m in tuned if m not in finals]
if kind in common.REFERENCE_BINS:
    st.caption(f"{common.BIN_KINDS[kind].split(':')[0].capitalize()} bins of **{ref}**'s own main pool: they are "
               f"tailored to {ref} (on its own samples it looks better on easy bins and worse on hard ones than it "
               "is), so read its cells with that in mind.")
try:
    wm = small_large.winner_map(tuple(competing), (), kind, ref)
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
g = small_large.winner_grid(wm, competing, common.bin_labels(kind, ref), lambda x: STRATEGY_SHORT.get(x, x))
wm = g["table"]
st.plotly_chart(winner_figure(g, competing), key="winner")
st.caption("Colour and name = the winning model; below it, its best strategy and budget k. Only deployable strategies "
           f"compete: oracle selection (pass@k) and the exact step checker are the {UPPER_BOUND} and never win a "
           "cell.")
summary = small_large.winner_summary(wm, competing)
if summary["n_cells"]:
    cells = ", ".join(f"{m} {summary['cells'][m]} ({summary['clear'][m]} by a margin whose CI excludes 0)"
                      for m in competing if summary["cells"][m])
    if tuned:
        cells += "; " + ", ".join(f"{m} {summary['cells'][m]}" for m in tuned if not summary["cells"][m])
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
    st.dataframe(small_large.winner_table(wm, strategy_label), hide_index=True)

st.subheader("Exchange rate")
pairs = small_large.matching_pairs(tuple(finals))
c1, c2 = st.columns(2)
with c1:
    small = select("Small model", finals[:-1], "small", default=pairs[0][0] if pairs else finals[0])
with c2:
    larger = [m for m in finals if finals.index(m) > finals.index(small)]
    large = select("Large model", larger, "large",
                   default=next((l for s_, l in pairs if s_ == small), larger[0]))
try:
    ex = small_large.exchange_summary(small, large, "band")
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
st.dataframe(small_large.exchange_view(ex, small, large, strategy_label), hide_index=True)
explain(f"The fewest samples at which {small}'s best deployable strategy (majority vote, or best-of-N with the learned "
        f"verifier) reaches one greedy answer of {large}, with a bootstrap CI over prompts; 'never' when no sample "
        "count in the pool gets there — because the strategy stops short although coverage reaches the target "
        "('selection'), or because even coverage stays below it. The last column is the upper bound: how many "
        "samples an oracle that picks a right sample would need.", "Snell et al. 2024; Brown et al. 2024")
download(ex, "exchange_rate")

st.subheader("Total compute over a deployment's lifetime")
life = None
try:
    life = small_large.lifetime(small, large, small_large.QUERY_GRID, ex["method"].iloc[0])
except ValueError:
    row = ex.iloc[0]
    others = [f"{a} vs {b}" for a, b in pairs]
    st.info(f"{small} never matches one greedy answer of {large} with a deployable strategy (its best, "
            f"{strategy_label(*small_large.METHODS[row['method']])} over {int(row['max_k'])} samples, reaches "
            f"{fmt.pct(row['ceiling'])} against {fmt.pct(row['target_acc'])}), so there is no small-model deployment "
            "to price; "
            + (f"pairs that do match: {', '.join(others)}." if others else
               "nor does any other pair of final models in this cache."))
if life is not None:
    q_exp = slider("Queries served (log10)", 0.0, 12.0, 6.0, 0.5, "queries")
    fig = px.line(life, x="queries", y="total_flops", color="model", log_x=True, log_y=True,
                  color_discrete_sequence=[model_color(small), model_color(large)])
    fig.add_vline(x=10 ** q_exp, line_dash="dot", annotation_text=f"{fmt.count(10 ** q_exp)} queries")
    be = float(life["break_even_queries"].iloc[0])
    if np.isfinite(be):
        fig.add_vline(x=be, line_color="#888", annotation_text=f"break-even {fmt.count(be)}")
    fig.update_layout(height=380, xaxis_title="queries served over the lifetime",
                      yaxis_title="total FLOPs (training + inference)", margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="lifetime")
    cheaper = small_large.cheaper_at(life, 10 ** q_exp)
    st.markdown(f"At {fmt.count(10 ** q_exp)} queries the cheaper deployment is **{safe(cheaper)}**.")
    explain("Training costs 6·N·D once; every query then costs the per-prompt inference FLOPs at which the two "
            "options are equally accurate. At the break-even volume both totals are equal; the chart shows which total "
            "is lower at every volume.",
            "Snell et al. 2024 §7; Sardana & Frankle 2023 (beyond Chinchilla-optimal)")
    download(life, "lifetime")
