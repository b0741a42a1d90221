"""The app's what-if tab for network managers (AppTest on the Boston demo): search,
terminate, add sites in the table, the scenario view, why a site changes nothing, and
the scenario file saved and loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from adequacy.frontend.whatif_view import EDITOR_KEY, VIEW_KEY

pytestmark = pytest.mark.slow

APP = str(Path(__file__).resolve().parents[1] / "app.py")
#: Two places on the Boston demo's roads (Charlestown, Somerville) and one at sea.
CHARLESTOWN = (42.37700, -71.06100)
SOMERVILLE = (42.39600, -71.08000)
AT_SEA = (42.20000, -70.30000)


@pytest.fixture
def app(graph_cache):
    return AppTest.from_file(APP, default_timeout=300)


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """What the app offers for download, by file name (streamlit's media store, kept)."""
    kept: dict = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            kept[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return kept


def sites(*places, kind: str = "pcp") -> dict:
    """The site table's edit state with one added row per (lat, lon)."""
    rows = [{"provider_type": kind, "lat": lat, "lon": lon} for lat, lon in places]
    return {"edited_rows": {}, "added_rows": rows, "deleted_rows": []}


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_search_terminate_add_sites_and_show_the_scenario(app, downloads):
    at = app.run()
    base = metrics(at)
    at.text_input(key="whatif_search").set_value("synthetic PCP 5").run()
    options = at.multiselect(key="terminate").options
    assert options and all("Synthetic pcp 5" in o for o in options)  # name, any case
    assert len(options) < 20  # of the demo's 170 or so PCPs
    at.multiselect(key="terminate").set_value(["SYN-PCP-0005"]).run()
    at.session_state[EDITOR_KEY] = sites(CHARLESTOWN, SOMERVILLE)
    at.run()
    assert not at.exception and not at.error
    assert any("Updated every county and rule" in s.value for s in at.success)
    assert metrics(at) == base  # the base is shown until the toggle is on
    # Boston's members all reach 2 PCPs already: the new sites change no one's access,
    # and the tab says why, per site
    why = [i.value for i in at.info]
    assert any(
        w.startswith("Primary care needs 2 providers within 15 mi or 30 min; the ")
        and "members near the new site NEW-1 already reached 2" in w
        for w in why
    )
    assert any("near the new site NEW-2" in w for w in why)

    at.toggle(key=VIEW_KEY).set_value(True).run()
    assert not at.exception and not at.error
    shown = metrics(at)
    # one PCP out, two in: fewer members per provider in the headline
    assert shown["Members per provider"] != base["Members per provider"]
    assert int(shown["Members per provider"].replace(",", "")) < int(
        base["Members per provider"].replace(",", "")
    )
    at.toggle(key=VIEW_KEY).set_value(False).run()
    assert metrics(at) == base

    # the scenario's quarterly report, built on request
    assert "scenario_report.html" not in downloads
    at.button(key="whatif_build_report").click().run()
    assert not at.exception and not at.error
    report = downloads["scenario_report.html"]
    assert b"What-if scenario: browser scenario" in report
    assert b"SYN-M0" not in report  # counts, never a member ID

    scenario = yaml.safe_load(downloads["scenario.yaml"])
    assert [t["provider_id"] for t in scenario["terminate"]] == ["SYN-PCP-0005"]
    assert [(a["provider_id"], a["lat"], a["lon"]) for a in scenario["add"]] == [
        ("NEW-1", *CHARLESTOWN),
        ("NEW-2", *SOMERVILLE),
    ]


def test_a_loaded_scenario_fills_the_controls_and_a_site_at_sea_is_refused(app, downloads):
    text = yaml.safe_dump(
        {
            "name": "Dr 5 retires",
            "terminate": [{"provider_id": "SYN-PCP-0005", "effective": "2026-12-01"}],
            "add": [
                {"provider_id": "NEW-A", "provider_type": "pcp", "lat": CHARLESTOWN[0],
                 "lon": CHARLESTOWN[1]},
            ],
        }
    )  # fmt: skip
    at = app.run()
    at.file_uploader(key="whatif_upload").set_value(("retire.yaml", text.encode(), "text/yaml"))
    at.run()
    assert not at.exception and not at.error
    assert at.multiselect(key="terminate").value == ["SYN-PCP-0005"]
    table = at.data_editor(key=EDITOR_KEY).value
    assert list(table["provider_id"]) == ["NEW-A"]
    assert any("Updated every county and rule" in s.value for s in at.success)
    saved = yaml.safe_load(downloads["scenario.yaml"])
    assert saved["name"] == "Dr 5 retires"
    assert saved["terminate"][0]["effective"] == "2026-12-01"  # kept from the file

    # a member's point clicked in the drill-down: a site at that place, a row of the table
    at.session_state["add_lat"], at.session_state["add_lon"] = SOMERVILLE
    at.session_state["add_one"] = True
    at.run()
    table = at.data_editor(key=EDITOR_KEY).value
    assert list(table["provider_id"].fillna("")) == ["NEW-A", ""]
    assert (table["lat"].iloc[1], table["lon"].iloc[1]) == SOMERVILLE
    assert table["provider_type"].iloc[1] == "pcp"  # the chosen rule's type
    assert yaml.safe_load(downloads["scenario.yaml"])["add"][1]["provider_id"] == "NEW-1"

    at.session_state[EDITOR_KEY] = sites(AT_SEA)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "outside the road network" in errors[0] and "NEW-2" in errors[0]
    assert not any("Updated every county and rule" in s.value for s in at.success)
