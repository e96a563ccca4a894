"""Budget curves: accuracy vs inference budget for each model × strategy, per difficulty bin, with 95% CIs."""
import plotly.graph_objects as go
import streamlit as st

from backend.analysis.claims import MARGIN
from backend.analysis.selection import MAIN_TEMPERATURE
from backend.explore import common, curves, fmt, verifier_knob
from pages._common import (NEUTRAL, STRATEGY_COLORS, STRATEGY_DASH, STRATEGY_LABELS, STRATEGY_SYMBOLS, UPPER_BOUND,
                           acc_range, ci_figure, download, explain, header, multiselect, select, unit_label,
                           verifier_label, with_series)

header("Budget curves", "Does accuracy keep growing as you spend more inference compute — and for which strategy?")
models = common.zoo_models()
if models.empty:
    st.info("The cache holds no zoo runs yet; build it with `python -m backend build-cache`.")
    st.stop()
names = models["name"].tolist()
finals = common.final_models("cot") or names
strategies = common.point_strategies()

c1, c2 = st.columns([2, 3])
with c1:  # opens on one story: the smallest model's coverage against the ways of picking one answer
    chosen = multiselect("Models", names, "models", default=finals[:1])
with c2:
    chosen_s = multiselect("Strategies", strategies, "strategies",
                           default=[s for s in ("pass@k", "maj@k", "best-of-k") if s in strategies],
                           format_func=lambda s: STRATEGY_LABELS.get(s, s))
c3, c4, c5, c6 = st.columns(4)
with c3:
    unit = select("Budget unit", list(curves.UNITS), "unit", default="flops", format_func=unit_label)
with c4:
    kind = select("Difficulty", list(common.BIN_KINDS), "bins", default="all",
                  format_func=lambda k: common.BIN_KINDS[k].split(":")[0], help="; ".join(common.BIN_KINDS.values()))
with c5:
    labels = common.bin_labels(kind, chosen[0] if chosen else None) if kind != "all" else []
    label = select("Bin", labels, "bin", default=labels[-1] if labels else None) if labels else None
with c6:
    verifiers = curves.selection_verifiers(chosen)
    verifier = select("Verifier (best-of-N)", verifiers, "verifier", default=verifiers[0] if verifiers else None,
                      format_func=verifier_label) if verifiers else None
if kind in common.REFERENCE_BINS and chosen:
    st.caption(f"These bins are defined by **{chosen[0]}**'s own main pool (the first model chosen), so they are "
               f"tailored to it: on its own samples it looks better on easy bins and worse on hard ones than it is.")

try:
    df = curves.curves(chosen, chosen_s, kind, label, verifier=verifier, main_temperature=True)
except ValueError as e:
    df = None
    st.warning(str(e))
if df is not None and df.empty:
    st.info("Nothing to plot for this selection: pick at least one model and one strategy the cache holds.")
elif df is not None:  # no st.stop() here: the verifier section below does not depend on this selection
    df = with_series(df)
    fig = ci_figure(df, x=unit, group="series", x_title=unit_label(unit), hover=["lo", "hi", "k", "n_prompts"])
    st.plotly_chart(fig, key="curves")
    st.caption(f"{int(df['n_prompts'].max())} prompts per point · shaded bands: 95% bootstrap CI over prompts · "
               f"colour = model, dash and marker = strategy · grey with open markers: {UPPER_BOUND} · pools at "
               f"temperature {MAIN_TEMPERATURE:g}")
    explain("Each point is the expected accuracy at that budget. Pool strategies (pass@k, majority vote, "
            "best-of-N) are computed exactly from a pool of samples for every k — never from 'the first k' — while "
            "beam search, DVTS and budget forcing are separate runs per budget. pass@k is coverage: it needs an "
            "oracle to pick the right sample, so it bounds what any selection can reach; the exact step checker (and "
            "a noisy version of it) reads the gold answer too — both are drawn as upper bounds, never as strategies "
            "to deploy. FLOPs are 2·N per token plus attention (2·L·d·T·(T+1) per sequence of T tokens), plus the "
            "verifier's forward pass.",
            "Brown et al. 2024 (Large Language Monkeys); Snell et al. 2024; Chen et al. 2021 (pass@k)")
    download(df, "budget_curves")

st.subheader("How good must a verifier be before search beats voting?")
knob_models = verifier_knob.knob_models()
if not knob_models:
    st.info("No final CoT model has a sampling pool in this cache, so there is nothing to rescore.")
    st.stop()
k1, k2 = st.columns(2)
with k1:
    knob_model = select("Model", knob_models, "knob_model")
pts = verifier_knob.knob_points(knob_model)
options = verifier_knob.budget_options(pts)
if options.empty:
    st.info(f"{knob_model}'s pool has no FLOPs recorded, so there is no budget to fix.")
    st.stop()
