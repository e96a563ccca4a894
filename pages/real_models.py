"""Real models: published GSM8K generations through the same estimators (Llama-2 pools, GPT-3 + verifier)."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import real
from pages._common import CORRECT, WRONG, ci_figure, download, explain, header, html_safe, safe, select, with_series

header("Real models", "Do the zoo's lessons hold for real language models on GSM8K?")
runs = real.imported_runs()
if runs.empty:
    st.info("No real-model generations are imported yet. Get the public files (see the README: the GSM8K test set and "
            "the GPT-3 verifier solutions from openai/grade-school-math, the Llama-2 generation sets from their "
            "papers' repositories) and import them, for example:")
    st.code(real.IMPORT_HELP, language="bash")
    st.stop()

pools = runs[(runs["strategy"] == "sample") & (runs["n"] > 1)]
if not pools.empty:
    st.subheader("Coverage and majority vote")
    curves = real.pool_curves(tuple(pools["model"]))
    curves = with_series(curves)
    st.plotly_chart(ci_figure(curves, x="samples", group="series", x_title="samples per problem",
                              hover=["lo", "hi", "k", "n_prompts"]), key="real_curves")
    explain("pass@k (coverage, grey dashed: an oracle picks a right sample whenever there is one — an upper bound) against "
            "majority vote (deployable) as the number of samples grows; the gap between them is the right "
            "answer present in the pool but not the most common one. Estimates are exact over all k-subsets of "
            "the published samples; answers re-extracted and re-checked by our own code.",
            "Brown et al. 2024; Wang et al. 2023 (self-consistency)")
    download(curves, "real_curves")

    st.subheader("Problems where the majority is wrong but some sample is right")
    run_key = select("Pool", pools["run_key"].tolist(), "pool",
                     format_func=lambda k: f"{pools.set_index('run_key').loc[k, 'model']} · n="
                                           f"{pools.set_index('run_key').loc[k, 'n']}")
    table = real.problem_table(run_key)
    st.markdown(f"{int(table['majority_wrong_but_solved'].sum())} of {len(table)} problems: the majority answer is "
                f"wrong although {table.loc[table['majority_wrong_but_solved'], 'correct_samples'].sum()} samples "
                "on them are right.")
    picks = table[table["majority_wrong_but_solved"]].sort_values("correct_samples", ascending=False)
    if not picks.empty:
        pk = select("Problem", picks["prompt_key"].tolist(), "problem")
        counts = real.answer_counts(run_key, pk).head(12)
        fig = go.Figure(go.Bar(x=[html_safe(a) for a in counts["answer"]], y=counts["count"],
                               marker_color=[CORRECT if g else WRONG for g in counts["is_gold"]]))
        fig.update_layout(height=300, xaxis_title="answer (green = gold)", yaxis_title="samples",
                          xaxis_type="category", margin=dict(l=10, r=10, t=10, b=10))
        st.plotly_chart(fig, key="real_answers")
    st.dataframe(table, hide_index=True)
    download(table, "real_problems")

gpt3 = real.gpt3_comparison()
if not gpt3.empty:
    st.subheader("GPT-3: 6B + verifier vs 175B")
    gpt3["label"] = gpt3["model"] + " · " + gpt3["selection"]
    fig = go.Figure(go.Scatter(x=gpt3["flops_per_problem"], y=gpt3["acc"], mode="markers+text",
                               text=[html_safe(t) for t in gpt3["label"]], textposition="top center",
                               error_y=dict(type="data", array=gpt3["hi"] - gpt3["acc"], arrayminus=gpt3["acc"] - gpt3["lo"]),
                               marker=dict(size=12)))
    fig.update_layout(height=380, xaxis=dict(type="log", title="inference FLOPs per problem (estimated)"),
                      yaxis_title="accuracy", margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="gpt3")
    six = gpt3[(gpt3["model"].str.contains("6b")) & gpt3["selection"].str.contains("verifier")]
    big = gpt3[(gpt3["model"].str.contains("175b")) & (gpt3["selection"] == "one sample")]
    if len(six) and len(big):
        s, b = six.iloc[0], big.iloc[0]
        st.markdown(f"6B + verifier (best of 100): **{s['acc']:.1%}** ({s['lo']:.1%}–{s['hi']:.1%}) vs 175B one sample: "
                    f"**{b['acc']:.1%}** ({b['lo']:.1%}–{b['hi']:.1%}), at **{s['flops_per_problem'] / b['flops_per_problem']:.1f}×** "
                    "the inference FLOPs per problem.")
    explain("A 6B model that samples 100 solutions and lets a trained verifier (a model: deployable) pick one, against "
            "a 26× larger model's single finetuned answer, at their inference FLOPs. FLOPs are estimated from text "
            "length (~4 characters per token, no attention term), so they are approximate.",
            "Cobbe et al. 2021 (Training verifiers to solve math word problems)")
    st.dataframe(gpt3.drop(columns=["label"]), hide_index=True)
    download(gpt3, "gpt3")
st.caption("Imported runs: " + safe(", ".join(sorted(set(runs["model"]))), 300))
