"""App benchmark on the shipped cache: time from a widget change to the page's data being ready (the backend call
each page makes, p50/p95 over many selections), cold start to the first chart in a real browser, and memory with
every CPU zoo model loaded.

    python -m backend bench app [--after-run] [--scale N] [--json] [--no-browser]

``--after-run`` measures on a scratch copy of the cache (the zoo linked, the store and the rest copied) after one
live greedy run of one prompt (the Playground's path, timed from the click on a warm process) and one imported
generic JSONL file; ``--scale N`` on a synthetic store N times the shipped one (backend.bench.synthetic), its
derived data precomputed as build-cache would. Either way TTC_CACHE points at the scratch folder while measuring,
the real cache is only read, and the scratch folder is removed afterwards. ``--json`` prints only
``{"pages": {name: {"p50_ms", "p95_ms"}}, "cold_start_s", "rss_mib"}`` (progress goes to stderr). Every variant
saves its full figures under runs/bench/ (TTC_RUNS overrides runs/): app.json, app-after-run.json,
app-scale10.json, app-scale10-after-run.json.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.paths import ROOT, cache_dir, runs_dir


def _rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def selections() -> dict[str, list]:
    """Per page, the backend calls a user triggers by changing widgets (each a zero-argument callable)."""
    from backend.explore import (adaptive, common, curves, levers, overview, real, reasoning, small_large, spread,
                                 story, traces, verifier_knob)
    from backend.explore.derived import claims, claims_status

    finals = common.final_models("cot")
    models = common.zoo_models()["name"].tolist()
    strategies = common.point_strategies()
    out: dict[str, list] = {}
    out["Home"] = [curves.headline]
    out["Budget curves"] = [
        (lambda m=m, s=s, k=k, b=b: curves.curves(list(m), list(s), k, b))
        for m, s, (k, b) in itertools.islice(itertools.product(
            [finals[:1], finals[:2], finals], [strategies[:2], strategies[:4], strategies],
            [("all", None), ("band", "easy"), ("band", "hard"), ("oracle", 3)]), 30)]
    out["Budget curves"] += [lambda m=m: verifier_knob.verifier_knob(m, verifier_knob.default_budget(
        verifier_knob.budget_options(verifier_knob.knob_points(m)))) for m in verifier_knob.knob_models()]
    out["The story"] = [lambda k=st.key, sel=sel: story.data(k, **sel) for st in story.STEPS
                        for sel in _story_selections(story.choices(st.key))]
    out["Other levers"] = [levers.routes, lambda: levers.lifetime(1e6)] + \
        [lambda m=m: levers.width_depth(m) for m in levers.latency_models()] + \
        [lambda n=n: levers.router(n) for n, _, _ in levers.routers()] + \
        [lambda n=n: levers.dpo(n) for n in levers.dpo_members()] + [levers.proxy]
    pairs = [(a, b) for i, a in enumerate(finals) for b in finals[i + 1:]]
    out["Small vs large"] = [lambda k=k: small_large.winner_map(tuple(finals), (), k, finals[0])
                             for k in ("band", "oracle")] + \
        [lambda a=a, b=b, m=m: small_large.exchange(a, b, m, "band") for a, b in pairs for m in small_large.METHODS]
    out["Spread"] = [lambda m=m, a=a, k=k: (spread.spread_curve(m, a, k), spread.prompt_options(m, a))
                     for m in finals for a in spread.AXES for k in (2, 8)]  # the page draws both
    out["Adaptive compute"] = [lambda m=m, k=k: adaptive.allocation(m, k) for m in finals for k in ("oracle", "band")] \
        + [lambda d=d, c=c: adaptive.routing(d, c) for d, c in adaptive.route_pairs()]
    out["Reasoning vs not"] = [lambda k=k: reasoning.ceiling(tuple(models[:4]), k, None) for k in ("all", "band")] + \
        [lambda f=f: reasoning.iso_grid(f) for f in reasoning.families()]
    runs = traces.run_table()
    sample = runs.sample(min(20, len(runs)), random_state=0)
    out["Traces"] = [lambda r=r: (traces.samples(r, traces.prompt_table(r)["prompt_key"].iloc[0]),
                                  traces.tree(r, traces.prompt_table(r)["prompt_key"].iloc[0]))
                     for r in sample["run_key"]]
    out["Claims"] = [lambda: claims_status()["claims"] or claims()]  # as the page: the saved report, stale or not
    out["Zoo & cache"] = [overview.cache_summary, overview.cards_table] + \
        [lambda m=m: overview.cell_accuracy(m) for m in models[:5]]
    out["Real models"] = [real.imported_runs, real.verifier_comparison]
    return out


def _story_selections(controls: dict) -> list[dict]:
    """A step's default selection and each control set to each of its other options in turn (the others at their
    defaults), skipping pairs a step cannot draw (a "large" model not larger than the "small" one)."""
    base = {name: default for name, (_, default) in controls.items()}
    out = [base]
    for name, (options, default) in controls.items():
        out += [{**base, name: o} for o in options if o != default]
    if "small" in base and "large" in base:
        order = list(dict.fromkeys(controls["small"][0] + controls["large"][0]))
        out = [s for s in out if order.index(s["small"]) < order.index(s["large"])]
    return out


def time_pages(first: str = "derived points loaded") -> dict[str, dict]:
    from backend.explore.derived import points

    t0 = time.perf_counter()
    points()  # loaded once when the app starts (from cache/derived); after a run, its points are added here
    load = time.perf_counter() - t0
    print(f"{first} in {load:.2f} s")
    out = {}
    for page, calls in selections().items():
        times = []
        for call in calls:
            t = time.perf_counter()
            call()
            times.append((time.perf_counter() - t) * 1000)
        out[page] = {"n": len(times), "p50_ms": float(np.percentile(times, 50)),
                     "p95_ms": float(np.percentile(times, 95)), "max_ms": float(max(times))}
        print(f"{page:>18}: {len(times):3d} selections  p50 {out[page]['p50_ms']:7.1f} ms  p95 "
              f"{out[page]['p95_ms']:7.1f} ms  (first call of each selection, nothing memoised)")
    return {"derived_load_s": load, "pages": out}


# one import line: no line of backend/ may start with a Streamlit import (tests/test_layering.py reads this one)
FLOOR_APP = """import plotly.graph_objects as go; import streamlit as st

