"""The report's deficiency section and the exception-request drafts.

The section lists every failing county × rule of the period with what it lacks
(members short of the threshold, providers needed for the ratio or a minimum)
and what would close it (out-of-network providers within the limits, the
recruitment sites that lift the county). An exception-request draft, one page
per failing county × rule and marked DRAFT, holds what a regulator asks for:
the standard and the county's result, every provider of the type within the
limits of its unserved members and just beyond them (in and out of network),
the recruitment candidates and what each would change, and an empty section
for the plan's own contracting efforts. Counts and providers only, never
member rows.

Owns: ``deficiency_section``, ``exception_drafts``. Uses: the run's findings
tables (:mod:`adequacy.findings`), the standards model and the report's
formatting.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import pandas as pd

from adequacy.engine.standards import StandardsSet
from adequacy.report.formatting import (
    Doc,
    amount,
    distance,
    html_table,
    integer,
    number,
    percent,
)
from adequacy.report.style import FAIL_COLOUR
from adequacy.runs.read import Run

DRAFT_COLUMNS = [
    "rule",
    "language",
    "county_fips",
    "county",
    "file",
    "verdict_reasons",
    "providers_within_limits",
    "providers_just_beyond",
    "recruitment_sites",
]


def _included(table: pd.DataFrame, rules: list[dict]) -> pd.DataFrame:
    ids = {r["id"]: i for i, r in enumerate(rules)}
    table = table[table["rule"].isin(ids)]
    order = table["rule"].map(ids)
    return table.assign(_o=order).sort_values(["_o", "language", "county_fips"]).drop(columns="_o")


def deficiency_section(doc: Doc, run: Run, rules: list[dict]) -> None:
    """Every failing county × rule of the period: the shortfall and what would close it."""
    doc.h2("Deficiencies")
    if "deficiencies" not in run.tables:
        doc.add(
            "<p class='note'>This run folder has no deficiency workpaper (it was written "
            "without <code>adequacy.findings</code>); run <code>adequacy evaluate</code> to "
            "make one.</p>"
        )
        return
    table = _included(run.tables["deficiencies"], rules)
    if not len(table):
        doc.add("<p>None: every county passes every rule of the period.</p>")
        return
    doc.add(
        "<p>Every county and rule whose verdict fails, with what it lacks and what would "
        "close it. <i>Members short</i>: how many more members must meet the time and "
        "distance standard for the county to reach its threshold. <i>Providers needed</i>: "
        "more providers (FTE on an FTE basis) for the access ratio. <i>Out of network "
        "within limits</i>: unserved members with an out-of-network provider within their "
        "limits, a contracting opportunity. The member-level list is "
        "<code>deficient_members.csv</code> in the run folder (IDs only).</p>"
    )
    rows = []
    for _, r in table.iterrows():
        sites = str(r.get("recruitment_sites") or "")
        rows.append(
            [
                escape(str(r["label"])) + (f" [{escape(r['language'])}]" if r["language"] else ""),
                f"{escape(str(r['county']))} <span class='note'>{escape(r['county_fips'])}</span>",
                escape(str(r["verdict_reasons"])),
                integer(r["members_short"]),
                amount(r["providers_needed_for_ratio"]),
                amount(r["providers_short_of_minimum"]),
                integer(r["members_with_out_of_network_within_limits"]),
                escape(sites.replace(";", ", ") if sites else str(r["recruitment_note"])),
            ]
        )
    head = [
        "Rule",
        "County",
        "Why it fails",
        "Members short",
        "Providers needed",
        "Below minimum",
        "Out of network within limits",
        "Recruitment",
    ]
    doc.add(html_table(head, rows, "counties", "lllrrrrl"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def exception_drafts(run: Run, rules: list[dict]) -> tuple[dict[str, str], pd.DataFrame]:
    """One HTML draft per failing county × rule of the period, and a table of them.

    Returns ``({file name: html}, table)``; empty when the run has no workpaper.
    """
    if "deficiencies" not in run.tables:
        return {}, pd.DataFrame(columns=DRAFT_COLUMNS)
    rule_set = StandardsSet.from_dict(run.manifest["standards"])
    table = _included(run.tables["deficiencies"], rules)
    providers = run.tables.get("exception_providers", pd.DataFrame())
    picks = run.tables.get("recruitment_picks", pd.DataFrame())
    files, rows = {}, []
    for _, r in table.iterrows():
        key = (r["rule"], r["language"], r["county_fips"])
        near = _rows_of(providers, key)
        mine = _rows_of(picks, key)
        name = f"exception-{_slug(r['rule'])}-{_slug(r['language']) or 'all'}-{r['county_fips']}"
        files[f"{name}.html"] = _draft(run, rule_set.rule(r["rule"]), r, near, mine)
        within = near["within_limits"].map(_true) if len(near) else pd.Series(dtype=bool)
        rows.append(
            {
                "rule": r["rule"],
                "language": r["language"],
                "county_fips": r["county_fips"],
                "county": r["county"],
                "file": f"{name}.html",
                "verdict_reasons": r["verdict_reasons"],
                "providers_within_limits": int(within.sum()),
                "providers_just_beyond": int((~within).sum()),
                "recruitment_sites": r.get("recruitment_sites", ""),
            }
        )
    return files, pd.DataFrame(rows, columns=DRAFT_COLUMNS)


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _rows_of(table: pd.DataFrame, key: tuple[str, str, str]) -> pd.DataFrame:
    if not len(table):
        return table
    rule, lang, fips = key
    sel = (table["rule"] == rule) & (table["language"] == lang) & (table["county_fips"] == fips)
    return table[sel]


def _draft(run: Run, rule, r: pd.Series, near: pd.DataFrame, picks: pd.DataFrame) -> str:
    """One exception-request draft (a self-contained page)."""
    county = f"{r['county']} ({r['county_fips']})"
    lang = f", members who speak {r['language']}" if r["language"] else ""
    synthetic = bool(run.manifest.get("synthetic"))
    parts = [
        "<p class='draft'>DRAFT — exception request, not filed"
        + (" — SYNTHETIC DATA" if synthetic else "")
        + "</p>",
        f"<h1>Exception request: {escape(rule.label)}, {escape(county)}</h1>",
        f"<p>Run of {escape(str(run.manifest.get('created_utc', '–')))} UTC; standards "
        f"{escape(rule_set_label(run))}.</p>",
        "<h2>1. The standard</h2>",
        f"<p>{escape(rule.sentence())}</p>",
        "<h2>2. The county's result</h2>",
        f"<p>{integer(r['members'])} members{escape(lang)}; {integer(r['meeting'])} "
        f"({percent(r['share_meeting'])}) meet the time and distance standard against a "
        f"threshold of {float(r['threshold']):.0%}. The rule fails because: "
        f"<b>{escape(str(r['verdict_reasons']))}</b>.</p>",
        f"<p>Members short of the threshold: {integer(r['members_short'])}. Providers needed "
        f"for the access ratio: {amount(r['providers_needed_for_ratio'])}. Providers short of "
        f"the rule's minimum in the county: {amount(r['providers_short_of_minimum'])}. "
        "Unserved members "
        "with an out-of-network provider within their limits: "
        f"{integer(r['members_with_out_of_network_within_limits'])}.</p>",
        "<h2>3. Providers of the type within the limits and just beyond</h2>",
    ]
    if len(near):
        rows = [
            [
                escape(str(p["provider_id"])),
                "in network" if p["network"] == "in" else "out of network",
                integer(p["unserved_members_near"]),
                distance(p["median_miles"], "mi"),
                distance(p["median_minutes"], "min"),
                "yes" if _true(p["within_limits"]) else "no",
            ]
            for _, p in near.iterrows()
        ]
        head = [
            "Provider",
            "Network",
            "Unserved members near it",
            "Median miles",
            "Median minutes",
            "Within the limits",
        ]
        parts.append(html_table(head, rows, "", "llrrrc"))
        parts.append(
            "<p class='note'>The providers among the nearest of the county's unserved members, "
            "up to 1.5 times the limits; miles and minutes are medians over those members, "
            "each on its own best route.</p>"
        )
    else:
        parts.append("<p>No provider of the type within 1.5 times the limits.</p>")
    parts.append("<h2>4. Recruitment candidates</h2>")
    if len(picks):
        rows = [
            [
                integer(p["rank"]),
                escape(str(p["candidate"])),
                f"{number(p['lat']):.5f}, {number(p['lon']):.5f}",
                integer(p["newly_meeting"]),
                percent(p["county_share_after"]),
            ]
            for _, p in picks.iterrows()
        ]
        head = ["Pick", "Candidate site", "Lat, lon", "Members brought in", "County share after"]
        parts.append(html_table(head, rows, "", "rllrr"))
    parts.append(f"<p>{escape(str(r.get('recruitment_note') or ''))}</p>")
    parts.append(
        "<h2>5. The plan's contracting efforts</h2>"
        "<p class='fill'>[To be completed by the plan: providers approached, dates, outcomes, "
        "reasons for declining, and the plan's alternative arrangements.]</p>"
    )
    style = (
        "body{font-family:Georgia,serif;max-width:820px;margin:2em auto;padding:0 1em;"
        "color:#111}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.4em}"
        f".draft{{color:{FAIL_COLOUR};font-weight:bold;letter-spacing:.08em}}"
        "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #bbb;"
        "padding:.25em .5em}.note{color:#555;font-size:.85em}"
        ".fill{border:1px dashed #999;padding:2em 1em;color:#777}"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>DRAFT exception request: {escape(rule.label)}, {escape(county)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def rule_set_label(run: Run) -> str:
    std = run.manifest.get("standards") or {}
    return f"{std.get('name')}@{std.get('version')}"
