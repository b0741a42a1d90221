"""The Streamlit front end: AppTest of every view and control, and a real browser.

The AppTests open the Boston demo and read what each tab shows: the tables as
people read them (their display values), the download buttons and the bytes
behind them, an upload without county polygons. The browser test starts
``streamlit run app.py`` on a free port and drives Debian's headless Chromium
(``/usr/bin/chromium``) with Playwright, printing the time to the first text
and to the drawn map (the helpers of ``benchmarks/frontend.py``).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
if str(ROOT) not in sys.path:  # the browser helpers of benchmarks/frontend.py
    sys.path.insert(0, str(ROOT))

from benchmarks.frontend import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    TITLE,
    first_paint,
    streamlit_server,
)

TABS = [
    "County map",
    "County drill-down",
    "Deficiencies",
    "Languages",
    "Appointments",
    "What-if",
    "Downloads",
]
PERCENT = re.compile(r"^\d{1,3}\.\d%$")
#: what a cell must never read
UNREADABLE = {"none", "nan", "nat", "<na>", "inf", "-inf", "infinity", "∞"}


@pytest.fixture
def app(graph_cache):
    return AppTest.from_file(APP, default_timeout=300)


@pytest.fixture
def downloads(monkeypatch):
    """The files behind download buttons, by media file id: (file name, bytes).

    Streamlit's in-memory media storage, spied on (each call goes through)."""
    files: dict[str, tuple[str, bytes]] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            files[file_id] = (filename, path_or_data)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return files