st.title("floor")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
"""  # Streamlit drawing one Plotly chart and nothing else: the floor a cold start cannot go below on this machine


CHART_DRAWN = ".js-plotly-plot .scatterlayer .trace"  # a chart with data drawn (not an empty frame awaiting it)


def _cold_start_once(browser, app: Path, cwd: Path) -> dict:
    """Seconds from `streamlit run` (the browser already open, as a user's is) until the first Plotly chart is drawn
    in a new tab: the server polled for health, then the page opened."""
    from backend.bench.load import start_server, wait_ready

    t0 = time.perf_counter()
    proc, url = start_server(app=app, cwd=cwd)
    try:
        healthy = time.perf_counter() - t0
        page = browser.new_page()
        t1 = time.perf_counter()
        page.goto(f"{url}/")
        page.wait_for_selector(CHART_DRAWN, timeout=120_000)
        first_chart = time.perf_counter()
        out = {"server_healthy_s": healthy, "cold_first_chart_s": first_chart - t0,
               "page_open_to_chart_s": first_chart - t1}
        if app.name == "app.py":  # another page of the same server, by the sidebar: a warm page switch
            old = page.locator("[data-testid='stMain'] h1").first.text_content()
            t2 = time.perf_counter()
            page.locator(f"[data-testid='stSidebarNavLink'][href='{url}/budget_curves']").click()
            wait_ready(page, 120, old)
            out["warm_page_to_chart_s"] = time.perf_counter() - t2
            out["server_rss_mib"] = _rss_mib(proc.pid)
        page.close()
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def browser_cold_start(repeats: int = 3) -> dict | None:
    """Cold start of the app and of the floor app (Streamlit + one Plotly chart), alternated in one run, ``repeats``
    times each (None without Chromium). Each figure is the median; the ratio app / floor is the one to compare."""
    if not os.path.exists("/usr/bin/chromium"):
        print("no /usr/bin/chromium: browser cold start not measured")
        return None
    from playwright.sync_api import sync_playwright

    from backend.bench.load import ARGS

    floor_dir = Path(tempfile.mkdtemp(prefix="ttc-floor-"))
    (floor_dir / "floor.py").write_text(FLOOR_APP)
    runs: dict[str, list[dict]] = {"app": [], "floor": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            for _ in range(repeats):
                runs["app"].append(_cold_start_once(browser, ROOT / "app.py", ROOT))
                runs["floor"].append(_cold_start_once(browser, floor_dir / "floor.py", floor_dir))
            browser.close()
    finally:
        shutil.rmtree(floor_dir, ignore_errors=True)
    med = lambda rows, k: float(np.median([r[k] for r in rows if k in r]))
    out = {k: med(runs["app"], k) for k in runs["app"][0]}
    out.update({"floor_cold_first_chart_s": med(runs["floor"], "cold_first_chart_s"),
                "floor_server_healthy_s": med(runs["floor"], "server_healthy_s"), "repeats": repeats,
                "all": runs})
    print(f"browser (medians of {repeats}): server healthy after {out['server_healthy_s']:.1f} s; first chart "
          f"{out['cold_first_chart_s']:.2f} s after `streamlit run` ({out['page_open_to_chart_s']:.2f} s after opening "
          f"the page); the floor app {out['floor_cold_first_chart_s']:.2f} s; another page by the sidebar "
          f"{out['warm_page_to_chart_s']:.2f} s; server RSS {out['server_rss_mib']:.0f} MiB")
    return out


def models_memory() -> dict:
    from backend.explore.common import zoo_models
    from backend.models import load_engine

    before = _rss_mib()
    names = [m for m in zoo_models()["name"]]
    for name in names:
        load_engine(name)
    after = _rss_mib()
    print(f"memory: {before:.0f} MiB before, {after:.0f} MiB with all {len(names)} CPU zoo models loaded")
    return {"rss_before_mib": before, "rss_all_models_mib": after, "models": len(names)}


IMPORT_MODEL = ("bench-import", 1_000_000_000)  # the imported file's model: (name, parameters)
IMPORT_ROWS = [  # two GSM8K-style prompts, two samples each (one right, one wrong), in the generic JSONL format
    ("bench-1", "Tom has 3 boxes of 12 pencils and gives away 7 pencils. How many pencils does he keep?", 29,
     ["3 boxes of 12 is 3*12 = 36 pencils. 36 - 7 = 29. #### 29", "3*12 = 36. 36 - 7 = 28. #### 28"]),
    ("bench-2", "A baker makes 45 rolls a day for 4 days and sells all but 18. How many rolls did she sell?", 162,
     ["45*4 = 180 rolls. 180 - 18 = 162. #### 162", "45*4 = 180. 180 + 18 = 198. #### 198"]),
]


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a folder, leaving out temporaries (files being written now by another process may vanish mid-copy)."""
    try:
        shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(".*", "_tmp-*", "*.tmp"))
    except shutil.Error as e:
        print(f"note: {len(e.args[0])} file(s) of {src} changed while copying and were left out")


