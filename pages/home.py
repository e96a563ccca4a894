"""Home: the question, the headline chart from the current cache, its computed sentences, and a short tour."""
import streamlit as st

from backend.explore import curves, story
from pages._common import UPPER_BOUND, download, explain, select, start_page, strategy_label
from pages._figures import headline_figure

start_page("Home")

st.title("Can a small model that thinks longer replace a bigger one?")
st.markdown("Spending more compute **at inference time** — sampling many answers and voting, searching over "
            "reasoning steps with a verifier, thinking longer — is one way to buy accuracy; training a larger model is "
            "another. This lab measures how far the first goes towards the second, on a zoo of models we trained "
            "ourselves so that both sides of the trade, **training FLOPs and inference FLOPs**, are exact.")
with st.container(border=True):
    st.markdown(f"**New here? Take the guided story** — {len(story.STEPS)} steps, one chart each, every sentence "
                "computed from this cache: whether a small model with test-time compute can replace a larger one, on "
                "which prompts, and why.")
    st.page_link("pages/story.py", label="Start the story (about 10 minutes)", icon=":material/play_circle:")

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
    fig, df = headline_figure(h)
    st.plotly_chart(fig, key="headline")
    for sentence in curves.headline_sentences(h, strategy_label):
        st.markdown(sentence)
    explain(f"Lines: {small} spending more compute per prompt — majority vote and best-of-N (learned verifier) over "
            "more samples, and beam search over reasoning steps with the learned verifier — coloured by strategy, "
            f"each with its own marker. Grey lines are the {UPPER_BOUND}: coverage (pass@k, dotted: an oracle picks "
            "a right sample whenever there is one) and search with the exact step checker, which reads the gold "
            "answer; no deployed system can do either, so they bound what a better verifier could buy. Black "
            f"diamonds: one greedy answer of each model, named beside it; the dotted line is {large}'s. FLOPs include "
            f"attention; 95% bootstrap CIs over the {h['n_prompts']} held-out prompts.",
            "Snell et al. 2024, Scaling LLM Test-Time Compute Optimally")
    download(df, "headline")

st.subheader("A 60-second tour")
tour = [
    ("pages/story.py", "The story", f"the answer in {len(story.STEPS)} steps, one chart each"),
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
    st.page_link(page, label=f"{i}. {title} — {what}")