what = {r.flops: f"{fmt.flops(r.flops)} FLOPs ("
        + (f"{r.k} sample{'s' if r.k > 1 else ''}" if r.what == "samples"
           else f"{STRATEGY_LABELS.get(r.what, r.what)}, budget {r.k}") + ")" for r in options.itertuples()}
with k2:
    budget = select("FLOPs budget per prompt", list(what), "knob_budget",
                    default=verifier_knob.default_budget(options), format_func=what.get)
try:
    knob = verifier_knob.verifier_knob(knob_model, budget)
except ValueError as e:
    st.warning(str(e))
    st.stop()
table = knob["table"]
maj = knob["majority"]
top = max(knob["rates"] + tuple(table["rate"].dropna()))
fig = go.Figure()
fig.add_trace(go.Scatter(x=[0, top, top, 0], y=[maj["hi"], maj["hi"], maj["lo"], maj["lo"]], fill="toself",
                         mode="lines", fillcolor="rgba(0,114,178,0.12)", line=dict(width=0), hoverinfo="skip",
                         showlegend=False))
fig.add_trace(go.Scatter(x=[0, top], y=[maj["acc"], maj["acc"]], mode="lines",
                         name=f"majority vote, {maj['k']} samples",
                         line=dict(color=STRATEGY_COLORS["maj@k"], dash=STRATEGY_DASH["maj@k"], width=2),
                         hovertemplate=f"majority vote, {maj['k']} samples<br>accuracy {fmt.pct(maj['acc'])} "
                                       f"({fmt.pct(maj['lo'])} to {fmt.pct(maj['hi'])})<extra></extra>"))
for i, strategy in enumerate(verifier_knob.SEARCH):  # a line per strategy over the noisy checkers; exact: grey
    part = table[table["strategy"] == strategy].sort_values("rate")
    dodge = (i - 1) * top / 60  # strategies side by side at each rate, so their CI bars do not hide each other
    for exact, g in part.groupby("exact"):
        if g.empty:
            continue
        name = (f"{UPPER_BOUND} — {STRATEGY_LABELS[strategy]} (exact step checker)" if exact else
                f"{STRATEGY_LABELS[strategy]} (noisy step checker)")
        fig.add_trace(go.Scatter(
            x=g["rate"] + dodge, y=g["acc"], mode="markers" if exact else "lines+markers", name=name,
            line=dict(color=NEUTRAL if exact else STRATEGY_COLORS[strategy], dash=STRATEGY_DASH[strategy]),
            marker=dict(size=10, color=NEUTRAL if exact else STRATEGY_COLORS[strategy],
                        symbol=STRATEGY_SYMBOLS[strategy].removesuffix("-open") + ("-open" if exact else "")),
            error_y=dict(type="data", array=g["hi"] - g["acc"], arrayminus=g["acc"] - g["lo"]),
            customdata=[[fmt.pct(r.rate, 0), fmt.pct(r.acc), fmt.pct(r.lo), fmt.pct(r.hi), fmt.count(r.k),
                         fmt.flops(r.flops)] for r in g.itertuples()],
            hovertemplate=f"<b>{name}</b><br>checker error rate %{{customdata[0]}}<br>accuracy %{{customdata[1]}} "
                          "(95% CI %{customdata[2]} to %{customdata[3]})<br>k = %{customdata[4]}, "
                          "%{customdata[5]} FLOPs per prompt<extra></extra>"))
fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
                  xaxis=dict(title="verifier error rate (share of step judgements flipped)", tickformat=".0%"),
                  yaxis=dict(title="accuracy", tickformat=".0%",
                             range=acc_range(list(table["lo"]) + [maj["lo"]], list(table["hi"]) + [maj["hi"]])))
st.plotly_chart(fig, key="verifier_knob")
for line in verifier_knob.knob_sentences(knob, lambda s, v="": STRATEGY_LABELS.get(s, s)):
    st.markdown(line)
explain("The verifier is the exact step checker with label noise: each step's verdict is flipped at the given rate "
        "(it reads the gold answer, so even the noisy one is a model of a verifier of known quality, not one to "
        "deploy). Best-of-N and weighted best-of-N are recomputed from the stored samples, beam search comes from "
        "runs driven by the noisy checker; each strategy is taken at its largest setting within the budget, and "
        "majority vote at the same budget is the line across. Bars and band: 95% bootstrap CIs over prompts; "
        f"'beats voting' means the paired difference's CI lies above 0, 'falls behind' below {-MARGIN * 100:+.0f} "
        "points (the claims' rule).", "Snell et al. 2024; Lightman et al. 2023 (process verifiers); Cobbe et al. 2021")
download(table.drop(columns=["row"]), "verifier_knob")
