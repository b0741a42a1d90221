"""Benchmark: the browser's first paint of the app on the Boston demo, cold and warm.

Run from the project root::

    python benchmarks/frontend.py              # one cold load, then three warm reloads
    python benchmarks/frontend.py --cold 3     # three fresh servers, three warm reloads each
    python benchmarks/frontend.py --cold-graph # also an empty road-graph cache (built again)
    python benchmarks/frontend.py --file-watcher auto   # with streamlit's file watcher

Starts ``streamlit run app.py --server.fileWatcherType none`` (as the README
runs it; headless, on a free port of 127.0.0.1) and opens it in Debian's
headless Chromium (``/usr/bin/chromium``) with Playwright:

cold
    A fresh server: empty ``st.cache_resource``, nothing imported yet; the page's
    first load imports the package, loads the road graph (from the graph cache
    on disk, or built from the extract with ``--cold-graph``), builds and
    evaluates the demo and draws the map.
warm
    The page reloaded on the same server (a new session; the graph and the demo
    evaluation come from ``st.cache_resource``).

For each load it prints the seconds from navigation to the first text (the
title, "Network adequacy") and to the drawn map (plotly's map loaded, its
canvas in the page), then the median of the cold and of the warm loads.
Targets: first text under 1 s; the map under 3 s warm and under 8 s cold. On a
shared machine the figures vary with its load: run several (``--cold``).

Streamlit's file watcher (``auto``, its default) watches the app's folder
recursively, the virtualenv in ``.venv`` and ``.git`` included, and wakes on
every file written there: it slows the first paint by a third or more, so the
app runs without it (``--file-watcher`` measures the others).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHROMIUM = "/usr/bin/chromium"
TITLE = "Network adequacy"
TEXT_TARGET_S = 1.0
MAP_TARGET_WARM_S = 3.0
MAP_TARGET_COLD_S = 8.0

#: how the app is run: without streamlit's file watcher (see the module docstring)
FILE_WATCHER = "none"
#: Run in the page from its first moment: records in ``window.__paint`` when the title
#: is in the page (``text``) and when plotly has drawn the county map (``map``: the map
#: library loaded, its canvas in place), in ms since navigation (``performance.now()``).
#: Cheap checks every 20 ms (no layout forced), so timing does not slow the page.
PAINT_PROBE = """(() => {
  const paint = (window.__paint = {});
  const check = () => {
    if (paint.text === undefined) {
      for (const h of document.querySelectorAll('h1')) {
        if (h.textContent.includes(TITLE_JS)) { paint.text = performance.now(); break; }
      }
    }
    if (paint.map === undefined) {
      const gd = document.querySelector('.js-plotly-plot');
      const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const map = sub && sub.map;
      if (map && map.loaded() && gd.querySelector('.maplibregl-canvas')) {
        paint.map = performance.now();
      }
    }
    if (paint.text === undefined || paint.map === undefined) setTimeout(check, 20);
  };
  check();
})();""".replace("TITLE_JS", json.dumps(TITLE))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    env: dict[str, str], timeout_s: float = 120.0, file_watcher: str = FILE_WATCHER
):
    """``streamlit run app.py`` on a free port; yields its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", file_watcher],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def first_paint(page, url: str | None = None, timeout_s: float = 180.0) -> tuple[float, float]:
    """Seconds from navigation (``url``, else a reload of ``page``, opened at a url here
    before) to the title and to the drawn map, as the page itself records them
    (:data:`PAINT_PROBE`)."""
    if url is None:
        page.reload(wait_until="commit")
    else:
        page.add_init_script(PAINT_PROBE)  # on every navigation of the page from now on
        page.goto(url, wait_until="commit")
    page.wait_for_function(
        "() => window.__paint && window.__paint.map !== undefined",
        polling=100,
        timeout=timeout_s * 1000,
    )
    paint = page.evaluate("() => window.__paint")
    return paint["text"] / 1000, paint["map"] / 1000


def measure(
    warm: int = 3, cold_graph: bool = False, cold: int = 1, file_watcher: str = FILE_WATCHER
) -> list[tuple[str, float, float]]:
    """(load, seconds to first text, seconds to drawn map): for each of ``cold`` fresh
    servers, its first load (cold) and ``warm`` reloads."""
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(cold):
            with tempfile.TemporaryDirectory() as cache:
                if cold_graph:
                    env["ADEQUACY_CACHE_DIR"] = cache
                with streamlit_server(env, file_watcher=file_watcher) as url:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    rows.append((f"cold {run + 1}", *first_paint(page, url)))
                    for i in range(warm):
                        rows.append((f"warm {run + 1}.{i + 1}", *first_paint(page)))
                    page.close()
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=1, help="fresh servers (cold loads)")
    parser.add_argument("--warm", type=int, default=3, help="warm reloads after each cold load")
    parser.add_argument(
        "--cold-graph", action="store_true", help="an empty road-graph cache (built again)"
    )
    parser.add_argument(
        "--file-watcher",
        default=FILE_WATCHER,
        choices=["none", "poll", "auto", "watchdog"],
        help="streamlit's server.fileWatcherType (default: none, as the README runs the app)",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium (./scripts/test does)")
    rows = measure(args.warm, args.cold_graph, args.cold, args.file_watcher)
    graph = "empty graph cache" if args.cold_graph else "graph cache as found"
    print(
        f"Boston demo, first paint in headless Chromium ({graph}; "
        f"file watcher: {args.file_watcher}):"
    )
    print(f"{'load':<10} {'first text (s)':>15} {'drawn map (s)':>14}")
    for name, text_s, map_s in rows:
        print(f"{name:<10} {text_s:>15.2f} {map_s:>14.2f}")
    for kind, target in (("cold", MAP_TARGET_COLD_S), ("warm", MAP_TARGET_WARM_S)):
        loads = [(t, m) for name, t, m in rows if name.startswith(kind)]
        if loads:
            text_s = statistics.median(t for t, _ in loads)
            map_s = statistics.median(m for _, m in loads)
            print(
                f"median {kind} ({len(loads)}): first text {text_s:.2f} s "
                f"(target < {TEXT_TARGET_S:g} s), map {map_s:.2f} s (target < {target:g} s)"
            )


if __name__ == "__main__":
    main()