def figure(at, index=0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def tab(at, label: str):
    return next(t for t in at.tabs if t.label == label)


def shown(table) -> pd.DataFrame:
    """A table as the page shows it: the display values where the app gives them, and
    the placeholder (else streamlit's "None") where a value is missing."""
    raw = table.value
    styled = table.proto.arrow_data.styler.display_values
    cells = dataframe_util.convert_arrow_bytes_to_pandas_df(styled) if styled else raw
    cells = cells.astype(object).map(str)
    placeholder = table.proto.placeholder if table.proto.HasField("placeholder") else "None"
    cells.columns = raw.columns
    return cells.mask(raw.isna().to_numpy(), placeholder)


def assert_readable(table) -> pd.DataFrame:
    """The table's shown cells: none reads None, nan or infinity; headers are words."""
    cells = shown(table)
    bad = {c.strip().lower() for c in cells.to_numpy().ravel()} & UNREADABLE
    assert not bad, f"{bad} in {list(cells.columns)}"
    assert not any("_" in str(c) for c in cells.columns), list(cells.columns)
    return cells


def buttons(at, files: dict) -> dict[str, tuple[str, bytes]]:
    """The download buttons: label -> (file name, bytes)."""
    out = {}
    for button in at.get("download_button"):
        file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
        out[button.proto.label] = files[file_id]
    return out


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


def test_tables_read_as_people_read_them():
    from adequacy.frontend.tables import readable, text

    inf, nan = float("inf"), float("nan")
    frame = pd.DataFrame(
        {
            "county": ["Suffolk", "Middlesex", "Essex", "Norfolk"],
            "verdict": ["pass", "fail", None, "fail"],
            "share_meeting": [0.921, 0.5, nan, 0.25],
            "members": [20026, 1234, 0, 7],
            "members_per_provider": [166.9, inf, nan, 12.0],
            "ratio_passes": [True, False, None, True],
            "miles": [2.345, inf, nan, 101.0],
            "minutes": [4.0, inf, nan, 7.25],
            "providers": [120.0, 0.0, nan, 0.4],
        }
    )
    table = readable(frame, horizon=(100.0, 120.0), nearest=2)
    cells = text(table)
    # headers in words, with the rule's k; failing rows first, lowest share first
    assert list(cells.columns) == [
        "County", "Verdict", "Share meeting", "Members", "Members per provider",
        "Ratio met", "Miles to 2nd nearest", "Minutes to 2nd nearest", "Providers",
    ]  # fmt: skip
    assert list(cells["County"]) == ["Norfolk", "Middlesex", "Suffolk", "Essex"]
    assert list(cells["Verdict"]) == ["Fail", "Fail", "Pass", ""]
    assert list(cells["Share meeting"]) == ["25.0%", "50.0%", "92.1%", ""]
    assert list(cells["Members"]) == ["7", "1,234", "20,026", "0"]
    assert list(cells["Members per provider"]) == ["12", "no providers", "167", ""]
    assert list(cells["Ratio met"]) == ["yes", "no", "yes", ""]
    assert list(cells["Miles to 2nd nearest"]) == ["101.0", "none within 100 mi", "2.3", ""]
    assert list(cells["Minutes to 2nd nearest"]) == ["7.2", "none within 120 min", "4.0", ""]
    assert list(cells["Providers"]) == ["0.4", "0", "120", ""]
    # the values stay numbers, so a header click sorts by value, not by text
    assert table.frame["Share meeting"].tolist()[:3] == [0.25, 0.5, 0.921]
    assert table.frame["Miles to 2nd nearest"].dtype.kind == "f"
    # the styler shows the same text, failing verdicts in the failing colour
    html = table.styler().to_html()
    assert "none within 100 mi" in html and "92.1%" in html and "#b2182b" in html
    assert not re.search(r">\s*(nan|None|inf)\s*<", html)


def test_first_paint_title_and_named_stages(app, monkeypatch):
    from streamlit.elements.lib.mutable_status_container import StatusContainer

    labels = []
    original = StatusContainer.update

    def spy(self, *, label=None, expanded=None, state=None, **kwargs):
        labels.append(label)
        return original(self, label=label, expanded=expanded, state=state, **kwargs)

    monkeypatch.setattr(StatusContainer, "update", spy)
    at = app.run()
    assert not at.exception and not at.error
    # the title, then the status line: the first elements of the page
    first = [node.type for node in list(at.main.children.values())[:3]]
    assert first[0] == "title" and "status" in first, first
    assert at.title[0].value == "Network adequacy"
    assert at.status[0].label.startswith("Ready in ") and at.status[0].state == "complete"
    assert "members in the service area" in at.status[0].label
    stages = [label for label in labels if label and label.endswith("…")]
    order = ["Loading the road graph…", "Building the demo…", "Evaluating…", "Drawing the map…"]
    assert [s for s in stages if s in order] == order
    assert labels[-1].startswith("Ready in ")
    assert [t.label for t in at.tabs][: len(TABS)] == TABS


def test_headline_and_county_map_tables(app):
    at = app.run()
    at.selectbox(key="rule").set_value("obgyn").run()
    at.selectbox(key="language").set_value("Vietnamese").run()
    assert not at.exception and not at.error
    assert "Vietnamese" in figure(at)["layout"]["title"]["text"]
    meeting = next(m for m in at.metric if m.label == "Members meeting")
    assert PERCENT.match(meeting.value), meeting.value
    assert next(m for m in at.metric if m.label == "Counties failing").value == "2 of 2"
    # every rule across the service area, failing first
    area = assert_readable(at.expander[0].dataframe[0])
    assert list(area.columns[:4]) == ["Rule", "Language", "Standard", "Verdict"]
    verdicts = list(area["Verdict"])
    assert verdicts[0] == "Fail" and verdicts.index("Pass") > verdicts.count("Fail") - 1
    assert all(PERCENT.match(v) for v in area["Share meeting"])
    # the county map's table: both counties fail OB/GYN for Vietnamese speakers
    counties = assert_readable(tab(at, "County map").dataframe[0])
    assert set(counties["County"]) == {"Middlesex", "Suffolk"}
    assert set(counties["Verdict"]) == {"Fail"}
    assert "Median miles to nearest" in counties.columns  # OB/GYN: 1 provider
    assert "no providers" in set(counties["Members per provider"])  # Middlesex has none
    assert all(re.fullmatch(r"\d+\.\d", v) for v in counties["Median miles to nearest"])


def test_language_view_and_drill_down(app):
    at = app.run()
    at.selectbox(key="rule").set_value("high_volume:cardiology").run()
    at.selectbox(key="language").set_value("Vietnamese").run()
    at.selectbox(key="county").set_value("25025").run()
    charts = [chart.key for chart in at.get("plotly_chart")]
    assert "county_map" in charts and "points_map" not in charts  # drawn when its tab is open
    at.session_state["tab"] = "County drill-down"
    at.run()
    assert not at.exception and not at.error
    charts = [chart.key for chart in at.get("plotly_chart")]
    points = figure(at, charts.index("points_map"))
    assert points["layout"]["title"]["text"].startswith("Suffolk: members failing")
    # no Vietnamese-speaking cardiologist: every one of Suffolk's 810 members fails
    failing = [t for t in points["data"] if str((t.get("text") or [""])[0]).startswith("SYN-M")]
    assert sum(len(t["text"]) for t in failing) == 810
    assert any(s.value.startswith("Members failing High-volume specialist: Cardiology: 810")
               for s in at.subheader)  # fmt: skip
    drill = tab(at, "County drill-down")
    rules = assert_readable(drill.dataframe[0])
    assert rules["Verdict"].iloc[0] == "Fail"  # failing rules first
    assert {"Rule", "Share meeting", "Threshold", "Members per provider"} <= set(rules.columns)
    members = assert_readable(drill.dataframe[1])
    assert list(members.columns[:3]) == ["Member", "Miles to nearest", "Minutes to nearest"]
    assert len(members) == 500 and all(m.startswith("SYN-M") for m in members["Member"])
    assert set(members["Miles to nearest"]) == {"none within 100 mi"}
    assert set(members["Minutes to nearest"]) == {"none within 120 min"}
    languages = tab(at, "Languages")
    assert_readable(languages.dataframe[0])
    concordant = assert_readable(languages.dataframe[1])
    assert concordant["Verdict"].iloc[0] == "Fail"
    assert "none within 100 mi" in set(concordant["Median miles to k-th nearest"])


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
    text = " ".join(e.value for e in at.error)
    assert "An unexpected problem (AttributeError) stopped this page" in text
    assert "Zebulon" not in text
    assert at.status[0].state == "error"


def test_deficiencies_and_appointments(app):
    at = app.run()
    view = tab(at, "Deficiencies")
    assert not view.dataframe  # built on request
    view.button(key="build_deficiencies").click()
    at.run()
    assert not at.exception and not at.error
    view = tab(at, "Deficiencies")
    counties = assert_readable(view.dataframe[0])
    assert {"Rule", "County", "Why it fails", "Members short of the threshold"} <= set(
        counties.columns
    )
    assert all(PERCENT.match(v) for v in counties["Share meeting"])
    members = assert_readable(view.dataframe[1])
    assert "none within 100 mi" in set(members["Miles to k-th nearest"])
    assert all(m.startswith("SYN-M") for m in members["Member"])
    outside = assert_readable(view.dataframe[2])  # members outside the area, by county
    assert list(outside["County of residence"]) == ["Worcester"]
    appointments = assert_readable(tab(at, "Appointments").dataframe[0])
    assert appointments["Meets standard"].iloc[0] == "Fail"  # failing rows first
    shares = [v for v in appointments["Share compliant"] if v]
    assert shares and all(PERCENT.match(v) for v in shares)
    assert "" in set(appointments["Calls returned in time"])  # no answer gives it: blank


def test_whatif_tab_renders(app):
    at = app.run()
    assert not at.exception and not at.error
    whatif = tab(at, "What-if")
    assert len(list(whatif)) > 1  # the tab holds its controls


def test_downloads(app, downloads):
    at = app.run()
    view = tab(at, "Downloads")
    before = buttons(at, downloads)
    assert before["County summary (CSV)"][0] == "county_summary.csv"
    assert before["County summary (GeoPackage)"][1][:15] == b"SQLite format 3"
    preview = assert_readable(view.dataframe[0])
    assert preview["Verdict"].iloc[0] == "Fail" and preview["Verdict"].iloc[-1] == "Pass"
    assert all(PERCENT.match(v) for v in preview["Share meeting"])
    assert "report.html" not in {name for name, _ in before.values()}  # on request
    view.button(key="prepare_report").click()
    at.run()
    assert not at.exception and not at.error
    files = {name: data for name, data in buttons(at, downloads).values()}
    expected = {
        "report.html",
        "report.xlsx",
        "exception_drafts.zip",
        "deficiency_workpaper.xlsx",
        "members_not_served.csv",
    }
    assert expected <= set(files), set(files)
    assert all(len(files[name]) > 1000 for name in expected)
    html = files["report.html"].decode()
    assert "Synthetic demo plan" in html and "SYN-M" not in html  # counts, no member rows
    for workbook in ("report.xlsx", "deficiency_workpaper.xlsx"):
        with zipfile.ZipFile(io.BytesIO(files[workbook])) as xlsx:
            assert "xl/workbook.xml" in xlsx.namelist()
    sheets = pd.read_excel(io.BytesIO(files["deficiency_workpaper.xlsx"]), sheet_name=None)
    assert {"README", "deficiencies", "exception_providers"} <= set(sheets)
    assert len(sheets["deficiencies"]) > 0
    assert "SYN-M" not in sheets["deficiencies"].to_csv()  # counties, not members
    with zipfile.ZipFile(io.BytesIO(files["exception_drafts.zip"])) as drafts:
        names = drafts.namelist()
        assert names and all(re.fullmatch(r"exception-[a-z0-9-]+\.html", n) for n in names)
        assert "DRAFT" in drafts.read(names[0]).decode()
    served = pd.read_csv(io.BytesIO(files["members_not_served.csv"]))
    assert len(served) and served["member_id"].str.startswith("SYN-M").all()


def test_upload_without_county_polygons(app, graph_cache):
    from adequacy.demo import build_demo

    demo = build_demo("boston")
    at = app.run()
    at.radio(key="source").set_value("Upload files").run()
    uploads = {u.label: u for u in at.file_uploader}
    uploads["Members"].upload("members.csv", demo.members.to_csv(index=False).encode())
    uploads["Providers"].upload("providers.csv", demo.providers.to_csv(index=False).encode())
    at.run()
    assert not at.exception and not at.error
    note = [i.value for i in at.info if i.value.startswith("No county polygons uploaded")]
    assert len(note) == 1 and "\n" not in note[0]
    assert "2 counties" in note[0] and "(Middlesex, Suffolk)" in note[0]
    assert "5 members live outside them (outside the service area)" in note[0]
    # the map and the drill-down hold only those counties, not the nation's
    assert set(figure(at)["data"][0]["locations"]) == {"25017", "25025"}
    assert set(at.selectbox(key="county").options) == {"Middlesex (25017)", "Suffolk (25025)"}
    counties = assert_readable(tab(at, "County map").dataframe[0])
    assert set(counties["County"]) == {"Middlesex", "Suffolk"}
    assert next(m for m in at.metric if m.label == "Members").value == f"{len(demo.members):,}"


# ---------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------
@pytest.fixture
def server(graph_cache):
    env = dict(
        os.environ,
        ADEQUACY_CACHE_DIR=str(graph_cache),
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    with streamlit_server(env) as url:
        yield url


def upload_and_wait(page, file_input, path: Path) -> None:
    """Give a sidebar file uploader a file, and wait until its chip names the file with
    no spinner (the upload reached the server) and the page's rerun has ended."""
    file_input.set_input_files(str(path))
    page.wait_for_function(
        """name => {
            const side = document.querySelector("[data-testid='stSidebar']");
            const names = Array.from(side.querySelectorAll("[data-testid='stFileChipName']"));
            return names.some(n => n.textContent.includes(name))
                && !side.querySelector("[data-testid='stFileChipIconSpinner']");
        }""",
        arg=path.name,
        timeout=120_000,
    )
    wait_for_rerun(page)


def wait_for_rerun(page) -> None:
    """Wait until the page's script run has ended (Streamlit's running icon is gone)."""
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid^='stStatusWidgetRunning']\")",
        timeout=180_000,
    )


