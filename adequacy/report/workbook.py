"""The report's Excel workbook: a README sheet, then one sheet per table.

The README holds the report's facts and the meaning of every column of every
sheet; numbers keep their type with a number format. The workbook is
reproducible: its properties and every zip entry carry the time given (the
run's creation time), never the clock.

Owns: ``write_workbook``, ``COLUMN_NOTES``, ``INTEGER_COLUMNS`` and the number
formats. Uses: openpyxl and pandas.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.runs.write import save_workbook

COLUMN_NOTES = {
    # appointment availability
    "service": "Service surveyed: emergency, urgent, routine_symptomatic, "
    "routine_nonsymptomatic or after_hours",
    "service_label": "The service in words",
    "providers_surveyed": "Distinct providers with survey answers",
    "responses": "Survey answers",
    "judged": "Answers with a verdict (a compliant answer, or a measure with a limit)",
    "compliant": "Answers that comply with the wait-time standards",
    "share_compliant": "compliant / judged",
    "day_limit": "Most days to the first appointment the standards allow (blank: none)",
    "median_days": "Median days to the first appointment offered",
    "share_within_day_limit": "Share of answers with days to appointment within the limit",
    "median_office_wait_minutes": "Median minutes waited past the appointment time",
    "share_seen_within_wait_limit": "Share seen within the office-wait limit (30 minutes)",
    "share_callbacks_in_time": "Share of calls returned within their limit (clinical: the "
    "same day; administrative: the business days allowed)",
    "share_clinical_callbacks_within_hour": "Share of clinical calls returned within the hour",
    # deficiencies
    "members_not_meeting": "Members in the county who do not meet the time/distance standard",
    "members_short": "More members who must meet the standard for the county to reach the "
    "threshold",
    "providers_needed_for_ratio": "More providers (FTE on an FTE basis) needed for the access "
    "ratio (0: the ratio passes or is not checked here)",
    "providers_short_of_minimum": "Providers short of the rule's minimum in the county",
    "members_with_out_of_network_within_limits": "Unserved members with an out-of-network "
    "provider within their limits (a contracting opportunity)",
    "recruitment_sites": "Candidate sites that, recruited in this order, lift the county to "
    "its threshold (blank: none found)",
    "recruitment_closes_gap": "True when the recruitment sites lift the county to its threshold",
    "recruitment_note": "What recruitment found, or why it cannot close the gap",
    "candidate": "Candidate site: an out-of-network provider, a supply row or a road node",
    "lon": "Longitude (WGS84)",
    "lat": "Latitude (WGS84)",
    "newly_meeting": "Members of the county brought to the standard by this pick",
    "county_meeting_after": "Members of the county meeting the standard after this pick",
    "county_share_after": "The county's share meeting the standard after this pick",
    "network": "in: in-network provider; out: out-of-network provider",
    "unserved_members_near": "Unserved members of the county with this provider among their "
    "nearest",
    "within_limits": "True when the provider is within the limits of at least one of them",
    "residence_county_fips": "County FIPS code where members outside the service area live",
    "residence_county": "County where members outside the service area live",
    "file": "The draft's HTML file in the report folder",
    "providers_within_limits": "Providers (in and out of network) within the limits of the "
    "county's unserved members",
    "providers_just_beyond": "Providers past the limits but within 1.5 times them",
    "plan": "The members' plan (product line), from the members file",
    "rule": "Rule id in the standards set (high-volume specialists: high_volume:<specialty>)",
    "label": "Name of the rule",
    "language": "Language of language-concordant rows (members who speak it, providers who "
    "speak it); blank for all members",
    "provider_type": "Provider type the rule counts",
    "specialty": "Specialty the rule counts (blank: any)",
    "standard": "The standard: k providers within the distance and/or time limit; 1:N is the "
    "access ratio (members per provider)",
    "cadence": "How often the rule is reported: quarterly, or annual (in the annual quarter)",
    "threshold": "Share of members who must meet the standard for a county to pass",
    "county_fips": "County FIPS code",
    "county": "County name",
    "members": "Members (headcount) in the county, service area or group",
    "meeting": "Members who meet the standard",
    "share_meeting": "Share of members who meet the standard (meeting / members)",
    "share_passes": "True when share_meeting is at least the threshold (the time/distance "
    "component of the verdict)",
    "verdict": "pass or fail: fails when any binding component fails (time/distance share, "
    "access ratio, minimum providers; language results where the rule makes them binding)",
    "verdict_reasons": "Why the verdict fails: the failing binding components",
    "findings": "Failing components that do not bind (e.g. language-concordant access), "
    "reported beside the verdict",
    "min_providers": "Fewest in-network providers of the type the rule requires in a county",
    "min_providers_passes": "True when the county has at least min_providers providers "
    "(blank: no minimum)",
    "languages_passes": "True when every prevalent language's own verdict passes (blank: the "
    "rule evaluates no language there)",
    "providers": "In-network providers of the rule's type (and specialty) counted for the ratio",
    "members_per_provider": "Members per provider (∞: no provider)",
    "ratio_limit": "Most members per provider the standard allows (blank: no ratio standard)",
    "ratio_passes": "True when members_per_provider is at most ratio_limit (blank: no ratio)",
    "off_road_members": "Members more than the snapping limit from any road (likely bad geocodes)",
    "median_miles": "Median road distance to the k-th nearest qualifying provider, in miles "
    "(∞: beyond the search horizon)",
    "median_minutes": "Median drive time to the k-th nearest qualifying provider, in minutes "
    "(∞: beyond the search horizon)",
    "population": "County population (census)",
    "density_per_sq_mi": "County population per square mile",
    "synthetic": "True when any input row was synthetic (demo data)",
    "counties": "Counties in the service area",
    "counties_failing": "Counties below the threshold",
    "failing_counties": "Names of the counties below the threshold",
    "speakers_5plus": "Census speakers of the language aged 5 and over in the county",
    "basis": "How the language was found prevalent: census speakers or members",
    "prevalent": "True when the language is prevalent in the county",
    "finding": "What the panel check found",
    "provider_id": "Provider id",
    "practice_id": "Practice id",
    "panel_size": "Members on the provider's panel",
    "assigned_members": "Plan members assigned to the provider",
    "panel_open": "True when the panel accepts new patients",
    "pcps_in_practice": "Primary care providers in the practice",
    "open_panels": "Open PCP panels in the practice",
    "share_open": "Share of the practice's PCP panels that are open",
    "rank": "Rank by claims (1: most claims)",
    "claim_count": "Claims of the specialty in the claims file",
    "providers_in_network": "In-network providers of the specialty",
    "selected": "True when the specialty is one of the high-volume specialties evaluated",
    "members_previous": "Members in the previous run",
    "share_meeting_previous": "Share of members meeting the standard in the previous run",
    "change_pp": "Change of share_meeting since the previous run, in percentage points",
    "verdict_previous": "verdict in the previous run",
    "status_change": "newly fails, newly passes, still fails, still passes, or not in one run",
    "newly_failing": "Counties that pass in the previous run and fail in this one",
    "newly_passing": "Counties that fail in the previous run and pass in this one",
}

INTEGER_COLUMNS = {
    "members",
    "meeting",
    "providers",
    "off_road_members",
    "population",
    "counties",
    "counties_failing",
    "speakers_5plus",
    "panel_size",
    "assigned_members",
    "pcps_in_practice",
    "open_panels",
    "rank",
    "claim_count",
    "providers_in_network",
    "members_previous",
}


def _number_format(column: str) -> str | None:
    if column == "change_pp":
        return '+0.0" pp";-0.0" pp";0.0" pp"'
    if column.startswith("share") or column == "threshold":
        return "0.0%"
    if "miles" in column or "minutes" in column:
        return "0.0"
    if column in INTEGER_COLUMNS:
        return "#,##0"
    if column in ("members_per_provider", "ratio_limit", "density_per_sq_mi"):
        return "#,##0.0"
    return None


def _cell_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return float(value)
    return str(value)


def write_workbook(
    path: str | os.PathLike,
    tables: dict[str, pd.DataFrame],
    info: list[tuple[str, str]],
    created: datetime,
) -> Path:
    """Write the tables as sheets (bold frozen header, filters, widths, number formats).

    The first sheet, README, holds ``info`` (label, value) lines and the meaning
    of every column of every sheet. ``created`` is the fixed creation time of
    the workbook (and of its zip entries), so the file is reproducible.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="F1F3F6")
    wb = Workbook()
    readme = wb.active
    readme.title = "README"
    readme.append(["Network adequacy report"])
    readme["A1"].font = Font(bold=True, size=14)
    for label, value in info:
        readme.append([label, value])
        readme.cell(readme.max_row, 1).font = bold
    readme.append([])
    readme.append(["sheet", "column", "meaning"])
    header_row = readme.max_row
    for cell in readme[header_row]:
        cell.font, cell.fill = bold, fill
    for sheet, table in tables.items():
        for col in table.columns:
            readme.append([sheet, col, COLUMN_NOTES.get(col, "See the adequacy README (Outputs)")])
    readme.column_dimensions["A"].width = 24
    readme.column_dimensions["B"].width = 26
    readme.column_dimensions["C"].width = 100
    for sheet, table in tables.items():
        ws = wb.create_sheet(sheet)
        columns = list(table.columns)
        ws.append(columns)
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=False)
        for row in table.itertuples(index=False, name=None):
            ws.append([_cell_value(v) for v in row])
        for j, col in enumerate(columns, start=1):
            letter = get_column_letter(j)
            fmt = _number_format(col)
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                        cell.number_format = fmt
            texts = [len(str(col))] + [
                len(str(v)) if fmt is None else 10 for v in table[col].head(500).tolist()
            ]
            ws.column_dimensions[letter].width = min(max(max(texts) + 2, 9), 60)
        ws.freeze_panes = "A2"
        if len(table):
            ws.auto_filter.ref = ws.dimensions
    return save_workbook(wb, path, created, "Network adequacy report")
