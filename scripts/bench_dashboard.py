"""How long the dashboard takes to answer a sidebar change, measured in a real browser.

    python scripts/bench_dashboard.py [--changes 10] [--tab Options] [--out result.json]

Serves app.py with streamlit, opens it in headless Chromium (Playwright driving
/usr/bin/chromium; scripts/install_browser.sh installs it), waits for the first render,
then changes "Requests per day" `--changes` times. Each latency runs from the key press
that commits the new value to the moment the app reports the rerun it started finished
(`data-test-script-state` back to "notRunning") AND the API's total shows the new figure: what
a user waits for, server and browser together. Two changes are made first as warm-up
(not counted). With --tab, another tab is open while the sidebar changes (then the latency runs
to the end of the rerun). Prints the median, min and max, the machine and the load, and writes
them as JSON with --out. A benchmark, not a test: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WARMUP = 2
WATCH_JS = """() => {
  window.__ran = false;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__ran = true; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
DONE_JS = """([label, old]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!window.__ran || !app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (label === null) return true;
  const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes(label));
  return !!m && m.innerText !== old;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app(timeout_s: float = 90):
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
           "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"streamlit did not start on {url}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _metric_text(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]', has_text=label).first.inner_text()


def measure(page, changes: int, label: str) -> list[float]:
    """Latency of each committed change of requests/day, in seconds."""
    box = page.locator('input[aria-label="Requests per day"]')
    out = []
    for i in range(WARMUP + changes):
        old = _metric_text(page, label) if label else None
        box.fill(str(41_000 + 1_000 * i))
        page.evaluate(WATCH_JS)
        t0 = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(DONE_JS, arg=[label, old], polling="raf", timeout=60_000)
        if i >= WARMUP:
            out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--tab", default="Options", help="tab open while the sidebar changes (default Options)")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright
    # Options: also wait for the API total to show the new figure; other tabs: for the rerun to finish
    label = "API · total over" if a.tab == "Options" else None
    with served_app() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        t0 = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
        first = time.perf_counter() - t0
        if a.tab != "Options":
            page.evaluate(WATCH_JS)
            page.get_by_role("tab", name=a.tab).click()
            page.wait_for_function(DONE_JS, arg=[None, None], polling="raf", timeout=120_000)
        lat = measure(page, a.changes, label)
        browser.close()
    result = {"tab": a.tab, "changes": a.changes, "first_render_s": round(first, 3),
              "median_s": round(statistics.median(lat), 3), "min_s": round(min(lat), 3), "max_s": round(max(lat), 3),
              "latencies_s": [round(x, 3) for x in lat], "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
              "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
              "python": platform.python_version()}
    print(f"sidebar change -> updated page ({a.tab} tab): median {result['median_s']:.3f} s "
          f"[min {result['min_s']:.3f}, max {result['max_s']:.3f}] over {a.changes} changes; "
          f"first render {first:.1f} s; {result['cpus']} CPUs, load {result['load_avg_1m']:.2f}")
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
