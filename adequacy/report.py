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
    The run's county polygons with ``share_<rule>``/``pass_<rule>`` columns.
``manifest.json``
    The run folder, its inputs' hashes, the period, the rules included and
    left out, the previous run and the hash of every file written.

Reporting period: quarterly rules are reported every quarter, annual rules
only in the standards' ``annual_quarter``. The report shows counts, never
member rows. The same run gives byte-identical files: every date comes from
the run's manifest, every table is sorted and every figure has a fixed id.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .maps import FAIL_COLOUR, OSM_ATTRIBUTION, PASS_COLOUR, SYNTHETIC_NOTE
from .outputs import TABLES, _json_default, file_sha256, publish, read_manifest, staging

ALL_MEMBERS = ""  # language code of the rows over all members
TEXT_COLUMNS = (
    "rule",
    "label",
    "language",
    "provider_type",
    "specialty",
    "standard",
    "cadence",
    "county_fips",
    "county",
    "basis",
    "finding",
    "provider_id",
    "practice_id",
)
REQUIRED_COLUMNS = {
    "county_summary": (
        "rule",
        "language",
        "county_fips",
        "county",
        "members",
        "meeting",
        "share_meeting",
        "threshold",
        "passes",
        "providers",
        "members_per_provider",
        "ratio_limit",
        "ratio_passes",
    ),
    "service_area_summary": (
        "rule",
        "language",
        "members",
        "meeting",
        "share_meeting",
        "passes",
        "counties",
        "counties_failing",
    ),
    "language_summary": ("rule", "language", "county_fips", "share_meeting", "passes"),
    "prevalent_languages": ("county_fips", "language", "members"),
    "panel_findings": ("finding",),
    "high_volume_specialists": ("rank", "specialty"),
    "outside_service_area": ("rule", "members", "meeting", "share_meeting"),
}
MEMBER_COLUMNS = (
    "rule",
    "language",
    "county_fips",
    "in_service_area",
    "count_required",
    "miles",
    "minutes",
    "meets",
)
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
    "comparison": None,
}
COLUMN_NOTES = {
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
    "passes": "True when share_meeting is at least the threshold; blank when there are no members",
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
    "passes_previous": "passes in the previous run",
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
BAR_COLOUR = "#4a6fa5"
BEYOND_COLOUR = "#9a9a9a"
FIXED_TIME = datetime(2000, 1, 1)  # when a run's manifest has no creation time


@dataclass(frozen=True)
class Run:
    """The parts of a run folder the report uses (counts and shares, no member rows)."""

    folder: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    members: pd.DataFrame | None  # MEMBER_COLUMNS only (no member ids)
    counties: Any  # GeoDataFrame of county_summary.gpkg, or None without regions


# --------------------------------------------------------------------------- reading


def parse_period(period: str) -> tuple[int, int]:
    """(year, quarter) of a period such as '2026Q3' or '2026-Q3'."""
    m = re.fullmatch(r"(\d{4})[-\s]?Q([1-4])", str(period).strip(), re.I)
    if not m:
        raise InputError(f"--period {period!r}: give a quarter such as 2026Q3")
    return int(m.group(1)), int(m.group(2))


def _checked(path: Path, manifest: dict[str, Any], what: str) -> Path:
    """The path of a run file, after checking it exists and matches the manifest's hash."""
    if not path.is_file():
        raise InputError(
            f"{what} {path}: missing; the run folder is incomplete (re-run the evaluation)"
        )
    digest = (manifest.get("outputs") or {}).get(path.name)
    if digest and file_sha256(path) != digest:
        raise InputError(
            f"{what} {path}: damaged or changed since the run (its SHA-256 differs from "
            "manifest.json); re-run the evaluation to rebuild the run folder"
        )
    return path


def _read_table(path: Path, name: str, what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, "str"))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{what} {path}: damaged (not a readable CSV table); re-run the evaluation"
        ) from None
    missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} {path}: damaged (missing column {', '.join(missing)}); re-run the evaluation"
        )
    for col in TEXT_COLUMNS:
        if col in table.columns:
            table[col] = table[col].fillna("").astype(object)
    return table


def read_run(run_dir: str | os.PathLike, *, members: bool = True, what: str = "run") -> Run:
    """Read and check a run folder; every problem is one InputError naming the file and the fix.

    ``members=False`` skips ``members.parquet`` (a previous run needs only its tables).
    """
    folder = Path(run_dir)
    try:
        manifest = read_manifest(folder)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("standards"), dict):
        raise InputError(
            f"{what} {folder / 'manifest.json'}: damaged (no standards); re-run the evaluation"
        )
    tables = {
        name: _read_table(_checked(folder / f"{name}.csv", manifest, what), name, what)
        for name in TABLES
    }
    results = None
    if members:
        path = _checked(folder / "members.parquet", manifest, what)
        try:
            results = pd.read_parquet(path, columns=list(MEMBER_COLUMNS))
        except Exception:  # pyarrow raises several types for damaged files
            raise InputError(
                f"{what} {path}: damaged (not a readable Parquet file with columns "
                f"{', '.join(MEMBER_COLUMNS)}); re-run the evaluation"
            ) from None
        for col in ("rule", "language", "county_fips"):
            results[col] = results[col].astype(str)
    counties = None
    gpkg = folder / "county_summary.gpkg"
    if gpkg.exists() or "county_summary.gpkg" in (manifest.get("outputs") or {}):
        import geopandas as gpd

        path = _checked(gpkg, manifest, what)
        try:
            counties = gpd.read_file(path, layer="county_summary")
        except Exception:  # pyogrio raises several types for damaged files
            raise InputError(
                f"{what} {path}: damaged (not a readable GeoPackage); re-run the evaluation"
            ) from None
        if not {"county_fips", "county"} <= set(counties.columns):
            raise InputError(
                f"{what} {path}: damaged (missing county_fips or county); re-run the evaluation"
            )
        counties["county_fips"] = counties["county_fips"].astype(str)
        counties = counties.sort_values("county_fips", ignore_index=True)
    return Run(folder, manifest, tables, results, counties)


# --------------------------------------------------------------------------- period and tables


