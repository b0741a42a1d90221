"""The one-call k-nearest API: snap providers and points, search, read the labels.

Owns: ``nearest_providers`` and ``NearestResult``. Uses: ``routing.snap`` and
``routing.labels``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adequacy.network import RoadGraph
from adequacy.routing.labels import k_nearest_labels
from adequacy.routing.snap import DEFAULT_MAX_SNAP_METERS, DEFAULT_SNAP_SPEED_MPH, snap_points


@dataclass
class NearestResult:
    """The k nearest providers of each query point.

    ``cost`` (n_points × k): meters (metric ``distance``) or seconds (``time``)
    from the point to its j-th nearest distinct provider, including both
    snapping legs; infinity when fewer than ``k`` are reachable (or within the
    cutoff). ``source`` (n_points × k): the provider's row index, -1 when none.
    ``snap_meters``/``off_road``: each point's straight-line leg to the road
    and whether it exceeds the snapping limit; ``provider_snap_meters`` and
    ``provider_off_road`` the same for providers.
    """

    cost: np.ndarray
    source: np.ndarray
    snap_meters: np.ndarray
    off_road: np.ndarray
    provider_snap_meters: np.ndarray
    provider_off_road: np.ndarray
    metric: str
    k: int


def nearest_providers(
    graph: RoadGraph,
    providers_lonlat,
    points_lonlat,
    k: int = 1,
    metric: str = "distance",
    cutoff: float | None = None,
    *,
    groups=None,
    max_snap_meters: float = DEFAULT_MAX_SNAP_METERS,
    snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH,
) -> NearestResult:
    """The ``k`` nearest providers of each point by road, member→provider direction.

    Parameters
    ----------
    graph
        Road graph from :func:`adequacy.load_road_graph`.
    providers_lonlat, points_lonlat
        (n, 2) arrays of WGS84 longitude, latitude.
    k
        How many distinct providers per point.
    metric
        ``"distance"`` (cost in meters) or ``"time"`` (cost in seconds).
    cutoff
        Largest cost of interest, in the metric's unit; beyond it costs are
        infinity. Makes the search stop early.
    groups
        Optional id per provider row; rows sharing an id are one provider at
        several sites (counted once, at its nearest site).
    max_snap_meters
        Legs longer than this flag a point as ``off_road``.
    snap_speed_mph
        Speed of the straight-line legs in the ``time`` metric.
    """
    prov = snap_points(graph, providers_lonlat, max_snap_meters=max_snap_meters, what="providers")
    pts = snap_points(graph, points_lonlat, max_snap_meters=max_snap_meters, what="points")
    labels = k_nearest_labels(
        graph,
        prov.node,
        k=k,
        metric=metric,
        source_cost=prov.leg_cost(metric, snap_speed_mph),
        groups=groups,
        cutoff=cutoff,
    )
    cost, source = labels.at(pts, snap_speed_mph)
    return NearestResult(
        cost=cost,
        source=source,
        snap_meters=pts.meters,
        off_road=pts.off_road,
        provider_snap_meters=prov.meters,
        provider_off_road=prov.off_road,
        metric=metric,
        k=labels.k,
    )
