"""Settings: one frozen object, kept in the manifest, restored whole on re-evaluation."""

from __future__ import annotations

import json

import pytest
from support import IDAHO_ROADS

from adequacy import InputError, Settings, evaluate
from adequacy.demo import build_demo
from adequacy.engine.settings import parse_period
from adequacy.runs import evaluate_run, write_run


def test_settings_are_frozen_and_checked():
    s = Settings(quarter=3, count_cap=4)
    with pytest.raises(AttributeError):
        s.quarter = 2  # frozen
    assert s.replace(max_snap_meters=250.0).max_snap_meters == 250.0
    assert Settings.from_dict({**s.to_dict(), "language_basis": "census"}) == s
    with pytest.raises(TypeError, match="count_cp.*settings are"):
        s.replace(count_cp=3)
    with pytest.raises(InputError, match="quarter"):
        Settings(quarter=5)
    with pytest.raises(InputError, match="max_snap_meters"):
        Settings(max_snap_meters=0)
    assert parse_period("2026Q3") == (2026, 3) and parse_period("2026-q4") == (2026, 4)
    with pytest.raises(InputError, match="2026Q3"):
        parse_period("Q3 2026")


def test_re_evaluating_a_run_folder_restores_every_setting(tmp_path, idaho, graph_cache):
    """whatif, recruit and the app's run view re-evaluate a run folder: nothing may be lost."""
    demo = build_demo("eastern-idaho", n_members=400, cache_dir=graph_cache)
    paths = demo.write_inputs(tmp_path / "inputs")
    settings = Settings(
        quarter=4,
        count_cap=4,
        max_report_miles=60.0,
        max_report_minutes=75.0,
        max_snap_meters=600.0,
        snap_speed_mph=10.0,
        min_language_members=20,
        min_census_speakers=5_000,
    )
    ev = evaluate(
        paths["members"],
        paths["providers"],
        idaho,
        claims=paths["claims"],
        regions=paths["regions"],
        settings=settings,
    )
    run = tmp_path / "run"
    write_run(ev, run, inputs={**paths, "road_network": IDAHO_ROADS, "standards": "seed-manual"})
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["settings"]["count_cap"] == 4 and manifest["settings"]["snap_speed_mph"] == 10

    again, _ = evaluate_run(run)
    # the evaluation records the standards' distance basis it used
    assert ev.settings == settings.replace(distance_basis="fastest_route")
    assert again.settings == ev.settings
    # and the results are those of the original run, not of the defaults
    assert again.member_results["n_qualifying"].max() == ev.member_results["n_qualifying"].max()
    assert ev.member_results["n_qualifying"].max() == 4  # count_cap took effect
    assert again.member_results["miles"].equals(ev.member_results["miles"])
