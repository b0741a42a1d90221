"""The findings of the HTML report: the summary, one subsection per rule, language
access, panel findings and the members outside the service area.

Each section adds its HTML to a :class:`~adequacy.report.formatting.Doc`; the
figures' HTML also goes to a list, in page order. A rule's standard is worded
by the rule itself (:meth:`~adequacy.engine.standards.Rule.sentence`).

Owns: ``summary_section``, ``rule_section``, ``language_section``,
``panel_section`` and ``outside_section``. Uses: :mod:`adequacy.report.tables`,
:mod:`adequacy.report.formatting`, :mod:`adequacy.report.figures` and the
run read back.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.standards import Rule
from adequacy.report.figures import county_figure, distance_figure, figure_html
from adequacy.report.formatting import (
    Doc,
    badge,
    distance,
    html_cell,
    html_table,
    integer,
    number,
    ordinal,
    per_provider,
    percent,
    points,
)
from adequacy.report.tables import ALL_MEMBERS, flag, rule_rows
from adequacy.runs.read import Run


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _short_label(label: str) -> str:
    return label.replace("High-volume specialist: ", "")


def summary_section(
    doc: Doc,
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
    county = rule_rows(run.tables["county_summary"], ids)
    doc.h2("Summary")
    n_fail_rules = int((summary["verdict"].map(flag) == False).sum())  # noqa: E712
    fail_counties = county[county["verdict"].map(flag) == False]  # noqa: E712
    language = run.tables["language_summary"]
    prevalent = language["prevalent"].map(flag).fillna(False).astype(bool)
    language = language[language["rule"].isin(ids) & prevalent]
    n_language_fail = int((language["verdict"].map(flag) == False).sum())  # noqa: E712
    n_counties = county["county_fips"].nunique()
    cards = [
        ("Members", integer(counts.get("members")), ""),
        ("In the service area", integer(counts.get("members_in_service_area")), ""),
        ("Counties", integer(n_counties), ""),
        ("Rules failing", f"{n_fail_rules} of {len(rules)}", "bad" if n_fail_rules else "good"),
        (
            "Counties failing any rule",
            f"{fail_counties['county_fips'].nunique()} of {n_counties}",
            "bad" if len(fail_counties) else "good",
        ),
        (
            "Language-concordant results failing",
            f"{n_language_fail} of {len(language)}",
            "bad" if n_language_fail else "good",
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
        "every binding part of the rule passes there: the share of its members within the "
        "time and distance limits reaches the rule's threshold and, where the rule sets them, "
        "the access ratio and the minimum number of providers are met (language-concordant "
        "results bind only where the rule says so; otherwise a failing one is a finding). "
        "Green cells pass, red cells fail; the figure is the share of members within the "
        "time and distance limits, so a red cell with a high share fails on another part "
        "(see the rule's section).</p>"
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
        for r, f, s, p in county[["rule", "county_fips", "share_meeting", "verdict"]].itertuples(
            index=False
        )
    }
    names = county.drop_duplicates("county_fips").sort_values(["county", "county_fips"])
    rows = []
    for fips, name in zip(names["county_fips"], names["county"], strict=True):
        row: list[Any] = [f"{escape(name)} <span class='note'>{escape(fips)}</span>"]
        for rid in ids:
            s, p = share.get((rid, fips), (math.nan, None))
            f = flag(p)
            row.append((percent(s), "na" if f is None else "pass" if f else "fail"))
        rows.append(row)
    area = summary.set_index("rule")
    total: list[Any] = ["Service area"]
    ratio_row: list[Any] = ["Members per provider"]
    for rid in ids:
        f = flag(area.at[rid, "verdict"])
        total.append((percent(area.at[rid, "share_meeting"]), "pass" if f else "fail"))
        rf = flag(area.at[rid, "ratio_passes"]) if "ratio_passes" in area else None
        if rf is None:
            ratio_row.append(("–", "na"))
        else:
            ratio_row.append(
                (
                    f"{per_provider(area.at[rid, 'members_per_provider'])}"
                    f"<br><span class='note'>≤ {integer(area.at[rid, 'ratio_limit'])}</span>",
                    "pass" if rf else "fail",
                )
            )
    align = "l" + "c" * len(ids)
    body = html_table(head, rows, "matrix", align)
    extra = "".join(
        f'<tr class="{"total" if i == 0 else ""}">'
        + "".join(html_cell(c, a) for c, a in zip(row, align, strict=True))
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
            change = number(r["change_pp"])
            rows.append(
                [
                    escape(r["label"]),
                    percent(r["share_meeting_previous"]),
                    percent(r["share_meeting"]),
                    (points(change), "nw fail" if change < -0.05 else "nw"),
                    (escape(r["newly_failing"]) or "none", "fail" if r["newly_failing"] else ""),
                    (escape(r["newly_passing"]) or "none", "pass" if r["newly_passing"] else ""),
                ]
            )
        doc.add(html_table(head, rows, "", "lrrrll"))


def rule_section(
    doc: Doc,
    run: Run,
    rule: dict,
    standard: Rule,
    summary_row: pd.Series,
    comparison: pd.DataFrame | None,
    figures: list[str],
) -> None:
    """One rule: its standard in words, county map, county table and distance histograms.

    ``rule`` is the manifest's rule dict and ``standard`` the same rule as the
    standards model, which words itself (each limit set with its own 'or'/'and').
    """
    rid = rule["id"]
    county = rule_rows(run.tables["county_summary"], [rid])
    doc.h3(rule["label"], badge(summary_row["verdict"], "Meets standard", "Below standard"))
    doc.add(f'<div class="standard"><b>Standard.</b> {escape(standard.sentence())}</div>')
    n_fail = int(summary_row.get("counties_failing") or 0)
    members = integer(summary_row["members"])
    not_meeting = integer(number(summary_row["members"]) - number(summary_row["meeting"]))
    doc.add(
        f"<p>Across the service area, <b>{percent(summary_row['share_meeting'])}</b> of {members} "
        f"members meet the standard (threshold {float(rule['threshold']):.0%}); "
        f"<b>{not_meeting}</b> do not. "
        f"{n_fail} of {integer(summary_row.get('counties'))} counties fail the rule"
        + (f": {escape(summary_row['failing_counties'])}." if n_fail else ".")
        + "</p>"
    )
    reasons = str(summary_row.get("verdict_reasons") or "")
    findings = str(summary_row.get("findings") or "")
    if reasons:
        doc.add(f'<p class="verdict-why"><b>Fails in the service area:</b> {escape(reasons)}.</p>')
    if findings:
        doc.add(f'<p class="verdict-why"><b>Findings (not binding):</b> {escape(findings)}.</p>')
    if run.counties is not None:
        fig = county_figure(run, rule)
        figures.append(figure_html(fig, f"map-{_slug(rid)}"))
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
        "Verdict",
        "Why it fails / findings",
        "Median miles",
        "Median minutes",
    ]
    align = "lrrrrcrrcclrr"
    settings = run.manifest.get("settings") or {}
    horizon_miles = max(number(settings.get("max_report_miles")), number(rule.get("miles")) or 0)
    horizon_minutes = max(
        number(settings.get("max_report_minutes")), number(rule.get("minutes")) or 0
    )
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
        f = flag(r["verdict"])
        row: list[Any] = [
            f"{escape(r['county'])} <span class='note'>{escape(r['county_fips'])}</span>",
            integer(r["members"]),
            integer(r["meeting"]),
            (integer(number(r["members"]) - number(r["meeting"])), "fail" if f is False else ""),
            (percent(r["share_meeting"]), "na" if f is None else "pass" if f else "fail"),
            badge(r["share_passes"]),
            integer(r["providers"]),
            per_provider(r["members_per_provider"]),
            badge(r["ratio_passes"]),
            badge(r["verdict"]),
            _why(r),
            distance(r.get("median_miles"), "mi", horizon_miles),
            distance(r.get("median_minutes"), "min", horizon_minutes),
        ]
        if comparison is not None:
            change, status = changes.get(r["county_fips"], (math.nan, "not in previous run"))
            cls = {"newly fails": "fail", "newly passes": "pass"}.get(status, "")
            row += [
                (points(change), "nw fail" if number(change) < -0.05 else "nw"),
                (escape(status), cls),
            ]
        rows.append(row)
    doc.add(f"<h4>Counties</h4>{html_table(head, rows, 'counties', align)}")
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
        figures.append(figure_html(fig, f"dist-{_slug(rid)}"))
        nth = f"{ordinal(int(rule.get('count') or 1))} nearest".strip()
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


def language_section(doc: Doc, run: Run, rules: list[dict]) -> None:
    doc.h2("Language access")
    prevalent = run.tables["prevalent_languages"].sort_values(["language", "county_fips"])
    settings = run.manifest.get("settings") or {}
    if not len(prevalent):
        doc.add(
            "<p>No language other than English is prevalent in any county (threshold: "
            f"{integer(settings.get('min_census_speakers'))} census speakers or "
            f"{integer(settings.get('min_language_members'))} members), so no "
            "language-concordant standard applies.</p>"
        )
        return
    basis = settings.get("language_basis", "members")
    doc.add(
        "<p>A language is prevalent in a county when "
        + (
            f"at least {integer(settings.get('min_census_speakers'))} residents aged 5 and over "
            "speak it (census)"
            if basis == "census"
            else f"at least {integer(settings.get('min_language_members'))} members speak it"
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
            integer(r["members"]),
        ]
        + ([integer(r["speakers_5plus"])] if census else [])
        for _, r in prevalent.iterrows()
    ]
    head = ["Language", "County", "Members"] + (["Census speakers aged 5+"] if census else [])
    doc.add("<h4>Prevalent languages</h4>" + html_table(head, rows, "narrow", "llrr"[: len(head)]))
    lang = run.tables["language_summary"]
    lang_rules = [r for r in rules if r["id"] in set(lang["rule"])]
    if "prevalent" in lang.columns:
        lang = lang[lang["prevalent"].map(flag) == True]  # noqa: E712
    if not lang_rules or not len(lang):
        return
    head = ["Language", "County", "Members"] + [
        f"{escape(_short_label(r['label']))}<small>≥{float(r['threshold']):.0%}</small>"
        for r in lang_rules
    ]
    cells = {
        (la, f, ru): (s, p)
        for la, f, ru, s, p in lang[
            ["language", "county_fips", "rule", "share_meeting", "verdict"]
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
            integer(g["members"]),
        ]
        for r in lang_rules:
            s, p = cells.get((g["language"], g["county_fips"], r["id"]), (math.nan, None))
            f = flag(p)
            row.append((percent(s), "na" if f is None else "pass" if f else "fail"))
        rows.append(row)
    align = "llr" + "c" * len(lang_rules)
    doc.add("<h4>Language-concordant access</h4>" + html_table(head, rows, "matrix", align))
    doc.add(
        '<p class="legend">Share of the members who speak the language with enough '
        "providers who speak it within the standard's limits, by county.</p>"
    )


def panel_section(doc: Doc, run: Run) -> None:
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
            integer(r.get("panel_size")),
            integer(r.get("assigned_members")),
            {True: "open", False: "closed"}.get(flag(r.get("panel_open")), "–"),
            integer(r.get("pcps_in_practice")),
            integer(r.get("open_panels")),
            percent(r.get("share_open"), 0),
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
    doc.add(html_table(head, rows, "", "lllrrcrrr"))


def _why(row: pd.Series) -> tuple[str, str]:
    """A county row's failing reasons, and its findings (marked), as one small cell."""
    reasons, findings = str(row.get("verdict_reasons") or ""), str(row.get("findings") or "")
    text = escape(reasons)
    if findings:
        text += (" · " if text else "") + f"<i>finding:</i> {escape(findings)}"
    return (f"<small>{text}</small>" if text else "–", "l")