def _copy_store(src: Path, dst: Path) -> None:
    """Copy a store batch by batch (a batch is copied whole or left out: a compaction may remove one meanwhile)."""
    from backend.store.writer import BATCH_PREFIX

    for entry in sorted(src.iterdir()):
        if entry.name == "batches" and entry.is_dir():
            (dst / "batches").mkdir(parents=True, exist_ok=True)
            for batch in sorted(entry.glob(f"{BATCH_PREFIX}*")):
                part = dst / "batches" / f"_tmp-{batch.name}"
                try:
                    shutil.copytree(batch, part)
                    part.rename(dst / "batches" / batch.name)
                except (OSError, shutil.Error):
                    shutil.rmtree(part, ignore_errors=True)
                    print(f"note: batch {batch.name} vanished while copying (compacted meanwhile); left out")
        elif entry.is_dir():
            _copy_tree(entry, dst / entry.name)
        elif entry.is_file() and not entry.name.startswith("."):
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy2(entry, dst / entry.name)


def scratch_cache(source: Path, scale: int | None = None) -> tuple[Path, dict | None]:
    """A temporary cache folder made from ``source`` (which is only read): its zoo linked, everything else copied
    (the store batch by batch); with ``scale``, a synthetic store of ``scale`` × its runs instead of the copy and no
    derived data (it is recomputed for the new store). Returns the folder and the synthetic store's figures."""
    from backend.bench.synthetic import build_scaled

    if not (source / "store").is_dir():
        raise ValueError(f"{source} holds no store to measure; build the cache first (python -m backend build-cache)")
    dest = Path(tempfile.mkdtemp(prefix="ttc-bench-"))
    built = None
    try:
        t0 = time.perf_counter()
        for entry in sorted(source.iterdir()):
            target = dest / entry.name
            if entry.name == "zoo":
                target.symlink_to(entry.resolve(), target_is_directory=True)
            elif entry.name == "store":
                if scale:
                    built = build_scaled(entry, target, scale)
                else:
                    _copy_store(entry, target)
            elif entry.name == "derived" and scale:
                continue
            elif entry.is_dir():
                _copy_tree(entry, target)
            elif entry.is_file() and not entry.name.startswith("."):
                shutil.copy2(entry, target)
        what = f"a synthetic store of {scale}× the runs" if scale else "a copy of the store"
        print(f"scratch cache {dest} ({what}, the zoo linked) made in {time.perf_counter() - t0:.1f} s")
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest, built


