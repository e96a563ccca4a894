"""App benchmark on the shipped cache: time from a widget change to the page's data being ready (the backend call
each page makes, p50/p95 over many selections), cold start to the first chart in a real browser, and memory with
every CPU zoo model loaded.

    python -m backend bench app [--no-browser]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

from backend.paths import ROOT


def _rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def selections() -> dict[str, list]:
    """Per page, the backend calls a user triggers by changing widgets (each a zero-argument callable)."""
    from backend.explore import adaptive, common, curves, overview, real, reasoning, small_large, spread, traces
    from backend.explore.derived import claims

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
    out["Claims"] = [claims]
    out["Zoo & cache"] = [overview.cache_summary, overview.cards_table] + \
        [lambda m=m: overview.cell_accuracy(m) for m in models[:5]]
    out["Real models"] = [real.imported_runs, real.verifier_comparison]
    return out


def time_pages(repeat_first: bool = False) -> dict[str, dict]:
    from backend.explore.derived import points

    t0 = time.perf_counter()
    points()  # loaded once when the app starts (from cache/derived)
    load = time.perf_counter() - t0
    print(f"derived points loaded in {load:.2f} s")
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


def browser_cold_start() -> dict | None:
    """Seconds from `streamlit run` to the first Plotly chart drawn in Chromium (None without Chromium)."""
    if not os.path.exists("/usr/bin/chromium"):
        print("no /usr/bin/chromium: browser cold start not measured")
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                             "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        healthy = time.perf_counter() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            t1 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
            first_chart = time.perf_counter()
            t2 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/budget_curves")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
            warm = time.perf_counter() - t2
            browser.close()
        rss = _rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = {"server_healthy_s": healthy, "cold_first_chart_s": first_chart - t0,
           "page_open_to_chart_s": first_chart - t1, "warm_page_to_chart_s": warm, "server_rss_mib": rss}
    print(f"browser: server healthy after {healthy:.1f} s; first chart {out['cold_first_chart_s']:.1f} s after "
          f"`streamlit run` ({out['page_open_to_chart_s']:.1f} s after opening the page); another page "
          f"{warm:.1f} s; server RSS {rss:.0f} MiB")
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend bench app")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args(argv)
    out = {"backend": time_pages(), "memory": models_memory(),
           "browser": None if args.no_browser else browser_cold_start(),
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    dest = ROOT / "runs" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "app.json").write_text(json.dumps(out, indent=2))
    print(f"saved {dest / 'app.json'}")
    return 0
