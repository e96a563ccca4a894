"""Adaptive compute: spend the budget by difficulty instead of uniformly; think / no-think routing."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import adaptive, common
from pages._common import (NEUTRAL, UPPER_BOUND, download, explain, header, model_color, safe, select,
                           strategy_label, toggle)

header("Adaptive compute", "Does spending little on easy prompts and a lot on hard ones beat the same budget spent "
       "evenly?")
finals = common.final_models("cot")
if not finals:
    st.info("No CoT models with runs in the cache yet.")
    st.stop()
c1, c2, c3 = st.columns([2, 2, 1])
with c1:
    model = select("Model", finals, "model", default=finals[0])
with c2:
    kind = select("Difficulty known as", ["oracle", "predicted", "band"], "bins", default="oracle",
                  format_func=lambda k: common.BIN_KINDS[k])
with c3:
    perfect = toggle("Allow a perfect verifier", False, "perfect",
                     help="admit beam search / DVTS driven by the exact step checker (an upper bound)")
try:
    alloc = adaptive.allocation(model, kind, perfect)
except ValueError as e:
    st.warning(safe(e, 300))
    st.stop()
if alloc.empty:
    st.info("No budget on the grid is affordable for every bin.")
    st.stop()
alloc = alloc.assign(choice=["; ".join(f"{b.bin}: {strategy_label(b.strategy, b.verifier)} k={b.k}"
                                       for b in pb.itertuples()) for pb in alloc["per_bin"]])
if kind in common.REFERENCE_BINS:
    st.caption(f"{kind.capitalize()} bins of **{model}**'s own main pool: tailored to it (on its own samples it looks "
               "better on easy bins and worse on hard ones than it is).")
if bool(alloc["upper_bound"].any()):
    st.warning(f"A perfect verifier is allowed: these curves are the {UPPER_BOUND}, not something a deployed system "
               "can reach.")
fig = go.Figure()
for name, acc, lo, hi, flops, color, dash in [
        ("compute-optimal by bin", alloc["alloc_acc"], alloc["alloc_lo"], alloc["alloc_hi"], alloc["alloc_flops"],
         model_color(model), "solid"),
        ("uniform (best single strategy)", alloc["uniform_acc"], alloc["uniform_lo"], alloc["uniform_hi"],
         alloc["uniform_flops"], "#888888", "dash")]:
    fig.add_trace(go.Scatter(x=list(flops) + list(flops)[::-1], y=list(hi) + list(lo)[::-1], fill="toself",
                             fillcolor=color, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                             showlegend=False, name=f"{name} 95% CI"))
    fig.add_trace(go.Scatter(x=flops, y=acc, mode="lines+markers", name=name, line=dict(color=color, dash=dash),
                             customdata=alloc[["choice"]].to_numpy() if "optimal" in name else None,
                             hovertemplate="%{x:.3g} FLOPs/prompt<br>accuracy %{y:.3f}" +
                                           ("<br>%{customdata[0]}" if "optimal" in name else "") + "<extra></extra>"))
fig.update_xaxes(type="log", title="inference FLOPs per prompt (mean)")
fig.update_yaxes(title="accuracy", range=[0, 1.02])
fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.2))
st.plotly_chart(fig, key="alloc")
gain = alloc[["budget", "alloc_acc", "uniform_acc", "gain", "gain_lo", "gain_hi", "choice"]]
alloc = alloc.drop(columns=["per_bin"])
st.dataframe(gain, hide_index=True, column_config={
    "budget": st.column_config.NumberColumn("FLOPs budget", format="%.3g"),
    "gain": st.column_config.NumberColumn("gain", format="%+.3f"),
    "gain_lo": st.column_config.NumberColumn("95% CI low", format="%+.3f"),
    "gain_hi": st.column_config.NumberColumn("95% CI high", format="%+.3f")})
note = ""
if kind == "predicted":
    note = (f" Predicting a prompt's bin costs {common.predicted_cost(model):.3g} FLOPs per prompt (4 samples + the "
            "learned verifier reading them); it is not added to the curve above.")
explain("Per difficulty bin, the strategy and budget (majority vote, best-of-N, beam search, …) that maximise total "
        "accuracy under the same mean FLOPs per prompt, found exactly (a multiple-choice knapsack over the bins), "
        "against the best single strategy for every prompt. The gain's CI is a paired bootstrap over prompts; it is "
        "chosen and scored on the same prompts, as in the paper's oracle-bin analysis, so it cannot be negative here "
        "— the Claims page scores the choice on held-out prompts (cross-fitted)." + note,
        "Snell et al. 2024 (compute-optimal scaling, oracle and predicted difficulty)")
download(alloc, f"allocation_{model}_{kind}")

runs = adaptive.adaptive_runs(model)
if not runs.empty:
    st.subheader("The adaptive strategy, run for real")
    fig = go.Figure()
    for name, part in runs.groupby("allocation"):  # typed column of the adaptive runs: adaptive / uniform
        part = part.sort_values("k")
        fig.add_trace(go.Scatter(x=part["samples"], y=part["acc"], mode="lines+markers", name=name,
                                 error_y=dict(type="data", array=part["hi"] - part["acc"],
                                              arrayminus=part["acc"] - part["lo"]),
                                 line=dict(dash="solid" if name == "adaptive" else "dash")))
    fig.update_layout(height=340, xaxis_title="samples per prompt (mean, incl. the 2-sample probe)",
                      yaxis_title="accuracy", xaxis_type="log", margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="adaptive_runs")
    explain("Each prompt first gets 2 samples; the learned verifier's mean score predicts how likely it is solved, "
            "and the rest of the batch's budget goes to prompts in proportion to p·(1−p). Uniform spends the same "
            "total evenly. Answers: verifier-weighted majority.", "Snell et al. 2024; Damani et al. 2024")
    download(runs, f"adaptive_runs_{model}")

st.subheader("Think or not: routing")
pairs = adaptive.route_pairs()
if not pairs:
    st.info("Routing needs a direct-answer model and a CoT model with greedy runs.")
    st.stop()
pair = select("Direct model → CoT model", [f"{d} → {c}" for d, c in pairs], "pair",
              default=next((f"{d} → {c}" for d, c in pairs if c == model), None))
direct, cot = pair.split(" → ")
routed = adaptive.routing(direct, cot)
front, mix = routed["front"], routed["mix"]
fig = go.Figure(go.Scatter(x=front["flops"], y=front["acc"], mode="lines+markers", line=dict(shape="hv"),
                           name="router (cascade), Pareto points",
                           error_y=dict(type="data", array=front["hi"] - front["acc"], arrayminus=front["acc"] - front["lo"]),
                           customdata=front[["policy", "threshold", "frac_direct"]].to_numpy(),
                           hovertemplate="%{customdata[0]} (threshold %{customdata[1]:.2f}, %{customdata[2]:.0%} "
                                         "answered directly)<br>%{x:.3g} FLOPs<br>accuracy %{y:.3f}<extra></extra>"))
fig.add_trace(go.Scatter(x=mix["flops"], y=mix["acc"], mode="lines", name="random mix of the two models, same FLOPs",
                         line=dict(color=NEUTRAL, dash="dash"), customdata=mix[["share_cot"]].to_numpy(),
                         hovertemplate="%{customdata[0]:.0%} of prompts to the CoT model at random<br>%{x:.3g} "
                                       "FLOPs<br>accuracy %{y:.3f}<extra></extra>"))
fig.update_layout(height=360, xaxis_title="inference FLOPs per prompt (mean)", yaxis_title="accuracy",
                  xaxis_type="log", margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25))
st.plotly_chart(fig, key="routing")
explain("The direct model answers first; when it is confident (the probability of its own answer ≥ a threshold) its "
        "answer stands, otherwise the CoT model thinks. Sweeping the threshold traces the router's Pareto front; every "
        "point pays for the direct answer, plus the CoT run when sent on. The dashed line is the baseline to compare it "
        "with: sending a random share of prompts to each model, at the same FLOPs per prompt.",
        "Snell et al. 2024; Damani et al. 2024 (learning how hard to think)")
download(front, f"routing_{direct}_{cot}")
