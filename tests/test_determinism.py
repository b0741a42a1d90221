"""The same inputs give the same bytes, whenever they are run.

With ``SOURCE_DATE_EPOCH`` set (the reproducible-builds convention), the Eastern
Idaho demo, a what-if on it and its quarterly report are made twice, more than
a second apart, and every file of the two rounds is compared byte for byte.
Both rounds write to the same paths: manifests record absolute paths (the
inputs, the base run, the command line), which legitimately differ between
folders. The fast tests check the pieces (the run's time, the GeoPackage's
date, the what-if manifest) without a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from support import counties, lat_of, run_cli

from adequacy.engine.evaluate import evaluate
from adequacy.errors import InputError
from adequacy.runs.manifest import run_time
from adequacy.runs.write import write_run, write_tables

EPOCH = 1_798_720_245
CREATED = "2026-12-31T12:30:45Z"  # EPOCH as the manifest writes it
GPKG_DATE = "2026-12-31T12:30:45.000Z"  # ... and as a GeoPackage records it


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _different(first: Path, second: Path) -> list[str]:
    """The files of two folders that are not byte-identical (after checking the names match)."""
    names, others = _files(first), _files(second)
    assert names == others, (
        f"only in {first}: {sorted(set(names) - set(others))}; "
        f"only in {second}: {sorted(set(others) - set(names))}"
    )
    return [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]


def _last_change(gpkg: Path) -> list[str]:
    with sqlite3.connect(gpkg) as db:
        return [row[0] for row in db.execute("SELECT last_change FROM gpkg_contents")]


# ---------------------------------------------------------------------------
# fast: the pieces
# ---------------------------------------------------------------------------
def test_run_time_follows_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    assert run_time() == datetime(2026, 12, 31, 12, 30, 45, tzinfo=UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")  # empty: as if unset
    assert abs((run_time() - datetime.now(UTC)).total_seconds()) < 5
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    now = run_time()
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5 and now.microsecond == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "2026-12-31")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH='2026-12-31': give an integer"):
        run_time()


def _toy_evaluation(toy):
    members = pd.DataFrame(
        {"member_id": ["m0", "m1", "m4"], "lat": [lat_of(n) for n in (0, 1, 4)], "lon": -100.0}
    )
    providers = pd.DataFrame(
        {"provider_id": ["p2"], "provider_type": ["pcp"], "lat": [lat_of(2)], "lon": [-100.0]}
    )
    rule = {"id": "r", "provider_type": "pcp", "count": 1, "miles": 3, "minutes": 10}
    standards = {"name": "toy", "version": "1", "threshold": 0.5, "rules": [rule]}
    return evaluate(members, providers, toy, standards, regions=counties(), workers=1)


def test_a_run_folder_is_dated_by_the_run(toy, tmp_path, monkeypatch):
    """created_utc and the GeoPackage's date come from SOURCE_DATE_EPOCH, not the clock;
    a GDAL OGR_CURRENT_DATE of the caller does not leak in, and is left as it was."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    monkeypatch.setenv("OGR_CURRENT_DATE", "2001-02-03T04:05:06.000Z")
    evaluation = _toy_evaluation(toy)
    first = write_run(evaluation, tmp_path / "a", inputs={})
    time.sleep(0.05)  # GDAL's own date has milliseconds
    write_run(evaluation, tmp_path / "b", inputs={})
    assert _different(tmp_path / "a", tmp_path / "b") == []
    assert json.loads(first["manifest"].read_text())["created_utc"] == CREATED
    assert _last_change(first["county_summary_gpkg"]) == [GPKG_DATE]
    assert os.environ["OGR_CURRENT_DATE"] == "2001-02-03T04:05:06.000Z"
    import pyogrio

    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == "2001-02-03T04:05:06.000Z"


def test_write_tables_leaves_wall_clock_timings_out(tmp_path):
    table = pd.DataFrame({"a": [1, 2]})
    paths = write_tables(
        tmp_path / "out", {"t": table}, {"scenario": {"name": "x"}, "timings_seconds": {"t": 0.1}}
    )
    manifest = json.loads(paths["manifest.json"].read_text())
    assert "timings_seconds" not in manifest
    assert manifest["scenario"] == {"name": "x"} and set(manifest["outputs"]) == {"t.csv"}
    assert _files(tmp_path / "out") == ["manifest.json", "t.csv"]


# ---------------------------------------------------------------------------
# slow: the command line, twice
# ---------------------------------------------------------------------------
def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _round(work: Path, graph_cache: Path) -> None:
    """The demo run, a what-if terminating one in-network PCP, and the 2026Q4 report."""
    run, whatif, report = work / "run", work / "whatif", work / "report"
    _ok(run_cli("demo", "--region", "eastern-idaho", "--out", run, env_cache=graph_cache))
    providers = pd.read_csv(run / "inputs" / "providers.csv", dtype={"provider_id": str})
    pcp = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    scenario = work / "scenario.yaml"
    scenario.write_text(
        "name: one PCP retires\n"
        "as_of: 2026-12-31\n"  # continuity of care otherwise defaults to today's date
        "terminate:\n"
        f"  - {{provider_id: {json.dumps(pcp['provider_id'].iloc[0])}, effective: 2026-12-01}}\n"
    )
    _ok(run_cli("whatif", "--base", run, "--scenario", scenario, "--out", whatif,
                env_cache=graph_cache))  # fmt: skip
    _ok(run_cli("report", "--run", run, "--period", "2026Q4", "--out", report,
                env_cache=graph_cache))  # fmt: skip


@pytest.mark.slow
def test_the_same_run_whatif_and_report_give_the_same_bytes(tmp_path, graph_cache, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    work, first = tmp_path / "work", tmp_path / "first"
    _round(work, graph_cache)
    os.replace(work, first)  # set aside: the second round writes to the same paths
    time.sleep(1.5)  # a clock leaking into any file would show
    _round(work, graph_cache)

    for folder in ("run", "whatif", "report"):
        assert _different(first / folder, work / folder) == [], folder
    manifest = json.loads((work / "run" / "manifest.json").read_text())
    assert manifest["created_utc"] == CREATED
    assert _last_change(work / "run" / "county_summary.gpkg") == [GPKG_DATE]
    assert "timings_seconds" not in json.loads((work / "whatif" / "manifest.json").read_text())
    assert json.loads((work / "report" / "manifest.json").read_text())["run_created_utc"] == CREATED
