"""Other levers: test-time compute against the training-side routes (CoT vs direct training, checkpoints, DPO from a
teacher, a learned router, proxy tuning), in total compute and in latency."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import fmt, levers
from pages._common import NEUTRAL, download, explain, header, html_safe, model_color, safe, select, slider

SYMBOLS = {"test-time compute": "circle", "CoT training": "square", "direct training": "x", "training checkpoint":
           "triangle-up", "DPO fine-tune": "star", "learned router": "diamond", "proxy tuning": "cross"}
header("Other levers", "Where the small model lacks the skill, is training cheaper than thinking longer — and what "
       "does each route cost in total compute and in waiting time?")

# ---- total compute --------------------------------------------------------------------------------------------
routes = levers.routes()
if routes.empty:
    st.info("The cache holds no runs of zoo members with model cards yet.")
    st.stop()
targets = levers.route_targets()
c1, c2 = st.columns([2, 3])
with c1:
    target = select("Accuracy to reach: the greedy answer of", targets, "target", default=targets[0] if targets else None)
with c2:
    log_q = slider("Queries served (log₁₀)", 0.0, 12.0, 6.0, 0.5, "queries")
queries = 10 ** log_q
life = levers.lifetime(queries)
st.markdown(safe(levers.cheapest_sentence(queries, target), 2000))
fig = go.Figure()
for lever, part in life.groupby("lever", sort=True):
    fig.add_trace(go.Scatter(
        x=part["total_flops"], y=part["acc"], mode="markers", name=lever,
        marker=dict(size=9, color=[model_color(m) for m in part["model"]], symbol=SYMBOLS.get(lever, "circle")),
        error_y=dict(type="data", array=part["hi"] - part["acc"], arrayminus=part["acc"] - part["lo"]),
        customdata=part[["route", "training_flops", "flops"]].to_numpy(),
        hovertemplate="<b>%{customdata[0]}</b><br>total %{x:.3g} FLOPs (training %{customdata[1]:.3g} + queries × "
                      "%{customdata[2]:.3g})<br>accuracy %{y:.3f}<extra></extra>", text=[html_safe(r) for r in part["route"]]))
t = routes[(routes["model"] == target) & (routes["strategy"] == "greedy")]
if len(t):
    fig.add_hline(y=float(t["acc"].iloc[0]), line=dict(color=NEUTRAL, dash="dot"),
                  annotation_text=f"{html_safe(target)} greedy")
fig.update_xaxes(type="log", title=f"total compute at {fmt.count(queries)} queries (FLOPs: training + queries × inference)")
fig.update_yaxes(title="accuracy (95% CI)", range=[0, 1.02])
fig.update_layout(height=460, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25))
st.plotly_chart(fig, key="lifetime_chart")
explain("Each point is one way to get answers: a zoo member's greedy answer, majority vote over k of its samples "
        "(test-time compute), a training checkpoint, a direct-answer model, a DPO fine-tune, the learned router, or "
        "proxy tuning (its three models' training counted). Total compute = training FLOPs (the model card; a "
        "fine-tune adds what it spent, its teacher's pretraining excluded) + queries × mean inference FLOPs per "
        "query. Move the slider: few queries favour cheap training, many favour cheap answers.",
        "Snell et al. 2024 §7 (total compute); Rafailov et al. 2023 (DPO); Liu et al. 2024 (proxy tuning)")
download(life, f"routes_{int(log_q * 10)}")

# ---- width vs depth -------------------------------------------------------------------------------------------
st.subheader("Wider or deeper: latency at matched FLOPs")
lat_models = levers.latency_models()
if not lat_models:
    st.info("No measured decode times yet: run `python -m backend measure-latency` to add the latency axis.")
else:
    model = select("Model", lat_models, "model", default=lat_models[0])
    wd = levers.width_depth(model)
    if wd.empty:
        st.info(f"No wider / deeper runs of {model} in the cache.")
    else:
        st.markdown(safe(levers.width_depth_sentence(wd), 2000))
        fig = go.Figure()
        for fam, part in wd.groupby("family", sort=True):
            part = part.drop_duplicates("run_key" if fam != "wider" else "k")
            fig.add_trace(go.Scatter(
                x=part["latency_s"] * 1e3, y=part["acc"], mode="lines+markers", name=fam,
                line=dict(dash="solid" if fam == "wider" else "dash"),
                error_y=dict(type="data", array=part["hi"] - part["acc"], arrayminus=part["acc"] - part["lo"]),
                customdata=part[["flops", "k", "thinking", "strategy"]].to_numpy(),
                hovertemplate="%{customdata[3]} k=%{customdata[1]} thinking %{customdata[2]}<br>%{customdata[0]:.3g} "
                              "FLOPs/query<br>%{x:.0f} ms<br>accuracy %{y:.3f}<extra></extra>"))
        fig.update_xaxes(type="log", title="latency per query (ms, measured step times × serial steps)")
        fig.update_yaxes(title="accuracy (95% CI)", range=[0, 1.02])
        fig.update_layout(height=400, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25))
        st.plotly_chart(fig, key="width_depth_chart")
        explain("For each FLOPs budget, the most accurate choice of each family within it. Parallel samples share "
                "decode steps (latency ≈ the longest sample × the per-step time at that batch width); thinking "
                "longer adds steps one after another; search waits for a verifier call after every step. Per-step "
                "times are measured on this machine per model and batch width (cache/latency).",
                "Snell et al. 2024; Muennighoff et al. 2025 (s1, budget forcing); GRAM (width vs depth)")
        download(wd, f"width_depth_{model}")

# ---- learned router -------------------------------------------------------------------------------------------
routers = levers.routers()
if routers:
    st.subheader("A model that decides when to think")
    name = select("Router", [r[0] for r in routers], "router")
    r = levers.router(name)
    st.markdown(safe(r["sentence"], 2000))
    fig = go.Figure()
    for label, front, color in (("learned router, threshold on P(short)", r["learned_front"], model_color(name)),
                                ("confidence cascade (direct → CoT)", r["confidence_front"], NEUTRAL)):
        fig.add_trace(go.Scatter(x=front["flops"], y=front["acc"], mode="lines+markers", name=label,
                                 line=dict(shape="hv", color=color),
                                 error_y=dict(type="data", array=front["hi"] - front["acc"],
                                              arrayminus=front["acc"] - front["lo"])))
    tab = r["table"]
    fig.add_trace(go.Scatter(x=tab["flops"], y=tab["acc"], mode="markers", name="policies (table below)",
                             marker=dict(size=10, symbol="diamond", color=NEUTRAL),
                             error_y=dict(type="data", array=tab["hi"] - tab["acc"], arrayminus=tab["acc"] - tab["lo"]),
                             text=[html_safe(p) for p in tab["policy"]],
                             hovertemplate="%{text}<br>%{x:.3g} FLOPs<br>accuracy %{y:.3f}<extra></extra>"))
    fig.update_xaxes(type="log", title="inference FLOPs per query (mean)")
    fig.update_yaxes(title="accuracy (95% CI)", range=[0, 1.02])
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(fig, key="router_chart")
    st.dataframe(tab, hide_index=True)
    explain("The router is one model fine-tuned on both answer formats of every training prompt; its first token is "
            "its mode (T: think, A: short), supervised to 'short' where a direct model's greedy answer was right — "
            "supervised labels, not reinforcement learning. Forcing each mode gives its two plain policies; a "
            "threshold on its own P(short) traces its front.", "Fang et al. 2025 (Thinkless); Snell et al. 2024")
    download(tab, f"router_{name}")

# ---- DPO and proxy tuning -------------------------------------------------------------------------------------
dpos = levers.dpo_members()
if dpos:
    st.subheader("DPO from a teacher")
    name = select("Fine-tuned member", dpos, "dpo")
    d = levers.dpo(name)
    st.markdown(safe(d["sentence"], 2000))
    st.dataframe(d["table"], hide_index=True, column_config={
        "diff": st.column_config.NumberColumn("tuned − base", format="%+.3f"),
        "lo": st.column_config.NumberColumn("95% CI low", format="%+.3f"),
        "hi": st.column_config.NumberColumn("95% CI high", format="%+.3f")})
    explain("Pairs are the teacher's correct and wrong sample for the same training prompt; the base is the frozen "
            "reference. Accuracy on the cache's held-out prompts, paired bootstrap over prompts. The Small vs large "
            "page's winner map shows where the tuned member lands among the plain ones.", "Rafailov et al. 2023")
    download(d["table"], f"dpo_{name}")
proxy = levers.proxy()
if len(proxy):
    st.subheader("Proxy tuning: steering with the difference of two other models")
    st.markdown(safe(levers.proxy_sentence(proxy), 2000))
    st.dataframe(levers.proxy_view(proxy), hide_index=True)
    explain("Each token is drawn from base + α·(expert − anti-expert) logits; the cost per token is all three forward "
            "passes. The gap closed is (proxy − base) / (the base family's fully trained member − base).",
            "Liu et al. 2024 (tuning language models by proxy)")
    download(proxy, "proxy")
