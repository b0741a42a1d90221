"""The report's tables: the period's rules, the comparison with a previous run, the summary.

Reporting period: quarterly rules are reported every quarter, annual rules
only in the standards' ``annual_quarter``; :func:`select_rules` asks the
standards which rules are due. :func:`compare_runs` matches the county rows of
two runs, :func:`summary_table` makes one row per rule and
:func:`report_tables` gathers the workbook's tables, sorted so that the same
run gives the same tables. Pure pandas: no HTML.

Owns: ``select_rules``, ``compare_runs``, ``summary_table``, ``report_tables``,
``SHEETS`` and the reading of pass flags (``flag``) and of a rule's rows
(``rule_rows``). Uses: the run read back (:mod:`adequacy.runs.read`) and the
standards of the run's manifest (:mod:`adequacy.engine.standards`).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from adequacy.engine.settings import parse_period
from adequacy.engine.standards import StandardsSet
from adequacy.errors import InputError
from adequacy.runs.read import Run

ALL_MEMBERS = ""  # language code of the rows over all members

SHEETS = {  # workbook sheet -> run table (None: made by the report)
    "summary": None,
    "county_summary": "county_summary",
    "service_area": "service_area_summary",
    "language": "language_summary",
    "prevalent_languages": "prevalent_languages",
    "panel_findings": "panel_findings",
    "plan": "plan_summary",
    "outside_service_area": "outside_service_area",
    "high_volume_specialists": "high_volume_specialists",
    "appointments": "appointment_compliance",
    "deficiencies": "deficiencies",
    "recruitment": "recruitment_picks",
    "exception_providers": "exception_providers",
    "outside_by_county": "outside_by_county",
    "comparison": None,
}


def select_rules(
    manifest: dict[str, Any], period: str | None
) -> tuple[list[dict], list[tuple[dict, str]], str]:
    """Rules reported in the period, rules left out (with the reason), and the period's label.

    The standards decide which rules are due (:meth:`StandardsSet.due_in
    <adequacy.engine.standards.StandardsSet.due_in>`: quarterly rules always,
    annual rules in the ``annual_quarter``). Without a period the run's quarter
    is used, and without either every rule in the run is reported. Rules are the
    manifest's rule dicts, in its order.
    """
    rules = list(manifest["standards"].get("rules") or [])
    run_quarter = (manifest.get("settings") or {}).get("quarter")
    if period is not None:
        year, quarter = parse_period(period)
        label = f"{year} Q{quarter}"
    elif run_quarter:
        quarter, label = int(run_quarter), f"Q{int(run_quarter)}"
    else:
        return rules, [], "all rules (no reporting period given)"
    standards = StandardsSet.from_dict(manifest["standards"])
    annual_quarter = standards.annual_quarter
    if run_quarter and quarter == annual_quarter and int(run_quarter) != annual_quarter:
        raise InputError(
            f"--period {period}: Q{quarter} reports the annual rules, but the run was "
            f"evaluated for Q{run_quarter} without them; evaluate again with "
            f"--period {period} (or without --period)"
        )
    due, not_due = standards.due_in(quarter)
    by_id = {str(r["id"]): r for r in rules}
    reason = f"annual rule: reported in Q{annual_quarter} only, not in Q{quarter}"
    return [by_id[r.id] for r in due], [(by_id[r.id], reason) for r in not_due], label


def flag(value: Any) -> bool | None:
    """True/False of a pass column or a verdict ('pass'/'fail') read from CSV (blank: None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False, "pass": True, "fail": False}.get(
            value.strip().lower()
        )
    return bool(value)


def rule_rows(table: pd.DataFrame, rule_ids: list[str]) -> pd.DataFrame:
    """Rows of the included rules over all members, in the standards' rule order."""
    order = {r: i for i, r in enumerate(rule_ids)}
    rows = table[table["rule"].isin(order) & (table["language"] == ALL_MEMBERS)].copy()
    rows["_order"] = rows["rule"].map(order)
    sort = ["_order", "county", "county_fips"] if "county_fips" in rows else ["_order"]
    return rows.sort_values(sort, kind="stable").drop(columns="_order").reset_index(drop=True)