def live_greedy_run(attempts: int = 5) -> dict:
    """One live greedy run of one new prompt through backend.live, as the Playground runs it, on a warm process (the
    model loaded and the page's prompt validated before the click). Seconds from the click: the page's rerun
    (validate, plan), the engine fetch, the streamed generation and the stored row; Streamlit's drawing left out."""
    from backend import explore, live, models
    from backend.explore import common
    from backend.tasks import arith

    names = live.live_models()
    finals = [m for m in common.final_models("cot") if m in names]
    if not finals:
        raise ValueError("no CoT zoo model with results in the cache to run live")
    model = finals[0]  # the Playground's default model
    rng = random.Random(time.time_ns())
    for _ in range(attempts):
        text = arith.generate(3, 2, rng).expr  # a prompt the cache most likely lacks: the run is not skipped
        live.validate_prompt(model, text)  # the page's run before the click: the model is loaded here
        t0 = time.perf_counter()
        prompt = live.validate_prompt(model, text)
        spec = live.plan(model, "greedy", 1)
        models.load_engine(model)
        streamed: list[str] = []
        report = live.run(spec, prompt, store=explore.store(), on_token=streamed.append)
        seconds = time.perf_counter() - t0
        if report.prompts_done:
            out = {"model": model, "prompt": text, "seconds": seconds, "generation_s": report.wall_s,
                   "gen_tokens": report.gen_tokens, "run_key": report.run_key}
            print(f"live greedy run: {model} on {text!r}, {report.gen_tokens} tokens, {seconds:.2f} s from the click "
                  f"(generation {report.wall_s:.2f} s; target ≤ 1.5 s)")
            return out
    raise RuntimeError(f"every one of {attempts} random prompts was already stored for {model}; nothing ran")


def import_generic(folder: Path) -> dict:
    """Write a tiny generic JSONL file under ``folder`` and import it into the shared store (the importer's path)."""
    from backend import explore
    from backend.importers import import_file

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench-import.jsonl"
    with open(path, "w") as f:
        for pid, question, gold, texts in IMPORT_ROWS:
            for i, text in enumerate(texts):
                f.write(json.dumps({"prompt_id": pid, "question": question, "gold": gold, "sample_idx": i,
                                    "text": text, "answer": text.rsplit("#### ", 1)[1]}) + "\n")
    t0 = time.perf_counter()
    report = import_file(path, explore.store(), fmt="generic", models=[IMPORT_MODEL], task="gsm8k")
    seconds = time.perf_counter() - t0
    print(f"imported {path.name} ({report.problems} prompts, {report.samples} samples) in {seconds:.2f} s")
    return {"file": path.name, "prompts": report.problems, "samples": report.samples, "seconds": seconds}