def outside_section(doc: Doc, run: Run, rules: list[dict]) -> None:
    doc.h2("Members outside the service area")
    counts = run.manifest.get("counts") or {}
    outside = number(counts.get("members")) - number(counts.get("members_in_service_area"))
    table = rule_rows(run.tables["outside_service_area"], [r["id"] for r in rules])
    settings = run.manifest.get("settings") or {}
    doc.add(
        f"<p>{integer(outside)} member{'s' if outside != 1 else ''} live outside every county of "
        "the service area (for example an address in a neighbouring state). They are not in "
        "the county results above; their access is reported here, apart, not dropped.</p>"
    )
    if not len(table) or outside == 0:
        return
    where = run.tables.get("outside_by_county")
    if where is not None and len(where):
        doc.add(
            "<p>Where they live, for individual-specific contracts with providers near them "
            "(the nearest providers of each type, in and out of network, per member are in "
            "<code>outside_candidates.csv</code> in the run folder, by member ID only):</p>"
        )
        doc.add(
            html_table(
                ["County of residence", "Members"],
                [
                    [
                        f"{escape(str(r['residence_county']))} "
                        f"<span class='note'>{escape(str(r['residence_county_fips']))}</span>",
                        integer(r["members"]),
                    ]
                    for _, r in where.iterrows()
                ],
            )
        )
    rows = [
        [
            escape(r["label"]),
            integer(r["members"]),
            integer(r["meeting"]),
            percent(r["share_meeting"]),
            distance(r.get("median_miles"), "mi", number(settings.get("max_report_miles"))),
            distance(r.get("median_minutes"), "min", number(settings.get("max_report_minutes"))),
        ]
        for _, r in table.iterrows()
    ]
    doc.add(
        html_table(
            ["Rule", "Members", "Meeting", "Share meeting", "Median miles", "Median minutes"], rows
        )
    )
