"""The app's headline and the tables of its county views, as people read them.

The headline: the share of members meeting the chosen rule, the counties
failing, members per provider and the members, then every rule across the
service area (failing first). The county map's table, the drill-down's tables
(every rule in a county, the members failing the rule there, by ID only) and
the languages view. Every table goes through :mod:`adequacy.frontend.tables`.

Owns: ``headline``, ``county_table``, ``county_rules_table``,
``failing_members_table`` and ``language_page``. Uses: the evaluation's tables,
:func:`adequacy.frontend.maps.rule_rows` and the app's tables; streamlit is given
by the caller.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from adequacy.frontend.tables import (
    count_text,
    horizons,
    percent_text,
    ratio_text,
    readable,
    show,
)
from adequacy.report.formatting import percent

#: the county map's table, in reading order
COUNTY_COLUMNS = [
    "county_fips",
    "county",
    "verdict",
    "verdict_reasons",
    "members",
    "share_meeting",
    "share_passes",
    "providers",
    "members_per_provider",
    "ratio_passes",
    "findings",
    "median_miles",
    "median_minutes",
]
#: every rule across the service area (the headline's table)
AREA_COLUMNS = [
    "label",
    "language",
    "standard",
    "verdict",
    "verdict_reasons",
    "members",
    "share_meeting",
    "threshold",
    "counties_failing",
    "counties",
    "providers",
    "members_per_provider",
    "findings",
]
#: every rule in one county (the drill-down)
RULE_COLUMNS = [
    "label",
    "language",
    "verdict",
    "verdict_reasons",
    "members",
    "share_meeting",
    "threshold",
    "providers",
    "members_per_provider",
    "ratio_limit",
    "ratio_passes",
    "findings",
]
LANGUAGE_COLUMNS = [
    "county",
    "language",
    "label",
    "prevalent",
    "verdict",
    "verdict_reasons",
    "members",
    "share_meeting",
    "providers",
    "members_per_provider",
    "ratio_passes",
    "median_miles",
    "median_minutes",
]
#: failing members shown in the drill-down (the Downloads tab has them all)
MEMBER_ROWS = 500


def headline(st: Any, evaluation: Any, rule_id: str, language: str) -> None:
    """The chosen rule's figures across the service area, and every rule's below them."""
    from adequacy.frontend.maps import rule_rows

    area = evaluation.service_area_summary
    row = area[(area["rule"] == rule_id) & (area["language"] == language)]
    rows = rule_rows(evaluation, rule_id, language)
    if evaluation.synthetic:
        st.warning(
            "SYNTHETIC DEMO DATA: members and practices are made up; roads, counties and "
            "hospitals are real."
        )
    cols = st.columns(4)
    if len(row):
        r = row.iloc[0]
        fails = str(r["verdict"]) == "fail"
        cols[0].metric(
            "Members meeting",
            percent_text(r["share_meeting"]) or "no members",
            f"threshold {percent(r['threshold'], 0)}",
            delta_color="off",
        )
        cols[1].metric(
            "Counties failing",
            f"{int((rows['verdict'] == 'fail').sum())} of {len(rows)}",
            "service area fails" if fails else "service area passes",
            delta_color="inverse" if fails else "normal",
        )
        limit = count_text(r.get("ratio_limit"))
        cols[2].metric(
            "Members per provider",
            ratio_text(r.get("members_per_provider")) or "no ratio",
            f"limit {limit}" if limit else "",
            delta_color="off",
        )
    cols[3].metric("Members", f"{len(evaluation.members):,}")
    failing = int((area["verdict"] == "fail").sum())
    with st.expander(f"Every rule across the service area: {failing} of {len(area)} fail"):
        show(st, readable(area, AREA_COLUMNS, horizon=horizons(evaluation)))


def county_table(st: Any, evaluation: Any, rule_id: str, language: str) -> None:
    """The chosen rule in every county: failing counties first."""
    from adequacy.frontend.maps import rule_rows

    rule = evaluation.standards.rule(rule_id)
    rows = rule_rows(evaluation, rule_id, language)
    table = readable(
        rows, COUNTY_COLUMNS, horizon=horizons(evaluation, [rule_id]), nearest=rule.count
    )
    show(st, table)


def county_rules_table(st: Any, evaluation: Any, fips: str) -> None:
    """Every rule (and prevalent language) in one county: failing rules first."""
    table = pd.concat([evaluation.county_summary, evaluation.language_summary])
    here = table[table["county_fips"] == fips]
    show(st, readable(here, RULE_COLUMNS, horizon=horizons(evaluation)))


def failing_members_table(st: Any, evaluation: Any, rule_id: str, language: str, fips: str) -> None:
    """The members of a county failing the rule, farthest first, by member ID only."""
    rule = evaluation.standards.rule(rule_id)
    res = evaluation.member_results
    failing = res[
        (res["rule"] == rule_id)
        & (res["language"] == language)
        & (res["county_fips"] == fips)
        & ~res["meets"]
    ][["member_id", "miles", "minutes", "n_qualifying", "nearest_1"]]
    st.subheader(f"Members failing {rule.label}: {len(failing):,} (shown by member ID only)")
    if len(failing) > MEMBER_ROWS:
        st.caption(f"The {MEMBER_ROWS:,} farthest are shown; the Downloads tab has all of them.")
    farthest = failing.sort_values(["miles", "minutes"], ascending=False, kind="stable")
    table = readable(
        farthest.head(MEMBER_ROWS),
        horizon=horizons(evaluation, [rule_id]),
        nearest=rule.count,
        sort=False,
    )
    show(st, table)


def language_page(st: Any, evaluation: Any) -> None:
    """Prevalent languages by county, and language-concordant access (failing first)."""
    horizon = horizons(evaluation)
    st.subheader("Prevalent languages by county")
    st.caption(
        "Census languages with 10,000+ speakers aged 5+ per county or, without a Census "
        "table, languages spoken by enough members."
    )
    prevalent = evaluation.prevalent_languages
    names = {}
    if evaluation.regions is not None:
        names = dict(zip(evaluation.regions["fips"], evaluation.regions["name"], strict=True))
    prevalent = prevalent.assign(county=prevalent["county_fips"].map(names))
    columns = ["county", "county_fips", "language", "members", "speakers_5plus", "basis"]
    show(st, readable(prevalent, columns, horizon=horizon))
    lang = evaluation.language_summary
    if len(lang):
        st.subheader("Language-concordant access")
        show(st, readable(lang, LANGUAGE_COLUMNS, horizon=horizon))
