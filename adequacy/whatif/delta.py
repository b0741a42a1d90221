"""The what-if delta: per rule, language and county (and the service area), the figures
and the verdict before and after a scenario.

Owns: ``delta_table``. Uses: the engine's summaries and judging
(:func:`~adequacy.engine.summaries.judge_levels`, ``provider_count``), so a delta
row's verdict is the one a full re-evaluation would give.

The 'before' half depends on the base alone and is made once per base
(:mod:`adequacy.whatif.cache`), with the row of each (rule, language, county) and
the roster's county and provider ids as integer codes: a scenario then counts
members and providers per row with arrays, and judges again only the rules whose
figures moved. The provider counts are kept too, by the rows they are counted from
(a site added where one was added before is counted once).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import FAIL, PASS
from adequacy.engine.reach import served_counts
from adequacy.engine.summaries import judge_levels, provider_count, row_figures
from adequacy.whatif.cache import base_cache

_ORDER = [
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
#: verdict columns judged again for the rules whose figures moved
_JUDGED = ("share_passes", "ratio_passes", "verdict", "verdict_reasons", "findings")


@dataclass
class _Before:
    """The 'before' half of the delta table of one base, and its lookups."""

    table: pd.DataFrame
    row: dict[tuple[str, str, str], int]  # (rule, language, county or ALL) -> row
    pair_rows: dict[tuple[str, str], np.ndarray]  # (rule, language) -> rows
    fips: np.ndarray  # county_fips per row, as text
    is_area: np.ndarray
    members: np.ndarray
    meeting: np.ndarray
    providers: np.ndarray
    heads: np.ndarray
    share: np.ndarray
    per_provider: np.ndarray
    county_code: np.ndarray  # per base roster row, its county's code
    county_names: list[str]
    county_index: dict[str, int]  # county -> its code
    pid_code: np.ndarray  # per base roster row, its provider id's code
    pid_index: dict[str, int]
    figures: dict  # row_figures' components, by their arguments (the same every time)
    counts: dict  # provider_count's answers, by what they are counted from (see _count)


def _provider_figures(providers: pd.DataFrame, rule, lang: str) -> tuple[float, pd.Series]:
    rows = provider_rows(providers, SearchKey(rule.provider_type, rule.specialty, lang or None))
    return provider_count(providers, rows, rule)


def delta_table(
    base: Evaluation,
    providers: pd.DataFrame,
    changes: pd.DataFrame,
    affected,
    served=None,
    *,
    rows_of: dict | None = None,
):
    """Per rule, language and county (and the service area, county ALL): before and after,
    with the verdict before and after judged the same way as the summaries.

    ``providers`` is the base roster with rows appended (the scenario's). Provider
    counts are worked out again only for the ``affected`` (rule, language) pairs,
    whose providers changed; the others keep theirs. ``served`` is the counties each
    provider serves after the scenario (rules with terms per county). ``rows_of``
    may give the source rows of a search key (as ``provider_rows`` would).
    """
    before = _before(base)
    table = before.table
    gains, losses = _counts(before, changes)

    prov_after = before.providers.copy()
    heads_after = before.heads.copy()
    served = served if served is not None else base.served
    roster = None
    for rule, lang in affected:
        lang = lang or ""
        at = before.pair_rows.get((rule.id, lang))
        if at is None:
            continue
        key = SearchKey(rule.provider_type, rule.specialty, lang or None)
        rows = (rows_of or {}).get(key)
        if rows is None:
            rows = provider_rows(providers, key)
        if roster is None:
            roster = _coded_roster(before, providers)
        total, by_county = _count(before, roster, rows, rule)
        fips = before.fips[at]
        prov_after[at] = np.where(before.is_area[at], total, [by_county.get(f, 0.0) for f in fips])
        # providers by headcount, for a minimum number per county (as _heads)
        if rule.counties and served is not None:
            counts = served_counts(served, providers, [rule])[rule.id]
            heads_after[at] = pd.Series(counts, dtype=float).reindex(fips, fill_value=0.0)
        elif rule.min_providers is not None:
            _, counts = _count(before, roster, rows, rule, heads=True)
            heads_after[at] = [counts.get(f, 0.0) for f in fips]

    meeting_after = before.meeting + gains - losses
    with np.errstate(divide="ignore", invalid="ignore"):
        share_after = meeting_after / before.members
        per_after = np.where(
            prov_after > 0, before.members / np.where(prov_after > 0, prov_after, 1), np.inf
        )
    data = {c: table[c] for c in _ORDER if c in table.columns}
    data.update(
        meeting_after=meeting_after,
        share_before=before.share,
        share_after=share_after,
        gained=gains,
        lost=losses,
        providers_after=prov_after,
        members_per_provider_before=before.per_provider,
        members_per_provider_after=per_after,
    )
    # a rule's verdicts depend on its own rows only (its counties, languages and service
    # area): judge again just the rules whose figures moved; the others stay as they were
    moved = (
        (gains > 0)
        | (losses > 0)
        | (prov_after != before.providers)
        | (_filled(heads_after) != _filled(before.heads))
    )
    rule_ids = table["rule"].to_numpy()
    redo = np.flatnonzero(np.isin(rule_ids, list(set(rule_ids[moved])))) if moved.any() else []
    if len(redo):
        judged = _verdicts(
            base.standards,
            rule_ids[redo],
            table["language"].to_numpy()[redo],
            before.fips[redo],
            table["prevalent"].to_numpy()[redo],
            before.members[redo],
            meeting_after[redo],
            prov_after[redo],
            heads_after[redo],
            before.figures,
        )
        for col in _JUDGED:
            name = f"{col}_after"
            values = table[name].to_numpy().copy()
            values[redo] = judged[col]
            data[name] = pd.Series(values, dtype=table[name].dtype)
    verdict_before = table["verdict_before"].to_numpy()
    verdict_after = np.asarray(data["verdict_after"])
    data["status_change"] = np.select(
        [
            (verdict_before == PASS) & (verdict_after == FAIL),
            (verdict_before == FAIL) & (verdict_after == PASS),
        ],
        ["now fails", "now passes"],
        "",
    )
    return pd.DataFrame({c: data[c] for c in _ORDER})


def _before(base: Evaluation) -> _Before:
    """The 'before' half of the delta table (made once per base)."""
    cache = base_cache(base)
    if "delta" in cache:
        return cache["delta"]
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
            # unchanged rules keep these as they were (the 'after' side)
            "verdict_reasons": "verdict_reasons_after",
            "findings": "findings_after",
            "share_passes": "share_passes_after",
            "ratio_passes": "ratio_passes_after",
        }
    )
    table["verdict_after"] = table["verdict_before"]
    rules = {r.id: r for r in base.standards.rules}
    heads = np.asarray(_heads(base.providers, table, rules, base.served), dtype=float)
    keys = [table[c].astype(str).to_numpy() for c in ("rule", "language", "county_fips")]
    row = {k: i for i, k in enumerate(zip(*keys, strict=True))}
    pairs: dict[tuple[str, str], list[int]] = {}
    for i, k in enumerate(zip(keys[0], keys[1], strict=True)):
        pairs.setdefault(k, []).append(i)
    members = table["members"].to_numpy()
    meeting = table["meeting_before"].to_numpy()
    prov = table["providers_before"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(prov > 0, members / np.where(prov > 0, prov, 1), np.inf)
        share = meeting / members
    county_code, county_names = pd.factorize(base.providers["county_fips"].to_numpy())
    pid_code, pid_names = pd.factorize(base.providers["provider_id"].to_numpy())
    cache["delta"] = found = _Before(
        table=table,
        row=row,
        pair_rows={k: np.asarray(v) for k, v in pairs.items()},
        fips=keys[2],
        is_area=keys[2] == "ALL",
        members=members,
        meeting=meeting,
        providers=prov,
        heads=heads,
        share=share,
        per_provider=per,
        county_code=county_code.astype(np.int64),
        county_names=list(county_names),
        county_index={c: i for i, c in enumerate(county_names)},
        pid_code=pid_code.astype(np.int64),
        pid_index={p: i for i, p in enumerate(pid_names)},
        figures={},
        counts={},
    )
    return found


def _counts(before: _Before, changes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Members gaining and losing access per delta row: by county on county rows, by
    rule and language on the service-area rows (members in the service area only)."""
    n = len(before.members)
    gains, losses = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if not len(changes):
        return gains, losses
    inside = changes["in_service_area"].to_numpy().astype(bool)
    change = changes["change"].to_numpy()
    cols = [_text(changes[c]) for c in ("rule", "language", "county_fips")]
    for out, what in ((gains, "gains access"), (losses, "loses access")):
        for i in np.flatnonzero(inside & (change == what)):
            r, lang, fips = cols[0][i], cols[1][i], cols[2][i]
            at = before.row.get((r, lang, fips))
            if at is not None and not before.is_area[at]:
                out[at] += 1
            at = before.row.get((r, lang, "ALL"))
            if at is not None:
                out[at] += 1
    return gains, losses


def _filled(heads: np.ndarray) -> np.ndarray:
    """Headcounts with -1 where none (no minimum number), to compare."""
    return np.where(np.isnan(heads), -1.0, heads)


def _text(column: pd.Series) -> np.ndarray:
    """A column's values as text (``astype(str)``; text columns as they are)."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.to_numpy()
    return column.astype(str).to_numpy()


def _coded_roster(before: _Before, providers: pd.DataFrame) -> pd.DataFrame:
    """The columns ``provider_count`` reads, with county and provider id as integer
    codes (the base's, then new ones for the scenario's appended rows); the county of
    each code is in ``attrs["county_names"]``."""
    n_base = len(before.county_code)
    county_names = before.county_names
    county, pid = before.county_code, before.pid_code
    if len(providers) > n_base:
        new_counties: dict = {}
        tail_county = providers["county_fips"].iloc[n_base:].to_numpy()
        tail_pid = providers["provider_id"].iloc[n_base:].to_numpy()
        county = np.concatenate([county, _codes(tail_county, before.county_index, new_counties)])
        pid = np.concatenate([pid, _codes(tail_pid, before.pid_index, {})])
        county_names = county_names + list(new_counties)
    frame = pd.DataFrame(
        {
            "county_fips": county,
            "provider_id": pid,
            "fte": providers["fte"].to_numpy(),
            "panel_open": providers["panel_open"].to_numpy(),
        }
    )
    frame.attrs["county_names"] = list(county_names)
    return frame


def _codes(values, index: dict, new: dict) -> np.ndarray:
    """Each value's code in ``index`` (the base's, left as it is); a value not there
    gets the next code, kept in ``new`` (added)."""
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        code = index.get(v)
        if code is None:
            code = new.get(v)
            if code is None:
                code = new[v] = len(index) + len(new)
        out[i] = code
    return out


def _count(
    before: _Before, roster: pd.DataFrame, rows, rule, *, heads: bool = False
) -> tuple[float, dict]:
    """``provider_count`` on the coded roster (by headcount, the rule without its ratio,
    with ``heads``): the total, and per county (text).

    Kept per base (``before.counts``) by what it is counted from: the coded roster's
    base rows are the same in every scenario, so the answer is an earlier scenario's
    when the rows, and the codes, FTE and open panels of the appended rows among them,
    are the same (a site added in a county counted before)."""
    rows = np.asarray(rows)
    tail = rows[rows >= len(before.county_code)]
    key = (id(rule), heads, rows.dtype.str, rows.tobytes())
    key += tuple(roster[c].to_numpy()[tail].tobytes() for c in roster.columns)
    found = before.counts.get(key)
    if found is None or found[0] is not rule:
        if len(before.counts) >= 64:
            before.counts.clear()
        counted = provider_count(roster, rows, replace(rule, ratio=None) if heads else rule)
        found = before.counts[key] = (rule, *counted)
    _, total, by_county = found
    names = roster.attrs["county_names"]
    return total, {names[c]: float(v) for c, v in by_county.items()}


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


def _verdicts(
    standards, rule, language, fips, prevalent, members, meeting, providers, heads, memo=None
) -> dict[str, np.ndarray]:
    """The verdict columns of some delta rows (every row of their rules) from their
    figures, judged by :func:`adequacy.engine.summaries.judge_levels` as the summaries
    are. ``memo`` keeps each row's components by the figures they come from (rows whose
    figures a scenario left alone are not worked out again)."""
    rules = {r.id: r for r in standards.rules}
    memo = {} if memo is None else memo
    if len(memo) > 200_000:
        memo.clear()

    def components(r, county, n, m, p, h):
        key = (r, county, n, m, p, None if h != h else h)
        found = memo.get(key)
        if found is None:
            found = memo[key] = row_figures(
                n,
                m,
                rules[r],
                p,
                "service_area" if county == "ALL" else "county",
                h,
                county=None if county == "ALL" else county,
            )["_components"]
        return found

    comps = [
        components(*row)
        for row in zip(
            rule, fips, members.tolist(), meeting.tolist(), providers.tolist(), heads.tolist(),
            strict=True,
        )
    ]  # fmt: skip
    text = {"dtype": object}  # plain text: quicker to judge than arrow's
    frame = pd.DataFrame(
        {
            "rule": pd.Series(rule, **text),
            "language": pd.Series(language, **text),
            "county_fips": pd.Series(fips, **text),
            "prevalent": prevalent,
            "_components": pd.Series(comps, dtype=object),
        }
    )
    # plain (object) column names too: quicker to look up, row by row
    frame.columns = pd.Index(list(frame.columns), dtype=object)
    is_all, is_language = fips == "ALL", language != ""
    levels = [
        np.flatnonzero(~is_all & ~is_language),
        np.flatnonzero(is_all & ~is_language),
        np.flatnonzero(~is_all & is_language),
        np.flatnonzero(is_all & is_language),
    ]
    frames = [frame.take(at) for at in levels]  # each level's rows, as judge_levels takes them
    out = {
        c: np.empty(len(comps), dtype=object) for c in ("verdict", "verdict_reasons", "findings")
    }
    for at, judged in zip(levels, judge_levels(*frames, standards), strict=True):
        for c, values in out.items():
            values[at] = judged[c].to_numpy()
    out["share_passes"] = np.array([c[0].passes for c in comps], dtype=object)
    out["ratio_passes"] = np.array([c[1].passes for c in comps], dtype=object)
    return out