def test_in_a_real_browser(server, tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/test does)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # first paint, timed (printed, not asserted: the machine's load varies): a fresh
        # server (cold), then a reload (warm: the graph and the demo in st.cache_resource)
        cold = first_paint(page, server)
        warm = first_paint(page)
        with capsys.disabled():
            print(
                f"\nfirst paint of the Boston demo: title {cold[0]:.2f} s, map {cold[1]:.2f} s "
                f"cold; title {warm[0]:.2f} s, map {warm[1]:.2f} s warm"
            )
        assert 0 < cold[0] <= cold[1] and 0 < warm[0] <= warm[1]
        # the map is drawn before the run ends; the status line says when it has
        page.wait_for_function(
            "() => document.body.innerText.includes('Ready in ')", timeout=180_000
        )
        wait_for_rerun(page)
        text = page.inner_text("body")
        assert TITLE in text and "Ready in " in text
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
        wait_for_rerun(page)
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
        # one file at a time, each seen through to the server before the next: two uploads
        # fired within milliseconds race the page's reruns, which no person does
        upload_and_wait(page, inputs.nth(1), bad)
        upload_and_wait(page, inputs.nth(2), providers)
        try:
            page.wait_for_selector("[data-testid='stAlertContentError']", timeout=180_000)
        except Exception as exc:
            body = page.inner_text("body")
            raise AssertionError(f"no error shown; the page says:\n{body}") from exc
        finally:
            page.screenshot(path=str(tmp_path / "upload.png"))  # kept by pytest, to look at
        message = page.inner_text("[data-testid='stAlertContentError']")
        assert "members_bad.csv" in message and "lat" in message
        assert "Traceback" not in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "bad_upload.png"))
        browser.close()
