"""Recruitment targets: where new providers would close a rule's failing counties.

:func:`recruit` ranks candidate sites greedily, first by how many members of
failing counties each would bring within a rule, then by how many failing
counties it would bring to their threshold, and only then by raw coverage;
it says after which pick each failing county reaches its threshold, and why
when no candidate helps.

Owns: ``recruit`` and ``Recruitment``. Uses: the judge (who qualifies, how
many members a county is short), :mod:`adequacy.routing` (bounded reach
searches) and the public engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import (
    FAIL,
    members_short,
    qualifies,
    search_cutoff,
    within,
)
from adequacy.engine.reach import SiteReach, time_cutoff
from adequacy.errors import InputError
from adequacy.inputs.schemas import read_providers
from adequacy.routing import snap_points
from adequacy.units import SECONDS_PER_MINUTE


@dataclass
class Recruitment:
    rule: str
    language: str
    picks: pd.DataFrame  # rank, candidate, newly meeting (in failing counties), running total
    counties: pd.DataFrame  # failing counties: picks needed to reach the threshold
    candidates_considered: int
    failing_members: int
    candidate_source: str = "file"
    #: Empty when the picks close gaps; otherwise why no candidate does (one line).
    message: str = ""


PICKS_COLUMNS = [
    "rank",
    "candidate",
    "lon",
    "lat",
    "newly_meeting_in_failing_counties",
    "counties_reaching_threshold",
    "newly_meeting",
    "moved_closer",
    "total_newly_meeting",
    "share_meeting_after",
]


def recruit(
    base: Evaluation,
    rule_id: str,
    *,
    language: str | None = None,
    candidates: Any = None,
    top: int = 10,
    sample_sites: int = 300,
    seed: int = 0,
    counties: list[str] | None = None,
) -> Recruitment:
    """Rank candidate sites by how far each would close the rule's failing counties.

    Greedy: each pick is the candidate with the best score, in this order:
    members newly meeting the rule who live in a county failing it (the
    county summary's verdict), failing counties it brings to their threshold
    (:func:`~adequacy.engine.judge.members_short` on the running count),
    members newly meeting anywhere, members moved closer. Only members not
    already brought in by earlier picks count (a member who needs two more
    providers counts when the second arrives), and the same provider at
    another site adds nothing more. Candidates: provider rows
    (``candidates``: a file or DataFrame in roster format), else the base
    roster's out-of-network providers of the rule's type, else
    ``sample_sites`` road nodes sampled where failing members live.
    ``counties`` (FIPS codes) limits the failing members to those counties.
    ``message`` says why when no candidate helps. ``top`` must be at least 1.
    """
    base.require_graph("recruitment")
    if int(top) < 1:
        raise InputError(
            f"--top {top}: the number of picks must be at least 1; use --top 1 or more"
        )
    top = int(top)
    try:
        rule = base.standards.rule(rule_id)
    except Exception:  # noqa: BLE001
        names = ", ".join(r.id for r in base.standards.rules)
        raise InputError(f"--rule {rule_id!r}: no such rule; the rules are {names}") from None
    lang = language or ""
    if (rule.id, lang) not in base.blocks:
        evaluated = sorted(x for r, x in base.blocks if r == rule.id and x)
        raise InputError(
            f"--language {lang}: rule {rule.id!r} was not evaluated for it; "
            + (
                f"use one of {', '.join(evaluated)} (the prevalent languages), or no --language"
                if evaluated
                else "it has no prevalent language: leave out --language"
            )
        )
    block_rows = base.blocks[(rule.id, lang)][1]
    res = base.block_results(
        rule.id, lang, ["meets", "in_service_area", "county_fips", "n_qualifying"]
    )
    fail = ~res["meets"].to_numpy() & res["in_service_area"].to_numpy()
    if counties is not None:  # only the failing members of these counties
        fail &= res["county_fips"].astype(str).isin(set(counties)).to_numpy()
    f_rows = block_rows[fail]
    need = (rule.count - res["n_qualifying"].to_numpy()[fail]).astype(int)
    member_county = res["county_fips"].astype(str).to_numpy()[fail]

    # candidate sites
    source = "file"
    if candidates is not None:
        cand = read_providers(candidates, extra_types=base.standards.provider_types)
    else:
        key = SearchKey(rule.provider_type, rule.specialty, language)
        oon = base.providers.copy()
        oon["in_network"] = ~oon["in_network"]
        rows = provider_rows(oon, key)
        cand = base.providers.iloc[rows]
        source = "out-of-network providers"
        if not len(cand) and len(f_rows):
            rng = np.random.default_rng(seed)
            nodes = np.unique(base.member_snap.node[f_rows])
            pick = rng.choice(nodes, size=min(sample_sites, len(nodes)), replace=False)
            pick.sort()
            cand = pd.DataFrame(
                {
                    # named by the road node's own id, the same on any clip of the graph
                    "provider_id": [f"ROAD-{n}" for n in base.graph.node_ids[pick]],
                    "provider_type": rule.provider_type,
                    "lon": base.graph.lon[pick],
                    "lat": base.graph.lat[pick],
                }
            )
            source = "road nodes where failing members live"
    cand = cand.reset_index(drop=True)
    what = f"rule {rule.id}" + (f" [{lang}]" if lang else "")
    if not len(f_rows) or not len(cand):
        if not len(f_rows):
            message = f"no member fails this rule: every member in the service area meets {what}"
        elif candidates is not None:
            message = "no candidates: the --candidates roster has no provider rows"
        else:
            message = f"no candidates: no out-of-network provider or road node for {what}"
        return Recruitment(
            rule.id,
            lang,
            pd.DataFrame(columns=PICKS_COLUMNS),
            _county_targets(base, rule, lang, member_county, [], counties),
            len(cand),
            len(f_rows),
            source,
            message,
        )
    snap = snap_points(base.graph, cand[["lon", "lat"]].to_numpy(), what="candidates")
    state = base.member_state
    lim_m, lim_s, both = state.limits(rule, f_rows)
    reach = _reach_of(base)
    horizon = base.settings.max_report_minutes * SECONDS_PER_MINUTE
    cutoff_s, miles_alone = time_cutoff(lim_s, lim_m, both, horizon)
    cutoff_m = search_cutoff(np.nanmax(lim_m) if not np.all(np.isnan(lim_m)) else 0.0)
    lon, lat = cand["lon"].to_numpy(dtype=float), cand["lat"].to_numpy(dtype=float)
    cover = []
    for i in range(len(cand)):
        if snap.node[i] < 0:  # not on this clip of the graph: out of every member's reach
            cover.append(np.zeros(0, dtype=np.int64))
            continue
        _, seconds, meters = reach.costs(
            snap.node[i], snap.meters[i], lon[i], lat[i], cutoff_s, cutoff_m, f_rows,
            miles_alone=miles_alone,
        )  # fmt: skip
        ok_d = None if np.all(np.isnan(lim_m)) else within(meters, lim_m)
        ok_t = None if np.all(np.isnan(lim_s)) else within(seconds, lim_s)
        cover.append(np.flatnonzero(qualifies(ok_d, ok_t, both)))
    # failing counties: which one each failing member lives in (-1: a passing county)
    failing = _failing_counties(base, rule.id, lang)
    fail_fips = failing["county_fips"].astype(str).tolist()
    member_fail = pd.Index(fail_fips).get_indexer(member_county)
    county_members = failing["members"].to_numpy(dtype=int)
    county_meeting = failing["meeting"].to_numpy(dtype=int).copy()  # the running count
    thresholds = failing["threshold"].to_numpy(dtype=float)

    def reaching(add: np.ndarray) -> int:
        """Failing counties that ``add`` more members meeting bring to their threshold."""
        return sum(
            1
            for k in np.flatnonzero(add)
            if members_short(county_members[k], county_meeting[k], thresholds[k]) > 0
            and members_short(county_members[k], county_meeting[k] + add[k], thresholds[k]) == 0
        )

    remaining = need.copy()
    taken = np.zeros(len(cand), dtype=bool)
    ids = cand["provider_id"].astype(str).to_numpy()
    picks, total = [], 0
    order_meeting = []
    base_meeting = int(res["meets"].to_numpy()[res["in_service_area"].to_numpy()].sum())
    n_inside = int(res["in_service_area"].sum())
    for rank in range(1, top + 1):
        best, best_score, best_add = -1, (0, 0, 0, 0), None
        for i in range(len(cand)):
            if taken[i]:
                continue
            c = cover[i]
            r = remaining[c]
            newly = c[r == 1]
            in_fail = member_fail[newly]
            in_fail = in_fail[in_fail >= 0]
            add = np.bincount(in_fail, minlength=len(fail_fips))
            score = (
                len(in_fail),  # members newly meeting in failing counties
                reaching(add) if len(in_fail) else 0,  # failing counties brought over
                len(newly),  # members newly meeting anywhere
                int((r > 1).sum()),  # members moved closer (still short of the count)
            )
            if score > best_score:
                best, best_score, best_add = i, score, add
        if best < 0:
            break
        taken |= ids == ids[best]  # the same provider at another site adds nothing more
        c = cover[best]
        newly = c[remaining[c] == 1]
        remaining[c] = np.maximum(remaining[c] - 1, 0)
        county_meeting += best_add
        total += len(newly)
        order_meeting.append(newly)
        picks.append(
            {
                "rank": rank,
                "candidate": ids[best],
                "lon": float(cand["lon"].iat[best]),
                "lat": float(cand["lat"].iat[best]),
                "newly_meeting_in_failing_counties": best_score[0],
                "counties_reaching_threshold": best_score[1],
                "newly_meeting": len(newly),
                "moved_closer": best_score[3],
                "total_newly_meeting": total,
                "share_meeting_after": (base_meeting + total) / n_inside if n_inside else np.nan,
            }
        )
    picks = pd.DataFrame(picks, columns=PICKS_COLUMNS)
    limits = _limits_text(rule, state.class_code[f_rows], state.class_names)
    considered = f"{len(cand):,} considered: {'--candidates' if source == 'file' else source}"
    message = ""
    if not len(picks):
        message = f"no candidate site brings any failing member within {limits} ({considered})"
    elif len(fail_fips) and picks["newly_meeting_in_failing_counties"].sum() == 0:
        county_names = failing.get("county", pd.Series("", index=failing.index)).fillna("")
        names = ", ".join(str(n) or f for n, f in zip(county_names, fail_fips, strict=True))
        message = (
            f"no candidate site brings a member of a failing county ({names}) to the "
            f"standard, {rule.count} within {limits} ({considered})"
        )
        if picks["newly_meeting"].sum():
            message += "; the picks raise only counties that already pass"
    return Recruitment(
        rule.id,
        lang,
        picks,
        _county_targets(base, rule, lang, member_county, order_meeting, counties),
        len(cand),
        len(f_rows),
        source,
        message,
    )


def _failing_counties(base: Evaluation, rule_id: str, lang: str) -> pd.DataFrame:
    """The rows of the county summary (the language summary for a language) of one
    rule and language whose verdict fails."""
    table = base.language_summary if lang else base.county_summary
    return table[
        (table["rule"] == rule_id) & (table["language"] == lang) & (table["verdict"] == FAIL)
    ]


def _limits_text(rule, class_code: np.ndarray, class_names: list[str]) -> str:
    """'15 mi or 30 min', or per county class where the failing members' classes differ."""
    by_text: dict[str, list[str]] = {}
    for code in np.unique(class_code):
        name = class_names[code]
        by_text.setdefault(rule.limits_for(name).text(), []).append(str(name))
    if len(by_text) <= 1:
        return next(iter(by_text), rule.limits.text())
    return "; ".join(f"{text} ({', '.join(names)})" for text, names in by_text.items())


def _county_targets(base, rule, lang, member_county, order_meeting, only=None) -> pd.DataFrame:
    """For each county failing the rule (of ``only``, when given): members short of the
    threshold, picks to get there."""
    rows = _failing_counties(base, rule.id, lang)
    if only is not None:
        rows = rows[rows["county_fips"].isin(set(only))]
    out = []
    for _, r in rows.iterrows():
        short = members_short(r["members"], r["meeting"], r["threshold"])
        got, reached = 0, (0 if short == 0 else None)  # 0: fails for another reason
        for rank, newly in enumerate(order_meeting, start=1):
            got += int((member_county[newly] == r["county_fips"]).sum())
            if got >= short and reached is None:
                reached = rank
        out.append(
            {
                "county_fips": r["county_fips"],
                "county": r.get("county", ""),
                "members": int(r["members"]),
                "meeting": int(r["meeting"]),
                "share_meeting": float(r["share_meeting"]),
                "threshold": float(r["threshold"]),
                "members_short": short,
                "brought_in_by_picks": got,
                "picks_to_threshold": reached,
            }
        )
    table = pd.DataFrame(
        out,
        columns=[
            "county_fips",
            "county",
            "members",
            "meeting",
            "share_meeting",
            "threshold",
            "members_short",
            "brought_in_by_picks",
            "picks_to_threshold",
        ],
    )
    table["picks_to_threshold"] = table["picks_to_threshold"].astype("Int64")
    return table


def _reach_of(base: Evaluation) -> SiteReach:
    """The evaluation's site searches, kept across calls (rules and counties ask about
    the same candidate sites again)."""
    state = base.member_state
    if state.site_reach is None:
        state.site_reach = SiteReach(
            base.graph, base.members, base.member_snap, base.settings, state
        )
    return state.site_reach