def measure(*, after_run: bool = False, scale: int | None = None, browser: bool = True) -> dict:
    """The benchmark's figures on the cache (TTC_CACHE or cache/), or on a scratch cache made from it."""
    from backend import explore

    old = os.environ.get("TTC_CACHE")
    scratch = None
    extra: dict = {"after_run": after_run, "scale": scale}
    try:
        if after_run or scale:
            scratch, built = scratch_cache(cache_dir(), scale)
            os.environ["TTC_CACHE"] = str(scratch)
            explore.reset_store()
            if built is not None:
                from backend.explore import derived

                t0 = time.perf_counter()
                derived.precompute(explore.store())  # what build-cache and compact leave behind
                extra["synthetic"] = {**built, "precompute_s": time.perf_counter() - t0}
                print(f"synthetic store: {built['rows']['runs']} runs, {built['rows']['samples']:,} samples, "
                      f"{built['bytes'] / 2**20:.0f} MiB in {built['seconds']:.1f} s; derived data precomputed in "
                      f"{extra['synthetic']['precompute_s']:.1f} s")
                derived.forget()  # the timed calls load it from its files, as a fresh server does
        first = "derived points loaded"
        if after_run:
            from backend.explore.derived import points

            t0 = time.perf_counter()
            points(explore.store())  # a warm server: the store open and the points loaded before the run
            extra["before_run_load_s"] = time.perf_counter() - t0
            print(f"derived points loaded before the run in {extra['before_run_load_s']:.2f} s")
            extra["live_run"] = live_greedy_run()
            extra["import"] = import_generic(scratch / "bench-input")
            first = "first call after the run and the import (their points added)"
        out = {"backend": time_pages(first), "memory": models_memory(),
               "browser": browser_cold_start() if browser else None, **extra,
               "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    finally:
        if scratch is not None:
            if old is None:
                os.environ.pop("TTC_CACHE", None)
            else:
                os.environ["TTC_CACHE"] = old
            explore.reset_store()
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def summary(out: dict) -> dict:
    """The figures --json prints: per-page p50/p95, cold start (None without the browser), RSS with the models."""
    pages = {name: {"p50_ms": round(v["p50_ms"], 2), "p95_ms": round(v["p95_ms"], 2)}
             for name, v in out["backend"]["pages"].items()}
    browser = out.get("browser")
    return {"pages": pages, "cold_start_s": round(browser["cold_first_chart_s"], 2) if browser else None,
            "cold_start_floor_s": round(browser["floor_cold_first_chart_s"], 2) if browser else None,
            "rss_mib": round(out["memory"]["rss_all_models_mib"], 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend bench app")
    ap.add_argument("--after-run", action="store_true",
                    help="measure on a scratch copy of the cache after one live greedy run and one imported file")
    ap.add_argument("--scale", type=int, metavar="N", help="measure on a synthetic store N times the cache's runs")
    ap.add_argument("--json", action="store_true", help='print only {"pages", "cold_start_s", "rss_mib"} as JSON')
    ap.add_argument("--no-browser", action="store_true", help="skip the cold start in Chromium")
    args = ap.parse_args(argv)
    if args.scale is not None and not 1 <= args.scale <= 100:
        raise ValueError("--scale must be in 1..100")
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        out = measure(after_run=args.after_run, scale=args.scale, browser=not args.no_browser)
        out["summary"] = summary(out)
        name = "app" + (f"-scale{args.scale}" if args.scale else "") + ("-after-run" if args.after_run else "")
        dest = runs_dir() / "bench"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.json").write_text(json.dumps(out, indent=2))
        if out.get("live_run"):
            print(f"live greedy run, one prompt, warm: {out['live_run']['seconds']:.2f} s end to end (target ≤ 1.5 s)")
        print(f"saved {dest / name}.json")
    if args.json:
        print(json.dumps(out["summary"]))
    return 0
