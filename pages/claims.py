"""Claims: each claim of the literature as a card, with its verdict and numbers measured on the current cache."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.explore.derived import claims
from pages._common import CORRECT, NEUTRAL, WRONG, download, header, safe

header("Claims", "What does this cache say about eight claims from the test-time compute literature?")
st.caption("Every verdict follows from the numbers: 'supported' when the effect and its 95% CI clear the claim's "
           "bar, 'not supported' when they contradict it, 'mixed' in between, 'insufficient data' when the cache "
           "lacks the runs. `python -m backend report` prints the same.")
report = claims()
COLORS = {"supported": CORRECT, "not supported": WRONG, "mixed": "#f0a202"}
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
    fig.update_layout(height=80 + 45 * len(shown), xaxis_title="measured effect (each claim's own metric) with 95% CI",
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, key="effects")
for c in report:
    with st.container(border=True):
        verdict = c["verdict"]
        st.markdown(f"**{c['claim']}. {safe(c['title'], 200)}** — :{'green' if verdict == 'supported' else 'red' if verdict == 'not supported' else 'orange' if verdict == 'mixed' else 'gray'}[{verdict}]")
        st.caption(f"{c['paper']}")
        st.write(c["why"])
        if c["effect"] is not None:
            st.caption(f"{c['metric']}: {c['effect']:.3f} (95% CI {c['lo']:.3f} to {c['hi']:.3f}) · setting: "
                       f"{c['setting']} · {c['n_prompts']} prompts")
download(effects, "claims")
