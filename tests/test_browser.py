"""Real-browser test: Playwright drives Debian's Chromium against `streamlit run` on 127.0.0.1. Every page opens
without an exception box, with a rendered Plotly chart and formatted text (no None / nan / null, reprs or raw numbers
of a million or more); the story walks from its first step to its last and back, the step in the URL; one small live
Playground run completes and says how long the user waited; a shared link keeps its strategies; a page's widgets do
not take another page's values; Home and the winner map fit a 390 px wide phone. A screenshot of every page and story
step is saved under artifacts/screenshots/. Skipped, with the reason, when /usr/bin/chromium is absent."""
from __future__ import annotations

import os
import re
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
PAGES = {"spread": "Spread", "": "Home", "story": "The story", "budget_curves": "Budget curves",
         "small_vs_large": "Small vs large",
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


def _shot(page, name: str) -> None:
    """A screenshot of the whole page: the viewport grown to the height of the app's scrolling content first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    h = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')]"
                      ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(int(h) + 40, 12000)})
    time.sleep(0.5)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, timeout=180_000)
    page.set_viewport_size(size)


def _shown_text(page) -> list[str]:
    """The page's visible text with model text left out (code blocks), and every chart's SVG text."""
    return page.evaluate("""() => {
        const main = document.querySelector('[data-testid=stMain]') || document.body;
        const copy = main.cloneNode(true);
        copy.querySelectorAll('[data-testid=stCode], pre, code, svg, [data-testid=stSelectbox] input').forEach(e => e.remove());
        const svg = [...main.querySelectorAll('.js-plotly-plot svg text')].map(t => t.textContent);
        return [copy.innerText, ...svg];
    }""")


def _text_problems(page) -> list[str]:
    from tests.test_rendered_text import problems

    return [p for text in _shown_text(page) for line in text.splitlines() for p in problems(line)]


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_in_a_real_browser(server, page, path):
    t0 = time.time()
    page.goto(f"{server}/{path}")
    _wait_idle(page)
    _no_exception(page, PAGES[path])
    # the app's own navigation, also when the first page a new server serves is not Home
    assert page.locator("[data-testid='stSidebarNav']").get_by_text("Home", exact=True).count() == 1
    if path not in NO_CHART:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 1
    ready = time.time() - t0
    assert not _text_problems(page), (PAGES[path], _text_problems(page)[:10])
    # client.toolbarMode hides the toolbar's Deploy button (page text may say "deployable": look for the button)
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    _shot(page, path or "home")
    (SHOTS / "ready_seconds.txt").open("a").write(f"{path or 'home'} {ready:.2f}\n")


def test_the_story_walks_from_start_to_end_and_back(server, page):
    """Every step renders a chart and its sentences; Next and Back move one step and the URL says which; a link to
    a step opens it."""
    from backend.explore import story

    n = len(story.STEPS)
    page.goto(f"{server}/story")
    for i, s in enumerate(story.STEPS, 1):
        _wait_idle(page)
        _no_exception(page, f"story step {i}")
        heading = page.get_by_role("heading", name=f"{i}. {s.title}")
        assert heading.count() == 1, (i, s.title)
        assert i == 1 or f"step={i}" in page.url, page.url
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
        said = page.locator("[data-testid='stMarkdown']").filter(has_text=re.compile(r"\d"))
        assert said.count() >= 2, f"step {i} has no computed sentence"
        assert not _text_problems(page), (i, _text_problems(page)[:10])
        _shot(page, f"story-step-{i}-{s.key}")
        next_button = page.get_by_role("button", name="Next →").first
        if i < n:
            next_button.click()
        else:
            assert next_button.is_disabled()
    page.get_by_role("button", name="← Back").first.click()
    _wait_idle(page)
    assert f"step={n - 1}" in page.url and page.get_by_role("heading", name=f"{n - 1}. ").count() == 1
    page.goto(f"{server}/story?step=3")
    _wait_idle(page)
    assert page.get_by_role("heading", name=f"3. {story.STEPS[2].title}").count() == 1


def test_live_playground_run_completes(server, page):
    page.goto(f"{server}/playground?model=micro-cot-a&strategy=sample&budget=4")
    _wait_idle(page)
    page.get_by_role("button", name="Run").click()
    page.wait_for_selector("text=samples correct", timeout=120_000)
    _wait_idle(page)
    _no_exception(page, "Playground after a run")
    said = page.locator("[data-testid='stMarkdown']").filter(has_text="you waited").inner_text()
    waited = float(re.search(r"you waited ([\d.]+) s", said).group(1))
    generation = float(re.search(r"generation ([\d.]+) s", said).group(1))
    assert waited >= generation - 0.05  # measured from the click: the generation and everything around it
    _shot(page, "playground-after-run")


def test_hostile_link_shows_a_note_not_a_traceback(server, page):
    page.goto(f"{server}/traces?model=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&prompt=%27%3BDROP%20TABLE")
    _wait_idle(page)
    _no_exception(page, "Traces with a hostile link")
    assert page.locator("img[src='x']").count() == 0  # the value is shown as text, never as markup


def test_a_shared_link_keeps_its_strategies(server, page):
    """Issue 13 item 7: a link with strategies (as their shown labels) opens with them selected and no note that
    they were dropped."""
    page.goto(f"{server}/budget_curves?strategies=majority%20vote&strategies=coverage%20(pass%40k)")
    _wait_idle(page)
    _no_exception(page, "Budget curves from a shared link")
    assert page.locator("[data-testid='stAlert']").filter(has_text="not available").count() == 0
    chips = page.locator("[data-testid='stMultiSelect']").nth(1).inner_text()
    assert "majority vote" in chips and "coverage (pass@k)" in chips


def _open_dropdown(page, combo):
    """Open a selectbox's list and return its options. Streamlit's selectbox is a combobox whose list opens on a
    click on its input; a click that lands while the app is still re-rendering can be lost, so try again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    listbox = page.get_by_role("listbox")
    for _ in range(4):
        combo.click()
        try:
            listbox.first.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:  # the list did not open: close whatever is half open, click again
            page.keyboard.press("Escape")
            _wait_idle(page)
    else:
        raise AssertionError("the selectbox's list did not open after 4 clicks on its input")
    options = listbox.first.get_by_role("option")
    options.first.wait_for(state="visible", timeout=10_000)
    return options


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_a_page_does_not_take_another_pages_widget_values(server, page):
    """Issue 13 item 7: a prompt picked on Spread (key "prompt") does not show up in the Traces page's Prompt box.
    The chosen value is the combobox input's value (an input's value is not part of the box's inner text)."""
    page.goto(f"{server}/spread")
    _wait_idle(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)  # the page has rendered down to its charts
    combo = page.get_by_role("combobox", name="Prompt (largest swing first)")
    combo.wait_for(state="visible", timeout=60_000)
    before = _norm(combo.input_value())
    options = _open_dropdown(page, combo)
    labels = [_norm(t) for t in options.all_inner_texts()]
    others = [i for i, t in enumerate(labels) if t != before]
    assert others, f"Spread offers no prompt other than the shown one ({before!r}): {labels}"
    choice = labels[others[0]]
    options.nth(others[0]).click()
    _wait_idle(page)
    picked = _norm(combo.input_value())
    assert picked == choice and "(swing" in picked, (picked, choice)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Traces", exact=True).click()
    _wait_idle(page)
    _no_exception(page, "Traces after Spread")
    traces_combo = page.get_by_role("combobox", name="Prompt (by operators, then digits)")
    traces_combo.wait_for(state="visible", timeout=60_000)
    prompt = _norm(traces_combo.input_value())
    assert prompt and prompt != picked and "swing" not in prompt, (prompt, picked)
    assert page.locator("[data-testid='stAlert']").filter(has_text="not available").count() == 0


@pytest.mark.parametrize("path", ["", "small_vs_large"])
def test_home_and_the_winner_map_fit_a_phone(server, page, path):
    """At a 390 px wide viewport nothing runs off the side: no horizontal scrolling, charts within the width."""
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(f"{server}/{path}")
        _wait_idle(page)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        time.sleep(1)
        wide = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        charts = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(e => "
                               "e.getBoundingClientRect().right)")
        assert wide <= 392 and all(r <= 392 for r in charts), (wide, charts)
        _shot(page, f"phone-{path or 'home'}")
    finally:
        page.set_viewport_size(size)
