"""The Streamlit front end: AppTest of the pages and controls, and a real browser.

The browser test starts ``streamlit run app.py`` on a free port and drives
Debian's headless Chromium (``/usr/bin/chromium``) with Playwright.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def app(graph_cache):
    return AppTest.from_file(APP, default_timeout=300)


def figure(at, index=0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_opens_on_the_boston_demo_with_a_county_map(app):
    at = app.run()
    assert not at.exception and not at.error
    fig = figure(at)
    locations = fig["data"][0]["locations"]
    assert set(locations) == {"25017", "25025"}  # Middlesex and Suffolk
    assert any("OpenStreetMap" in a["text"] for a in fig["layout"]["annotations"])
    assert any("SYNTHETIC" in w.value for w in at.warning)


def test_choosing_a_rule_changes_the_map(app):
    at = app.run()
    at.selectbox(key="region").set_value("eastern-idaho").run()
    first = figure(at)["data"][0]
    at.selectbox(key="rule").set_value("rehabilitation").run()
    second = figure(at)["data"][0]
    assert not at.exception
    assert first["z"] != second["z"]  # eastern Idaho has no rehabilitation facility
    assert "Rehabilitation" in figure(at)["layout"]["title"]["text"]
    # failing counties are outlined: a second trace lists them
    assert len(figure(at)["data"]) == 2


def test_language_view_and_drill_down(app):
    at = app.run()
    at.selectbox(key="rule").set_value("obgyn").run()
    at.selectbox(key="language").set_value("Vietnamese").run()
    assert not at.exception
    title = figure(at)["layout"]["title"]["text"]
    assert "Vietnamese" in title
    at.selectbox(key="county").set_value("25025").run()
    points = figure(at, 1)
    assert points["data"][1]["type"] == "scattermap"  # failing members as points
    assert all(str(t).startswith("SYN-M") for t in points["data"][1]["text"])


def test_whatif_panel_updates_counties(app):
    at = app.run()
    at.selectbox(key="region").set_value("eastern-idaho").run()
    at.multiselect(key="terminate").set_value(["SYN-PCP-0005"]).run()
    assert not at.exception
    assert any("Updated every county and rule" in s.value for s in at.success)
    assert "scenario_json" in at.session_state


def test_bad_run_folder_shows_one_line(app, tmp_path, monkeypatch):
    # the sidebar's run-folder mode, given a folder that is not a run
    monkeypatch.setenv("ADEQUACY_RUNS_ROOT", str(tmp_path))
    at = app.run()
    at.radio(key="source").set_value("Previous output folder").run()
    at.text_input[0].set_value(str(tmp_path)).run()
    assert not at.exception
    assert any("manifest.json" in e.value and "missing" in e.value for e in at.error)
    # folders outside the allowed root are not opened at all
    at.text_input[0].set_value("/etc").run()
    assert any("only run folders under" in e.value for e in at.error)
    # a run folder whose manifest breaks the reader in a way the package does not
    # foresee (a non-package exception): one line at the page, no traceback, no values
    bad = tmp_path / "odd-run"
    bad.mkdir()
    (bad / "manifest.json").write_text('{"adequacy_version": "0.1.0", "inputs": "Zebulon"}')
    at.text_input[0].set_value(str(bad)).run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "An unexpected problem (AttributeError) stopped this page" in shown
    assert "Zebulon" not in shown


# ---------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(graph_cache):
    port = free_port()
    env = dict(
        os.environ,
        ADEQUACY_CACHE_DIR=str(graph_cache),
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/test does)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.wait_for_selector(".js-plotly-plot .maplibregl-canvas", timeout=120_000)
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        assert "Network adequacy" in text
        # the map in the page holds both counties, and names them
        drawn = page.evaluate(
            "() => { const d = document.querySelector('.js-plotly-plot').data[0];"
            " return {locations: Array.from(d.locations), text: Array.from(d.text)}; }"
        )
        assert sorted(drawn["locations"]) == ["25017", "25025"]
        assert any("Suffolk" in t for t in drawn["text"])
        assert any("Middlesex" in t for t in drawn["text"])
        assert "Traceback" not in text and "Error" not in text
        assert page.locator("[data-testid='stException']").count() == 0
        shot = tmp_path / "app.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        # clicking a county on the map opens it in the drill-down
        x, y = page.evaluate(
            "() => { const gd = document.querySelector('.js-plotly-plot');"
            " const p = gd._fullLayout.map._subplot.map.project([-71.06, 42.335]);"
            " const r = gd.querySelector('.maplibregl-canvas').getBoundingClientRect();"
            " return [r.left + p.x, r.top + p.y]; }"
        )
        page.mouse.click(x, y)
        page.wait_for_timeout(3000)
        page.get_by_role("tab", name="County drill-down").click()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.gtitle'))"
            ".some(t => t.textContent.startsWith('Suffolk: members failing'))",
            timeout=120_000,
        )
        page.screenshot(path=str(tmp_path / "drill_down.png"))
        # a bad upload: one clear line in the page, no traceback
        bad = tmp_path / "members_bad.csv"
        bad.write_text("member_id,latitude,lon\nm1,42.35,-71.06\n")
        providers = tmp_path / "providers.csv"
        providers.write_text("provider_id,provider_type,lat,lon\np1,pcp,42.35,-71.06\n")
        page.get_by_text("Upload files").click()
        page.wait_for_selector("text=Upload a members file", timeout=120_000)
        inputs = page.locator("[data-testid='stSidebar'] input[type=file]")
        inputs.nth(1).set_input_files(str(bad))
        inputs.nth(2).set_input_files(str(providers))
        page.wait_for_selector("[data-testid='stAlertContentError']", timeout=180_000)
        message = page.inner_text("[data-testid='stAlertContentError']")
        assert "members_bad.csv" in message and "lat" in message
        assert "Traceback" not in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "bad_upload.png"))
        browser.close()
