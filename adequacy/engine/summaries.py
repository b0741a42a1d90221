"""Summaries of member results: per county, service area, language, plan; outside the area.

``summarise`` counts, from the member results (one row per member, rule and
language: :mod:`adequacy.engine.result_table`), per rule (and language), the
members and those meeting it in each county and in the whole service area,
with the provider counts and access ratios; members outside every county are
summarised apart. Counts are exact integers; every pass/fail comes from the
judge.

Owns: the summary tables and their columns. Uses: the engine's blocks, the
judge and the rule model.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.judge import (
    FAIL,
    OUTSIDE,
    Component,
    access_component,
    min_providers_component,
    ratio_component,
    verdict,
)
from adequacy.engine.standards import Rule, StandardsSet
from adequacy.engine.tally import Tally, Values, medians, tally_of_results

#: Columns of the rule tables (county, language, service area, outside, plan).
RULE_COLUMNS = [
    "rule",
    "label",
    "language",
    "provider_type",
    "specialty",
    "standard",
    "cadence",
    "threshold",
]
FIGURE_COLUMNS = [
    "members",
    "meeting",
    "share_meeting",
    "share_passes",
    "providers",
    "members_per_provider",
    "ratio_limit",
    "ratio_passes",
    "min_providers",
    "min_providers_passes",
]
#: The overall verdict: "pass" or "fail" (any binding component failing), why it fails,
#: and failing components that do not bind (findings).
VERDICT_COLUMNS = ["languages_passes", "verdict", "verdict_reasons", "findings"]
COUNTY_COLUMNS = [
    *RULE_COLUMNS,
    "county_fips",
    "county",
    *FIGURE_COLUMNS,
    *VERDICT_COLUMNS,
    "off_road_members",
    "median_miles",
    "median_minutes",
]
SERVICE_AREA_COLUMNS = [*RULE_COLUMNS, *FIGURE_COLUMNS, *VERDICT_COLUMNS, "counties",
                        "counties_failing", "off_road_members"]  # fmt: skip
OUTSIDE_COLUMNS = [*RULE_COLUMNS, "members", "meeting", "share_meeting", "median_miles",
                   "median_minutes"]  # fmt: skip
PLAN_COLUMNS = ["plan", "rule", "label", "members", "meeting", "share_meeting", "threshold",
                "share_passes", "providers", "members_per_provider", "ratio_limit",
                "ratio_passes", "verdict", "verdict_reasons", "findings"]  # fmt: skip


def summarise(results, members, providers, standards, regions, prevalent, blocks=None, served=None):
    """County, service-area, outside-area and language summaries of a whole member-results
    table (``Evaluation.member_results``; ``blocks`` locates each rule's rows, as
    ``Evaluation.blocks`` does); see :func:`summarise_tally`."""
    blocks = blocks if blocks is not None else _blocks_of(results)
    return summarise_tally(
        tally_of_results(results, members, blocks),
        values_of(results, blocks),
        providers,
        standards,
        regions,
        prevalent,
        served=served,
    )


def summarise_tally(tally: Tally, values: Values, providers, standards, regions, prevalent,
                    served=None, threads: int = 1):  # fmt: skip
    """County, service-area, outside-area and language summaries, each row with its verdict.

    ``tally`` holds the exact counts of member results (:mod:`adequacy.engine.tally`),
    ``values(rule, language)`` a block's ``county_fips``, ``miles`` and ``minutes`` for
    the medians. Language rows are judged on their own (access, ratio, minimum
    providers); rows over all members then gain the language component from the
    prevalent languages' rows of the same rule and county (or service area). The
    service-area table holds a row per language as well. ``served`` (rule id ->
    per-county count) replaces the providers located in a county for the minimum
    number of rules with terms per county (the reach rule: :mod:`adequacy.engine.reach`).
    Counties come sorted by FIPS within each rule. ``threads``: blocks whose medians
    are computed at once (each holds its block's values while it does).
    """
    county, area, outside = _summaries(
        tally, values, providers, standards, regions, language=None, served=served,
        threads=threads,
    )  # fmt: skip
    language_county, language_area, _ = _summaries(
        tally, values, providers, standards, regions, language="all", served=served,
        threads=threads,
    )  # fmt: skip
    language_county = language_county.merge(
        prevalent[["county_fips", "language", "speakers_5plus", "basis"]],
        on=["county_fips", "language"],
        how="left",
    )
    language_county["prevalent"] = language_county["basis"].notna()
    county, area, language_county, language_area = judge_levels(
        county, area, language_county, language_area, standards
    )
    area = pd.concat([area, language_area], ignore_index=True) if len(language_area) else area
    return county, area, outside, language_county


def _blocks_of(results: pd.DataFrame) -> dict:
    """(rule, language) -> (first row, rows) of a results table sorted by block."""
    rule = results["rule"].astype(str).to_numpy()
    lang = results["language"].astype(str).to_numpy()
    blocks, start = {}, 0
    sizes = pd.DataFrame({"r": rule, "l": lang}).groupby(["r", "l"], sort=False).size()
    for key, size in sizes.items():
        blocks[key] = (start, np.arange(size))
        start += size
    return blocks


def values_of(results: pd.DataFrame, blocks: dict) -> Values:
    """``values(rule, language)`` of a whole results table: a block's county, miles
    and minutes (for the medians)."""
    columns = ["county_fips", "miles", "minutes"]

    def values(rule_id: str, language: str) -> pd.DataFrame:
        start, rows = blocks[(rule_id, language)]
        return results[columns].iloc[start : start + len(rows)]

    return values


def judge_levels(county, area, language_county, language_area, standards):
    """Judge every level in order, each from its rows' ``_components``.

    Language rows first, on their own; then county rows over all members, with the
    language component from the prevalent languages' county rows; then each
    service-area row (over all members, and per language), which also fails when any
    of its counties fails (a network does not pass a rule that a county fails). Returns
    the four tables in the same order, with verdict columns (and ``counties_failing``
    on the service-area ones).
    """
    language_county = judge_rows(language_county, standards)
    county = judge_rows(county, standards, language_county)
    prevalent = language_county[language_county["prevalent"].astype(bool)]
    both = pd.concat([county, prevalent], ignore_index=True)
    failing = both[both["verdict"] == FAIL].groupby(["rule", "language"]).size()
    evaluated = both.groupby(["rule", "language"]).size()
    area, language_area = area.copy(), language_area.copy()
    for table in (area, language_area):
        keys = list(zip(table["rule"], table["language"], strict=True))
        table["counties_failing"] = [int(failing.get(k, 0)) for k in keys]
        table["_components"] = [
            [*c, _counties_component(int(failing.get(k, 0)), int(evaluated.get(k, 0)))]
            for c, k in zip(table["_components"], keys, strict=True)
        ]
    language_area = judge_rows(language_area, standards)
    area = judge_rows(area, standards, language_area)
    return county, area, language_county, language_area


def _counties_component(failing: int, counties: int) -> Component:
    reason = f"{failing} of {counties} {'county fails' if counties == 1 else 'counties fail'}"
    return Component("counties", failing == 0, True, reason)


def plan_summary(results, members, providers, standards, blocks, area) -> pd.DataFrame:
    """:func:`plan_summary_tally` of a whole member-results table."""
    tally = tally_of_results(results, members, {k: v for k, v in blocks.items() if not k[1]})
    return plan_summary_tally(tally, standards, area)


def plan_summary_tally(tally: Tally, standards, area) -> pd.DataFrame:
    """Per plan (the members' ``plan`` column) and rule: members in the service area,
    how many meet the rule and the share; its verdict fails when the plan's share does,
    or when the rule fails for the network the plan's members share (the service-area
    row over all members in ``area``: its ratio, counties, languages). The ratio
    columns are the network's, over all members: a plan's own members divided by
    providers every plan shares would flatter it. Plans come sorted within a rule."""
    network = area[area["language"] == ""].set_index("rule")
    rows_out = []
    for rule in standards.rules:
        if (rule.id, "") not in tally.counties or rule.id not in network.index:
            continue
        net = network.loc[rule.id]
        counts = tally.plan_counts(rule.id)
        for plan, (n, m) in zip(counts.index, counts[["members", "meeting"]].to_numpy(),
                                strict=True):  # fmt: skip
            if not n:
                continue
            access = access_component(int(m), int(n), rule.threshold, _standard(rule))
            shared = Component(
                "network",
                net["verdict"] != FAIL,
                True,
                f"the network fails the rule ({net['verdict_reasons']})",
            )
            verdict_, reasons, findings = verdict([access, shared])
            rows_out.append(
                {
                    "plan": plan,
                    "rule": rule.id,
                    "label": rule.label,
                    "members": int(n),
                    "meeting": int(m),
                    "share_meeting": float(m / n),
                    "threshold": rule.threshold,
                    "share_passes": access.passes,
                    "providers": net["providers"],
                    "members_per_provider": net["members_per_provider"],
                    "ratio_limit": net["ratio_limit"],
                    "ratio_passes": net["ratio_passes"],
                    "verdict": verdict_,
                    "verdict_reasons": reasons,
                    "findings": "; ".join(x for x in (findings, net["findings"]) if x),
                }
            )
    return pd.DataFrame(rows_out, columns=PLAN_COLUMNS)


def provider_count(
    providers: pd.DataFrame, rows: np.ndarray, rule: Rule
) -> tuple[float, pd.Series]:
    """Providers for the ratio: whole network and per county (headcount or FTE).

    Headcount counts distinct provider ids (one provider at two sites once in
    the network, once in each county where it has a site).
    """
    if rule.ratio is not None and rule.ratio.closed_panels == "exclude":
        rows = rows[providers["panel_open"].to_numpy()[rows]]
    county_code, counties = pd.factorize(providers["county_fips"].to_numpy()[rows])
    if rule.ratio is not None and rule.ratio.basis == "fte":
        fte = providers["fte"].to_numpy(dtype=float)[rows]
        by = np.bincount(county_code, weights=fte, minlength=len(counties))
        return float(fte.sum()), pd.Series(by, index=counties)
    pid_code, pids = pd.factorize(providers["provider_id"].to_numpy()[rows])
    pairs = np.unique(county_code.astype(np.int64) * max(len(pids), 1) + pid_code)
    by = np.bincount(pairs // max(len(pids), 1), minlength=len(counties)).astype(float)
    return float(len(pids)), pd.Series(by, index=counties)


def _medians_ahead(values: Values, todo: list, threads: int):
    """The medians of each (rule, language, ...) in ``todo``, in order, computed ahead
    on ``threads`` threads while the caller uses those before. They group each
    block's values (read back from a results file, or sliced from the table in
    memory), which release the GIL; a block's values are held while its medians are
    computed."""
    pool = ThreadPoolExecutor(max(1, min(len(todo), threads)))
    try:
        yield from pool.map(lambda item: medians(values(item[0].id, item[1])), todo)
    finally:  # closed early: the blocks not begun are dropped
        pool.shutdown(cancel_futures=True)


def _summaries(tally: Tally, values: Values, providers, standards, regions, *, language,
               served=None, threads=1):  # fmt: skip
    """County, service-area and outside-area tables for base rules or all languages."""
    county_rows, area_rows, outside_rows = [], [], []
    names = dict(zip(regions["fips"], regions["name"], strict=True)) if regions is not None else {}
    keys = tally.keys()
    todo = []
    for rule in standards.rules:
        if language is None:
            langs = [""] if (rule.id, "") in keys else []
        elif not rule.languages:
            continue
        else:
            langs = sorted(lang for rule_id, lang in keys if rule_id == rule.id and lang)
        for lang in langs:
            counts = tally.county_counts((rule.id, lang))
            if counts["members"].sum():
                todo.append((rule, lang, counts))
    meds = _medians_ahead(values, todo, threads)  # each block's rows made as they come
    with closing(meds):  # its threads stopped at once should a row fail
        for (rule, lang, counts), med in zip(todo, meds, strict=True):
            key = SearchKey(rule.provider_type, rule.specialty, lang or None)
            rows = provider_rows(providers, key)
            total_providers, by_county = provider_count(providers, rows, rule)
            if rule.counties and served is not None and rule.id in served:
                heads = served[rule.id]  # providers within reach of the county's members
            elif rule.min_providers is not None:
                heads = provider_count(providers, rows, replace(rule, ratio=None))[1]
            else:
                heads = by_county
            base = {
                "rule": rule.id,
                "label": rule.label,
                "language": lang,
                "provider_type": rule.provider_type,
                "specialty": rule.specialty or "",
                "standard": rule.describe(),
                "cadence": rule.cadence,
                "threshold": rule.threshold,
            }
            inside = counts[counts.index != OUTSIDE]
            # plain values, read once (a lookup per county into pandas costs more)
            of_county = dict(zip(by_county.index, by_county.to_numpy(), strict=True))
            heads_of = dict(zip(heads.index, heads.to_numpy(), strict=True))
            at = med.reindex(inside.index)
            for fips, n, meeting, off_road, miles, minutes in zip(
                inside.index, *(inside[c].to_numpy() for c in ("members", "meeting", "off_road")),
                at["miles"].to_numpy(), at["minutes"].to_numpy(), strict=True,
            ):  # fmt: skip
                figures = row_figures(n, meeting, rule, of_county.get(fips, 0.0), "county",
                                      heads_of.get(fips, 0.0), county=fips)  # fmt: skip
                county_rows.append(
                    {
                        **base,
                        **({"standard": _standard(rule, fips)} if rule.counties else {}),
                        "county_fips": fips,
                        "county": names.get(fips, ""),
                        **figures,
                        "off_road_members": int(off_road),
                        "median_miles": miles,
                        "median_minutes": minutes,
                    }
                )
            n_in = int(inside["members"].sum())
            if n_in:
                figures = row_figures(n_in, int(inside["meeting"].sum()), rule, total_providers,
                                      "service_area")  # fmt: skip
                area_rows.append(
                    {
                        **base,
                        **figures,
                        "counties": int(inside.shape[0]),
                        "counties_failing": 0,  # counted once the county verdicts are known
                        "off_road_members": int(inside["off_road"].sum()),
                    }
                )
            if OUTSIDE in counts.index:
                out = counts.loc[OUTSIDE]
                outside_rows.append(
                    {
                        **base,
                        "members": int(out["members"]),
                        "meeting": int(out["meeting"]),
                        "share_meeting": float(out["meeting"] / out["members"]),
                        "median_miles": float(med.at[OUTSIDE, "miles"]),
                        "median_minutes": float(med.at[OUTSIDE, "minutes"]),
                    }
                )

    county = pd.DataFrame(county_rows, columns=[*COUNTY_COLUMNS, "_components"])
    area = pd.DataFrame(area_rows, columns=[*SERVICE_AREA_COLUMNS, "_components"])
    outside = pd.DataFrame(outside_rows, columns=OUTSIDE_COLUMNS)
    if regions is not None and language is None and len(county):
        county = _add_region_columns(county, regions)
    return county, area, outside


def row_figures(
    n_members,
    n_meeting,
    rule: Rule,
    providers: float,
    level: str,
    heads: float | None = None,
    *,
    county: str | None = None,
) -> dict[str, Any]:
    """Counts, shares and the components of the verdict of one rule at one level
    ('county' or 'service_area'); ``heads`` is the providers in the county by headcount
    (for a minimum number of providers); ``county`` picks the rule's own terms there."""
    share = float(n_meeting) / float(n_members) if n_members else float("nan")
    with np.errstate(divide="ignore"):
        per = float(n_members) / providers if providers else float("inf")
    checked = rule.ratio is not None and rule.ratio.applies_to(level)
    limit = rule.ratio.members_per_provider if rule.ratio else float("nan")
    minimum = rule.min_providers_for(county) if level == "county" else None
    threshold = rule.threshold_for(county if level == "county" else None)
    terms = rule.counties.get(county) if county is not None else None
    unit = terms.min_unit if terms is not None else "providers"
    components = [
        access_component(int(n_meeting), int(n_members), threshold, _standard(rule, county)),
        ratio_component(per, limit if checked else float("nan"), rule.binding.ratio),
        min_providers_component(heads or 0.0, minimum, rule.binding.min_providers, unit),
    ]
    return {
        "threshold": threshold,
        "members": int(n_members),
        "meeting": int(n_meeting),
        "share_meeting": share,
        "share_passes": components[0].passes,
        "providers": float(providers),
        "members_per_provider": per,
        "ratio_limit": limit,
        "ratio_passes": components[1].passes,
        "min_providers": minimum,
        "min_providers_passes": components[2].passes,
        "_components": components,
    }


