"""Playground: run a model live on a prompt with a strategy and budget; the run is stored in the cache. Any failure
of a live run (model load, prompt, engine) is one line in the page; its traceback goes to the server log."""
import logging
import time

import streamlit as st

from backend import live
from backend import models as engines
from backend.analysis.votes import majority
from backend.errors import EXPECTED, one_line
from backend.explore import common, fmt, store, traces
from backend.tasks import arith_prompts
from pages._common import MARK, header, safe, select, select_slider, strategy_label


def fail(e: Exception) -> None:
    if not isinstance(e, EXPECTED):
        logging.getLogger(__name__).error("live run failed", exc_info=e)
    st.error(safe(one_line(e), 300))
    st.stop()


header("Playground", "Type a problem, pick a model and a strategy, and watch it think — live.")
caps = live.CAPS
st.caption(f"Caps (enforced by the backend too): at most {caps.max_samples} samples or search budget, "
           f"{caps.max_new_tokens} new tokens per sample, {caps.max_seconds:.0f} s per run, "
           f"{caps.max_prompt_chars} characters per prompt. Every run is stored and shows up on the other pages.")

try:
    models = live.live_models()
except Exception as e:  # e.g. a damaged cache/models.json
    fail(e)
if not models:
    st.info("No models yet: train the zoo with `python -m backend train-zoo`.")
    st.stop()

examples = [p.question for p in arith_prompts(1)]
c1, c2 = st.columns([2, 1])
with c1:
    picked = select("Example prompt", ["(type my own)"] + examples, "example", default=examples[10])
    # no max_chars: the box would drop a longer paste and Run would use the example; the backend says why instead
    typed = st.text_input("…or your own", key="typed", placeholder="e.g. 616+243*6-645*4+847",
                          help=f"digits and + - * only, at most {caps.max_prompt_chars} characters")
    text = typed if typed.strip() or picked == "(type my own)" else picked
with c2:
    finals = [m for m in common.final_models("cot") if m in models]
    model = select("Model", models, "model", default=finals[0] if finals else models[0])
c3, c4, c5 = st.columns(3)
with c3:
    strategy = select("Strategy", list(live.LIVE_STRATEGIES), "strategy", default="sample",
                      format_func=lambda k: {"beam": "beam search", "budget_forcing": "budget forcing"}.get(k, k),
                      help="\n".join(f"{k}: {v}" for k, v in live.LIVE_STRATEGIES.items()))
with c4:
    budget_label = {"sample": "samples", "beam": "candidates per step", "dvts": "candidates per step",
                    "budget_forcing": "thinking tokens", "greedy": "—"}[strategy]
    budget = select_slider(f"Budget ({budget_label})", [1, 2, 4, 8, 16, 32, 64, 128, 256], "budget",
                           value=32 if strategy == "budget_forcing" else 16, disabled=strategy == "greedy")
with c5:
    temperature = st.slider("Temperature", 0.1, 1.5, 0.8, 0.1, disabled=strategy == "greedy", key="temperature")

try:
    with st.spinner(f"Loading {model} (the first time in this server)…"):
        prompt = live.validate_prompt(model, text)  # loads the model once per process
    spec = live.plan(model, strategy, 1 if strategy == "greedy" else budget, temperature)
except Exception as e:
    fail(e)

st.markdown(f"Gold answer: **{safe(prompt.gold)}** · {prompt.n_ops} operators")
if "cancelled" in st.session_state:
    st.info("The last run was cancelled; nothing of it was stored.")
    del st.session_state["cancelled"]

go_col, stop_col = st.columns([1, 5])
run = go_col.button("Run", type="primary", key="run", on_click=lambda: st.session_state.update(clicked=time.time()))
stop_col.button("Cancel", key="cancel", on_click=lambda: st.session_state.update(cancelled=True))
if run:
    clicked = st.session_state.pop("clicked", time.time())  # the moment the click reached the server
    try:
        with st.status(f"Loading {model}…", expanded=True) as status:
            bar = st.progress(0.0, text="loading the model…")
            engines.load_engine(model)  # loaded once per process: instant after the first run
            status.update(label=f"Generating: {strategy} on {model}…")
            bar.progress(0.0, text="generating…")
            out = st.empty()
            single = spec.strategy in ("greedy", "sample") and spec.sampling.n == 1

            def on_token(so_far: str) -> None:
                out.code(so_far, language=None)  # streamed model text, shown as text
                bar.progress(min(1.0, len(so_far) / spec.sampling.max_new_tokens),
                             text=f"generating… {len(so_far)} tokens")

            def on_progress(done: int, total: int) -> None:
                bar.progress(done / max(1, total), text=f"generating… {done}/{total} samples")

            report = live.run(spec, prompt, store=store(), on_token=on_token if single else None,
                              on_progress=on_progress)
            waited = time.time() - clicked
            bar.progress(1.0, text="done")
            status.update(label=(f"Done in {waited:.1f} s" if report.prompts_done else
                                 f"Already in the cache ({waited:.1f} s)"), state="complete", expanded=False)
        outcome = report.outcomes[0] if report.outcomes else None
        if outcome is None:
            st.info("This exact run is already stored; open it on the Traces page.")
        else:
            answers = [s["answer"] for s in outcome.samples]
            final = outcome.result["answer"] if outcome.result else majority(answers)
            ok = final == prompt.gold
            st.markdown(f"**Answer: {safe(final)}** — {MARK[ok]} {'right' if ok else 'wrong'} · "
                        f"{fmt.count(report.gen_tokens)} tokens · {fmt.flops(report.flops)} FLOPs · you waited "
                        f"**{waited:.1f} s** from the click (generation {report.wall_s:.1f} s)")
            if len(outcome.samples) > 1:
                n_ok = sum(s["correct"] for s in outcome.samples)
                st.markdown(f"{n_ok}/{len(outcome.samples)} samples correct.")
            st.code(next((s["text"] for s in outcome.samples if s["is_final"]), outcome.samples[0]["text"]),
                    language=None)
            link = traces.link_params(report.run_key, prompt.key, strategy_label)
            st.page_link("pages/traces.py", label=f"Inspect every sample on the Traces page ({link['run']})",
                         icon=":material/search:", query_params=link)
    except Exception as e:  # a cancel is Streamlit's own rerun, not an Exception: it passes
        fail(e)
