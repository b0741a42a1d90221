"""The what-if delta: per rule, language and county (and the service area), the figures
and the verdict before and after a scenario.

Owns: ``delta_table``. Uses: the engine's summaries and judging
(:func:`~adequacy.engine.summaries.judge_levels`), so a delta row's verdict is the one
a full re-evaluation would give.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import FAIL, PASS
from adequacy.engine.reach import served_counts
from adequacy.engine.summaries import judge_levels, provider_count, row_figures


def _provider_figures(providers: pd.DataFrame, rule, lang: str) -> tuple[float, pd.Series]:
    rows = provider_rows(providers, SearchKey(rule.provider_type, rule.specialty, lang or None))
    return provider_count(providers, rows, rule)


def delta_table(
    base: Evaluation, providers: pd.DataFrame, changes: pd.DataFrame, affected, served=None
):
    """Per rule, language and county (and the service area, county ALL): before and after,
    with the verdict before and after judged the same way as the summaries.

    Provider counts are worked out again only for the ``affected`` (rule,
    language) pairs, whose providers changed; the others keep theirs. ``served`` is
    the counties each provider serves after the scenario (rules with terms per county).
    """
    state = base.member_state
    if state.delta_base is None:  # the 'before' half depends on the base only
        cols = ["rule", "language", "county_fips", "members", "meeting", "threshold"]
        cols += ["ratio_limit", "providers", "verdict", "verdict_reasons", "findings"]
        cols += ["share_passes", "ratio_passes"]
        language = base.language_summary[[*cols, "prevalent"]]
        county = pd.concat(
            [base.county_summary[cols].assign(prevalent=False), language], ignore_index=True
        )
        area = base.service_area_summary.assign(county_fips="ALL", prevalent=True)
        table = pd.concat([county, area[[*cols, "prevalent"]]], ignore_index=True)
        table = table.rename(
            columns={
                "meeting": "meeting_before",
                "providers": "providers_before",
                "verdict": "verdict_before",
                # unchanged rules keep these as they were (the 'after' side below)
                "verdict_reasons": "verdict_reasons_after",
                "findings": "findings_after",
                "share_passes": "share_passes_after",
                "ratio_passes": "ratio_passes_after",
            }
        )
        table["verdict_after"] = table["verdict_before"]
        rules = {r.id: r for r in base.standards.rules}
        table["heads_before"] = _heads(base.providers, table, rules, base.served)
        state.delta_base = table
    table = state.delta_base.copy()
    rules = {r.id: r for r in base.standards.rules}

    inside = changes[changes["in_service_area"].astype(bool)] if len(changes) else changes
    gained = inside[inside["change"] == "gains access"] if len(inside) else inside
    lost = inside[inside["change"] == "loses access"] if len(inside) else inside

    keys = pd.MultiIndex.from_arrays(
        [table[c].astype(str).to_numpy() for c in ("rule", "language", "county_fips")]
    )
    pairs = keys.droplevel(2)
    is_area = table["county_fips"].to_numpy() == "ALL"

    def counts(frame) -> np.ndarray:
        """Members per delta row: by county on county rows, by rule and language on the
        service-area row."""
        if not len(frame):
            return np.zeros(len(table), dtype=np.int64)
        cols = [frame[c].astype(str) for c in ("rule", "language", "county_fips")]
        by_county = pd.Series(1, index=pd.MultiIndex.from_arrays(cols)).groupby(level=[0, 1, 2])
        by_area = pd.Series(1, index=pd.MultiIndex.from_arrays(cols[:2])).groupby(level=[0, 1])
        county = by_county.size().reindex(keys, fill_value=0).to_numpy()
        area = by_area.size().reindex(pairs, fill_value=0).to_numpy()
        return np.where(is_area, area, county)

    gains, losses = counts(gained), counts(lost)
    after_providers = {}
    redone = set()
    for rule, lang in affected:
        total, by_county = _provider_figures(providers, rule, lang or "")
        redone.add((rule.id, lang or ""))
        after_providers[(rule.id, lang or "", "ALL")] = total
        for fips, v in by_county.items():
            after_providers[(rule.id, lang or "", fips)] = float(v)
    before = table["providers_before"].to_numpy(dtype=float)
    after = (
        pd.Series(after_providers, dtype=float).reindex(keys, fill_value=0.0).to_numpy()
        if after_providers
        else np.zeros(len(table))
    )
    prov_after = np.where(pairs.isin(list(redone)), after, before)
    table["gained"] = gains
    table["lost"] = losses
    table["meeting_after"] = table["meeting_before"] + table["gained"] - table["lost"]
    table["share_before"] = table["meeting_before"] / table["members"]
    table["share_after"] = table["meeting_after"] / table["members"]
    table["providers_after"] = prov_after
    table["heads_after"] = _heads(
        providers, table, rules, served if served is not None else base.served
    )
    with np.errstate(divide="ignore"):
        for when in ("before", "after"):
            p = table[f"providers_{when}"].to_numpy(dtype=float)
            per = np.where(p > 0, table["members"] / np.where(p > 0, p, 1), np.inf)
            table[f"members_per_provider_{when}"] = per
    # a rule's verdicts depend on its own rows only (its counties, languages and service
    # area): judge again just the rules whose figures moved; the others stay as they were
    moved = (
        (table["gained"] > 0)
        | (table["lost"] > 0)
        | (table["providers_after"] != table["providers_before"])
        | (table["heads_after"].fillna(-1) != table["heads_before"].fillna(-1))
    )
    redo = table["rule"].isin(set(table.loc[moved, "rule"]))
    if redo.any():
        judged = _verdicts(table[redo], base.standards, "after")
        for col in ("share_passes", "ratio_passes", "verdict", "verdict_reasons", "findings"):
            table.loc[redo, f"{col}_after"] = judged[col].to_numpy()
    table["status_change"] = np.select(
        [
            (table["verdict_before"] == PASS) & (table["verdict_after"] == FAIL),
            (table["verdict_before"] == FAIL) & (table["verdict_after"] == PASS),
        ],
        ["now fails", "now passes"],
        "",
    )
    order = [
        "rule",
        "language",
        "county_fips",
        "members",
        "meeting_before",
        "meeting_after",
        "share_before",
        "share_after",
        "threshold",
        "share_passes_after",
        "verdict_before",
        "verdict_after",
        "status_change",
        "verdict_reasons_after",
        "findings_after",
        "gained",
        "lost",
        "providers_before",
        "providers_after",
        "members_per_provider_before",
        "members_per_provider_after",
        "ratio_limit",
        "ratio_passes_after",
    ]
    return table[order]


def _heads(providers: pd.DataFrame, table: pd.DataFrame, rules, served=None) -> list[float]:
    """Providers by headcount per delta row, for rules with a minimum number per county
    (those within reach of the county's members, or their beds, for rules with terms
    per county: ``served``)."""
    counts = {}
    pairs = table[["rule", "language"]].astype(str).drop_duplicates()
    for rule_id, lang in zip(pairs["rule"], pairs["language"], strict=True):
        rule = rules[rule_id]
        if rule.counties and served is not None:
            counts[(rule_id, lang)] = served_counts(served, providers, [rule])[rule.id]
        elif rule.min_providers is not None:
            _, by_county = _provider_figures(providers, replace(rule, ratio=None), lang)
            counts[(rule_id, lang)] = by_county
    rows = pd.MultiIndex.from_arrays(
        [table[c].astype(str).to_numpy() for c in ("rule", "language", "county_fips")]
    )
    out = np.full(len(table), np.nan)
    for (rule_id, lang), by_county in counts.items():
        at = np.flatnonzero(
            (rows.get_level_values(0) == rule_id) & (rows.get_level_values(1) == lang)
        )
        fips = rows.get_level_values(2)[at]
        out[at] = pd.Series(by_county, dtype=float).reindex(fips, fill_value=0.0).to_numpy()
    return out.tolist()


def _verdicts(table: pd.DataFrame, standards, when: str) -> pd.DataFrame:
    """The verdict columns of every delta row from its ``*_{when}`` figures, judged by
    :func:`adequacy.engine.summaries.judge_levels` as the summaries are."""
    rules = {r.id: r for r in standards.rules}
    frame = table[["rule", "language", "county_fips", "prevalent"]].copy()
    frame["_components"] = [
        row_figures(
            members,
            meeting,
            rules[r],
            providers,
            "service_area" if fips == "ALL" else "county",
            heads,
            county=None if fips == "ALL" else fips,
        )["_components"]
        for r, fips, members, meeting, providers, heads in zip(
            table["rule"],
            table["county_fips"],
            table["members"],
            table[f"meeting_{when}"],
            table[f"providers_{when}"],
            table[f"heads_{when}"],
            strict=True,
        )
    ]
    is_all, is_language = frame["county_fips"] == "ALL", frame["language"] != ""
    judged = pd.concat(
        judge_levels(
            frame[~is_all & ~is_language],
            frame[is_all & ~is_language],
            frame[~is_all & is_language],
            frame[is_all & is_language],
            standards,
        )
    ).loc[table.index]
    judged["share_passes"] = [c[0].passes for c in frame["_components"]]
    judged["ratio_passes"] = [c[1].passes for c in frame["_components"]]
    return judged
