"""The market beyond the network: out-of-network providers, and who is nearest to a member.

Out-of-network providers come from an optional *supply* file (every provider in
the market, roster format) or else from the roster's own out-of-network rows.
:func:`nearest_sites` finds, for some members, the nearest sites of a set of
providers by road distance and by drive time, reusing the compiled k-nearest
search (member→provider direction, snapping legs included).

Owns: ``out_of_network`` and ``nearest_sites``. Uses: :mod:`adequacy.routing`,
:mod:`adequacy.inputs` and the engine's public parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import search_cutoff
from adequacy.inputs.schemas import read_providers
from adequacy.routing import Snap, k_nearest_labels, snap_points
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE


@dataclass
class Sites:
    """Provider rows (``in_network`` marks which side they are on) snapped to the graph."""

    providers: pd.DataFrame
    snap: Snap

    def rows_for(self, key: SearchKey) -> np.ndarray:
        """Rows a search with this key would start from (ignoring the network flag; not
        the sites a clip of the graph cannot place, out of every member's reach)."""
        everyone = self.providers.assign(in_network=True)
        rows = provider_rows(everyone, key)
        return rows[self.snap.node[rows] >= 0]


def out_of_network(ev: Evaluation, supply: Any = None) -> Sites:
    """Out-of-network provider sites: the ``supply`` file (roster format; ids that are
    in the network already are left out) or the roster's out-of-network rows."""
    ev.require_graph("the deficiency workpaper (the nearest out-of-network providers)")
    if supply is not None:
        table = read_providers(supply, extra_types=ev.standards.provider_types)
        in_net = set(ev.providers.loc[ev.providers["in_network"], "provider_id"])
        table = table[~table["provider_id"].isin(in_net)].reset_index(drop=True)
    else:
        table = ev.providers[~ev.providers["in_network"]].reset_index(drop=True)
    table = table.assign(in_network=False)
    snap = snap_points(
        ev.graph,
        table[["lon", "lat"]].to_numpy(),
        what="out-of-network providers",
        ids=table["provider_id"].to_numpy(),
        max_snap_meters=ev.settings.max_snap_meters,
    )
    return Sites(table, snap)


def in_network(ev: Evaluation) -> Sites:
    """The evaluation's in-network provider sites."""
    rows = np.flatnonzero(ev.providers["in_network"].to_numpy())
    snap = ev.provider_snap
    return Sites(
        ev.providers.iloc[rows].reset_index(drop=True),
        Snap(snap.node[rows], snap.meters[rows], snap.off_road[rows], snap.max_snap_meters),
    )


def nearest_sites(
    ev: Evaluation, sites: Sites, key: SearchKey, member_rows: np.ndarray, *, k: int = 1
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The ``k`` nearest distinct providers of ``key`` among ``sites`` for some members.

    Returns, per metric, ``(cost, provider_id)`` arrays of shape (members × k): miles
    (``distance``) or minutes (``time``), each metric on its own best route, infinity
    and "" past the report horizon or where there are fewer providers.
    """
    rows = sites.rows_for(key)
    m = len(member_rows)
    snap = ev.member_snap
    members = Snap(
        snap.node[member_rows], snap.meters[member_rows], snap.off_road[member_rows], 0.0
    )
    speed = ev.settings.snap_speed_mph
    out = {}
    for metric, horizon, scale in (
        ("distance", ev.settings.max_report_miles * METERS_PER_MILE, METERS_PER_MILE),
        ("time", ev.settings.max_report_minutes * SECONDS_PER_MINUTE, SECONDS_PER_MINUTE),
    ):
        if not len(rows) or not m:
            out[metric] = (np.full((m, k), np.inf), np.full((m, k), "", dtype=object))
            continue
        ids = sites.providers["provider_id"].to_numpy()[rows]
        labels = k_nearest_labels(
            ev.graph,
            sites.snap.node[rows],
            k=k,
            metric=metric,
            source_cost=sites.snap.leg_cost(metric, speed)[rows],
            groups=pd.factorize(ids)[0],
            cutoff=search_cutoff(horizon),
        )
        cost, source = labels.at(members, speed)
        width = cost.shape[1]
        if width < k:  # fewer providers than k
            cost = np.hstack([cost, np.full((m, k - width), np.inf)])
            source = np.hstack([source, np.full((m, k - width), -1)])
        names = np.where(source >= 0, ids[np.maximum(source, 0)], "").astype(object)
        out[metric] = (cost / scale, names)
    return out
