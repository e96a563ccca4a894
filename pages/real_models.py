"""Real models: published GSM8K generations through the same estimators (Llama-2 pools, GPT-3 + verifier)."""
import plotly.graph_objects as go
import streamlit as st

from backend.explore import fmt, profile, real
from pages._common import (CORRECT, MARK, NEUTRAL, PALETTE, WRONG, ci_figure, download, explain, header, html_safe,
                           model_color, safe, select, with_series)

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

st.subheader("Error profile: the zoo against real models")
prof = profile.profiles()
ks = profile.gain_ks(prof)
if not ks:
    st.info("No pool of at least 8 samples per problem is stored, so there is no voting gain to compare.")
else:
    k = select("Voting gain at", ks, "profile_k", default=24 if 24 in ks else ks[-1],
               format_func=lambda k: f"maj@{k} − pass@1")
    shown = prof[prof[f"maj{k}_gain"].notna()]
    style = {"real": ("diamond", "#000000"), "single": ("circle", PALETTE[0]), "multi": ("square", PALETTE[1])}
    fig = go.Figure()
    for r in shown.itertuples():  # one marker per pool: the shape and colour say which kind it is
        symbol, colour = style.get(r.variant, ("circle", NEUTRAL))
        name = f"{r.model} ({profile.VARIANT_WORDS.get(r.variant, r.variant)}, {r.n} samples)"
        gain = [getattr(r, f"maj{k}_gain{s}") for s in ("", "_lo", "_hi")]
        fig.add_trace(go.Scatter(
            x=[r.error_agreement], y=[gain[0]], mode="markers+text", name=html_safe(name),
            text=[html_safe(r.model)], textposition="top center", textfont=dict(size=10),
            marker=dict(size=14 if r.variant == "real" else 11, color=colour, line=dict(width=1, color="#000"),
                        symbol=symbol + ("-open" if r.role == "seed" else "")),
            error_x=dict(type="data", array=[r.error_agreement_hi - r.error_agreement],
                         arrayminus=[r.error_agreement - r.error_agreement_lo]),
            error_y=dict(type="data", array=[gain[2] - gain[0]], arrayminus=[gain[0] - gain[1]]),
            hovertemplate=f"{html_safe(name)}<br>maj@{k} − pass@1: {fmt.ci_points(*gain)}<br>error agreement "
                          f"{fmt.pct(r.error_agreement)} ({fmt.pct(r.error_agreement_lo)} to "
                          f"{fmt.pct(r.error_agreement_hi)})<br>pass@1 {fmt.pct(r.pass1)}<extra></extra>"))
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
                      xaxis=dict(title="error agreement (share of wrong samples giving the most common wrong answer)",
                                 tickformat=".0%"),
                      yaxis=dict(title=f"maj@{k} − pass@1 (accuracy gained by voting)", tickformat="+.0%"))
    st.plotly_chart(fig, key="error_profile")
    if len(shown) < len(prof):
        st.caption(f"Pools of fewer than {k} samples per problem have no maj@{k} and are left out of the chart: "
                   + safe(", ".join(sorted(set(prof.loc[prof[f'maj{k}_gain'].isna(), 'model']))), 300) + ".")
    refs = profile.real_pools(prof)
    if refs:
        names = dict(zip(prof["run_key"], prof["model"] + " · " + prof["n"].astype(str) + " samples per problem"))
        ref = select("Real pool the zoo variants are compared with", refs, "profile_ref", format_func=names.get)
        st.markdown(profile.closeness_sentence(profile.comparison(ref)))
    else:
        st.markdown(profile.closeness_sentence(profile.comparison()))
    explain("Each marker is one pool: diamonds real models, circles the single-path zoo (one legal reduction order), "
            "squares the multi-path zoo (any legal order); open markers are other training seeds. Voting helps when "
            "errors disagree: up and to the left, sampling fixes mistakes; to the right, a model repeats the same "
            "wrong answer and more samples cannot outvote it. Bars: 95% bootstrap CIs over problems; maj@k is exact "
            "over all k-subsets of a pool (ties split).", "Wang et al. 2023 (self-consistency); Brown et al. 2024")
    st.dataframe(profile.profile_view(prof), hide_index=True)
    download(prof, "error_profile")

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
