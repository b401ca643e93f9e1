"""The dashboard in a real browser: serve app.py, open it in headless Chromium, look for exceptions.

Needs /usr/bin/chromium (scripts/install_browser.sh installs it); skipped without it
unless CI is set, where a missing browser is a failure. Set PLANNER_SCREENSHOT=path
to also keep the full-page screenshot (docs/screenshot.png is made this way).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app():
    """`streamlit run app.py` on a free local port; the server is always terminated."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "(still running)"
                pytest.fail(f"streamlit did not start on {url}: {out[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: run scripts/install_browser.sh")
        pytest.skip(f"{CHROMIUM} is not installed (scripts/install_browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_default_page_renders_without_exceptions(browser, tmp_path):
    with served_app() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        page.get_by_role("tab", name="Cumulative").click()
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', state="visible", timeout=60_000)
        page.get_by_role("tab", name="Options").click()
        page.wait_for_timeout(2_000)  # let the charts and fonts settle before reading the page
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Recommended:").count() >= 1
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("PLANNER_SCREENSHOT"):
            shutil.copy(shot, os.environ["PLANNER_SCREENSHOT"])
        page.close()


def test_every_tab_and_the_sidebar_values_fit_at_1400_px(browser):
    """Issue 27: the Export tab was off-screen at 1400 px and the sidebar cut select values to a few letters."""
    with served_app() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        for name in ("Options", "Export"):
            box = page.get_by_role("tab", name=name).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1400, (name, box)
        page.get_by_role("tab", name="Export").click()
        page.get_by_role("button", name="Report with charts (.zip)").wait_for(timeout=60_000)
        # Every sidebar select shows its whole value: no text wider than its box.
        shown = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stSelectbox"] input[role="combobox"]')]
            .map(e => [e.value, e.scrollWidth > e.clientWidth + 1])""")
        assert len(shown) >= 8, shown  # the check looked at the selects
        assert not [v for v, cut in shown if cut], f"sidebar selects cut their values: {shown}"
        page.close()


def test_a_new_scenario_walks_to_an_exported_report_with_charts(browser, tmp_path):
    """Issue 27: from "New scenario", name it, set the traffic, and download the report: a zip whose
    report.md carries that name and traffic, and whose charts are images it links to."""
    import io
    import re
    import zipfile
    with served_app() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1050}, accept_downloads=True)
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "New scenario" in sidebar.get_by_role("combobox", name="Start from").input_value()
        name = sidebar.get_by_label("Scenario name", exact=True)
        name.fill("Planning doc: support bot")
        name.press("Enter")
        traffic = sidebar.get_by_label("Requests per day", exact=True)
        traffic.fill("250000")
        traffic.press("Enter")
        page.wait_for_timeout(1_000)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        page.get_by_role("tab", name="Export").click()
        button = page.get_by_role("button", name="Report with charts (.zip)")
        button.wait_for(timeout=60_000)
        with page.expect_download(timeout=120_000) as download:
            button.click()
        path = tmp_path / "report.zip"
        download.value.save_as(path)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.close()
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
        names = set(z.namelist())
        report = z.read(next(n for n in names if n.endswith("report.md"))).decode("utf-8")
        images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report)
        assert report.startswith("# Planning doc: support bot")
        assert "250,000" in report or "250k" in report
        assert len(images) >= 3, images
        for image in images:
            member = next((n for n in names if n.endswith(image)), None)
            assert member and z.read(member)[:8] == b"\x89PNG\r\n\x1a\n", image


def test_a_link_reopens_its_scenario_and_its_markup_fetches_nothing(browser):
    """A link is untrusted input: its scenario opens as it was saved, and a name holding an image, a link and a
    script tag shows as text, so the viewer's browser requests nothing outside the page's own server."""
    import dataclasses
    import urllib.parse

    import planner
    from dashboard import link
    evil = "https://evil.example"
    name = f"![x]({evil}/p.png) <img src={evil}/q.png> <script>fetch('{evil}/s')</script> [a]({evil})"
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    s = dataclasses.replace(s, name=name, description=name,
                            workload=dataclasses.replace(s.workload, requests_per_day=23456))
    value = link.encode(planner.dumps_scenario(s))
    with served_app() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        elsewhere = []
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url))
        page.goto(f"{url}/?{link.PARAM}={value}&{link.VIEW_PARAM}=Export", wait_until="domcontentloaded")
        page.get_by_text("Take these numbers into a planning document").wait_for(timeout=60_000)  # the Export tab
        page.wait_for_timeout(2_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        assert page.locator('input[aria-label="Requests per day"]').input_value().replace(",", "") in ("23456", "23456.00")
        query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
        assert query[link.PARAM] == [value]  # the address still carries the scenario, unchanged
        assert page.locator(f'img[src^="{evil}"], a[href^="{evil}"], script[src^="{evil}"]').count() == 0
        assert elsewhere == []
        page.close()
