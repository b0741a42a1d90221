"""The quarterly report: built from a run folder, reproducible, period-aware, and safe on bad runs.

One Eastern Idaho demo run (rural, with failing counties) is made per module,
plus a second run of the same inputs with one primary care provider terminated,
to compare quarters.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from support import IDAHO_ROADS, ROOT, run_cli

from adequacy.engine.settings import parse_period
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.report import build_report

pytestmark = pytest.mark.slow

TEXT = {"county_fips": str, "language": str, "specialty": str}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, graph_cache) -> Path:
    out = tmp_path_factory.mktemp("report-run") / "run"
    proc = run_cli("demo", "--region", "eastern-idaho", "--out", out, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def report_dir(run_dir, tmp_path_factory, graph_cache) -> Path:
    """The report of the demo run, made by the command line."""
    out = tmp_path_factory.mktemp("report") / "report"
    proc = run_cli("report", "--run", run_dir, "--out", out, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC DEMO DATA" in proc.stdout and "report.html" in proc.stdout
    return out


@pytest.fixture(scope="module")
def terminated_run(run_dir, tmp_path_factory, graph_cache) -> tuple[Path, str]:
    """The demo inputs evaluated again without one PCP: the one most members who meet the
    primary care rule with exactly the two providers required have among those two."""
    folder = tmp_path_factory.mktemp("terminated")
    inputs = folder / "inputs"
    shutil.copytree(run_dir / "inputs", inputs)
    results = pd.read_parquet(run_dir / "members.parquet")
    critical = results[
        (results["rule"] == "primary_care")
        & (results["language"] == "")
        & results["meets"]
        & (results["n_qualifying"] == results["count_required"])
    ]
    nearest = pd.concat([critical["nearest_1"].astype(str), critical["nearest_2"].astype(str)])
    pcp = nearest.value_counts().sort_index().idxmax()
    providers = pd.read_csv(inputs / "providers.csv", dtype=str, keep_default_na=False)
    assert (providers["provider_id"] == pcp).any()
    providers[providers["provider_id"] != pcp].to_csv(inputs / "providers.csv", index=False)
    out = folder / "run"
    proc = run_cli(
        "evaluate",
        "--members",
        inputs / "members.csv",
        "--providers",
        inputs / "providers.csv",
        "--network",
        IDAHO_ROADS,
        "--class-column",
        "prisec_fl",
        "--claims",
        inputs / "claims.csv",
        "--regions",
        inputs / "regions.gpkg",
        "--out",
        out,
        env_cache=graph_cache,
    )
    assert proc.returncode == 0, proc.stderr
    return out, pcp


def test_report_holds_every_county_and_rule(run_dir, report_dir):
    for name in ("report.html", "report.xlsx", "summary.csv", "county_summary.gpkg"):
        assert (report_dir / name).stat().st_size > 1000, name
    html = (report_dir / "report.html").read_text()
    county = pd.read_csv(run_dir / "county_summary.csv", dtype=TEXT)
    run_manifest = json.loads((run_dir / "manifest.json").read_text())
    for name in county["county"].unique():
        assert name in html, name
    rules = run_manifest["standards"]["rules"]
    assert len(rules) == 10
    for rule in rules:
        assert f"{rule['label']}</h3>" in html, rule["id"]
        assert f'id="map-{rule["id"].replace(":", "-").replace("_", "-")}"' in html
    assert "SYNTHETIC DATA" in html
    # the method: road source and hash, graph size, speed profile, input hashes, commands
    assert run_manifest["road_network"]["source_sha256"] in html
    assert f"{run_manifest['road_network']['nodes']:,}" in html
    assert "tiger-prisec@1" in html
    # the distance basis the run used (the seed manual's), in words
    assert run_manifest["settings"]["distance_basis"] == "fastest_route"
    assert "distance basis <b>fastest_route</b>" in html
    for info in run_manifest["inputs"].values():
        if info:
            assert info["sha256"] in html
    assert run_manifest["command"] in html and "adequacy report --run" in html
    assert "quarterly" in html and "annual" in html
    # self-contained: plotly.js inline, nothing fetched from the network
    assert "<script src" not in html and 'src="http' not in html and "<link" not in html
    assert html.count("Plotly.newPlot(") == 20  # a map and a histogram per rule
    # counts only: no member ids in the page
    assert "SYN-M" not in html
    manifest = json.loads((report_dir / "manifest.json").read_text())
    assert manifest["rules_included"] == [r["id"] for r in rules]
    assert manifest["run"]["inputs"] == run_manifest["inputs"]
    for name, digest in manifest["outputs"].items():
        assert file_sha256(report_dir / name) == digest
    assert file_sha256(report_dir / "county_summary.gpkg") == file_sha256(
        run_dir / "county_summary.gpkg"
    )
    # deficiencies: a section, and one DRAFT exception request per failing county x rule
    failing = pd.read_csv(run_dir / "deficiencies.csv", dtype=TEXT)
    assert len(failing) and "<h2" in html and "Deficiencies</h2>" in html
    drafts = sorted(report_dir.glob("exception-*.html"))
    assert len(drafts) == len(failing)
    page = drafts[0].read_text()
    assert "DRAFT" in page and "contracting efforts" in page and "SYN-M" not in page
    book = openpyxl.load_workbook(report_dir / "report.xlsx", read_only=True)
    assert {"deficiencies", "exception_drafts", "appointments"} <= set(book.sheetnames)


def _sheet(workbook, name: str) -> pd.DataFrame:
    rows = list(workbook[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_workbook_numbers_equal_the_run_tables(run_dir, report_dir):
    wb = openpyxl.load_workbook(report_dir / "report.xlsx")
    assert wb.sheetnames[0] == "README"
    for name in ("summary", "county_summary", "service_area", "language", "panel_findings",
                 "outside_service_area", "high_volume_specialists"):  # fmt: skip
        assert name in wb.sheetnames, name
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1])
    for sheet, csv in (
        ("county_summary", "county_summary"),
        ("service_area", "service_area_summary"),
        ("outside_service_area", "outside_service_area"),
        ("high_volume_specialists", "high_volume_specialists"),
    ):
        expected = pd.read_csv(run_dir / f"{csv}.csv", dtype=TEXT)
        got = _sheet(wb, sheet)
        assert list(got.columns) == list(expected.columns)
        assert len(got) == len(expected)
        keys = [c for c in ("rule", "county_fips", "rank") if c in expected.columns]
        expected = expected.sort_values(keys, ignore_index=True)
        got = got.sort_values(keys, ignore_index=True)
        for col in expected.columns:
            if pd.api.types.is_float_dtype(expected[col]):
                want = expected[col].replace(float("inf"), "∞").tolist()
                have = got[col].tolist()
                for a, b in zip(want, have, strict=True):
                    if a == "∞" or b == "∞":
                        assert a == b, col
                    elif pd.isna(a):
                        assert pd.isna(b), col
                    else:
                        assert b == pytest.approx(a, rel=1e-9), col
            elif pd.api.types.is_integer_dtype(expected[col]):
                assert got[col].tolist() == expected[col].tolist(), col
    ws = wb["county_summary"]
    header = [c.value for c in ws[1]]
    share = ws.cell(2, header.index("share_meeting") + 1)
    miles = ws.cell(2, header.index("median_miles") + 1)
    members = ws.cell(2, header.index("members") + 1)
    assert (share.number_format, miles.number_format, members.number_format) == (
        "0.0%",
        "0.0",
        "#,##0",
    )
    # README explains every column of every sheet
    readme = list(wb["README"].iter_rows(values_only=True))
    start = readme.index(("sheet", "column", "meaning"))
    explained = {(s, c): m for s, c, m in readme[start + 1 :]}
    for name in wb.sheetnames[1:]:
        for col in (c.value for c in wb[name][1]):
            meaning = explained[(name, col)]
            assert meaning and "See the adequacy README" not in meaning, (name, col)


def test_a_second_build_is_byte_identical(run_dir, report_dir, tmp_path):
    out = tmp_path / "report"
    first = build_report(run_dir, out, command="adequacy report")
    copies = {name: Path(shutil.copy(path, tmp_path / f"first-{path.name}"))
              for name, path in first.items()}  # fmt: skip
    second = build_report(run_dir, out, command="adequacy report")
    assert set(first) == set(second) >= {"html", "xlsx", "summary", "gpkg", "manifest"}
    for name, path in second.items():
        assert file_sha256(path) == file_sha256(copies[name]), name
    # the workbook does not depend on the output folder or the command either
    assert file_sha256(second["xlsx"]) == file_sha256(report_dir / "report.xlsx")
    assert file_sha256(second["summary"]) == file_sha256(report_dir / "summary.csv")
    created = json.loads((run_dir / "manifest.json").read_text())["created_utc"]
    wb = openpyxl.load_workbook(second["xlsx"])
    stamp = wb.properties.modified.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stamp == created == wb.properties.created.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("period", "annual"), [("2026Q1", False), ("2026Q4", True)])
def test_period_picks_the_rules_due(run_dir, tmp_path, period, annual):
    run_manifest = json.loads((run_dir / "manifest.json").read_text())
    assert run_manifest["standards"]["annual_quarter"] == 4
    rules = run_manifest["standards"]["rules"]
    quarterly = {r["id"] for r in rules if r["cadence"] == "quarterly"}
    yearly = {r["id"] for r in rules if r["cadence"] == "annual"}
    assert quarterly and yearly
    paths = build_report(run_dir, tmp_path / "r", period=period)
    manifest = json.loads(paths["manifest"].read_text())
    included = set(manifest["rules_included"])
    html = paths["html"].read_text()
    county = _sheet(openpyxl.load_workbook(paths["xlsx"]), "county_summary")
    assert f"Network adequacy report — {period[:4]} Q{period[-1]}" in html
    if annual:
        assert included == quarterly | yearly and manifest["rules_excluded"] == []
        assert "Rules left out of this period" not in html
    else:
        assert included == quarterly
        assert {r["rule"] for r in manifest["rules_excluded"]} == yearly
        assert "Rules left out of this period" in html
        assert "annual rule: reported in Q4 only, not in Q1" in html
        assert "Rehabilitation facility</h3>" not in html
    assert set(county["rule"]) == included


def test_parse_period():
    assert parse_period("2026Q3") == (2026, 3)
    assert parse_period("2026-q4") == (2026, 4)
    for bad in ("2026Q5", "Q3", "2026"):
        with pytest.raises(InputError, match="give a quarter such as 2026Q3"):
            parse_period(bad)


def test_comparison_with_the_previous_quarter(run_dir, terminated_run, tmp_path, graph_cache):
    current, pcp = terminated_run
    out = tmp_path / "report"
    proc = run_cli(
        "report", "--run", current, "--previous", run_dir, "--period", "2026Q3", "--out", out,
        env_cache=graph_cache,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    comparison = pd.read_csv(out / "comparison.csv", dtype=TEXT)
    pcp_rows = comparison[comparison["rule"] == "primary_care"]
    assert len(pcp_rows) == 7
    assert (pcp_rows["change_pp"] <= 1e-9).all()  # a termination never adds access
    assert (pcp_rows["change_pp"] < 0).any()
    drop = pcp_rows.loc[pcp_rows["change_pp"].idxmin()]
    expected = (drop["share_meeting"] - drop["share_meeting_previous"]) * 100
    assert drop["change_pp"] == pytest.approx(expected, abs=1e-4)
    summary = pd.read_csv(out / "summary.csv", dtype=TEXT).set_index("rule")
    assert summary.at["primary_care", "change_pp"] < 0
    assert set(comparison["status_change"]) <= {
        "newly fails", "newly passes", "still fails", "still passes", "no members",
    }  # fmt: skip
    newly = comparison[comparison["status_change"] == "newly fails"]
    for rule, part in newly.groupby("rule"):
        assert set(summary.at[rule, "newly_failing"].split("; ")) == set(part["county"])
    html = (out / "report.html").read_text()
    assert "Changes since the previous run" in html and "Since previous" in html
    assert f"{drop['change_pp']:+.1f} pp".replace("-", "−") in html  # a real minus sign
    wb = openpyxl.load_workbook(out / "report.xlsx")
    assert "comparison" in wb.sheetnames
    assert wb["comparison"]["I1"].value == "change_pp"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["previous"]["folder"] == str(run_dir.resolve())
    assert pcp not in pd.read_csv(current / "panel_findings.csv", dtype=str).to_string()


def _damage(folder: Path, problem: str) -> str:
    """Break a copy of a run folder; returns the text the error message must hold."""
    if problem == "no_manifest":
        (folder / "manifest.json").unlink()
        return "manifest.json: missing"
    if problem == "bad_manifest":
        (folder / "manifest.json").write_text("{ not json")
        return "manifest.json: is damaged"
    if problem == "truncated_csv":
        path = folder / "county_summary.csv"
        path.write_bytes(path.read_bytes()[:500])
        return "county_summary.csv: damaged or changed since the run"
    if problem == "missing_csv":
        (folder / "panel_findings.csv").unlink()
        return "panel_findings.csv: missing"
    if problem == "bad_parquet":
        (folder / "members.parquet").write_bytes(b"PAR1 this is not parquet")
        return "members.parquet: damaged or changed since the run"
    if problem == "bad_parquet_unhashed":
        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest["outputs"]["members.parquet"]
        (folder / "manifest.json").write_text(json.dumps(manifest))
        (folder / "members.parquet").write_bytes(b"PAR1 this is not parquet")
        return "members.parquet: damaged (not a readable Parquet file"
    raise AssertionError(problem)


@pytest.mark.parametrize(
    "problem",
    ["no_manifest", "bad_manifest", "truncated_csv", "missing_csv", "bad_parquet",
     "bad_parquet_unhashed", "no_folder", "bad_period"],
)  # fmt: skip
def test_bad_run_folder_one_line_and_nothing_written(run_dir, tmp_path, graph_cache, problem):
    broken = tmp_path / "broken-run"
    shutil.copytree(run_dir, broken, ignore=shutil.ignore_patterns("inputs"))
    args = ["report", "--run", broken]
    if problem == "no_folder":
        args[2] = tmp_path / "nowhere"
        expected = "run folder not found"
    elif problem == "bad_period":
        args += ["--period", "2026-3"]
        expected = "give a quarter such as 2026Q3"
    else:
        expected = _damage(broken, problem)
    out = tmp_path / "out" / "report"
    proc = run_cli(*args, "--out", out, env_cache=graph_cache)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()
    assert not list(tmp_path.glob("out/.adequacy-*"))  # no temporary folder left behind


def test_a_previous_run_is_checked_too(run_dir, tmp_path):
    broken = tmp_path / "previous"
    shutil.copytree(run_dir, broken, ignore=shutil.ignore_patterns("inputs", "members.parquet"))
    (broken / "service_area_summary.csv").write_text("rule,members\n")
    with pytest.raises(InputError, match=r"previous run .*service_area_summary\.csv: damaged"):
        build_report(run_dir, tmp_path / "out", previous=broken)
    assert not (tmp_path / "out").exists()


def test_rendered_report_looks_like_a_document(report_dir, tmp_path):
    """Headless Chromium draws every figure offline; the page is long and colourful."""
    from PIL import Image

    assert Path("/usr/bin/chromium").exists(), "install Debian's chromium (scripts/test does)"
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [sys.executable, ROOT / "scripts" / "render_report.py", report_dir / "report.html", png],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "20 figures" in proc.stdout and "0 page errors" in proc.stdout
    assert "0 network requests" in proc.stdout  # works offline
    image = Image.open(png).convert("RGB")
    width, height = image.size
    assert width == 1280 and height > 10_000
    assert png.stat().st_size > 300_000
    small = image.resize((width // 4, height // 4))
    colours = {c for _, c in small.getcolors(1 << 20)}
    assert len(colours) > 500
    # county maps are drawn: the failing fill (dark red) and the passing green are on the page
    assert any(r > 90 and g < 30 and b < 50 for r, g, b in colours)
    assert any(g > 100 and r < 60 and b < 80 for r, g, b in colours)


def test_a_run_of_another_quarter_cannot_report_the_annual_rules(run_dir):
    """A run evaluated for Q1 (annual rules left out) cannot make the Q4 report."""
    from adequacy.report import select_rules

    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["settings"]["quarter"] = 1
    rules = manifest["standards"]["rules"]
    manifest["standards"]["rules"] = [r for r in rules if r["cadence"] == "quarterly"]
    with pytest.raises(InputError, match="evaluate again with --period 2026Q4"):
        select_rules(manifest, "2026Q4")
    included, excluded, label = select_rules(manifest, None)  # the run's own quarter
    assert label == "Q1" and excluded == []
    assert [r["id"] for r in included] == [r["id"] for r in manifest["standards"]["rules"]]


def test_the_report_words_each_standard_with_its_own_or_and(run_dir):
    """A region class whose limits combine with 'and' reads 'and' in the rule's standard and in
    the method's table of standards (the rule words itself, not a copy in the report)."""
    from adequacy.report.page import render_html
    from adequacy.report.tables import report_tables
    from adequacy.runs.read import read_run

    run = read_run(run_dir)
    rule = next(r for r in run.manifest["standards"]["rules"] if r["id"] == "primary_care")
    rule["by_region_class"] = {"rural": {"miles": 30.0, "minutes": 45.0, "combine": "and"}}
    html = render_html(run, [rule], [], "2026 Q3", report_tables(run, [rule]))
    standard = html.split('<div class="standard">', 1)[1].split("</div>", 1)[0]
    assert "within 15 miles or 30 minutes of the member" in standard
    assert "(rural counties: 30 miles and 45 minutes)" in standard
    method = html.split(". Method and data sources</h2>", 1)[1]
    assert "2 within 15 mi or 30 min; rural: 30 mi and 45 min; 1:200" in method