def compare_runs(
    current: pd.DataFrame, previous: pd.DataFrame, rule_ids: list[str]
) -> pd.DataFrame:
    """Per rule and county: share meeting before and now, change in percentage points, status.

    ``current``/``previous`` are county_summary tables; ``status_change`` is
    'newly fails', 'newly passes', 'still fails', 'still passes', 'no members',
    'not in previous run' or 'not in this run'.
    """
    cols = ["rule", "county_fips", "county", "label", "members", "share_meeting", "verdict"]
    now = rule_rows(current, rule_ids)[cols]
    before = previous[(previous["language"] == ALL_MEMBERS) & previous["rule"].isin(rule_ids)]
    before = before[["rule", "county_fips", "county", "members", "share_meeting", "verdict"]]
    merged = now.merge(
        before, on=["rule", "county_fips"], how="outer", suffixes=("", "_previous"), indicator=True
    )
    merged["county"] = merged["county"].where(merged["_merge"] != "right_only")
    merged["county"] = merged["county"].fillna(merged["county_previous"])
    labels = current.drop_duplicates("rule").set_index("rule")["label"]
    merged["label"] = merged["rule"].map(labels).fillna(merged["rule"])
    merged["change_pp"] = (
        (merged["share_meeting"] - merged["share_meeting_previous"]) * 100
    ).round(6)
    status = []
    for side, was, now_pass in zip(
        merged["_merge"], merged["verdict_previous"], merged["verdict"], strict=True
    ):
        was, now_pass = flag(was), flag(now_pass)
        if side == "left_only":
            status.append("not in previous run")
        elif side == "right_only":
            status.append("not in this run")
        elif now_pass is None or was is None:
            status.append("no members")
        elif was and not now_pass:
            status.append("newly fails")
        elif now_pass and not was:
            status.append("newly passes")
        else:
            status.append("still passes" if now_pass else "still fails")
    merged["status_change"] = status
    order = {r: i for i, r in enumerate(rule_ids)}
    merged["_order"] = merged["rule"].map(order)
    merged = merged.sort_values(["_order", "county", "county_fips"], kind="stable")
    return merged[
        [
            "rule",
            "label",
            "county_fips",
            "county",
            "members_previous",
            "members",
            "share_meeting_previous",
            "share_meeting",
            "change_pp",
            "verdict_previous",
            "verdict",
            "status_change",
        ]
    ].reset_index(drop=True)


def summary_table(
    run: Run,
    rules: list[dict],
    comparison: pd.DataFrame | None = None,
    previous: Run | None = None,
) -> pd.DataFrame:
    """One row per included rule: service-area share and pass, failing counties, ratio.

    With a previous run: the service-area share before, its change in
    percentage points, and the counties that newly fail or newly pass.
    """
    ids = [r["id"] for r in rules]
    area = rule_rows(run.tables["service_area_summary"], ids)
    county = rule_rows(run.tables["county_summary"], ids)
    failing = {
        rid: "; ".join(part.loc[part["verdict"].map(flag) == False, "county"])  # noqa: E712
        for rid, part in county.groupby("rule", sort=False)
    }
    cols = [
        "rule",
        "label",
        "cadence",
        "standard",
        "threshold",
        "members",
        "meeting",
        "share_meeting",
        "share_passes",
        "verdict",
        "verdict_reasons",
        "findings",
        "counties",
        "counties_failing",
        "providers",
        "members_per_provider",
        "ratio_limit",
        "ratio_passes",
    ]
    out = area[[c for c in cols if c in area.columns]].copy()
    out.insert(out.columns.get_loc("counties_failing") + 1, "failing_counties", "")
    out["failing_counties"] = out["rule"].map(failing).fillna("")
    if comparison is not None and previous is not None:
        before = previous.tables["service_area_summary"]
        before = before[before["language"] == ALL_MEMBERS].set_index("rule")["share_meeting"]
        out["share_meeting_previous"] = out["rule"].map(before)
        out["change_pp"] = ((out["share_meeting"] - out["share_meeting_previous"]) * 100).round(6)
        for key, status in (("newly_failing", "newly fails"), ("newly_passing", "newly passes")):
            part = comparison[comparison["status_change"] == status]
            names = part.groupby("rule", sort=False)["county"].agg("; ".join)
            out[key] = out["rule"].map(names).fillna("")
    out["synthetic"] = bool(run.manifest.get("synthetic"))
    return out.reset_index(drop=True)


def report_tables(
    run: Run, rules: list[dict], previous: Run | None = None
) -> dict[str, pd.DataFrame]:
    """The workbook's tables by sheet name: the run's tables (included rules only) and the
    report's summary (and comparison)."""
    ids = [r["id"] for r in rules]
    comparison = None
    if previous is not None:
        comparison = compare_runs(
            run.tables["county_summary"], previous.tables["county_summary"], ids
        )
        comparison["synthetic"] = bool(run.manifest.get("synthetic")) or bool(
            previous.manifest.get("synthetic")
        )
    out: dict[str, pd.DataFrame] = {}
    for sheet, source in SHEETS.items():
        if sheet == "summary":
            out[sheet] = summary_table(run, rules, comparison, previous)
        elif sheet == "comparison":
            if comparison is not None:
                out[sheet] = comparison
        elif source not in run.tables:  # findings of a run written without them
            continue
        else:
            table = run.tables[source]
            if "rule" in table.columns:
                order = {r: i for i, r in enumerate(ids)}
                table = table[table["rule"].isin(order)].copy()
                keys = [c for c in ("language", "county", "county_fips") if c in table.columns]
                table["_order"] = table["rule"].map(order)
                table = table.sort_values(["_order", *keys], kind="stable").drop(columns="_order")
            out[sheet] = table.reset_index(drop=True)
    return out
