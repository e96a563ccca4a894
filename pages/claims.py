"""Claims: each claim of the literature as a card, with its verdict and numbers measured on the current cache."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.explore.derived import claims
from pages._common import CORRECT, NEUTRAL, WRONG, download, header, safe

header("Claims", "What does this cache say about eight claims from the test-time compute literature?")
st.caption("Every verdict follows from one rule: a claim says its effect lies in a region; 'supported' when the "
           "effect's 95% CI lies inside it, 'not supported' when the CI lies wholly outside, 'inconclusive' when it "
           "straddles the edge, 'insufficient data' when the cache lacks the runs. A claim of several parts is "
           "supported only when every part is. Only deployable strategies carry a verdict: oracle selection and the "
           "exact step checker read the gold answer and are reported as upper bounds. Wherever a best setting is "
           "picked, it is chosen on half of the prompts and scored on the other half. `python -m backend report` "
           "prints the same.")
report = claims()
COLORS = {"supported": CORRECT, "not supported": WRONG, "inconclusive": "#f0a202"}
TONE = {"supported": "green", "not supported": "red", "inconclusive": "orange"}
effects = pd.DataFrame([{"claim": f"{c['claim']}. {c['title']}", "effect": c["effect"], "lo": c["lo"], "hi": c["hi"],
                         "verdict": c["verdict"], "metric": c["metric"]} for c in report])
shown = effects.dropna(subset=["effect"])
if not shown.empty:
    fig = go.Figure(go.Scatter(
        x=shown["effect"], y=shown["claim"], mode="markers",
        marker=dict(size=12, color=[COLORS.get(v, NEUTRAL) for v in shown["verdict"]]),
        error_x=dict(type="data", array=shown["hi"] - shown["effect"], arrayminus=shown["effect"] - shown["lo"]),
        customdata=shown[["verdict", "metric"]].to_numpy(),
        hovertemplate="%{y}<br>%{customdata[1]}: %{x:.3f}<br>%{customdata[0]}<extra></extra>"))
    fig.add_vline(x=0, line_color="#999")
    fig.update_layout(height=80 + 45 * len(shown), xaxis_title="headline effect (each claim's own metric) with 95% CI",
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="effects")
for c in report:
    with st.container(border=True):
        verdict = c["verdict"]
        st.markdown(f"**{c['claim']}. {safe(c['title'], 200)}** — :{TONE.get(verdict, 'gray')}[{verdict}]")
        st.caption(f"{c['paper']}")
        st.write(c["why"])
        if c["effect"] is None:
            continue
        st.caption(f"**Compared:** {safe(c.get('comparison') or c.get('setting'), 300)} · **prompts:** "
                   f"{safe(c.get('prompts') or c.get('n_prompts'), 200)} · **rule:** {safe(c.get('rule'), 2000)}")
        matching = {k: v for k, v in (c.get("matching") or {}).items()}
        if matching:
            st.caption("**Matching:** " + " · ".join(f"{k}: {v:.3g} FLOPs per query" if isinstance(v, float)
                                                     else f"{k}: {v}" for k, v in matching.items()))
        details = c.get("details") or {}
        if details.get("parts"):
            st.dataframe(pd.DataFrame(details["parts"])[["name", "effect", "lo", "hi", "verdict"]], hide_index=True,
                         column_config={x: st.column_config.NumberColumn(format="%+.3f") for x in ("effect", "lo", "hi")})
        if details.get("per_band"):
            per = pd.DataFrame(details["per_band"]).T.rename_axis("band").reset_index()
            st.caption("Per difficulty band (secondary):")
            st.dataframe(per, hide_index=True)
download(effects, "claims")
