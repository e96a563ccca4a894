"""Load benchmark: N concurrent browser sessions cycle the replay pages of one `streamlit run` server on 127.0.0.1
for a fixed time; page-ready time (navigation until Streamlit's script stops running and a chart or the page's
content is drawn) p50/p95, errors (exception boxes, timeouts) and the server's resident memory. Bounded: every
session stops at the deadline, the server is terminated, nothing leaves this machine.

    python -m backend bench load [--sessions 10] [--seconds 120] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np

from backend.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
PAGES = ("", "budget_curves", "small_vs_large", "spread", "adaptive", "reasoning", "traces", "claims", "real_models",
         "zoo_cache")  # replay pages: they read the cache, nothing runs a model
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_server(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free 127.0.0.1 port; returns once /_stcore/health answers (or raises)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                             "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("streamlit did not answer /_stcore/health within 90 s")


def wait_ready(page, timeout_s: float) -> None:
    """Until the script has stopped running (no status widget for 4 polls 0.25 s apart) and something is drawn."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    quiet = 0
    while time.time() < deadline:
        quiet = quiet + 1 if page.locator("[data-testid='stStatusWidget']").count() == 0 else 0
        if quiet >= 4 and page.locator(".js-plotly-plot .main-svg, [data-testid='stMarkdown']").count():
            return
        time.sleep(0.25)
    raise TimeoutError(f"page not ready within {timeout_s:.0f} s")


def _session(url: str, i: int, stop_at: float, out: list, errors: list, timeout_s: float) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        j = i  # sessions start on different pages
        while time.time() < stop_at:
            path = PAGES[j % len(PAGES)]
            j += 1
            t0 = time.perf_counter()
            try:
                page.goto(f"{url}/{path}", timeout=timeout_s * 1000)
                wait_ready(page, timeout_s)
                if page.locator("[data-testid='stException']").count():
                    errors.append(f"{path or 'home'}: exception box")
                else:
                    out.append((path or "home", time.perf_counter() - t0))
            except Exception as e:  # noqa: BLE001 - a timeout or a crash is an error to count, not to stop on
                errors.append(f"{path or 'home'}: {type(e).__name__}")
        browser.close()


def run(sessions: int = 10, seconds: float = 120, timeout_s: float = 60) -> dict:
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    proc, url = start_server()
    try:
        warm = time.time()
        _session(url, 0, time.time() + 1, [], [], 120)  # one page first: the server warms up as for a first user
        warm = time.time() - warm
        times: list = []
        errors: list = []
        stop_at = time.time() + seconds
        threads = [threading.Thread(target=_session, args=(url, i, stop_at, times, errors, timeout_s))
                   for i in range(sessions)]
        peak = [0.0]

        def watch():
            while any(t.is_alive() for t in threads):
                peak[0] = max(peak[0], _rss_mib(proc.pid))
                time.sleep(1)

        for t in threads:
            t.start()
        watcher = threading.Thread(target=watch)
        watcher.start()
        for t in threads:
            t.join()
        watcher.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    secs = np.array([s for _, s in times]) if times else np.array([np.nan])
    per_page = {p: float(np.percentile([s for q, s in times if q == p], 95)) for p in sorted({q for q, _ in times})}
    return {"sessions": sessions, "seconds": seconds, "page_loads": len(times), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:10], "p50_s": float(np.percentile(secs, 50)),
            "p95_s": float(np.percentile(secs, 95)), "max_s": float(np.max(secs)), "p95_s_by_page": per_page,
            "server_peak_rss_mib": peak[0], "first_page_s": warm}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend bench load")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--json", action="store_true", help="print only the result as JSON")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 50 or not 1 <= args.seconds <= 3600:
        raise ValueError("--sessions must be in 1..50 and --seconds in 1..3600")
    out = run(args.sessions, args.seconds)
    out["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    dest = ROOT / "runs" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "load.json").write_text(json.dumps(out, indent=2))
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.sessions} sessions × {args.seconds:.0f} s: {out['page_loads']} page loads, {out['errors']} errors; "
              f"page ready p50 {out['p50_s']:.2f} s, p95 {out['p95_s']:.2f} s (max {out['max_s']:.1f} s); server peak "
              f"RSS {out['server_peak_rss_mib']:.0f} MiB; saved {dest / 'load.json'}")
    return 0
