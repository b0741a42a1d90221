"""Continuity of care: re-homing a terminated PCP's panel.

The seed manual's "Provider Terminations": members keep their terminated
provider for 30 days (90 in an active course of treatment), and the plan
must find them a new PCP. :func:`continuity_of_care` lists, per displaced
member, the open-panel PCPs within the primary-care standard that still have
room under the 1,500 cap, and assigns members nearest pair first, each PCP
taking members only while it has room.

Owns: ``continuity_of_care`` and its day counts. Uses: the judge (who
qualifies, panel sizes), :mod:`adequacy.routing` and a :class:`WhatIf`.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from adequacy.engine.cms_ma import CMS_PROVIDER_TYPE
from adequacy.engine.judge import panel_sizes, qualifies, within
from adequacy.engine.panels import PANEL_CAP
from adequacy.errors import InputError
from adequacy.inputs.hsd_reference import PRIMARY_CARE as CMS_PRIMARY_CARE
from adequacy.routing import Snap, k_nearest_labels, route_at, route_meters
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE
from adequacy.whatif.update import WhatIf

#: Days of continued care after a termination (seed manual, "Provider Terminations").
PCP_TRANSITION_DAYS = 30
ACTIVE_TREATMENT_DAYS = 90
#: Open-panel PCPs listed per displaced member.
CONTINUITY_OPTIONS = 25


def continuity_of_care(
    whatif: WhatIf,
    *,
    rule_id: str | None = None,
    panel_cap: int = PANEL_CAP,
    options: int = CONTINUITY_OPTIONS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-home the panels of terminated PCPs: per member, and per terminated PCP.

    The displaced panel of a PCP is the members whose ``pcp_id`` is that
    provider. Candidates are the remaining in-network PCPs with an open panel
    that accept new patients, with room under ``panel_cap`` (room = cap minus
    the larger of the roster panel size and the members assigned to them).
    Each displaced member's candidates within the primary-care standard (the
    rule ``rule_id``, default the first ``pcp`` rule, else Medicare Advantage's
    primary care S03; up to ``options`` nearest by road distance, or under
    ``fastest_route`` the nearest by time with the meters of the route driven) are
    listed; then members are assigned nearest pair first,
    each candidate taking members only while it has room. ``absorbed`` says
    whether every displaced member got a place. Members in an active
    treatment window (``in_treatment``) keep their provider for
    ``ACTIVE_TREATMENT_DAYS``, the others for ``PCP_TRANSITION_DAYS``, from
    the termination's effective date.
    """
    base = whatif.base
    providers = whatif.providers
    terminated = [
        t
        for t in whatif.scenario.terminate
        if t.provider_id in whatif.terminated_ids
        and (
            providers.loc[providers["provider_id"] == t.provider_id, "provider_type"] == "pcp"
        ).any()
    ]
    member_cols = [
        "terminated_pcp",
        "member_id",
        "county_fips",
        "in_treatment",
        "continuity_until",
        "options_within_standard",
        "nearest_option",
        "nearest_option_miles",
        "assigned_pcp",
        "assigned_miles",
        "assigned_minutes",
    ]
    summary_cols = [
        "terminated_pcp",
        "effective",
        "displaced_members",
        "in_treatment",
        "with_an_option",
        "room_within_standard",
        "assigned",
        "unassigned",
        "absorbed",
    ]
    if not terminated:
        return pd.DataFrame(columns=member_cols), pd.DataFrame(columns=summary_cols)
    # the primary-care standard: a pcp rule, or Medicare Advantage's primary care (S03)
    rules = [r for r in base.standards.rules if r.provider_type == "pcp"] or [
        r
        for r in base.standards.rules
        if r.provider_type == CMS_PROVIDER_TYPE and r.specialty == CMS_PRIMARY_CARE
    ]
    if rule_id is not None:
        rules = [base.standards.rule(rule_id)]
    if not rules:
        raise InputError(
            "continuity of care needs a primary care rule in the standards (provider_type "
            "pcp, or Medicare Advantage's S03)"
        )
    rule = rules[0]

    members = base.members
    # candidates: remaining open PCPs with room
    per_pcp = panel_sizes(providers, members)
    per_pcp["room"] = np.where(
        per_pcp["panel_open"] & per_pcp["accepting"],
        np.maximum(panel_cap - per_pcp["panel"], 0),
        0,
    ).astype(int)
    with_room = per_pcp.index[per_pcp["room"] > 0]
    cand_rows = np.flatnonzero(providers["provider_id"].isin(set(with_room)).to_numpy())
    cand_rows = cand_rows[providers["in_network"].to_numpy()[cand_rows]]
    pid = providers["provider_id"].to_numpy()

    displaced_rows = []
    for t in terminated:
        rows = np.flatnonzero(members["pcp_id"].to_numpy() == t.provider_id)
        displaced_rows.append((t, rows))
    all_rows = np.concatenate([r for _, r in displaced_rows])
    snap = base.member_snap
    sub = Snap(
        snap.node[all_rows], snap.meters[all_rows], snap.off_road[all_rows], snap.max_snap_meters
    )
    speed = base.settings.snap_speed_mph
    k = max(1, min(options, len(set(pid[cand_rows])))) if len(cand_rows) else 1
    costs = {}
    p_snap = whatif.engine.provider_snap
    if not len(cand_rows):
        for metric in ("distance", "time"):
            costs[metric] = (np.full((len(all_rows), 1), np.inf), np.full((len(all_rows), 1), -1))
    elif (base.settings.distance_basis or "shortest") == "fastest_route":
        # miles along the route driven: the k fastest candidates and their routes' meters
        legs_s = p_snap.leg_cost("time", speed)[cand_rows]
        legs_m = p_snap.meters[cand_rows]
        nodes = p_snap.node[cand_rows]
        groups = pd.factorize(pid[cand_rows])[0]
        labels = k_nearest_labels(
            base.graph, nodes, k=k, metric="time", source_cost=legs_s, groups=groups
        )
        route, _ = route_meters(base.graph, labels, groups, legs_m, legs_s, nodes)
        seconds, s, meters = route_at(labels, route, sub.node, legs_m)
        ids = np.where(s >= 0, pid[cand_rows[np.maximum(s, 0)]], "")
        costs["time"] = (seconds + sub.leg_cost("time", speed)[:, None], ids)
        costs["distance"] = (meters + sub.meters[:, None], ids)
    else:
        for metric in ("distance", "time"):
            labels = k_nearest_labels(
                base.graph,
                p_snap.node[cand_rows],
                k=k,
                metric=metric,
                source_cost=p_snap.leg_cost(metric, speed)[cand_rows],
                groups=pid[cand_rows],
            )
            c, s = labels.at(sub, speed)
            ids = np.where(s >= 0, pid[cand_rows[np.maximum(s, 0)]], "")
            costs[metric] = (c, ids)
    # pairs within the standard
    state = base.member_state
    limit_meters, limit_seconds, both = state.limits(rule, all_rows)
    pairs = []
    d_cost, d_ids = costs["distance"]
    t_cost, t_ids = costs["time"]
    for i in range(len(all_rows)):
        by = {}
        for j in range(d_cost.shape[1]):
            if d_ids[i, j]:
                by.setdefault(d_ids[i, j], [np.inf, np.inf])[0] = d_cost[i, j]
        for j in range(t_cost.shape[1]):
            if t_ids[i, j]:
                by.setdefault(t_ids[i, j], [np.inf, np.inf])[1] = t_cost[i, j]
        for p, (dm, ts) in by.items():
            if qualifies(within(dm, limit_meters[i]), within(ts, limit_seconds[i]), both[i]):
                pairs.append((dm, ts, i, p))
    pairs.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
    room = per_pcp["room"].to_dict()
    options_of = np.zeros(len(all_rows), dtype=int)
    nearest = [("", np.inf)] * len(all_rows)
    for dm, _ts, i, p in pairs:
        options_of[i] += 1
        if dm < nearest[i][1]:
            nearest[i] = (p, dm)
    assigned_to = [("", np.inf, np.inf)] * len(all_rows)
    for dm, ts, i, p in pairs:  # nearest pair first, while the PCP has room
        if assigned_to[i][0] or room.get(p, 0) <= 0:
            continue
        room[p] -= 1
        assigned_to[i] = (p, dm, ts)
    member_rows_out, summary = [], []
    offset = 0
    room_within = {}
    for _, _, i, p in pairs:
        room_within.setdefault(i, set()).add(p)
    for t, rows in displaced_rows:
        effective = t.effective or whatif.scenario.as_of or date.today()
        idx = range(offset, offset + len(rows))
        offset += len(rows)
        reachable = set().union(*[room_within.get(i, set()) for i in idx]) if len(rows) else set()
        for i, r in zip(idx, rows, strict=True):
            treat = bool(members["in_treatment"].iat[r])
            days = ACTIVE_TREATMENT_DAYS if treat else PCP_TRANSITION_DAYS
            member_rows_out.append(
                {
                    "terminated_pcp": t.provider_id,
                    "member_id": members["member_id"].iat[r],
                    "county_fips": members["county_fips"].iat[r],
                    "in_treatment": treat,
                    "continuity_until": effective + timedelta(days=days),
                    "options_within_standard": int(options_of[i]),
                    "nearest_option": nearest[i][0],
                    "nearest_option_miles": nearest[i][1] / METERS_PER_MILE,
                    "assigned_pcp": assigned_to[i][0],
                    "assigned_miles": assigned_to[i][1] / METERS_PER_MILE,
                    "assigned_minutes": assigned_to[i][2] / SECONDS_PER_MINUTE,
                }
            )
        n_assigned = sum(1 for i in idx if assigned_to[i][0])
        summary.append(
            {
                "terminated_pcp": t.provider_id,
                "effective": effective,
                "displaced_members": len(rows),
                "in_treatment": int(members["in_treatment"].to_numpy()[rows].sum()),
                "with_an_option": int(sum(1 for i in idx if options_of[i])),
                "room_within_standard": int(sum(per_pcp["room"].get(p, 0) for p in reachable)),
                "assigned": n_assigned,
                "unassigned": len(rows) - n_assigned,
                "absorbed": n_assigned == len(rows),
            }
        )
    return pd.DataFrame(member_rows_out, columns=member_cols), pd.DataFrame(
        summary, columns=summary_cols
    )
