"""Render an adequacy report (report.html) to a full-page PNG with headless Chromium.

Usage: python scripts/render_report.py REPORT.html OUT.png [--width 1280]
       [--engine auto|playwright|chromium]

Uses Debian's Chromium (/usr/bin/chromium), offline: the report is
self-contained, so the page loads nothing from the network. Waits until every
plotly figure is drawn before the shot; exits 1 on a page error, on a figure
not drawn, or on any attempt to fetch from the network.

Two ways to drive it, the same result: Playwright (``pip install -e ".[test]"``)
when it is installed, else (``--engine auto``, the default) Chromium's own
headless mode (``--dump-dom`` of a copy of the page that measures itself,
then ``--screenshot`` at the page's full height), which needs nothing beyond
``pip install -e .``, the environment ``./scripts/demo`` makes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from contextlib import suppress
from html import unescape
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: the headless command line's network guard: every http(s) request goes to a closed port
OFFLINE_ARGS = ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
SETTLE_MS = 1500  # plotly redraws responsive figures asynchronously after a resize
TIME_BUDGET_MS = 15_000  # Chromium's virtual time for a page load: scripts, timers, drawing

#: first thing on the page: collect uncaught errors (as Playwright's "pageerror")
ERRORS_PROBE = (
    "<script>window.__renderErrors = []; window.addEventListener('error', "
    "function (e) { window.__renderErrors.push(String(e.message)); });</script>"
)
#: last thing on the page: once loaded and settled, write what the shot needs on <html>
FACTS_PROBE = (
    "<script>window.addEventListener('load', function () { setTimeout(function () {"
    " var d = document.documentElement;"
    " var urls = performance.getEntriesByType('resource').map(function (r) { return r.name; })"
    "  .filter(function (u) { return /^https?:/.test(u); });"
    " d.setAttribute('data-render-facts', JSON.stringify({"
    "  height: d.scrollHeight,"
    "  expected: document.querySelectorAll('.plotly-graph-div').length,"
    "  drawn: document.querySelectorAll('.js-plotly-plot').length,"
    "  errors: window.__renderErrors, blocked: urls}));"
    "}, SETTLE_MS); });</script>"
).replace("SETTLE_MS", str(SETTLE_MS))


def render(html: str | Path, png: str | Path, *, width_px: int = 1280) -> dict:
    """Screenshot ``html`` (full page) to ``png`` with Playwright; returns page facts
    (figures drawn, errors, blocked network requests)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    html, png = Path(html).resolve(), Path(png)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width_px, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            blocked: list[str] = []

            def block(route) -> None:  # the report must work offline: count and refuse
                blocked.append(route.request.url)
                route.abort()

            page.route("http*://**", block)
            page.goto(html.as_uri(), wait_until="load")
            expected = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
            with suppress(PlaywrightTimeout):  # reported below as figures not drawn
                page.wait_for_function(
                    "n => document.querySelectorAll('.js-plotly-plot').length >= n", arg=expected
                )
            drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            # A full-page shot resizes the page, and plotly redraws responsive figures
            # asynchronously: size the viewport to the whole page first, let the figures
            # settle, and only then take the shot.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": width_px, "height": height})
            page.wait_for_timeout(SETTLE_MS)
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return {
        "figures": expected,
        "drawn": drawn,
        "height_px": height,
        "errors": errors,
        "blocked": blocked,
    }


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", *ARGS, *OFFLINE_ARGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=300,
    )


def render_headless(html: str | Path, png: str | Path, *, width_px: int = 1280) -> dict:
    """Screenshot ``html`` (full page) to ``png`` with Chromium's own headless mode, no
    Playwright: a copy of the page that measures itself (height, figures drawn, errors,
    network requests) is loaded once, then the page is shot at its full height."""
    html, png = Path(html).resolve(), Path(png).resolve()
    text = html.read_text(encoding="utf-8")
    head = re.search(r"<head[^>]*>", text, flags=re.IGNORECASE)
    at = head.end() if head else 0
    probed = text[:at] + ERRORS_PROBE + text[at:]
    end = probed.lower().rfind("</body>")
    end = len(probed) if end < 0 else end
    probed = probed[:end] + FACTS_PROBE + probed[end:]
    with tempfile.TemporaryDirectory(prefix="render-report-") as tmp:
        copy = Path(tmp) / html.name
        copy.write_text(probed, encoding="utf-8")
        budget = f"--virtual-time-budget={TIME_BUDGET_MS}"
        size = f"--window-size={width_px},1000"
        dom = _chromium([size, budget, "--dump-dom", copy.as_uri()], Path(tmp) / "profile")
        found = re.search(rb'data-render-facts="([^"]*)"', dom.stdout)
        if dom.returncode != 0 or not found:
            raise RuntimeError(
                f"Chromium could not load {html.name} (exit {dom.returncode}): "
                + _last_line(dom.stderr)
            )
        facts = json.loads(unescape(found.group(1).decode("utf-8")))
        png.parent.mkdir(parents=True, exist_ok=True)
        shot = _chromium(
            [
                f"--window-size={width_px},{facts['height']}",
                budget,
                "--hide-scrollbars",
                f"--screenshot={png}",
                html.as_uri(),
            ],
            Path(tmp) / "profile",
        )
        if shot.returncode != 0 or not png.is_file():
            raise RuntimeError(
                f"Chromium could not take the screenshot (exit {shot.returncode}): "
                + _last_line(shot.stderr)
            )
    return {
        "figures": facts["expected"],
        "drawn": facts["drawn"],
        "height_px": facts["height"],
        "errors": facts["errors"],
        "blocked": facts["blocked"],
    }


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    parser.add_argument(
        "--engine",
        choices=("auto", "playwright", "chromium"),
        default="auto",
        help="playwright, Chromium's own headless mode, or auto: playwright when installed",
    )
    ns = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(
            f"render_report: needs Debian's Chromium at {CHROMIUM}, which is missing "
            "(install it: apt-get install chromium, as root or with sudo)",
            file=sys.stderr,
        )
        return 2
    if not ns.html.is_file():
        print(f"render_report: {ns.html}: no such file", file=sys.stderr)
        return 2
    engine = ns.engine
    if engine == "auto":
        engine = "playwright" if importlib.util.find_spec("playwright") else "chromium"
    elif engine == "playwright" and not importlib.util.find_spec("playwright"):
        print(
            'render_report: playwright is not installed here (pip install -e ".[test]"); '
            "--engine chromium needs nothing more",
            file=sys.stderr,
        )
        return 2
    draw = render if engine == "playwright" else render_headless
    try:
        facts = draw(ns.html, ns.png, width_px=ns.width)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"render_report: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {ns.png} ({facts['height_px']:,} px tall; {facts['figures']} figures, "
        f"{len(facts['errors'])} page errors; "
        f"{len(facts['blocked'])} network requests; {engine})"
    )
    if facts["drawn"] < facts["figures"]:
        print(f"only {facts['drawn']} of {facts['figures']} figures drawn", file=sys.stderr)
    for url in facts["blocked"]:
        print(f"blocked network request: {url}", file=sys.stderr)
    for err in facts["errors"]:
        print(f"page error: {err}", file=sys.stderr)
    failed = facts["errors"] or facts["blocked"] or facts["drawn"] < facts["figures"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
