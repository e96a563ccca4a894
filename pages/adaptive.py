"""Adaptive compute: spend the budget by difficulty instead of uniformly; think / no-think routing."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.explore import adaptive, common, fmt
from pages._common import (variant, NEUTRAL, STRATEGY_COLORS, UPPER_BOUND, acc_range, download, explain, header, model_color,
                           safe, select, strategy_label, toggle)

header("Adaptive compute", "Does spending little on easy prompts and a lot on hard ones beat the same budget spent "
       "evenly?")
finals = common.final_models("cot", variant())
if not finals:
    st.info("No CoT models with runs in the cache yet.")
    st.stop()
c1, c2, c3 = st.columns([2, 2, 1])
with c1:
    model = select("Model", finals, "model", default=finals[0])
with c2:
    kind = select("Difficulty known as", ["oracle", "predicted", "band"], "bins", default="oracle",
                  format_func=lambda k: common.BIN_KINDS[k].split(":")[0], help=common.BIN_KINDS["oracle"] + "; "
                  + common.BIN_KINDS["predicted"] + "; " + common.BIN_KINDS["band"])
with c3:
    perfect = toggle("Perfect verifier", False, "perfect",
                     help="admit beam search / DVTS driven by the exact step checker (an upper bound)")
try:
    alloc = adaptive.allocation(model, kind, perfect)
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
if alloc.empty:
    st.info("No budget on the grid is affordable for every bin.")
    st.stop()
if kind in common.REFERENCE_BINS:
    st.caption(f"{kind.capitalize()} bins of **{model}**'s own main pool: tailored to it (on its own samples it looks "
               "better on easy bins and worse on hard ones than it is).")
if bool(alloc["upper_bound"].any()):
    st.warning(f"A perfect verifier is allowed: these curves are the {UPPER_BOUND}, not something a deployed system "
               "can reach.")
fig = go.Figure()
for name, acc, lo, hi, spent, color, dash, symbol in [
        ("compute-optimal by bin", alloc["alloc_acc"], alloc["alloc_lo"], alloc["alloc_hi"], alloc["alloc_flops"],
         model_color(model), "solid", "circle"),
        ("uniform (best single strategy)", alloc["uniform_acc"], alloc["uniform_lo"], alloc["uniform_hi"],
         alloc["uniform_flops"], NEUTRAL, "dash", "square")]:
    budget = alloc["budget"]
    fig.add_trace(go.Scatter(x=list(budget) + list(budget)[::-1], y=list(hi) + list(lo)[::-1], fill="toself",
                             fillcolor=color, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                             showlegend=False, name=f"{name} 95% CI"))
    fig.add_trace(go.Scatter(x=budget, y=acc, mode="lines+markers", name=name, line=dict(color=color, dash=dash),
                             marker=dict(symbol=symbol, size=8),
                             customdata=np.column_stack([[fmt.flops(b) for b in budget], [fmt.flops(f) for f in spent],
                                                         [fmt.pct(a) for a in acc]]),
                             hovertemplate="budget %{customdata[0]} FLOPs per prompt<br>spends %{customdata[1]}<br>"
                                           "accuracy %{customdata[2]}<extra></extra>"))
fig.update_xaxes(type="log", title="FLOPs budget per prompt (mean)")
fig.update_yaxes(title="accuracy", range=acc_range(alloc[["alloc_lo", "uniform_lo"]], alloc[["alloc_hi", "uniform_hi"]]),
                 tickformat=".0%")
fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.2))
st.plotly_chart(fig, key="alloc")
st.caption("The y-axis is zoomed to the data (see its labels).")
spent = alloc["alloc_flops"].to_numpy()
flat = np.flatnonzero(np.isclose(spent, spent[-1], rtol=1e-6))[0]  # from here on the choice no longer changes
if flat < len(alloc) - 1:
    st.markdown(f"From a budget of {fmt.flops(alloc['budget'].iloc[flat])} FLOPs per prompt on, the best per-bin "
                f"choice spends only {fmt.flops(spent[-1])}: no dearer choice is more accurate on these prompts, so "
                "its line stays flat from there.")
table = pd.DataFrame({
    "FLOPs budget": [fmt.flops(b) for b in alloc["budget"]],
    "by bin": [fmt.pct(a) for a in alloc["alloc_acc"]], "uniform": [fmt.pct(a) for a in alloc["uniform_acc"]],
    "gain (95% CI)": [fmt.ci_points(g, lo, hi) for g, lo, hi in zip(alloc["gain"], alloc["gain_lo"], alloc["gain_hi"])]})
st.dataframe(table, hide_index=True)
pick = select("Per-bin choice at budget", list(range(len(alloc))), "at", default=len(alloc) // 2,
              format_func=lambda i: fmt.flops(alloc["budget"].iloc[i]))
st.dataframe(pd.DataFrame([{"bin": str(b.bin), "strategy": strategy_label(b.strategy, b.verifier), "k": int(b.k)}
                           for b in alloc["per_bin"].iloc[pick].itertuples()]), hide_index=True)
note = ""
if kind == "predicted":
    note = (f" Predicting a prompt's bin costs {fmt.flops(common.predicted_cost(model))} FLOPs per prompt (4 samples + "
            "the learned verifier reading them); it is not added to the curve above.")
explain("Per difficulty bin, the strategy and budget (majority vote, best-of-N, beam search, …) that maximise total "
        "accuracy under the same mean FLOPs per prompt, found exactly (a multiple-choice knapsack over the bins), "
        "against the best single strategy for every prompt. The gain's CI is a paired bootstrap over prompts; it is "
        "chosen and scored on the same prompts, as in the paper's oracle-bin analysis, so it cannot be negative here "
        "— the Claims page scores the choice on held-out prompts (cross-fitted)." + note,
        "Snell et al. 2024 (compute-optimal scaling, oracle and predicted difficulty)")
download(alloc.drop(columns=["per_bin"]), f"allocation_{model}_{kind}")

runs = adaptive.adaptive_runs(model)
if not runs.empty:
    st.subheader("The adaptive strategy, run for real")
    fig = go.Figure()
    for name, part in runs.groupby("allocation"):  # typed column of the adaptive runs: adaptive / uniform
        part = part.sort_values("k")
        fig.add_trace(go.Scatter(x=part["samples"], y=part["acc"], mode="lines+markers", name=name,
                                 error_y=dict(type="data", array=part["hi"] - part["acc"],
                                              arrayminus=part["acc"] - part["lo"]),
                                 marker=dict(symbol="circle" if name == "adaptive" else "square", size=8),
                                 line=dict(dash="solid" if name == "adaptive" else "dash",
                                           color=model_color(model) if name == "adaptive" else NEUTRAL)))
    fig.update_layout(height=340, xaxis_title="samples per prompt (mean, incl. the 2-sample probe)",
                      yaxis=dict(title="accuracy", range=acc_range(runs[["lo"]], runs[["hi"]]), tickformat=".0%"),
                      xaxis=dict(type="log", tickvals=sorted(set(runs["samples"].round(1))),
                                 ticktext=[f"{v:g}" for v in sorted(set(runs["samples"].round(1)))]),
                      margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="adaptive_runs")
    explain("Each prompt first gets 2 samples; the learned verifier's mean score predicts how likely it is solved, "
            "and the rest of the batch's budget goes to prompts in proportion to p·(1−p). Uniform spends the same "
            "total evenly. Answers: verifier-weighted majority.", "Snell et al. 2024; Damani et al. 2024")
    download(runs, f"adaptive_runs_{model}")

st.subheader("Think or not: routing")
directs = common.final_models("direct")
if not directs:
    st.info("Routing needs a direct-answer model and a CoT model with greedy runs.")
    st.stop()
sizes = common.zoo_models().set_index("name")["params"]
nearest = min(directs, key=lambda d: (abs(np.log(sizes[d] / sizes[model])), d))  # the direct model of this size
direct = select(f"Direct-answer model (answers first; {model} thinks when it is not confident)", directs, "direct",
                default=nearest)
try:
    routed = adaptive.routing(direct, model)
except ValueError as e:
    st.info(safe(e, 300))
    st.stop()
front, mix = routed["front"], routed["mix"]
POLICY = {"direct": f"{direct} alone", "cot": f"{model} alone", "route": "router"}
fig = go.Figure(go.Scatter(x=front["flops"], y=front["acc"], mode="lines+markers", line=dict(shape="hv",
                           color=STRATEGY_COLORS["route"]), name="router (cascade), Pareto points",
                           error_y=dict(type="data", array=front["hi"] - front["acc"], arrayminus=front["acc"] - front["lo"]),
                           customdata=np.column_stack([[POLICY.get(p, p) for p in front["policy"]],
                                                       [fmt.MISSING if fmt.missing(t) else f"{t:.2f}"
                                                        for t in front["threshold"]],
                                                       [fmt.pct(f, 0) for f in front["frac_direct"]],
                                                       [fmt.flops(f) for f in front["flops"]],
                                                       [fmt.pct(a) for a in front["acc"]]]),
                           hovertemplate="%{customdata[0]} (threshold %{customdata[1]}, %{customdata[2]} answered "
                                         "directly)<br>%{customdata[3]} FLOPs<br>accuracy %{customdata[4]}<extra></extra>"))
fig.add_trace(go.Scatter(x=mix["flops"], y=mix["acc"], mode="lines", name="random mix of the two models, same FLOPs",
                         line=dict(color=NEUTRAL, dash="dash"),
                         customdata=np.column_stack([[fmt.pct(s, 0) for s in mix["share_cot"]],
                                                     [fmt.flops(f) for f in mix["flops"]],
                                                     [fmt.pct(a) for a in mix["acc"]]]),
                         hovertemplate="%{customdata[0]} of prompts to the CoT model at random<br>%{customdata[1]} "
                                       "FLOPs<br>accuracy %{customdata[2]}<extra></extra>"))
fig.update_layout(height=360, xaxis_title="inference FLOPs per prompt (mean)", xaxis_type="log",
                  yaxis=dict(title="accuracy", tickformat=".0%",
                             range=acc_range(pd.concat([front[["lo"]], mix[["acc"]].rename(columns={"acc": "lo"})]),
                                             pd.concat([front[["hi"]], mix[["acc"]].rename(columns={"acc": "hi"})]))),
                  margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25))
st.plotly_chart(fig, key="routing")
explain("The direct model answers first; when it is confident (the probability of its own answer ≥ a threshold) its "
        "answer stands, otherwise the CoT model thinks. Sweeping the threshold traces the router's Pareto front; every "
        "point pays for the direct answer, plus the CoT run when sent on. The dashed line is the baseline to compare it "
        "with: sending a random share of prompts to each model, at the same FLOPs per prompt. Claim 7 on the Claims "
        "page chooses the threshold on half the prompts and scores it on the other half.",
        "Snell et al. 2024; Damani et al. 2024 (learning how hard to think)")
download(front, f"routing_{direct}_{model}")
