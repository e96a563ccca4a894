"""Zoo & cache: model cards, what the cache holds, and background builds that survive a page reload."""
import time

import plotly.express as px
import streamlit as st

from backend import jobs
from backend.explore import common, fmt, overview
from pages._common import STRATEGY_LABELS, download, explain, header, safe, select

header("Zoo & cache", "Which models exist, what they cost to train, and what the cache holds.")
cards = overview.cards_table()
if cards.empty:
    st.info("No zoo yet: `python -m backend train-zoo` trains it (about 2–3 CPU hours; `--quick` for a micro zoo).")
    st.stop()

st.subheader("Model cards")
st.dataframe(overview.cards_view(cards), hide_index=True)
download(cards, "model_cards")
explain("Training compute is 6·N·D: N parameters counted from the saved weights, D tokens processed. Accuracy is "
        "greedy on held-out prompts never seen in training, by band (easy 1–2, medium 3–4, hard 5–6 operators).",
        "Kaplan et al. 2020 (6ND); the zoo is trained by `python -m backend train-zoo`")

finals = common.final_models("cot")
member = select("Accuracy by cell for", cards["model"].tolist(), "member", default=finals[0] if finals else None)
cells = overview.cell_accuracy(member)
if not cells.empty:
    fig = px.density_heatmap(cells, x="operators", y="digits", z="accuracy", histfunc="avg", text_auto=".2f",
                             color_continuous_scale="RdYlGn", range_color=[0, 1], nbinsx=6, nbinsy=3)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), yaxis_dtick=1, xaxis_dtick=1,
                      title=f"{member}: held-out greedy accuracy per cell")
    st.plotly_chart(fig, key="cells")
    download(cells, f"cells_{member}")

st.subheader("What the cache holds")
summary = overview.cache_summary()
rows = summary["rows"]
c = st.columns(5)
c[0].metric("runs", fmt.count(rows["runs"], 3))
c[1].metric("prompts", fmt.count(rows["prompts"], 3))
c[2].metric("samples", fmt.count(rows["samples"], 3))
c[3].metric("search-tree nodes", fmt.count(rows["nodes"], 3))
c[4].metric("on disk", f"{(summary['bytes'] + summary['zoo_bytes']) / 1e6:.1f} MB")
st.dataframe(overview.holdings_view(summary, lambda s: STRATEGY_LABELS.get(s, s)), hide_index=True)
for problem in summary["problems"]:
    st.warning(safe(problem, 300))

st.subheader("Build more")
st.caption("Runs `python -m backend build-cache` in the background for the chosen models (greedy, sampling pools, "
           "search, budget forcing, adaptive and routing runs). What is stored already is skipped. The job keeps "
           "going if you leave or reload this page.")
with st.form("build"):
    chosen = st.multiselect("Models", cards["model"].tolist(), default=[])
    per_cell = st.select_slider("Held-out prompts per cell", [16, 24, 32, 48, 64], value=16)
    if st.form_submit_button("Start building"):
        try:
            job = jobs.start_build(chosen, per_cell)
            st.success(f"Started job {job}.")
        except ValueError as e:
            st.error(safe(e, 300))


@st.fragment(run_every=3)
def job_list() -> None:
    for j in jobs.list_jobs()[:5]:
        done, total = j.get("done", 0), j.get("total", 0) or 1
        eta = j.get("eta_s")
        st.progress(min(1.0, done / total), text=f"{j['job']} · {j['status']} · {fmt.count(done, 3)}/{fmt.count(total, 3)} traces"
                    + (f" · ETA {eta / 60:.0f} min" if eta and j["status"] == "running" else "")
                    + (f" · {safe(j.get('run', ''), 60)}" if j["status"] == "running" else ""))


job_list()
st.caption(f"Last refreshed {time.strftime('%H:%M:%S')}")
