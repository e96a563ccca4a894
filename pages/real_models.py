"""Real models: published GSM8K generations through the same estimators (Llama-2 pools, GPT-3 + verifier)."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import fmt, real
from pages._common import (CORRECT, MARK, WRONG, ci_figure, download, explain, header, html_safe, model_color, safe,
                           select, with_series)

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
    labels = {k: f"{m} · {n} samples per problem" for k, m, n in zip(pools["run_key"], pools["model"], pools["n"])}
    run_key = select("Pool", pools["run_key"].tolist(), "pool", format_func=labels.get)
    table = real.problem_table(run_key)
    st.markdown(f"{int(table['majority_wrong_but_solved'].sum())} of {len(table)} problems: the majority answer is "
                f"wrong although {int(table.loc[table['majority_wrong_but_solved'], 'correct_samples'].sum())} samples "
                "on them are right.")
    picks = table[table["majority_wrong_but_solved"]].sort_values("correct_samples", ascending=False)
    if not picks.empty:
        pk = select("Problem", picks["prompt_key"].tolist(), "problem")
        counts = real.answer_counts(run_key, pk).head(12)
        fig = go.Figure(go.Bar(x=[html_safe(a) for a in counts["answer"]], y=counts["count"],
                               marker_color=[CORRECT if g else WRONG for g in counts["is_gold"]],
                               marker_pattern_shape=["" if g else "/" for g in counts["is_gold"]],
                               text=[MARK[bool(g)] for g in counts["is_gold"]], textposition="outside"))
        fig.update_layout(height=300, xaxis_title="answer (✓ gold, ✗ wrong)", yaxis_title="samples",
                          xaxis_type="category", margin=dict(l=10, r=10, t=20, b=10))
        st.plotly_chart(fig, key="real_answers")
    st.dataframe(real.problem_view(table), hide_index=True)
    download(table, "real_problems")

table = real.verifier_comparison()
if not table.empty:
    st.subheader("A small model with a verifier against a larger model")
    fig = go.Figure()
    for r in table.itertuples():
        name = f"{r.model} ({fmt.count(r.params)} parameters), {r.selection}"
        fig.add_trace(go.Scatter(x=[r.flops_per_problem], y=[r.acc], mode="markers", name=html_safe(name),
                                 marker=dict(size=14, color=model_color(r.model),
                                             symbol="star" if r.n > 1 else "circle", line=dict(width=1, color="#000")),
                                 error_y=dict(type="data", array=[r.hi - r.acc], arrayminus=[r.acc - r.lo]),
                                 hovertemplate=f"{html_safe(name)}<br>{fmt.flops(r.flops_per_problem)} FLOPs per "
                                               f"problem<br>accuracy {fmt.pct(r.acc)} ({fmt.pct(r.lo)} to "
                                               f"{fmt.pct(r.hi)})<extra></extra>"))
    fig.update_layout(height=380, xaxis=dict(type="log", title="inference FLOPs per problem (estimated)"),
                      yaxis=dict(title="accuracy", tickformat=".0%", rangemode="tozero"),
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
    st.plotly_chart(fig, key="verifier_vs_size")
    c = real.small_with_verifier_vs_large(table)
    if c:
        s, b = c["small"], c["large"]
        word = {"supported": f"matches or beats it (the CI lies above {-c['margin'] * 100:+.0f} points)",
                "not supported": f"falls short of it (the CI lies below {-c['margin'] * 100:+.0f} points)",
                "inconclusive": f"is inconclusive against it (the CI straddles {-c['margin'] * 100:+.0f} points)"}
        st.markdown(f"**{s['model']}** with its verifier picking 1 of {s['n']}: **{fmt.pct(s['acc'])}** "
                    f"({fmt.pct(s['lo'])} to {fmt.pct(s['hi'])}) against **{b['model']}**'s single answer "
                    f"**{fmt.pct(b['acc'])}** ({fmt.pct(b['lo'])} to {fmt.pct(b['hi'])}), at "
                    f"**{fmt.ratio(c['flops_ratio'])}** the inference FLOPs per problem: "
                    f"{fmt.ci_points(*c['diff'])} — by the claims' rule it {word.get(c['verdict'], c['verdict'])}.")
    explain("A small model that samples many solutions and lets a trained verifier (a model: deployable) pick one, "
            "against a larger model's single answer, at their inference FLOPs. FLOPs are estimated from text length "
            "(about 4 characters per token, no attention term), so they are approximate.",
            "Cobbe et al. 2021 (Training verifiers to solve math word problems)")
    st.dataframe(real.comparison_view(table), hide_index=True)
    download(table.drop(columns=["correct"]), "verifier_vs_size")
st.caption("Imported runs: " + safe(", ".join(sorted(set(runs["model"]))), 300))
