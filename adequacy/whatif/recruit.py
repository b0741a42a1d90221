"""Recruitment targets: where new providers would bring the most members within a rule.

:func:`recruit` ranks candidate sites greedily by how many members who now
fail a rule each would bring within it (maximum coverage), and says after
which pick each failing county reaches its threshold.

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
    member_limits,
    members_short,
    qualifies,
    search_cutoff,
    within,
)
from adequacy.errors import InputError
from adequacy.inputs.schemas import read_providers
from adequacy.routing import reach_within, snap_points
from adequacy.units import MPH_TO_METERS_PER_SECOND


@dataclass
class Recruitment:
    rule: str
    language: str
    picks: pd.DataFrame  # rank, candidate, newly meeting, running total
    counties: pd.DataFrame  # failing counties: picks needed to reach the threshold
    candidates_considered: int
    failing_members: int
    candidate_source: str = "file"


def recruit(
    base: Evaluation,
    rule_id: str,
    *,
    language: str | None = None,
    candidates: Any = None,
    top: int = 10,
    sample_sites: int = 300,
    seed: int = 0,
) -> Recruitment:
    """Rank candidate sites by the failing members each would bring within a rule.

    Greedy maximum coverage: each pick is the candidate that makes the most
    members who now fail the rule meet it, counting only members not already
    brought in by earlier picks (a member who needs two more providers counts
    when the second arrives; ties go to the candidate that moves the most such
    members closer). Candidates: provider rows (``candidates``: a file or
    DataFrame in roster format), else the base roster's out-of-network
    providers of the rule's type, else ``sample_sites`` road nodes sampled
    where failing members live.
    """
    try:
        rule = base.standards.rule(rule_id)
    except Exception:  # noqa: BLE001
        names = ", ".join(r.id for r in base.standards.rules)
        raise InputError(f"--rule {rule_id!r}: no such rule; the rules are {names}") from None
    lang = language or ""
    if (rule.id, lang) not in base.blocks:
        raise InputError(f"rule {rule_id!r} was not evaluated for language {lang or '(all)'}")
    start, block_rows = base.blocks[(rule.id, lang)]
    res = base.member_results.iloc[start : start + len(block_rows)]
    fail = ~res["meets"].to_numpy() & res["in_service_area"].to_numpy()
    f_rows = block_rows[fail]
    need = (rule.count - res["n_qualifying"].to_numpy()[fail]).astype(int)
    counties = res["county_fips"].astype(str).to_numpy()[fail]

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
                    "provider_id": [f"ROAD-{n}" for n in pick],
                    "provider_type": rule.provider_type,
                    "lon": base.graph.lon[pick],
                    "lat": base.graph.lat[pick],
                }
            )
            source = "road nodes where failing members live"
    cand = cand.reset_index(drop=True)
    picks_cols = [
        "rank",
        "candidate",
        "lon",
        "lat",
        "newly_meeting",
        "moved_closer",
        "total_newly_meeting",
        "share_meeting_after",
    ]
    if not len(cand) or not len(f_rows):
        return Recruitment(
            rule.id,
            lang,
            pd.DataFrame(columns=picks_cols),
            _county_targets(base, rule, lang, counties, []),
            len(cand),
            len(f_rows),
            source,
        )
    snap = snap_points(base.graph, cand[["lon", "lat"]].to_numpy(), what="candidates")
    speed = base.settings.snap_speed_mph
    state = base.member_state
    lim_m, lim_s, both = member_limits(rule, state.class_code[f_rows], state.class_names)
    member_node = base.member_snap.node[f_rows]
    leg_m = base.member_snap.meters[f_rows]
    leg_s = leg_m / (speed * MPH_TO_METERS_PER_SECOND)
    scratch = np.full(base.graph.n_nodes, np.inf)
    cover = []
    for i in range(len(cand)):
        ok = []
        for metric, lim, leg, snap_leg in (
            ("distance", lim_m, leg_m, snap.meters[i]),
            ("time", lim_s, leg_s, snap.meters[i] / (speed * MPH_TO_METERS_PER_SECOND)),
        ):
            if np.all(np.isnan(lim)):
                ok.append(None)
                continue
            nodes, cost = reach_within(
                base.graph,
                int(snap.node[i]),
                metric=metric,
                cutoff=search_cutoff(np.nanmax(lim)),
                start_cost=snap_leg,
            )
            scratch[nodes] = cost
            ok.append(within(scratch[member_node] + leg, lim))
            scratch[nodes] = np.inf
        cover.append(np.flatnonzero(qualifies(ok[0], ok[1], both)))
    remaining = need.copy()
    taken = np.zeros(len(cand), dtype=bool)
    ids = cand["provider_id"].astype(str).to_numpy()
    picks, total = [], 0
    order_meeting = []
    base_meeting = int(res["meets"].to_numpy()[res["in_service_area"].to_numpy()].sum())
    n_inside = int(res["in_service_area"].sum())
    for rank in range(1, top + 1):
        best, best_score = -1, (0, 0)
        for i in range(len(cand)):
            if taken[i]:
                continue
            c = cover[i]
            r = remaining[c]
            score = (int((r == 1).sum()), int((r > 0).sum()))
            if score > best_score:
                best, best_score = i, score
        if best < 0:
            break
        taken |= ids == ids[best]  # the same provider at another site adds nothing more
        c = cover[best]
        newly = c[remaining[c] == 1]
        remaining[c] = np.maximum(remaining[c] - 1, 0)
        total += len(newly)
        order_meeting.append(newly)
        picks.append(
            {
                "rank": rank,
                "candidate": ids[best],
                "lon": float(cand["lon"].iat[best]),
                "lat": float(cand["lat"].iat[best]),
                "newly_meeting": len(newly),
                "moved_closer": best_score[1] - len(newly),
                "total_newly_meeting": total,
                "share_meeting_after": (base_meeting + total) / n_inside if n_inside else np.nan,
            }
        )
    return Recruitment(
        rule.id,
        lang,
        pd.DataFrame(picks, columns=picks_cols),
        _county_targets(base, rule, lang, counties, order_meeting),
        len(cand),
        len(f_rows),
        source,
    )


def _county_targets(base, rule, lang, counties, order_meeting) -> pd.DataFrame:
    """For each county failing the rule: members short of the threshold, picks to get there."""
    table = base.county_summary if not lang else base.language_summary
    rows = table[(table["rule"] == rule.id) & (table["language"] == lang) & ~table["passes"]]
    out = []
    for _, r in rows.iterrows():
        short = members_short(r["members"], r["meeting"], r["threshold"])
        got, reached = 0, None
        for rank, newly in enumerate(order_meeting, start=1):
            got += int((counties[newly] == r["county_fips"]).sum())
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