def _standard(rule: Rule, county: str | None = None) -> str:
    """'2 within 15 mi or 30 min' (the limits of the rule's county classes where it has
    some; a county's own terms and where they come from, where the rule sets them)."""
    terms = rule.counties.get(county) if county is not None else None
    if terms is not None:
        note = f" ({terms.note})" if terms.note else ""
        return f"{rule.count} within {terms.limits.text()}{note}"
    text = f"{rule.count} within {rule.limits.text()}"
    if rule.by_region_class:
        text += (
            " (" + "; ".join(f"{c}: {lim.text()}" for c, lim in rule.by_region_class.items()) + ")"
        )
    return text


def judge_rows(table: pd.DataFrame, standards: StandardsSet, language_rows=None) -> pd.DataFrame:
    """Fill the verdict columns of a summary table from its rows' components.

    ``language_rows`` (judged already) adds the language component to rows over all
    members: it fails when a prevalent language's own verdict fails for the same rule
    (and county, matched on ``county_fips`` when both tables have it).
    """
    table = table.copy()
    rules = {r.id: r for r in standards.rules}
    failing_languages: dict[tuple, list[str]] = {}
    evaluated: set[tuple] = set()
    if language_rows is not None and len(language_rows):
        by_county = "county_fips" in table.columns and "county_fips" in language_rows.columns
        rows = language_rows
        if "prevalent" in rows.columns:
            rows = rows[rows["prevalent"].astype(bool)]
        lists = [rows[c].tolist() for c in ("rule", "verdict", "language", "verdict_reasons")]
        where = rows["county_fips"].tolist() if by_county else [None] * len(rows)
        for rule_id, v, lang, reasons, fips in zip(*lists, where, strict=True):
            key = (rule_id, fips) if by_county else (rule_id,)
            evaluated.add(key)
            if v == FAIL:
                failing_languages.setdefault(key, []).append(f"{lang}: {reasons}")
    out = {c: [] for c in VERDICT_COLUMNS}
    has_county = "county_fips" in table.columns
    where = table["county_fips"].tolist() if has_county else [None] * len(table)
    for rule_id, fips, found in zip(table["rule"].tolist(), where, table["_components"].tolist(),
                                    strict=True):  # fmt: skip
        rule = rules[rule_id]
        components = list(found)
        if language_rows is not None and rule.languages:
            key = (rule_id, fips) if has_county else (rule_id,)
            if key in evaluated:
                fails = failing_languages.get(key, [])
                components.append(
                    Component(
                        "languages",
                        not fails,
                        rule.binding.languages,
                        "language-concordant access fails (" + "; ".join(fails) + ")",
                    )
                )
        lang = next((c for c in components if c.name == "languages"), None)
        out["languages_passes"].append(lang.passes if lang is not None else None)
        for col, value in zip(VERDICT_COLUMNS[1:], verdict(components), strict=True):
            out[col].append(value)
    for col, values in out.items():
        table[col] = pd.Series(values, index=table.index, dtype=object)
    return table.drop(columns="_components")


def _add_region_columns(county: pd.DataFrame, regions) -> pd.DataFrame:
    extra = regions[["fips", "population", "density_per_sq_mi"]].rename(
        columns={"fips": "county_fips"}
    )
    return county.merge(extra, on="county_fips", how="left")
