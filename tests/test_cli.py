"""The command line: demo and evaluate write complete run folders; bad input writes nothing;
progress bars show each stage on a terminal only, and the demo ends with the commands
that run next on its output."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys
import threading

import geopandas as gpd
import pandas as pd
import pytest
from support import BOSTON_PBF, ROOT, run_cli

from adequacy.demo import build_demo
from adequacy.hashing import file_sha256

pytestmark = pytest.mark.slow

#: stage names a demo's progress bar shows, in order
DEMO_STAGES = (
    "building demo scenario",
    "writing demo inputs",
    "loading road graph",
    "reading inputs",
    "snapping to roads",
    "searching roads",
    "summarising",
    "deficiency workpaper",
    "writing outputs",
)


def run_on_a_terminal(*args, env_cache) -> tuple[int, str, str]:
    """Run ``adequacy ARGS`` with stderr on a pseudo-terminal and stdout on a pipe, as
    ``adequacy ... > results.txt`` in a terminal: (exit status, stdout, what the terminal
    showed, control sequences removed)."""
    master, slave = pty.openpty()
    env = dict(os.environ, ADEQUACY_CACHE_DIR=str(env_cache), COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "adequacy.cli", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    out, _ = proc.communicate(timeout=600)
    reader.join(timeout=60)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
    return proc.returncode, out.decode(), text


def next_commands(stdout: str) -> list[str]:
    """The commands ``adequacy demo`` prints at its end (comments left out)."""
    lines = stdout.split("\nnext, on ", 1)[1].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("  ") and "  #" not in line]


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
    # stderr is a pipe: no progress bar, so the output of a script is the results alone
    assert not any(stage in proc.stderr for stage in DEMO_STAGES), proc.stderr
    assert "\x1b[" not in proc.stdout and "\r" not in proc.stdout
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

    # it ends with the commands to run next on this run folder, and each runs as printed
    commands = next_commands(proc.stdout)
    programs = [shlex.split(c)[1] for c in commands if shlex.split(c)[0].endswith("adequacy")]
    assert programs == ["report", "whatif", "recruit"], commands
    assert any(shlex.split(c)[1:2] == ["run"] and c.endswith("app.py") for c in commands)
    example = (out / "whatif-example.yaml").read_text()
    assert "lat: 43.6366, lon: -113.3002" in example  # Arco: a site on the Idaho roads
    for command in commands:
        words = shlex.split(command)
        if not words[0].endswith("adequacy"):
            continue
        assert str(out) in words  # the run folder it wrote, beside which results go
        done = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
        written = words[words.index("--out") + 1]
        assert (tmp_path / written.rsplit("/", 1)[-1] / "manifest.json").is_file(), command
    recruit = json.loads((tmp_path / "run-recruit" / "manifest.json").read_text())
    picks = pd.read_csv(tmp_path / "run-recruit" / "picks.csv")
    assert recruit["rule"] == "high_volume:gastroenterology" and len(picks) > 0
    delta = pd.read_csv(tmp_path / "run-whatif" / "delta.csv", dtype={"county_fips": str})
    urgent = delta[(delta["rule"] == "urgent_care") & (delta["county_fips"] == "ALL")]
    assert (urgent["gained"] > 0).any()  # the example's urgent care in Arco brings members in


def test_progress_shows_each_stage_on_a_terminal_and_no_member(tmp_path, graph_cache):
    out = tmp_path / "run"
    status, stdout, shown = run_on_a_terminal("demo", "--out", out, env_cache=graph_cache)
    assert status == 0, shown[-2000:]
    positions = [shown.find(stage) for stage in DEMO_STAGES]
    assert -1 not in positions, dict(zip(DEMO_STAGES, positions, strict=True))
    assert positions == sorted(positions)  # each stage in turn
    assert re.search(r"searching roads.*\d+/\d+", shown)  # the search stage counts
    # the bar names stages, never a member: no id, no coordinate of the members
    members = pd.read_csv(out / "inputs" / "members.csv")
    assert "SYN-M" not in shown
    assert not any(f"{lat:.4f}" in shown for lat in members["lat"].head(50))
    # the results went to stdout, whole and without the bar's control sequences
    assert "rules failing" in stdout and "next, on" in stdout
    assert "\x1b[" not in stdout and not any(stage in stdout for stage in DEMO_STAGES)


def test_quiet_leaves_the_terminal_without_progress(graph_cache):
    status, stdout, shown = run_on_a_terminal("graph", BOSTON_PBF, env_cache=graph_cache)
    assert status == 0 and "loading road graph" in shown  # on a terminal, the bar shows
    status, stdout, shown = run_on_a_terminal("graph", BOSTON_PBF, "--quiet", env_cache=graph_cache)
    assert status == 0 and "road miles" in stdout
    assert shown == ""


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