def select_rules(
    manifest: dict[str, Any], period: str | None
) -> tuple[list[dict], list[tuple[dict, str]], str]:
    """Rules reported in the period, rules left out (with the reason), and the period's label.

    Quarterly rules are always reported; annual rules only when the quarter is
    the standards' ``annual_quarter``. Without a period the run's quarter is
    used, and without either every rule in the run is reported.
    """
    standards = manifest["standards"]
    rules = list(standards.get("rules") or [])
    annual_quarter = int(standards.get("annual_quarter") or 4)
    run_quarter = (manifest.get("settings") or {}).get("quarter")
    if period is not None:
        year, quarter = parse_period(period)
        label = f"{year} Q{quarter}"
    elif run_quarter:
        quarter, label = int(run_quarter), f"Q{int(run_quarter)}"
    else:
        return rules, [], "all rules (no reporting period given)"
    if run_quarter and quarter == annual_quarter and int(run_quarter) != annual_quarter:
        raise InputError(
            f"--period {period}: Q{quarter} reports the annual rules, but the run was "
            f"evaluated for Q{run_quarter} without them; evaluate again with "
            f"--period {period} (or without --period)"
        )
    included, excluded = [], []
    for rule in rules:
        if rule.get("cadence", "quarterly") == "quarterly" or quarter == annual_quarter:
            included.append(rule)
        else:
            excluded.append(
                (rule, f"annual rule: reported in Q{annual_quarter} only, not in Q{quarter}")
            )
    return included, excluded, label


def _flag(value: Any) -> bool | None:
    """True/False of a pass column read from CSV (blank: None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def _rule_rows(table: pd.DataFrame, rule_ids: list[str]) -> pd.DataFrame:
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
    cols = ["rule", "county_fips", "county", "label", "members", "share_meeting", "passes"]
    now = _rule_rows(current, rule_ids)[cols]
    before = previous[(previous["language"] == ALL_MEMBERS) & previous["rule"].isin(rule_ids)]
    before = before[["rule", "county_fips", "county", "members", "share_meeting", "passes"]]
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
        merged["_merge"], merged["passes_previous"], merged["passes"], strict=True
    ):
        was, now_pass = _flag(was), _flag(now_pass)
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
            "passes_previous",
            "passes",
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
    area = _rule_rows(run.tables["service_area_summary"], ids)
    county = _rule_rows(run.tables["county_summary"], ids)
    failing = {
        rid: "; ".join(part.loc[part["passes"].map(_flag) == False, "county"])  # noqa: E712
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
        "passes",
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


# --------------------------------------------------------------------------- formatting


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _int(value: Any) -> str:
    v = _num(value)
    return "–" if math.isnan(v) else f"{v:,.0f}"


def _pct(value: Any, digits: int = 1) -> str:
    v = _num(value)
    return "–" if math.isnan(v) else f"{v:.{digits}%}"


def _pp(value: Any) -> str:
    """A change in percentage points: '+1.2 pp', '−3.5 pp', '0.0 pp'."""
    v = _num(value)
    if math.isnan(v):
        return "–"
    return "0.0 pp" if abs(v) < 0.05 else f"{v:+.1f} pp".replace("-", "−")


def _dist(value: Any, unit: str, horizon: float | None = None) -> str:
    """Miles or minutes for a table; infinity is '> horizon' (beyond the search horizon)."""
    v = _num(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return f"&gt; {horizon:g} {unit}" if horizon else "beyond horizon"
    return f"{v:,.1f} {unit}"


def _ratio(value: Any) -> str:
    v = _num(value)
    if math.isnan(v):
        return "–"
    return "no providers" if math.isinf(v) else f"{v:,.0f}"


def _badge(flag: Any, yes: str = "Pass", no: str = "Fail") -> str:
    f = _flag(flag)
    if f is None:
        return '<span class="badge na">–</span>'
    return f'<span class="badge {"pass" if f else "fail"}">{yes if f else no}</span>'


def _ordinal(n: int) -> str:
    """'2nd', '3rd', ...; '' for 1 (the nearest)."""
    if n == 1:
        return ""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


def _sentence(text: str) -> str:
    """Text with its first letter in upper case (the rest unchanged)."""
    return text[:1].upper() + text[1:]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _short_label(label: str) -> str:
    return label.replace("High-volume specialist: ", "")


def _table(head: list[str], rows: list[list[Any]], cls: str = "", align: str = "") -> str:
    """An HTML table. Cells are HTML (escape text first), or (HTML, css class) pairs.

    ``align`` has one letter per column: l(eft), r(ight) or c(entre); by default
    the first column is left-aligned and the others right-aligned (numbers).
    """
    align = align or "l" + "r" * (len(head) - 1)
    th = "".join(f'<th class="{a}">{h}</th>' for h, a in zip(head, align, strict=True))
    body = "".join(
        "<tr>" + "".join(_cell(c, a) for c, a in zip(row, align, strict=True)) + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _kv_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table of labels and values (HTML), without a header."""
    body = "".join(f"<tr><th class='l'>{k}</th><td class='l'>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _cell(cell: Any, align: str = "") -> str:
    """A table cell: HTML, or (HTML, css class)."""
    text, cls = cell if isinstance(cell, tuple) else (cell, "")
    cls = " ".join(c for c in (align, cls) if c)
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


# --------------------------------------------------------------------------- figures


def _attribution(manifest: dict[str, Any]) -> tuple[str, str]:
    """(source_kind, source) of the run's road network, for the maps' attribution."""
    road = manifest.get("road_network") or {}
    return str(road.get("source_kind") or ""), str(road.get("source") or "")


def _polygon_xy(geometry, decimals: int = 5) -> tuple[list, list]:
    """Exterior rings of a (multi)polygon as lon/lat lists, parts separated by None."""
    parts = getattr(geometry, "geoms", [geometry])
    xs: list = []
    ys: list = []
    for part in parts:
        if part.is_empty or not hasattr(part, "exterior"):
            continue
        ring = np.round(np.asarray(part.exterior.coords)[:, :2], decimals)
        if xs:
            xs.append(None)
            ys.append(None)
        xs.extend(ring[:, 0].tolist())
        ys.extend(ring[:, 1].tolist())
    return xs, ys


def county_figure(run: Run, rule: dict, *, height: int = 460):
    """Map of the share of members meeting a rule per county (plotly, drawn as SVG).

    Same colours as :func:`adequacy.maps.county_map` (red below the threshold,
    green above, failing counties outlined in red), but county polygons are
    drawn on plain x/y axes (longitude, latitude scaled by cos(latitude)), not
    on a MapLibre map: MapLibre does not draw in Chrome or Safari when the
    report is opened from a file (file://), and regulators open it from a file.
    """
    import plotly.graph_objects as go
    from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb

    counties = run.counties
    rows = _rule_rows(run.tables["county_summary"], [rule["id"]]).set_index("county_fips")
    threshold = float(rule["threshold"])
    t = min(max(threshold, 0.01), 0.99)
    scale = [[0.0, "#67001f"], [t * 0.999, "#f4a582"], [t, "#d9f0d3"], [1.0, PASS_COLOUR]]
    simple = counties.geometry.simplify(0.0005, preserve_topology=True)
    fig = go.Figure()
    labels_x, labels_y, labels, label_colours = [], [], [], []
    for fips, name, geom, full in zip(
        counties["county_fips"], counties["county"], simple, counties.geometry, strict=True
    ):
        share = _num(rows["share_meeting"].get(fips)) if fips in rows.index else math.nan
        members = _num(rows["members"].get(fips)) if fips in rows.index else 0
        passes = _flag(rows["passes"].get(fips)) if fips in rows.index else None
        fill = "#e9e9e9" if math.isnan(share) else sample_colorscale(scale, [share])[0]
        xs, ys = _polygon_xy(geom)
        verdict = "passes" if passes else "FAILS" if passes is False else "no members"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=fill,
                line={
                    "color": FAIL_COLOUR if passes is False else "#555555",
                    "width": 2.5 if passes is False else 0.8,
                },
                hoveron="fills",
                hoverinfo="text",
                text=f"{name} ({fips}): {_pct(share)} of {_int(members)} members meet · {verdict}",
                name=name,
                showlegend=False,
            )
        )
        point = full.representative_point()
        labels_x.append(round(point.x, 5))
        labels_y.append(round(point.y, 5))
        labels.append(f"<b>{escape(name)}</b><br>{_pct(share)}")
        rgb = hex_to_rgb(fill) if fill.startswith("#") else unlabel_rgb(fill)
        dark = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255 < 0.5
        label_colours.append("#ffffff" if dark else "#111111")
    if len(labels) <= 30:
        fig.add_trace(
            go.Scatter(
                x=labels_x,
                y=labels_y,
                mode="text",
                text=labels,
                textfont={"size": 11, "color": label_colours},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    west, south, east, north = (float(b) for b in counties.total_bounds)
    fig.add_trace(  # the colour bar
        go.Scatter(
            x=[west],
            y=[south],
            mode="markers",
            marker={
                "size": 0.1,
                "opacity": 0,
                "color": [0.0],
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": scale,
                "showscale": True,
                "colorbar": {
                    "title": {"text": f"share meeting<br>threshold {threshold:.0%}"},
                    "tickformat": ".0%",
                    "tickvals": [0, threshold, 1],
                    "thickness": 14,
                    "len": 0.9,
                },
            },
            hoverinfo="skip",
            showlegend=False,
        )
    )
    pad_x, pad_y = (east - west) * 0.02, (north - south) * 0.02
    fig.update_xaxes(visible=False, range=[west - pad_x, east + pad_x], constrain="domain")
    fig.update_yaxes(
        visible=False,
        range=[south - pad_y, north + pad_y],
        scaleanchor="x",
        scaleratio=1 / max(math.cos(math.radians((north + south) / 2)), 0.2),
    )
    kind, source = _attribution(run.manifest)
    notes = []
    if kind in ("osm", "graphml", "networkx", "osmnx-download"):
        notes.append(OSM_ATTRIBUTION)
    elif source:
        notes.append(f"Road data: {source}")
    regions = (run.manifest.get("inputs") or {}).get("regions") or {}
    if regions.get("path"):
        notes.append(f"Counties: {Path(regions['path']).name}")
    annotations = [
        {
            "text": " · ".join(notes),
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 1,
            "y": -0.04,
            "xanchor": "right",
            "font": {"size": 10, "color": "#666"},
        }
    ]
    if run.manifest.get("synthetic"):
        annotations.append(SYNTHETIC_NOTE)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 20, "b": 24},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        hovermode="closest",
        annotations=annotations,
        font={"family": "Helvetica, Arial, sans-serif", "size": 12, "color": "#222"},
    )
    return fig


