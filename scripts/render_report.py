"""Render an adequacy report (report.html) to a full-page PNG with headless Chromium.

Usage: python scripts/render_report.py REPORT.html OUT.png [--width 1280]

Uses Debian's Chromium (/usr/bin/chromium) through Playwright, offline: the
report is self-contained, so the page loads nothing from the network. Waits
until every plotly figure is drawn before the shot; exits 1 on a page error or
on any attempt to fetch from the network.
"""

from __future__ import annotations

import argparse
import sys
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


def render(html: str | Path, png: str | Path, *, width_px: int = 1280) -> dict:
    """Screenshot ``html`` (full page) to ``png``; returns page facts (figures drawn, errors)."""
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
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot').length >= n", arg=expected
            )
            # A full-page shot resizes the page, and plotly redraws responsive figures
            # asynchronously: size the viewport to the whole page first, let the figures
            # settle, and only then take the shot.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": width_px, "height": height})
            page.wait_for_timeout(1500)
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return {
        "figures": expected,
        "height_px": height,
        "errors": errors,
        "blocked": blocked,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    ns = parser.parse_args(argv)
    facts = render(ns.html, ns.png, width_px=ns.width)
    print(
        f"wrote {ns.png} ({facts['height_px']:,} px tall; {facts['figures']} figures, "
        f"{len(facts['errors'])} page errors; "
        f"{len(facts['blocked'])} network requests)"
    )
    for url in facts["blocked"]:
        print(f"blocked network request: {url}", file=sys.stderr)
    for err in facts["errors"]:
        print(f"page error: {err}", file=sys.stderr)
    return 1 if facts["errors"] or facts["blocked"] else 0


if __name__ == "__main__":
    sys.exit(main())
