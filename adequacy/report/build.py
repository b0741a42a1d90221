"""The quarterly adequacy report: a document for regulators, built from a run folder.

``build_report(run_dir, out_dir, period="2026Q3", previous=prev_run_dir)`` reads
a run folder (written by ``adequacy evaluate`` or ``adequacy demo``) and writes:

``report.html``
    One self-contained page (plotly.js inline, county maps drawn without map
    tiles) that opens offline: the summary matrix of pass/fail per rule and
    county, a numbered section per rule (county map, county table, the
    distribution of road distance and drive time to the k-th nearest provider,
    members not meeting the standard by county), language access, panel
    findings, members outside the service area, and the method (road data and
    its hash, speed profile, snapping, standards with cadences, input hashes,
    software versions and the commands that re-create the report).
``report.xlsx``
    One sheet per table with a README sheet explaining every column.
``summary.csv`` (and ``comparison.csv`` with a previous run)
    The report's own tables.
``county_summary.gpkg``
    The run's county polygons with ``share_<rule>``/``verdict_<rule>`` columns.
``manifest.json``
    The run folder, its inputs' hashes, the period, the rules included and
    left out, the previous run and the hash of every file written.

Reporting period: quarterly rules are reported every quarter, annual rules
only in the standards' ``annual_quarter``. The report shows counts, never
member rows. The same run gives byte-identical files: every date comes from
the run's manifest, every table is sorted and every figure has a fixed id.

Owns: ``build_report`` (what it reads, the files' manifest, the atomic
write). Uses: :mod:`adequacy.runs` (reading the run, staging and publishing
the files) and the report's modules: :mod:`~adequacy.report.tables`,
:mod:`~adequacy.report.page` and :mod:`~adequacy.report.workbook`.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from adequacy import __version__
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.report.deficiencies import exception_drafts
from adequacy.report.page import plan_title, render_html
from adequacy.report.tables import report_tables, select_rules
from adequacy.report.workbook import write_workbook
from adequacy.runs.manifest import json_default
from adequacy.runs.read import read_run
from adequacy.runs.write import publish, staging

FIXED_TIME = datetime(2000, 1, 1)  # when a run's manifest has no creation time


def _created(manifest: dict[str, Any]) -> datetime:
    try:
        return datetime.strptime(str(manifest.get("created_utc")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return FIXED_TIME


def build_report(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    period: str | None = None,
    previous: str | os.PathLike | None = None,
    plan: str | None = None,
    command: str | None = None,
) -> dict[str, Path]:
    """Write the quarterly report of a run folder to ``out_dir``; returns the written paths.

    ``period`` ('2026Q3') picks the rules due that quarter (quarterly always,
    annual in the standards' ``annual_quarter``); ``previous`` is the run folder
    of the previous quarter to compare with; ``plan`` names the plan in the title;
    ``command`` is the command line shown in the method section (default: the
    equivalent ``adequacy report`` command). Files go to a temporary folder beside
    ``out_dir`` and are moved in only when all are complete; a bad run folder
    raises InputError before anything is written.
    """
    run = read_run(run_dir)
    before = read_run(previous, members=False, what="previous run") if previous else None
    rules, excluded, period_label = select_rules(run.manifest, period)
    if not rules:
        raise InputError(
            f"run {run.folder}: no rule of the standards is due in {period_label}; "
            "check --period and the standards' cadences"
        )
    tables = report_tables(run, rules, before)
    drafts, tables["exception_drafts"] = exception_drafts(run, rules)
    if command is None:
        command = " ".join(
            ["adequacy", "report", "--run", str(run_dir)]
            + (["--period", period] if period else [])
            + (["--previous", str(previous)] if previous else [])
            + (["--plan", repr(plan)] if plan else [])
            + ["--out", str(out_dir)]
        )
    created = _created(run.manifest)
    html = render_html(
        run,
        rules,
        excluded,
        period_label,
        tables,
        previous=before,
        plan=plan,
        command=command,
    )
    info = [
        ("Plan", plan_title(run.manifest, plan)),
        ("Reporting period", period_label),
        (
            "Standards",
            f"{run.manifest['standards'].get('name')}@{run.manifest['standards'].get('version')}",
        ),
        ("Run folder", str(run.folder.resolve())),
        ("Evaluated (UTC)", str(run.manifest.get("created_utc", ""))),
        ("Rules included", ", ".join(r["id"] for r in rules)),
        (
            "Rules left out",
            "; ".join(f"{r['id']} ({why})" for r, why in excluded) or "none",
        ),
        ("Previous run", str(before.folder.resolve()) if before else "none"),
        (
            "Synthetic data",
            "YES — demo data, not for filing" if run.manifest.get("synthetic") else "no",
        ),
        ("Infinity (∞)", "no provider (members per provider) or beyond the search horizon"),
    ]

    out_dir = Path(out_dir)
    with staging(out_dir) as tmp:
        files: dict[str, Path] = {}
        path = tmp / "report.html"
        path.write_text(html, encoding="utf-8")
        files["html"] = path
        files["xlsx"] = write_workbook(tmp / "report.xlsx", tables, info, created)
        for name, text in drafts.items():
            path = tmp / name
            path.write_text(text, encoding="utf-8")
            files[name] = path
        for name in ("summary", "comparison"):
            if name in tables:
                path = tmp / f"{name}.csv"
                tables[name].to_csv(path, index=False, float_format="%.6g")
                files[name] = path
        if run.counties is not None:
            path = tmp / "county_summary.gpkg"
            shutil.copyfile(run.folder / "county_summary.gpkg", path)
            files["gpkg"] = path
        manifest = {
            "report": "adequacy quarterly report",
            "adequacy_version": __version__,
            "run_created_utc": run.manifest.get("created_utc"),
            "command": command,
            "synthetic": bool(run.manifest.get("synthetic")),
            "run": {
                "folder": str(run.folder.resolve()),
                "manifest_sha256": file_sha256(run.folder / "manifest.json"),
                "inputs": run.manifest.get("inputs"),
                "standards": f"{run.manifest['standards'].get('name')}@"
                f"{run.manifest['standards'].get('version')}",
            },
            "period": {
                "label": period_label,
                "given": period,
                "annual_quarter": run.manifest["standards"].get("annual_quarter"),
            },
            "rules_included": [r["id"] for r in rules],
            "rules_excluded": [{"rule": r["id"], "reason": why} for r, why in excluded],
            "previous": None
            if before is None
            else {
                "folder": str(before.folder.resolve()),
                "manifest_sha256": file_sha256(before.folder / "manifest.json"),
                "created_utc": before.manifest.get("created_utc"),
                "inputs": before.manifest.get("inputs"),
            },
            "outputs": {p.name: file_sha256(p) for p in files.values()},
        }
        path = tmp / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2, default=json_default) + "\n")
        files["manifest"] = path
        return publish(files, out_dir)  # replaces an earlier report whole: nothing stale
