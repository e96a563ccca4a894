"""Budget curves: accuracy vs inference budget for each model × strategy, per difficulty bin, with 95% CIs."""
import streamlit as st

from backend.analysis.selection import MAIN_TEMPERATURE
from backend.explore import common, curves
from pages._common import (STRATEGY_LABELS, UPPER_BOUND, ci_figure, download, explain, header, multiselect, select,
                           unit_label, verifier_label, with_series)

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
    st.warning(str(e))
    st.stop()
if df.empty:
    st.info("Nothing to plot for this selection: pick at least one model and one strategy the cache holds.")
    st.stop()
df = with_series(df)
fig = ci_figure(df, x=unit, group="series", x_title=unit_label(unit), hover=["lo", "hi", "k", "n_prompts"])
st.plotly_chart(fig, key="curves")
st.caption(f"{int(df['n_prompts'].max())} prompts per point · shaded bands: 95% bootstrap CI over prompts · "
           f"colour = model, dash and marker = strategy · grey with open markers: {UPPER_BOUND} · pools at temperature "
           f"{MAIN_TEMPERATURE:g}")
explain("Each point is the expected accuracy at that budget. Pool strategies (pass@k, majority vote, best-of-N) are "
        "computed exactly from a pool of samples for every k — never from 'the first k' — while beam search, DVTS "
        "and budget forcing are separate runs per budget. pass@k is coverage: it needs an oracle to pick the right "
        "sample, so it bounds what any selection can reach; the exact step checker (and a noisy version of it) reads "
        "the gold answer too — both are drawn as upper bounds, never as strategies to deploy. FLOPs are 2·N per "
        "token plus attention (2·L·d·T·(T+1) per sequence of T tokens), plus the verifier's forward pass.",
        "Brown et al. 2024 (Large Language Monkeys); Snell et al. 2024; Chen et al. 2021 (pass@k)")
download(df, "budget_curves")
