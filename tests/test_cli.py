"""The command line: demo and evaluate write complete run folders; bad input writes nothing."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from support import run_cli

from adequacy.demo import build_demo
from adequacy.hashing import file_sha256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_inputs(tmp_path_factory, graph_cache):
    folder = tmp_path_factory.mktemp("inputs")
    scenario = build_demo("eastern-idaho", n_members=1200, cache_dir=graph_cache)
    return scenario, scenario.write_inputs(folder)


def test_demo_command_writes_the_run_folder(tmp_path, graph_cache):
    out = tmp_path / "run"
    proc = run_cli("demo", "--region", "eastern-idaho", "--out", out, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC DEMO DATA" in proc.stdout and "Primary care" in proc.stdout
    assert "rules failing" in proc.stdout
    for name in (
        "members.parquet",
        "county_summary.csv",
        "county_summary.gpkg",
        "manifest.json",
        "service_area_summary.csv",
        "language_summary.csv",
        "panel_findings.csv",
        "high_volume_specialists.csv",
        "deficiencies.csv",
        "deficient_members.csv",
        "outside_candidates.csv",
        "appointment_compliance.csv",
    ):
        assert (out / name).exists(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic"] is True and manifest["demo"]["region"] == "eastern-idaho"
    assert manifest["speed_profile"]["name"] == "tiger-prisec"
    assert manifest["inputs"]["members"]["sha256"] == file_sha256(out / "inputs" / "members.csv")
    for name, digest in manifest["outputs"].items():
        assert file_sha256(out / name) == digest
    results = pd.read_parquet(out / "members.parquet")
    members = pd.read_csv(out / "inputs" / "members.csv")
    assert set(results["member_id"]) == set(members["member_id"])
    assert results["synthetic"].all()
    county = pd.read_csv(out / "county_summary.csv", dtype={"county_fips": str})
    assert county["synthetic"].all()
    gpkg = gpd.read_file(out / "county_summary.gpkg")
    assert set(gpkg["county_fips"]) == set(county["county_fips"])
    assert "share_primary_care" in gpkg.columns and "verdict_acute_care" in gpkg.columns


def test_evaluate_reproduces_the_same_tables(tmp_path, demo_inputs, graph_cache):
    scenario, paths = demo_inputs
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = run_cli(
            "evaluate",
            "--members",
            paths["members"],
            "--providers",
            paths["providers"],
            "--network",
            scenario.region.roads,
            "--class-column",
            "prisec_fl",
            "--claims",
            paths["claims"],
            "--regions",
            paths["regions"],
            "--out",
            out,
            env_cache=graph_cache,
        )
        assert proc.returncode == 0, proc.stderr
        runs.append(out)
    for name in (
        "county_summary.csv",
        "service_area_summary.csv",
        "language_summary.csv",
        "members.parquet",
    ):
        assert file_sha256(runs[0] / name) == file_sha256(runs[1] / name), name


def test_evaluate_with_another_standards_set(tmp_path, demo_inputs, graph_cache):
    scenario, paths = demo_inputs
    out = tmp_path / "nc"
    proc = run_cli(
        "evaluate",
        "--members",
        paths["members"],
        "--providers",
        paths["providers"],
        "--network",
        scenario.region.roads,
        "--class-column",
        "prisec_fl",
        "--regions",
        paths["regions"],
        "--standards",
        "nc-medicaid",
        "--out",
        out,
        env_cache=graph_cache,
    )
    assert proc.returncode == 0, proc.stderr
    county = pd.read_csv(out / "county_summary.csv")
    assert {"primary_care", "hospital"} <= set(county["rule"])
    assert (county["threshold"] == 0.95).all()


@pytest.mark.parametrize(
    "problem", ["duplicate", "missing_column", "bad_standards", "missing_network"]
)
def test_bad_input_one_message_and_no_output(tmp_path, demo_inputs, graph_cache, problem):
    scenario, paths = demo_inputs
    members = paths["members"]
    network = scenario.region.roads
    standards = "seed-manual"
    if problem == "duplicate":
        frame = pd.read_csv(members)
        frame.loc[5, "member_id"] = frame.loc[4, "member_id"]
        members = tmp_path / "members.csv"
        frame.to_csv(members, index=False)
        expected = "duplicate member_id"
    elif problem == "missing_column":
        frame = pd.read_csv(members).drop(columns=["lat"])
        members = tmp_path / "members.csv"
        frame.to_csv(members, index=False)
        expected = "missing column lat"
    elif problem == "bad_standards":
        standards = tmp_path / "std.yaml"
        standards.write_text("name: x\nrules:\n  - id: a\n    provider_type: pcp\n    mile: 3\n")
        expected = "rules[0].mile: unknown key"
    else:
        network = tmp_path / "nowhere.osm.pbf"
        expected = "not found"
    out = tmp_path / "out"
    proc = run_cli(
        "evaluate",
        "--members",
        members,
        "--providers",
        paths["providers"],
        "--network",
        network,
        "--class-column",
        "prisec_fl",
        "--regions",
        paths["regions"],
        "--standards",
        standards,
        "--out",
        out,
        env_cache=graph_cache,
    )
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert not out.exists()
    assert not list(tmp_path.glob(".adequacy-*"))  # no temporary folder left behind
    # no member data in the message beyond ids
    assert "42." not in proc.stderr and "-112." not in proc.stderr
