"""Real-browser test: Playwright drives Debian's Chromium against `streamlit run` on 127.0.0.1. Every page opens
without an exception box and with a rendered Plotly chart; one small live Playground run completes; a screenshot
of every page is saved under artifacts/screenshots/. Skipped, with the reason, when /usr/bin/chromium is absent."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = {"spread": "Spread", "": "Home", "budget_curves": "Budget curves", "small_vs_large": "Small vs large",
         "adaptive": "Adaptive compute", "reasoning": "Reasoning vs not", "traces": "Traces",
         "playground": "Playground", "real_models": "Real models", "claims": "Claims", "zoo_cache": "Zoo & cache"}
NO_CHART = {"playground"}  # the Playground draws its output only after a run
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason="no Debian Chromium at /usr/bin/chromium (apt-get install chromium); "
                                        "the real-browser test is skipped")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(app_cache):
    port = _free_port()
    env = {**os.environ, "TTC_CACHE": str(app_cache), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
            "--no-first-run", "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


def _wait_idle(page, timeout_s: float = 90) -> None:
    """Wait until Streamlit reports the script is not running (its status widget disappears) and the DOM settles."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    quiet = 0
    while time.time() < deadline:
        running = page.locator("[data-testid='stStatusWidget']").count() > 0
        quiet = quiet + 1 if not running else 0
        if quiet >= 4:
            return
        time.sleep(0.5)
    raise AssertionError("the app kept running for more than the timeout")


def _no_exception(page, where: str) -> None:
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, f"{where}: exception box: {boxes.first.inner_text()[:500]}"


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_in_a_real_browser(server, page, path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{server}/{path}")
    _wait_idle(page)
    _no_exception(page, PAGES[path])
    # the app's own navigation, also when the first page a new server serves is not Home
    assert page.locator("[data-testid='stSidebarNav']").get_by_text("Home", exact=True).count() == 1
    if path not in NO_CHART:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 1
    page.screenshot(path=str(SHOTS / f"{path or 'home'}.png"), full_page=True)


def test_live_playground_run_completes(server, page):
    page.goto(f"{server}/playground?model=micro-cot-a&strategy=sample&budget=4")
    _wait_idle(page)
    page.get_by_role("button", name="Run").click()
    page.wait_for_selector("text=samples correct", timeout=120_000)
    _wait_idle(page)
    _no_exception(page, "Playground after a run")
    page.screenshot(path=str(SHOTS / "playground-after-run.png"), full_page=True)


def test_hostile_link_shows_a_note_not_a_traceback(server, page):
    page.goto(f"{server}/traces?model=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&prompt=%27%3BDROP%20TABLE")
    _wait_idle(page)
    _no_exception(page, "Traces with a hostile link")
    assert page.locator("img[src='x']").count() == 0  # the value is shown as text, never as markup
