"""Routing: snapping points to the road graph and the exact k-nearest search.

Owns snapping (``snap``), the compiled kernels (``kernels``), the per-node
k-nearest labels with their incremental updates (``labels``), the miles of
fastest routes and straight lines (``routes``, the ``distance_basis``), one
member's fastest routes searched from the member (``member_routes``) and the
one-call API (``nearest``). Uses :mod:`adequacy.network` only. Costs are
meters (``distance``) or seconds (``time``); trips run from the member's
residence to the provider.
"""

from adequacy.routing.labels import (
    METRICS,
    NodeLabels,
    changed_nodes,
    k_nearest_labels,
    label_ids,
    merge_source,
    reach_within,
)
from adequacy.routing.member_routes import fastest_route_counts
from adequacy.routing.nearest import NearestResult, nearest_providers
from adequacy.routing.routes import DISTANCE_BASES, StraightLabels, route_at, route_meters
from adequacy.routing.snap import (
    DEFAULT_MAX_SNAP_METERS,
    DEFAULT_SNAP_SPEED_MPH,
    Snap,
    as_lonlat,
    snap_points,
)

__all__ = [
    "DEFAULT_MAX_SNAP_METERS",
    "DEFAULT_SNAP_SPEED_MPH",
    "DISTANCE_BASES",
    "METRICS",
    "NearestResult",
    "NodeLabels",
    "Snap",
    "StraightLabels",
    "as_lonlat",
    "changed_nodes",
    "fastest_route_counts",
    "k_nearest_labels",
    "label_ids",
    "merge_source",
    "nearest_providers",
    "reach_within",
    "route_at",
    "route_meters",
    "snap_points",
]
