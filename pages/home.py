"""Home: the question, the headline chart from the current cache, its computed sentences, and a short tour."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import curves
from pages._common import (UPPER_BOUND, ci_figure, download, explain, model_color, select, strategy_label,
                           use_navigation, with_series)

use_navigation()

st.title("Can a small model that thinks longer replace a bigger one?")
st.markdown("Spending more compute **at inference time** — sampling many answers and voting, searching over "
            "reasoning steps with a verifier, thinking longer — is one way to buy accuracy; training a larger model is "
            "another. This lab measures how far the first goes towards the second, on a zoo of models we trained "
            "ourselves so that both sides of the trade, **training FLOPs and inference FLOPs**, are exact.")

choices = curves.headline_choices()
if len(choices) >= 2:
    c1, c2 = st.columns(2)
    with c1:
        small = select("Small model", choices[:-1], "small", default=choices[0])
    with c2:
        larger = choices[choices.index(small) + 1:]
        large = select("Large model", larger, "large", default=larger[-1])
    h = curves.headline(small, large)
else:
    h = curves.headline()
if h["curves"].empty:
    st.info("The cache needs at least two trained CoT models with sampling pools for the headline chart "
            "(`python -m backend train-zoo`, then `python -m backend build-cache`).")
else:
    small, large = h["small"], h["large"]
    df = with_series(h["curves"], with_model=False)
    fig = ci_figure(df, x="flops", group="series", x_title="inference FLOPs per prompt", hover=["lo", "hi", "k"],
                    color_col="strategy", color_by="strategy")
    for r in h["greedy"].itertuples():
        fig.add_trace(go.Scatter(x=[r.flops], y=[r.acc], mode="markers", name=f"{r.model} · one greedy answer",
                                 marker=dict(size=13, symbol="diamond", color=model_color(r.model),
                                             line=dict(width=1, color="black")),
                                 error_y=dict(type="data", array=[r.hi - r.acc], arrayminus=[r.acc - r.lo]),
                                 hovertemplate=f"{r.model} greedy<br>%{{x:.3g}} FLOPs<br>accuracy %{{y:.3f}}"
                                               f" ({r.lo:.3f}–{r.hi:.3f})<extra></extra>"))
    st.plotly_chart(fig, key="headline")
    for sentence in curves.headline_sentences(h, strategy_label):
        st.markdown(sentence)
    explain(f"Lines: {small} spending more compute per prompt — majority vote and best-of-N (learned verifier) over "
            "more samples, and beam search over reasoning steps with the learned verifier — coloured by strategy. "
            f"Grey dashed lines are the {UPPER_BOUND}: coverage (pass@k, an oracle picks a right sample whenever there "
            "is one) and beam search with the exact step checker, which reads the gold answer; no deployed system "
            "can do either, so they bound what a better verifier could buy. Diamonds: one greedy answer of each "
            f"model, coloured by model. FLOPs include attention; 95% bootstrap CIs over the {h['n_prompts']} "
            "held-out prompts.", "Snell et al. 2024, Scaling LLM Test-Time Compute Optimally")
    download(df, "headline")

st.subheader("A 60-second tour")
tour = [
    ("pages/budget_curves.py", "Budget curves", "accuracy vs samples, tokens or FLOPs for every strategy, per difficulty"),
    ("pages/small_vs_large.py", "Small vs large", "who wins at matched FLOPs, the exchange rate, lifetime compute"),
    ("pages/spread.py", "Spread", "how answers spread as temperature or thinking grows"),
    ("pages/adaptive.py", "Adaptive compute", "spending by difficulty instead of uniformly; routing"),
    ("pages/reasoning.py", "Reasoning vs not", "models trained to answer directly against models that write steps"),
    ("pages/traces.py", "Traces", "every sample, its log-probs, verifier scores and search trees"),
    ("pages/playground.py", "Playground", "run a model live on your own problem"),
    ("pages/claims.py", "Claims", "eight claims from the literature, each with its verdict on this cache"),
    ("pages/real_models.py", "Real models", "the same estimators on published Llama-2 and GPT-3 generations"),
    ("pages/zoo_cache.py", "Zoo & cache", "model cards, training compute, what the cache holds, build more"),
]
for i, (page, title, what) in enumerate(tour, 1):
    c1, c2 = st.columns([1, 3])
    c1.page_link(page, label=f"{i}. {title}")
    c2.markdown(what)
