"""Load benchmark: N concurrent browser sessions cycle the replay pages of one `streamlit run` server on 127.0.0.1
for a fixed time; page-ready time p50/p95, errors (exception boxes, timeouts), the server's resident memory and where
the CPU went (server vs Chromium, in cores). Bounded: every session stops at the deadline, the server is terminated,
nothing leaves this machine.

A session moves between pages as a user does — by the sidebar's links, in one browser tab (Streamlit switches the
page over its open connection) — after one first full load; ``--reload`` makes every page a full navigation
instead (a new tab per page: the browser parses the app again each time). Page ready = from the click (or the
navigation) until the app reports its script "notRunning" with the new page's title drawn and every Plotly chart on it
rendered.

    python -m backend bench load [--sessions 10] [--seconds 120] [--reload] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from backend.paths import ROOT, runs_dir

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


def start_server(env: dict | None = None, *, app: Path = ROOT / "app.py",
                 cwd: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`streamlit run app` on a free 127.0.0.1 port; returns once /_stcore/health answers (polled every 50 ms: the
    cold-start benchmark times this), or raises."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless",
                             "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode} before answering") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("streamlit did not answer /_stcore/health within 90 s")


POLL_MS = 50  # how often a waiting tab checks for page ready: per animation frame, ten tabs' checks cost the client
_READY = """([old]) => {
    const app = document.querySelector("[data-testid='stApp']");
    const h1 = document.querySelector("[data-testid='stMain'] h1");
    if (!app || app.getAttribute("data-test-script-state") !== "notRunning" || !h1) return false;
    if (old !== null && h1.textContent === old) return false;
    if (document.querySelector("[data-testid='stMain'] [data-stale='true']")) return false;
    return [...document.querySelectorAll("[data-testid='stPlotlyChart']")].every(c => c.querySelector(".main-svg"));
}"""


def wait_ready(page, timeout_s: float, old_title: str | None = None) -> None:
    """Until the script has stopped running, the page's title differs from ``old_title`` (a page switch happened)
    and every Plotly chart on the page is drawn."""
    page.wait_for_function(_READY, arg=[old_title], timeout=timeout_s * 1000, polling=POLL_MS)


async def _sessions(url: str, sessions: int, stop_at: float, out: list, errors: list, timeout_s: float,
                    reload: bool = False, one_browser: bool = True) -> None:
    """``sessions`` users cycling the pages until ``stop_at``, each starting on a different page with a full load,
    then moving by the sidebar's links (``reload``: a full load every time); each user a browser context (its own
    Streamlit session) of one shared Chromium, or (``one_browser=False``) a Chromium of its own. Appends (page,
    seconds, "load" | "switch") to ``out`` and one line per failure to ``errors``."""
    from playwright.async_api import async_playwright

    async def ready(page, old: str | None) -> None:
        await page.wait_for_function(_READY, arg=[old], timeout=timeout_s * 1000, polling=POLL_MS)

    async def title(page) -> str | None:
        h1 = page.locator("[data-testid='stMain'] h1")
        return await h1.first.text_content() if await h1.count() else None

    async with async_playwright() as p:
        launch = lambda: p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        shared = await launch() if one_browser else None

        async def session(i: int) -> None:
            browser = shared or await launch()
            page = await (await browser.new_context(viewport={"width": 1300, "height": 900})).new_page()
            j, first = i, True
            while time.time() < stop_at:
                path = PAGES[j % len(PAGES)]
                j += 1
                kind = "load" if first or reload else "switch"
                try:
                    if kind == "load":
                        t0 = time.perf_counter()
                        await page.goto(f"{url}/{path}", timeout=timeout_s * 1000)
                        await ready(page, None)
                        first = False
                    else:
                        old = await title(page)
                        t0 = time.perf_counter()
                        await page.locator(f"[data-testid='stSidebarNavLink'][href='{url}/{path}']").click(
                            timeout=timeout_s * 1000)
                        await ready(page, old)
                    if await page.locator("[data-testid='stException']").count():
                        errors.append(f"{path or 'home'}: exception box")
                    else:
                        out.append((path or "home", time.perf_counter() - t0, kind))
                except Exception as e:  # noqa: BLE001 - a timeout or a crash is an error to count, not to stop on
                    errors.append(f"{path or 'home'}: {type(e).__name__}")
                    first = True  # start again from a full load
            if browser is not shared:
                await browser.close()

        await asyncio.gather(*(session(i) for i in range(sessions)))
        if shared is not None:
            await shared.close()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) this process used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _chromium_pids() -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if b"chromium" in f.read().split(b"\0")[0]:
                        out.append(int(d))
            except OSError:
                pass
    return out


def run(sessions: int = 10, seconds: float = 120, timeout_s: float = 60, reload: bool = False,
        clients: str = "one-browser") -> dict:
    """``clients``: "one-browser" (every session a context of one Chromium) or "browsers" (a Chromium each)."""
    if clients not in ("one-browser", "browsers"):
        raise ValueError(f"clients must be one-browser or browsers, not {clients!r}")
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    proc, url = start_server()
    try:
        warm = time.time()
        asyncio.run(_sessions(url, 1, time.time() + 1, [], [], 120))  # one page first, as for a first user
        warm = time.time() - warm
        times: list = []
        errors: list = []
        stop_at = time.time() + seconds
        client = threading.Thread(target=lambda: asyncio.run(_sessions(
            url, sessions, stop_at, times, errors, timeout_s, reload, one_browser=clients == "one-browser")))
        peak = [0.0]
        cpu = {"server": 0.0, "chromium": 0.0}
        seen: dict[int, float] = {}  # chromium pid -> CPU seconds when last seen (processes come and go)

        def watch():
            t_start, server0 = time.time(), _cpu_s(proc.pid)
            while client.is_alive():
                peak[0] = max(peak[0], _rss_mib(proc.pid))
                for pid in _chromium_pids():
                    seen[pid] = _cpu_s(pid) or seen.get(pid, 0.0)
                cpu["server"] = _cpu_s(proc.pid) - server0
                cpu["elapsed"] = time.time() - t_start
                time.sleep(1)
            cpu["chromium"] = sum(seen.values())

        client.start()
        watcher = threading.Thread(target=watch)
        watcher.start()
        client.join()
        watcher.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    secs = np.array([s for _, s, _ in times]) if times else np.array([np.nan])
    per_page = {p: float(np.percentile([s for q, s, _ in times if q == p], 95)) for p in sorted({q for q, _, _ in times})}
    by_kind = {k: [s for _, s, kk in times if kk == k] for k in ("load", "switch")}
    kinds = {f"{k}_{stat}": (float(np.percentile(v, q)) if v else None) for k, v in by_kind.items()
             for stat, q in (("p50_s", 50), ("p95_s", 95))}
    kinds.update({"loads": len(by_kind["load"]), "switches": len(by_kind["switch"])})
    return {"sessions": sessions, "seconds": seconds, "page_loads": len(times), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:10], "p50_s": float(np.percentile(secs, 50)),
            "p95_s": float(np.percentile(secs, 95)), "max_s": float(np.max(secs)), "p95_s_by_page": per_page,
            "server_peak_rss_mib": peak[0], "first_page_s": warm, "navigation": "reload" if reload else "sidebar",
            "clients": clients, **kinds,
            "cores_server": cpu["server"] / max(1e-9, cpu.get("elapsed", seconds)),
            "cores_chromium": cpu["chromium"] / max(1e-9, cpu.get("elapsed", seconds)), "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend bench load")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--reload", action="store_true", help="every page a full navigation instead of a sidebar click")
    ap.add_argument("--clients", choices=("one-browser", "browsers"), default="one-browser",
                    help="sessions as contexts of one Chromium (default) or one Chromium each")
    ap.add_argument("--json", action="store_true", help="print only the result as JSON")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 50 or not 1 <= args.seconds <= 3600:
        raise ValueError("--sessions must be in 1..50 and --seconds in 1..3600")
    out = run(args.sessions, args.seconds, reload=args.reload, clients=args.clients)
    out["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    dest = runs_dir() / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "load.json").write_text(json.dumps(out, indent=2))
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.sessions} sessions ({args.clients}) × {args.seconds:.0f} s: {out['page_loads']} page loads, {out['errors']} errors; "
              f"page ready p50 {out['p50_s']:.2f} s, p95 {out['p95_s']:.2f} s (max {out['max_s']:.1f} s); server peak "
              f"RSS {out['server_peak_rss_mib']:.0f} MiB; CPU: server {out['cores_server']:.2f} cores, Chromium "
              f"{out['cores_chromium']:.2f} of {out['cpus']}; saved {dest / 'load.json'}")
        for k, n in (("load", "loads"), ("switch", "switches")):
            if out[n]:
                print(f"  {out[n]} {'full page loads' if k == 'load' else 'page switches by the sidebar'}: "
                      f"p50 {out[f'{k}_p50_s']:.2f} s, p95 {out[f'{k}_p95_s']:.2f} s")
    return 0
