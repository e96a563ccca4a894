"""Claims: each claim of the literature as a card, with its verdict and numbers measured on the current cache."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.explore import claims_view, fmt
from backend.explore.derived import claims, claims_status
from pages._common import CORRECT, NEUTRAL, STRATEGY_LABELS, WRONG, download, header, safe

def readable(text: str) -> str:
    """The report's sentences with numbers formatted and strategy names in words (they are written by the claims
    module for the CLI too)."""
    text = fmt.numbers(text)
    for raw in ("budget_forcing", "best_of_n", "weighted-maj@k"):
        text = text.replace(raw, STRATEGY_LABELS[raw])
    return text


header("Claims", "What does this cache say about eight claims from the test-time compute literature?")
st.caption("Every verdict follows from one rule: a claim says its effect lies in a region; 'supported' when the "
           "effect's 95% CI lies inside it, 'not supported' when the CI lies wholly outside, 'inconclusive' when it "
           "straddles the edge, 'insufficient data' when the cache lacks the runs. A claim of several parts is "
           "supported only when every part is. Only deployable strategies carry a verdict: oracle selection and the "
           "exact step checker read the gold answer and are reported as upper bounds. Wherever a best setting is "
           "picked, it is chosen on half of the prompts and scored on the other half. `python -m backend report` "
           "prints the same.")
status = claims_status()
report = status["claims"]
if status["stale"] or not report:
    new = max(0, (status["runs_now"] or 0) - (status["runs_then"] or 0))
    c1, c2 = st.columns([3, 1])
    c1.info(("No claims report is saved for this cache yet." if not report else
             f"These verdicts were computed {('on ' + status['computed']) if status['computed'] else 'earlier'}, "
             f"before {new} new run{'' if new == 1 else 's'} were added (or runs changed); recompute to measure the "
             "current cache."))
    if c2.button("Recompute the claims", key="recompute", type="primary") or not report:
        with st.spinner("Measuring the eight claims on the current cache (about a minute)…"):
            report = claims()
        st.rerun()
COLORS = {"supported": CORRECT, "not supported": WRONG, "inconclusive": "#E69F00"}
SYMBOL = {"supported": "circle", "not supported": "x", "inconclusive": "diamond-open"}
TONE = {"supported": "green", "not supported": "red", "inconclusive": "orange"}
effects = pd.DataFrame([{"claim": f"{c['claim']}. {c['title']}", "effect": c["effect"], "lo": c["lo"], "hi": c["hi"],
                         "verdict": c["verdict"], "metric": c["metric"] or ""} for c in report])
shown = effects.dropna(subset=["effect"])
if not shown.empty:
    fig = go.Figure(go.Scatter(
        x=shown["effect"], y=shown["claim"], mode="markers+text", text=shown["verdict"], textposition="middle right",
        textfont=dict(size=12, color=[COLORS.get(v, NEUTRAL) for v in shown["verdict"]]),
        marker=dict(size=13, color=[COLORS.get(v, NEUTRAL) for v in shown["verdict"]],
                    symbol=[SYMBOL.get(v, "circle") for v in shown["verdict"]], line=dict(width=2)),
        error_x=dict(type="data", array=shown["hi"] - shown["effect"], arrayminus=shown["effect"] - shown["lo"]),
        customdata=np.column_stack([shown["verdict"], shown["metric"],
                                    [fmt.ci_points(e, lo, hi) for e, lo, hi in zip(shown["effect"], shown["lo"],
                                                                                   shown["hi"])]]),
        hovertemplate="%{y}<br>%{customdata[1]}: %{customdata[2]}<br>%{customdata[0]}<extra></extra>"))
    fig.add_vline(x=0, line_color="#999")
    span = float(max(abs(shown["lo"]).max(), abs(shown["hi"]).max()))
    fig.update_layout(height=80 + 45 * len(shown), xaxis=dict(title="headline effect (each claim's own metric) with "
                                                                    "95% CI", range=[-span * 1.15, span * 1.6]),
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="effects")
    st.caption("The verdict is written beside each claim (and shown by the marker: ● supported, ✕ not supported, "
               "◇ inconclusive); claims with insufficient data have no effect to draw.")
for c in report:
    with st.container(border=True):
        verdict = c["verdict"]
        st.markdown(f"**{c['claim']}. {safe(c['title'], 200)}** — :{TONE.get(verdict, 'gray')}[{verdict}]")
        st.caption(f"{c['paper']}")
        st.write(readable(c["why"]))
        if c["effect"] is None:
            continue
        st.caption(f"**Compared:** {safe(readable(c.get('comparison') or c.get('setting')), 300)} · **prompts:** "
                   f"{safe(c.get('prompts') or c.get('n_prompts'), 200)} · **rule:** {safe(c.get('rule'), 2000)}")
        matching = {k: v for k, v in (c.get("matching") or {}).items()}
        if matching:
            st.caption("**Matching:** " + " · ".join(f"{k}: {fmt.flops(v)} FLOPs per query" if isinstance(v, float)
                                                     else f"{k}: {v}" for k, v in matching.items()))
        details = c.get("details") or {}
        if details.get("parts"):
            st.dataframe(claims_view.parts(details["parts"]), hide_index=True)
        if details.get("per_band"):
            st.caption("Per difficulty band (secondary):")
            st.dataframe(claims_view.per_band(details["per_band"]), hide_index=True)
download(effects, "claims")