def _nice_step(raw: float) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) of at least ``raw``."""
    raw = max(raw, 1e-6)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def distance_figure(results: pd.DataFrame, rule: dict, settings: dict[str, Any]):
    """Histograms of road miles and drive minutes to the k-th nearest qualifying provider.

    ``results`` holds the rule's members in the service area. The axis runs to
    the larger of the 99.5th percentile and 1.2 times the standard's limit; the
    members farther than that, and those with no qualifying provider within the
    search horizon (infinite values), are counted in a grey 'over' bar. Counts
    only: no member's value is embedded in the page.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    k = int(rule.get("count") or 1)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=(
            f"Road distance to the {_ordinal(k)} nearest provider (miles)".replace("  ", " "),
            f"Drive time to the {_ordinal(k)} nearest provider (minutes)".replace("  ", " "),
        ),
    )
    for col, (metric, unit, limit, horizon) in enumerate(
        (
            ("miles", "mi", rule.get("miles"), settings.get("max_report_miles") or 100.0),
            ("minutes", "min", rule.get("minutes"), settings.get("max_report_minutes") or 120.0),
        ),
        start=1,
    ):
        values = results[metric].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        beyond = int(len(values) - len(finite))
        p995 = float(np.quantile(finite, 0.995)) if len(finite) else 0.0
        top = max(p995, float(limit or 0) * 1.2, 1.0)
        top = min(top, max(float(horizon), float(limit or 0)))
        step = _nice_step(top / 40)
        n_bins = max(int(math.ceil(top / step - 1e-9)), 1)
        edges = np.arange(n_bins + 1) * step
        counts, _ = np.histogram(finite[finite <= edges[-1]], bins=edges)
        over = int((finite > edges[-1]).sum()) + beyond
        fig.add_trace(
            go.Bar(
                x=edges[:-1] + step / 2,
                y=counts,
                width=step * 0.92,
                marker={"color": BAR_COLOUR},
                customdata=[
                    f"{a:g}–{b:g} {unit}" for a, b in zip(edges[:-1], edges[1:], strict=True)
                ],
                hovertemplate="%{customdata}: %{y:,} members<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        x_beyond = edges[-1] + max(step * 4, edges[-1] * 0.12)
        fig.add_trace(
            go.Bar(
                x=[x_beyond],
                y=[over],
                width=step * 3,
                marker={"color": BEYOND_COLOUR},
                hovertemplate=f"over {edges[-1]:g} {unit}: %{{y:,}} members ({beyond:,} beyond "
                f"the {float(horizon):g} {unit} search horizon)<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        if limit:
            fig.add_vline(
                x=float(limit),
                line={"color": FAIL_COLOUR, "dash": "dash", "width": 1.5},
                annotation={
                    "text": f"standard {float(limit):g} {unit}",
                    "font": {"size": 11, "color": FAIL_COLOUR},
                },
                annotation_position="top right",
                row=1,
                col=col,
            )
        tick_step = _nice_step(edges[-1] / 6)
        ticks = np.arange(0, edges[-1] * (1 - 0.08) + 1e-9, tick_step)  # clear of 'over'

        fig.update_xaxes(
            tickmode="array",
            tickvals=[*ticks.tolist(), x_beyond],
            ticktext=[*(f"{t:g}" for t in ticks), f"over {edges[-1]:g}"],
            range=[0, x_beyond + step * 2],
            tickangle=0,
            row=1,
            col=col,
        )
        fig.update_yaxes(title={"text": "members"} if col == 1 else None, row=1, col=col)
    fig.update_layout(
        height=300,
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        bargap=0,
        plot_bgcolor="#ffffff",
        font={"family": "Helvetica, Arial, sans-serif", "size": 12, "color": "#222"},
    )
    fig.update_annotations(font_size=13, selector={"text": re.compile("^(Road|Drive)")})
    fig.update_xaxes(showgrid=False, linecolor="#888", ticks="outside")
    fig.update_yaxes(gridcolor="#e6e6e6", zeroline=False)
    return fig


def _figure_html(fig, div_id: str) -> str:
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


# --------------------------------------------------------------------------- HTML

CSS = """
:root { --pass: #1a7837; --pass-bg: #dcefd8; --fail: #b2182b; --fail-bg: #f8d9d6;
  --ink: #1f2328; --muted: #5b6470; --line: #d6dae0; --head: #f1f3f6; --accent: #1f3b63; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 "Helvetica Neue", Helvetica, Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 40px 60px; }
header.cover { border-bottom: 3px solid var(--accent); padding-bottom: 16px; margin-bottom: 8px; }
header.cover .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
  color: var(--muted); margin: 0; }
h1 { font-size: 30px; margin: 4px 0 6px; color: var(--accent); }
h2 { font-size: 22px; margin: 44px 0 10px; padding-top: 10px; border-top: 1px solid var(--line);
  color: var(--accent); }
h3 { font-size: 18px; margin: 34px 0 6px; }
h4 { font-size: 15px; margin: 20px 0 6px; color: var(--muted); }
p { margin: 6px 0 10px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 14px;
  margin: 10px 0 0; }
.meta dt { color: var(--muted); } .meta dd { margin: 0; }
.banner { background: var(--fail); color: #fff; font-weight: 700; padding: 10px 16px;
  border-radius: 4px; margin: 14px 0; letter-spacing: .02em; }
.banner span { font-weight: 400; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: 700; } .card .k { font-size: 12px; color: var(--muted); }
.card.bad .v { color: var(--fail); } .card.good .v { color: var(--pass); }
nav.toc { border: 1px solid var(--line); border-radius: 6px; padding: 10px 18px; margin: 18px 0;
  font-size: 14px; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; } nav.toc div { break-inside: avoid; }
nav.toc .sub { padding-left: 18px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 7px; text-align: right;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; text-align: center; }
td.l, th.l { text-align: left; } td.r, th.r { text-align: right; }
td.c, th.c { text-align: center; } td.nw { white-space: nowrap; }
table.counties td:first-child, table.matrix td:first-child { white-space: nowrap; }
table.kv, table.narrow { width: auto; min-width: 60%; }
table.kv th { width: 180px; background: var(--head); }
td.id { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.pass, tbody tr:nth-child(even) td.pass { background: var(--pass-bg); color: #0f4d22; }
td.fail, tbody tr:nth-child(even) td.fail { background: var(--fail-bg); color: #7d0f1d;
  font-weight: 600; }
td.na { color: var(--muted); }
table.matrix td:first-child { text-align: left; font-weight: 600; white-space: nowrap; }
table.matrix th small { display: block; font-weight: 400; color: var(--muted); }
tr.total td { border-top: 2px solid #9aa3ad; font-weight: 600; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  font-weight: 700; }
.badge.pass { background: var(--pass-bg); color: var(--pass); }
.badge.fail { background: var(--fail-bg); color: var(--fail); }
.badge.na { color: var(--muted); }
.rule-head { display: flex; gap: 12px; align-items: baseline; justify-content: space-between; }
.verdict { font-size: 15px; }
.standard { background: var(--head); border-left: 4px solid var(--accent); padding: 8px 12px;
  margin: 8px 0 12px; font-size: 14px; }
.note { color: var(--muted); font-size: 13px; }
.legend { font-size: 12px; color: var(--muted); margin-top: -6px; }
.mono, code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 10px 12px; white-space: pre-wrap;
  word-break: break-all; font-size: 12px; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 6px; margin: 10px 0; }
ul.changes { margin: 4px 0 10px; padding-left: 20px; font-size: 14px; }
footer { margin-top: 50px; border-top: 1px solid var(--line); padding-top: 10px; font-size: 12px;
  color: var(--muted); }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-before: page; border-top: none; }
  .figure, table { break-inside: avoid; }
  nav.toc { display: none; }
}
"""


@dataclass
class _Doc:
    """Section numbering and the table of contents of the HTML report."""

    parts: list[str]
    toc: list[tuple[str, str, bool]]
    section: int = 0
    sub: int = 0

    def h2(self, title: str) -> None:
        self.section += 1
        self.sub = 0
        anchor = f"s{self.section}"
        text = f"{self.section}. {escape(title)}"
        self.toc.append((anchor, text, False))
        self.parts.append(f'<h2 id="{anchor}">{text}</h2>')

    def h3(self, title: str, extra: str = "") -> None:
        self.sub += 1
        anchor = f"s{self.section}-{self.sub}"
        text = f"{self.section}.{self.sub} {escape(title)}"
        self.toc.append((anchor, text, True))
        self.parts.append(
            f'<div class="rule-head"><h3 id="{anchor}">{text}</h3>'
            f'<div class="verdict">{extra}</div></div>'
        )

    def add(self, html: str) -> None:
        self.parts.append(html)


def _plan_title(manifest: dict[str, Any], plan: str | None) -> str:
    if plan:
        return plan
    demo = manifest.get("demo")
    if isinstance(demo, dict) and demo.get("region"):
        from .demo import REGIONS

        spec = REGIONS.get(demo["region"])
        title = spec.title if spec is not None else demo["region"]
        return f"Synthetic demo plan — {title}"
    return "Health plan provider network"


def _standard_sentence(rule: dict) -> str:
    lim = []
    if rule.get("miles") is not None:
        lim.append(f"{float(rule['miles']):g} miles")
    if rule.get("minutes") is not None:
        lim.append(f"{float(rule['minutes']):g} minutes")
    combine = " or " if rule.get("combine", "or") == "or" else " and "
    k = int(rule.get("count") or 1)
    text = (
        f"At least {k} in-network provider{'s' if k > 1 else ''} "
        f"within {combine.join(lim)} of the member's home by road, for at least "
        f"{float(rule['threshold']):.0%} of members in each county"
    )
    for cls, limits in (rule.get("by_region_class") or {}).items():
        parts = [f"{limits[m]:g} {m}" for m in ("miles", "minutes") if limits.get(m) is not None]
        text += f" ({cls} counties: {' or '.join(parts)})"
    ratio = rule.get("ratio")
    if ratio:
        text += f"; at most {float(ratio['members_per_provider']):,.0f} members per provider"
    cadence = rule.get("cadence", "quarterly")
    return text + f". Reported {'annually' if cadence == 'annual' else cadence}."


def _summary_section(
    doc: _Doc,
    run: Run,
    rules: list[dict],
    excluded: list[tuple[dict, str]],
    summary: pd.DataFrame,
    comparison: pd.DataFrame | None,
    period_label: str,
) -> None:
    manifest = run.manifest
    counts = manifest.get("counts") or {}
    ids = [r["id"] for r in rules]
    county = _rule_rows(run.tables["county_summary"], ids)
    doc.h2("Summary")
    n_fail_rules = int((summary["passes"].map(_flag) == False).sum())  # noqa: E712
    fail_counties = county[county["passes"].map(_flag) == False]  # noqa: E712
    n_counties = county["county_fips"].nunique()
    cards = [
        ("Members", _int(counts.get("members")), ""),
        ("In the service area", _int(counts.get("members_in_service_area")), ""),
        ("Counties", _int(n_counties), ""),
        ("Rules failing", f"{n_fail_rules} of {len(rules)}", "bad" if n_fail_rules else "good"),
        (
            "Counties failing any rule",
            f"{fail_counties['county_fips'].nunique()} of {n_counties}",
            "bad" if len(fail_counties) else "good",
        ),
    ]
    doc.add(
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}"><div class="v">{v}</div>'
            f'<div class="k">{escape(k)}</div></div>'
            for k, v, cls in cards
        )
        + "</div>"
    )
    doc.add(
        f"<p>This report covers <b>{escape(period_label)}</b>: {len(rules)} rule"
        f"{'s' if len(rules) != 1 else ''} of the standards set. A county passes a rule when "
        "the share of its members who meet the standard is at least the rule's threshold. "
        "Green cells pass, red cells fail; the figure is the share of members meeting the "
        "standard.</p>"
    )
    if excluded:
        items = "".join(
            f"<li>{escape(r['label'])} (<code>{escape(r['id'])}</code>): {escape(reason)}</li>"
            for r, reason in excluded
        )
        doc.add(f"<p>Rules left out of this period:</p><ul class='changes'>{items}</ul>")
    # matrix: counties down, rules across
    head = ["County"] + [
        f"{escape(_short_label(r['label']))}<small>"
        f"{'high-volume · ' if r['label'].startswith('High-volume') else ''}"
        f"≥{float(r['threshold']):.0%}</small>"
        for r in rules
    ]
    share = {
        (r, f): (s, p)
        for r, f, s, p in county[["rule", "county_fips", "share_meeting", "passes"]].itertuples(
            index=False
        )
    }
    names = county.drop_duplicates("county_fips").sort_values(["county", "county_fips"])
    rows = []
    for fips, name in zip(names["county_fips"], names["county"], strict=True):
        row: list[Any] = [f"{escape(name)} <span class='note'>{escape(fips)}</span>"]
        for rid in ids:
            s, p = share.get((rid, fips), (math.nan, None))
            f = _flag(p)
            row.append((_pct(s), "na" if f is None else "pass" if f else "fail"))
        rows.append(row)
    area = summary.set_index("rule")
    total: list[Any] = ["Service area"]
    ratio_row: list[Any] = ["Members per provider"]
    for rid in ids:
        f = _flag(area.at[rid, "passes"])
        total.append((_pct(area.at[rid, "share_meeting"]), "pass" if f else "fail"))
        rf = _flag(area.at[rid, "ratio_passes"]) if "ratio_passes" in area else None
        if rf is None:
            ratio_row.append(("–", "na"))
        else:
            ratio_row.append(
                (
                    f"{_ratio(area.at[rid, 'members_per_provider'])}"
                    f"<br><span class='note'>≤ {_int(area.at[rid, 'ratio_limit'])}</span>",
                    "pass" if rf else "fail",
                )
            )
    align = "l" + "c" * len(ids)
    body = _table(head, rows, "matrix", align)
    extra = "".join(
        f'<tr class="{"total" if i == 0 else ""}">'
        + "".join(_cell(c, a) for c, a in zip(row, align, strict=True))
        + "</tr>"
        for i, row in enumerate((total, ratio_row))
    )
    doc.add(body.replace("</tbody>", extra + "</tbody>"))
    doc.add(
        '<p class="legend">Share of members meeting each rule\'s time and distance standard, by '
        "county; the service-area row is all members in the listed counties; the last row is the "
        "access ratio over the service area (– : the rule has no ratio).</p>"
    )
    if comparison is not None:
        prev = escape(str(comparison.attrs.get("previous_label", "the previous run")))
        doc.add(f"<h4>Changes since the previous run ({prev})</h4>")
        head = [
            "Rule",
            "Service area before",
            "Now",
            "Change",
            "Counties newly failing",
            "Counties newly passing",
        ]
        rows = []
        for _, r in summary.iterrows():
            change = _num(r["change_pp"])
            rows.append(
                [
                    escape(r["label"]),
                    _pct(r["share_meeting_previous"]),
                    _pct(r["share_meeting"]),
                    (_pp(change), "nw fail" if change < -0.05 else "nw"),
                    (escape(r["newly_failing"]) or "none", "fail" if r["newly_failing"] else ""),
                    (escape(r["newly_passing"]) or "none", "pass" if r["newly_passing"] else ""),
                ]
            )
        doc.add(_table(head, rows, "", "lrrrll"))


def _rule_section(
    doc: _Doc,
    run: Run,
    rule: dict,
    summary_row: pd.Series,
    comparison: pd.DataFrame | None,
    figures: list[str],
) -> None:
    rid = rule["id"]
    county = _rule_rows(run.tables["county_summary"], [rid])
    doc.h3(rule["label"], _badge(summary_row["passes"], "Meets standard", "Below standard"))
    doc.add(f'<div class="standard"><b>Standard.</b> {escape(_standard_sentence(rule))}</div>')
    n_fail = int(summary_row.get("counties_failing") or 0)
    members = _int(summary_row["members"])
    doc.add(
        f"<p>Across the service area, <b>{_pct(summary_row['share_meeting'])}</b> of {members} "
        f"members meet the standard (threshold {float(rule['threshold']):.0%}); "
        f"<b>{_int(_num(summary_row['members']) - _num(summary_row['meeting']))}</b> do not. "
        f"{n_fail} of {_int(summary_row.get('counties'))} counties are below the threshold"
        + (f": {escape(summary_row['failing_counties'])}." if n_fail else ".")
        + "</p>"
    )
    if run.counties is not None:
        fig = county_figure(run, rule)
        figures.append(_figure_html(fig, f"map-{_slug(rid)}"))
        doc.add(f'<div class="figure">{figures[-1]}</div>')
        doc.add(
            '<p class="legend">Colour: share of the county\'s members meeting the standard; the '
            "scale turns from red to green at the threshold. Failing counties are outlined in "
            "red.</p>"
        )
    else:
        doc.add(
            '<p class="note">No map: the run has no county polygons (it was evaluated '
            "without --regions).</p>"
        )
    head = [
        "County",
        "Members",
        "Meeting",
        "Not meeting",
        "Share meeting",
        "Access",
        "Providers",
        "Members per provider",
        "Ratio",
        "Median miles",
        "Median minutes",
    ]
    align = "lrrrrcrrcrr"
    settings = run.manifest.get("settings") or {}
    horizon_miles = max(_num(settings.get("max_report_miles")), _num(rule.get("miles")) or 0)
    horizon_minutes = max(_num(settings.get("max_report_minutes")), _num(rule.get("minutes")) or 0)
    changes = {}
    if comparison is not None:
        head += ["Change", "Since previous"]
        align += "rl"
        part = comparison[comparison["rule"] == rid]
        changes = {
            f: (c, s)
            for f, c, s in part[["county_fips", "change_pp", "status_change"]].itertuples(
                index=False
            )
        }
    rows = []
    for _, r in county.iterrows():
        f = _flag(r["passes"])
        row: list[Any] = [
            f"{escape(r['county'])} <span class='note'>{escape(r['county_fips'])}</span>",
            _int(r["members"]),
            _int(r["meeting"]),
            (_int(_num(r["members"]) - _num(r["meeting"])), "fail" if f is False else ""),
            (_pct(r["share_meeting"]), "na" if f is None else "pass" if f else "fail"),
            _badge(r["passes"]),
            _int(r["providers"]),
            _ratio(r["members_per_provider"]),
            _badge(r["ratio_passes"]),
            _dist(r.get("median_miles"), "mi", horizon_miles),
            _dist(r.get("median_minutes"), "min", horizon_minutes),
        ]
        if comparison is not None:
            change, status = changes.get(r["county_fips"], (math.nan, "not in previous run"))
            cls = {"newly fails": "fail", "newly passes": "pass"}.get(status, "")
            row += [
                (_pp(change), "nw fail" if _num(change) < -0.05 else "nw"),
                (escape(status), cls),
            ]
        rows.append(row)
    doc.add(f"<h4>Counties</h4>{_table(head, rows, 'counties', align)}")
    ratio = rule.get("ratio")
    doc.add(
        '<p class="legend">Access: the share meeting the standard is at least the threshold '
        f"({float(rule['threshold']):.0%}). "
        + (
            f"Ratio: at most {float(ratio['members_per_provider']):,.0f} members per provider "
            "practising in the county. "
            if ratio
            else "The rule has no ratio standard. "
        )
        + "Medians are over the county's members; '&gt;' means beyond the search horizon.</p>"
    )
    if run.members is not None:
        m = run.members
        sel = (m["rule"] == rid) & (m["language"] == ALL_MEMBERS) & m["in_service_area"]
        fig = distance_figure(m.loc[sel, ["miles", "minutes"]], rule, run.manifest["settings"])
        figures.append(_figure_html(fig, f"dist-{_slug(rid)}"))
        nth = f"{_ordinal(int(rule.get('count') or 1))} nearest".strip()
        doc.add(
            f"<h4>Distance and time to the {nth} qualifying provider</h4>"
            f"<div class='figure'>{figures[-1]}</div>"
        )
        beyond = int((~np.isfinite(m.loc[sel, "miles"].to_numpy(dtype=float))).sum())
        doc.add(
            '<p class="legend">Members in the service area, by distance and by time. The grey '
            f"bar counts the members farther than the axis shows; {beyond:,} of the members "
            "have no qualifying provider within the search horizon "
            f"({horizon_miles:g} miles / {horizon_minutes:g} minutes). The dashed line is the "
            "standard's limit; when the rule says 'or', a member within either limit meets it.</p>"
        )


def _language_section(doc: _Doc, run: Run, rules: list[dict]) -> None:
    doc.h2("Language access")
    prevalent = run.tables["prevalent_languages"].sort_values(["language", "county_fips"])
    settings = run.manifest.get("settings") or {}
    if not len(prevalent):
        doc.add(
            "<p>No language other than English is prevalent in any county (threshold: "
            f"{_int(settings.get('min_census_speakers'))} census speakers or "
            f"{_int(settings.get('min_language_members'))} members), so no "
            "language-concordant standard applies.</p>"
        )
        return
    basis = settings.get("language_basis", "members")
    doc.add(
        "<p>A language is prevalent in a county when "
        + (
            f"at least {_int(settings.get('min_census_speakers'))} residents aged 5 and over speak "
            "it (census)"
            if basis == "census"
            else f"at least {_int(settings.get('min_language_members'))} members speak it"
        )
        + ". For each prevalent language, the language rules are evaluated again counting only "
        "providers who speak the language, for the members who speak it.</p>"
    )
    names = run.tables["county_summary"].drop_duplicates("county_fips")
    names = dict(zip(names["county_fips"], names["county"], strict=True))
    census = "speakers_5plus" in prevalent and prevalent["speakers_5plus"].notna().any()
    rows = [
        [
            escape(r["language"]),
            escape(str(names.get(r["county_fips"], r["county_fips"]))),
            _int(r["members"]),
        ]
        + ([_int(r["speakers_5plus"])] if census else [])
        for _, r in prevalent.iterrows()
    ]
    head = ["Language", "County", "Members"] + (["Census speakers aged 5+"] if census else [])
    doc.add("<h4>Prevalent languages</h4>" + _table(head, rows, "narrow", "llrr"[: len(head)]))
    lang = run.tables["language_summary"]
    lang_rules = [r for r in rules if r["id"] in set(lang["rule"])]
    if "prevalent" in lang.columns:
        lang = lang[lang["prevalent"].map(_flag) == True]  # noqa: E712
    if not lang_rules or not len(lang):
        return
    head = ["Language", "County", "Members"] + [
        f"{escape(_short_label(r['label']))}<small>≥{float(r['threshold']):.0%}</small>"
        for r in lang_rules
    ]
    cells = {
        (la, f, ru): (s, p)
        for la, f, ru, s, p in lang[
            ["language", "county_fips", "rule", "share_meeting", "passes"]
        ].itertuples(index=False)
    }
    groups = lang.drop_duplicates(["language", "county_fips"]).sort_values(
        ["language", "county", "county_fips"]
    )
    rows = []
    for _, g in groups.iterrows():
        row: list[Any] = [
            escape(g["language"]),
            escape(g["county"]),
            _int(g["members"]),
        ]
        for r in lang_rules:
            s, p = cells.get((g["language"], g["county_fips"], r["id"]), (math.nan, None))
            f = _flag(p)
            row.append((_pct(s), "na" if f is None else "pass" if f else "fail"))
        rows.append(row)
    align = "llr" + "c" * len(lang_rules)
    doc.add("<h4>Language-concordant access</h4>" + _table(head, rows, "matrix", align))
    doc.add(
        '<p class="legend">Share of the members who speak the language with enough '
        "providers who speak it within the standard's limits, by county.</p>"
    )


def _panel_section(doc: _Doc, run: Run) -> None:
    doc.h2("Panel findings")
    panels = run.tables["panel_findings"]
    if not len(panels):
        doc.add("<p>No findings: every PCP panel and practice is within the limits.</p>")
        return
    doc.add(
        "<p>Primary care panels over the size limit, and practices where too few PCP panels are "
        "open to new patients.</p>"
    )
    panels = panels.sort_values(["finding", "practice_id", "provider_id"], kind="stable")
    rows = [
        [
            escape(r["finding"]),
            (escape(r.get("provider_id", "")) or "–", "id"),
            (escape(r.get("practice_id", "")) or "–", "id"),
            _int(r.get("panel_size")),
            _int(r.get("assigned_members")),
            {True: "open", False: "closed"}.get(_flag(r.get("panel_open")), "–"),
            _int(r.get("pcps_in_practice")),
            _int(r.get("open_panels")),
            _pct(r.get("share_open"), 0),
        ]
        for _, r in panels.iterrows()
    ]
    head = [
        "Finding",
        "Provider",
        "Practice",
        "Panel size",
        "Plan members",
        "Panel",
        "PCPs in practice",
        "Open panels",
        "Share open",
    ]
    doc.add(_table(head, rows, "", "lllrrcrrr"))


def _outside_section(doc: _Doc, run: Run, rules: list[dict]) -> None:
    doc.h2("Members outside the service area")
    counts = run.manifest.get("counts") or {}
    outside = _num(counts.get("members")) - _num(counts.get("members_in_service_area"))
    table = _rule_rows(run.tables["outside_service_area"], [r["id"] for r in rules])
    settings = run.manifest.get("settings") or {}
    doc.add(
        f"<p>{_int(outside)} member{'s' if outside != 1 else ''} live outside every county of "
        "the service area (for example an address in a neighbouring state). They are not in "
        "the county results above; their access is reported here, apart, not dropped.</p>"
    )
    if not len(table) or outside == 0:
        return
    rows = [
        [
            escape(r["label"]),
            _int(r["members"]),
            _int(r["meeting"]),
            _pct(r["share_meeting"]),
            _dist(r.get("median_miles"), "mi", _num(settings.get("max_report_miles"))),
            _dist(r.get("median_minutes"), "min", _num(settings.get("max_report_minutes"))),
        ]
        for _, r in table.iterrows()
    ]
    doc.add(
        _table(
            ["Rule", "Members", "Meeting", "Share meeting", "Median miles", "Median minutes"], rows
        )
    )


def _method_section(
    doc: _Doc,
    run: Run,
    excluded: list[tuple[dict, str]],
    period_label: str,
    command: str,
    previous: Run | None,
) -> None:
    manifest = run.manifest
    doc.h2("Method and data sources")
    doc.add(
        "<p>For every member, the road distance and the drive time to the nearest in-network "
        "providers of each rule's type were computed over the road network below (shortest "
        "paths on the road graph, not straight lines). A member meets a rule when the k-th "
        "nearest qualifying provider is within the rule's distance or time limit. County "
        "results count the members living in the county.</p>"
    )
    road = manifest.get("road_network") or {}
    doc.h3("Road network")
    rows = [
        ["Source", escape(str(road.get("source") or "–"))],
        ["Kind", escape(str(road.get("source_kind") or "–"))],
        ["SHA-256", f"<span class='mono'>{escape(str(road.get('source_sha256') or '–'))}</span>"],
        ["Nodes", _int(road.get("nodes"))],
        ["Directed edges", _int(road.get("edges"))],
        ["Road miles", _dist(road.get("road_miles"), "mi")],
    ]
    if road.get("class_column"):
        rows.append(["Road class column", escape(str(road["class_column"]))])
    attribution = road.get("attribution") or ""
    if attribution:
        rows.append(["Attribution", escape(attribution)])
    doc.add(_kv_table(rows))
    profile = manifest.get("speed_profile") or {}
    doc.h3("Speed profile")
    doc.add(
        f"<p><b>{escape(str(profile.get('name', '–')))}@{escape(str(profile.get('version', '–')))}"
        f"</b>: {escape(str(profile.get('description', '')))}. Roads of a class not listed drive "
        f"at {_num(profile.get('fallback_mph')):g} mph"
        + (
            "; a posted speed limit (OSM maxspeed) is used where tagged"
            if profile.get("use_maxspeed")
            else ""
        )
        + ".</p>"
    )
    speeds = sorted((profile.get("class_mph") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if speeds:
        label = {"True": "primary and secondary roads", "False": "all other roads"}
        doc.add(
            _table(
                ["Road class", "Speed (mph)"],
                [[escape(label.get(k, k)), f"{float(v):g}"] for k, v in speeds],
                "kv",
            )
        )
    snapping = manifest.get("snapping") or {}
    doc.h3("Snapping of addresses to roads")
    doc.add(
        f"<p>{escape(_sentence(str(snapping.get('method', '–'))))}. Members farther than "
        f"{_num(snapping.get('max_snap_meters')):,.0f} m from any road are flagged off-road "
        f"(likely a bad geocode) and still routed from the nearest road; the straight-line leg "
        f"is driven at {_num(snapping.get('snap_speed_mph')):g} mph. Distances and times beyond "
        f"{_num(manifest['settings'].get('max_report_miles')):g} miles or "
        f"{_num(manifest['settings'].get('max_report_minutes')):g} minutes (or the rule's own "
        "limit when larger) are reported as beyond the search horizon.</p>"
    )
    standards = manifest["standards"]
    doc.h3("Standards")
    doc.add(
        f"<p><b>{escape(str(standards.get('title') or standards.get('name')))}</b> "
        f"({escape(str(standards.get('name')))}@{escape(str(standards.get('version')))}). "
        f"Source: {escape(str(standards.get('source') or '–'))}. Annual rules are reported in "
        f"Q{standards.get('annual_quarter', 4)}; this report covers {escape(period_label)}.</p>"
    )
    left_out = {r["id"] for r, _ in excluded}
    rows = [
        [
            f"{escape(r['label'])}<br><code>{escape(r['id'])}</code>",
            escape(str(r.get("describe", ""))),
            escape(r.get("cadence", "quarterly")),
            _pct(r.get("threshold"), 0),
            ("left out (annual)", "na") if r["id"] in left_out else "included",
        ]
        for r in standards.get("rules") or []
    ]
    doc.add(_table(["Rule", "Standard", "Cadence", "Threshold", "This report"], rows, "", "llcrl"))
    doc.h3("Inputs")
    rows = []
    for name, info in sorted((manifest.get("inputs") or {}).items()):
        if not info:
            rows.append([escape(name), ("not given", "na"), "", ""])
            continue
        rows.append(
            [
                escape(name),
                (escape(str(info.get("path", ""))), "mono"),
                (escape(str(info.get("sha256") or "–")), "mono"),
                _int(info.get("bytes")),
            ]
        )
    doc.add(_table(["Input", "File", "SHA-256", "Bytes"], rows, "", "lllr"))
    settings = manifest.get("settings") or {}
    doc.add(
        "<h4>Settings</h4><p class='mono'>"
        + escape(", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
        + "</p>"
    )
    notes = manifest.get("notes") or []
    if notes:
        doc.add(
            "<h4>Notes of the run</h4><ul class='changes'>"
            + "".join(f"<li>{escape(str(n))}</li>" for n in notes)
            + "</ul>"
        )
    doc.h3("Software and reproduction")
    packages = manifest.get("packages") or {}
    doc.add(
        f"<p>Evaluated with adequacy {escape(str(manifest.get('adequacy_version', '–')))} on "
        f"{escape(str(manifest.get('created_utc', '–')))} UTC; report by adequacy "
        f"{escape(__version__)}. Packages: "
        + escape(", ".join(f"{k} {v}" for k, v in sorted(packages.items())))
        + ".</p>"
    )
    doc.add(
        "<p>The evaluation (same inputs give identical results):</p>"
        f"<pre>{escape(str(manifest.get('command') or '–'))}</pre>"
        f"<p>This report, from the run folder <code>{escape(str(run.folder.resolve()))}</code>"
        + (
            f" and the previous run <code>{escape(str(previous.folder.resolve()))}</code>"
            if previous is not None
            else ""
        )
        + f":</p><pre>{escape(command)}</pre>"
    )


def render_html(
    run: Run,
    rules: list[dict],
    excluded: list[tuple[dict, str]],
    period_label: str,
    tables: dict[str, pd.DataFrame],
    *,
    previous: Run | None = None,
    plan: str | None = None,
    command: str = "",
) -> str:
    """The report as one self-contained HTML page (plotly.js inline; nothing fetched)."""
    from plotly.offline import get_plotlyjs

    manifest = run.manifest
    standards = manifest["standards"]
    synthetic = bool(manifest.get("synthetic"))
    summary = tables["summary"]
    period_given = not period_label.startswith("all rules")
    comparison = tables.get("comparison")
    if comparison is not None and previous is not None:
        comparison.attrs["previous_label"] = (
            f"run of {previous.manifest.get('created_utc', '–')}, {previous.folder.resolve().name}"
        )
    doc = _Doc(parts=[], toc=[])
    figures: list[str] = []
    _summary_section(doc, run, rules, excluded, summary, comparison, period_label)
    doc.h2("Access by rule")
    doc.add(
        "<p>One subsection per rule: the county map, the county table (with the members not "
        "meeting the standard) and the distribution of distance and time to the providers.</p>"
    )
    area = summary.set_index("rule", drop=False)
    for rule in rules:
        _rule_section(doc, run, rule, area.loc[rule["id"]], comparison, figures)
    _language_section(doc, run, rules)
    _panel_section(doc, run)
    _outside_section(doc, run, rules)
    _method_section(doc, run, excluded, period_label, command, previous)

    title = "Network adequacy report" + (f" — {period_label}" if period_given else "")
    banner = ""
    if synthetic:
        banner = (
            '<div class="banner">SYNTHETIC DATA — NOT FOR FILING. <span>The members and '
            "practices in this report are made up (demo); roads, counties and hospitals are "
            "real.</span></div>"
        )
    meta = [
        ("Plan", escape(_plan_title(manifest, plan))),
        ("Reporting period", escape(period_label)),
        (
            "Standards",
            f"{escape(str(standards.get('title') or standards.get('name')))} "
            f"({escape(str(standards.get('name')))}@{escape(str(standards.get('version')))})",
        ),
        ("Evaluated", f"{escape(str(manifest.get('created_utc', '–')))} UTC"),
        ("Road network", escape(str((manifest.get("road_network") or {}).get("source") or "–"))),
    ]
    if previous is not None:
        meta.append(
            ("Compared with", f"run of {escape(str(previous.manifest.get('created_utc', '–')))}")
        )
    toc = "".join(
        f'<div class="{"sub" if sub else ""}"><a href="#{a}">{t}</a></div>' for a, t, sub in doc.toc
    )
    attribution = (manifest.get("road_network") or {}).get("attribution") or ""
    footer = (
        f"Generated by adequacy {escape(__version__)} from the run of "
        f"{escape(str(manifest.get('created_utc', '–')))} UTC."
        + (f" Road data {escape(attribution)}." if attribution else "")
        + (" SYNTHETIC DATA." if synthetic else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f'<body class="{"synthetic" if synthetic else ""}"><main>'
        '<header class="cover"><p class="kicker">Network adequacy — time and distance access'
        f"</p><h1>{escape(title)}</h1>"
        '<dl class="meta">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
        + f"</dl></header>{banner}"
        f'<nav class="toc"><b>Contents</b>{toc}</nav>'
        + "\n".join(doc.parts)
        + f"<footer>{footer}</footer></main></body></html>\n"
    )


# --------------------------------------------------------------------------- workbook


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed time (reproducible bytes)."""

    date_time: tuple[int, int, int, int, int, int] = (2000, 1, 1, 0, 0, 0)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.date_time)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        """Add a file's bytes (openpyxl writes sheets through temporary files) at the fixed time."""
        data = Path(filename).read_bytes()
        self.writestr(arcname or Path(filename).name, data, compress_type, compresslevel)


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
    from openpyxl.writer.excel import ExcelWriter

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
    wb.properties.creator = f"adequacy {__version__}"
    wb.properties.title = "Network adequacy report"
    wb.properties.created = created
    wb.properties.modified = created
    wb.properties.lastModifiedBy = f"adequacy {__version__}"
    path = Path(path)
    archive = _FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    archive.date_time = (
        max(created.year, 1980),
        created.month,
        created.day,
        created.hour,
        created.minute,
        created.second,
    )
    ExcelWriter(wb, archive).save()  # not save_workbook: it stamps 'modified' with now
    return path


# --------------------------------------------------------------------------- build


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
        ("Plan", _plan_title(run.manifest, plan)),
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
        path.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        files["manifest"] = path
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("comparison.csv", "county_summary.gpkg"):  # from an earlier build
            if not (tmp / stale).exists():
                (out_dir / stale).unlink(missing_ok=True)
        return publish(files, out_dir)
