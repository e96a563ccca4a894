"""Home: the question, the headline chart from the current cache, and a short tour."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import curves
from pages._common import ci_figure, download, explain, model_color, select, use_navigation

use_navigation()

st.title("Can a small model that thinks longer replace a bigger one?")
st.markdown("Spending more compute **at inference time** — sampling many answers and voting, searching over "
            "reasoning steps with a verifier, thinking longer — can make a small model as good as a larger one. "
            "This lab measures where that works and where it stops, on a zoo of models we trained ourselves so that "
            "both sides of the trade, **training FLOPs and inference FLOPs**, are exact.")

choices = curves.headline()["choices"]
picked = select("Small model", choices, "small", default=curves.headline()["small"]) if choices else None
h = curves.headline(picked)
if h["curves"].empty:
    st.info("The cache needs at least two trained CoT models with sampling pools for the headline chart "
            "(`python -m backend train-zoo`, then `python -m backend build-cache`).")
else:
    small, large = h["small"], h["large"]
    df = h["curves"]
    fig = ci_figure(df, x="flops", group="series", x_title="inference FLOPs per prompt", hover=["lo", "hi", "k"])
    for r in h["greedy"].itertuples():
        fig.add_trace(go.Scatter(x=[r.flops], y=[r.acc], mode="markers", name=f"{r.model} · one greedy answer",
                                 marker=dict(size=13, symbol="diamond", color=model_color(r.model),
                                             line=dict(width=1, color="black")),
                                 error_y=dict(type="data", array=[r.hi - r.acc], arrayminus=[r.acc - r.lo]),
                                 hovertemplate=f"{r.model} greedy<br>%{{x:.3g}} FLOPs<br>accuracy %{{y:.3f}}"
                                               f" ({r.lo:.3f}–{r.hi:.3f})<extra></extra>"))
    st.plotly_chart(fig, key="headline")
    ex = h["exchange"]
    if ex is not None:
        if ex["never"]:
            verdict = (f"**{small}** never matches one greedy answer of **{large}** "
                       f"({ex['target_acc']:.1%}) with up to {ex['max_k']} samples: majority vote plateaus at "
                       f"{ex['ceiling']:.1%}" + (" and even coverage stays below it." if ex["reason"] == "coverage"
                                                  else f" although coverage reaches {ex['coverage']:.1%}."))
        else:
            ci = f"{ex['k_lo']}–{ex['k_hi'] if ex['k_hi'] is not None else 'never'}"
            verdict = (f"**{small}** with majority vote over **{ex['k']} sample{'s' if ex['k'] != 1 else ''}** (95% CI {ci}) matches one greedy "
                       f"answer of **{large}** ({ex['target_acc']:.1%}), at **{ex['flops_ratio']:.1f}×** its FLOPs "
                       "per prompt.")
        st.markdown(verdict)
    explain("Lines: one CoT model's accuracy as it spends more compute — majority vote and best-of-N (learned "
            "verifier) over more samples, and beam search over reasoning steps (with the learned verifier, and with "
            "an exact step checker that stands for a perfect verifier) — in FLOPs per prompt, with 95% bootstrap CIs "
            f"over the {h['n_prompts']} held-out prompts. Diamonds: one greedy answer of each model. Where a line reaches a "
            "larger model's diamond, inference compute has bought what parameters bought.",
            "Snell et al. 2024, Scaling LLM Test-Time Compute Optimally")
    download(df, "headline")

st.subheader("A 60-second tour")
tour = [
    ("pages/budget_curves.py", "Budget curves", "accuracy vs samples, tokens or FLOPs for every strategy, per difficulty"),
    ("pages/small_vs_large.py", "Small vs large", "who wins at matched FLOPs, the exchange rate, lifetime compute"),
    ("pages/spread.py", "Spread", "answers spread out as temperature or thinking grows; overthinking"),
    ("pages/adaptive.py", "Adaptive compute", "spend little on easy prompts, a lot on hard ones; routing"),
    ("pages/reasoning.py", "Reasoning vs not", "models never trained to reason hit a ceiling no sample count lifts"),
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
