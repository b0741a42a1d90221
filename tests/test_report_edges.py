"""The report takes every valid run: nobody outside the counties, no panel findings, no
prevalent language, no claims; and its headline reads the verdict, ratio included."""

from __future__ import annotations

import openpyxl
import pandas as pd
from support import LON, counties, lat_of

from adequacy import evaluate
from adequacy.report import build_report
from adequacy.runs import write_run

STANDARDS = {
    "name": "toy",
    "version": "1",
    "threshold": 0.5,
    "rules": [
        {"id": "pcp", "label": "Primary care", "provider_type": "pcp", "miles": 2,
         "ratio": {"members_per_provider": 2}},
        {"id": "urgent", "label": "Urgent care", "provider_type": "urgent_care", "miles": 2},
    ],
}  # fmt: skip


def toy_run(toy, folder):
    """Three members, all inside county A, one PCP and one urgent care at n1 (1 mile):
    everyone is within 2 miles of both, but 3 members per PCP breaks 1:2."""
    members = pd.DataFrame({"member_id": ["a", "b", "c"], "lat": [lat_of(0)] * 3, "lon": LON})
    providers = pd.DataFrame(
        {
            "provider_id": ["P", "U"],
            "provider_type": ["pcp", "urgent_care"],
            "lat": [lat_of(1)] * 2,
            "lon": LON,
        }
    )
    ev = evaluate(members, providers, toy, STANDARDS, regions=counties(), workers=1)
    assert ev.members["in_service_area"].all() and ev.outside_service_area.empty
    assert ev.panel_findings.empty and ev.language_summary.empty
    assert ev.high_volume_specialists.empty  # no claims
    write_run(ev, folder, inputs={"road_network": "toy road", "standards": None})
    return ev


def test_a_run_with_every_member_inside_gets_a_report(toy, tmp_path):
    toy_run(toy, tmp_path / "run")
    files = build_report(tmp_path / "run", tmp_path / "report")
    assert {"report.html", "report.xlsx", "summary.csv", "manifest.json"} <= set(
        p.name for p in files.values()
    )
    html = (tmp_path / "report" / "report.html").read_text()
    # the headline counts the ratio failure: 1 of 2 rules fails
    assert "1 of 2" in html
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    verdicts = dict(zip(summary["rule"], summary["verdict"], strict=True))
    assert verdicts == {"pcp": "fail", "urgent": "pass"}
    assert bool(summary.set_index("rule").loc["pcp", "share_passes"])  # distance passes
    book = openpyxl.load_workbook(tmp_path / "report" / "report.xlsx", read_only=True)
    assert "outside_service_area" in book.sheetnames
