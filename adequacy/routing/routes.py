"""Miles along the fastest route, and straight-line distances.

Three ways to measure a provider's distance (``distance_basis``):

``shortest``
    The shortest road distance, its own search by meters (the other modules).
``fastest_route``
    The length of the route the member would drive: the time-optimal one.
    :func:`route_meters` reads it off finished time labels, without touching
    the search: a node's label (time ``c``, provider ``g``) was reached from a
    neighbour ``u`` that holds a label of the same provider with
    ``c = c_u + seconds(v→u)``, so the route's meters are ``meters_u +
    meters(v→u)``. Labels are visited in the order the search settled them
    (time order; sorted again after a what-if update), so every neighbour's
    meters are known first; when several neighbours tie, the shortest of the
    equally fast routes is taken. This holds for any exact k-nearest labels
    (a full search, a what-if merge, a wider search): if ``g`` is among ``v``'s
    ``k`` nearest, it is among the ``k`` nearest of the next node on ``v``'s
    fastest route to it.
``straight_line``
    The great-circle distance from the member's point to the provider's point,
    as some state standards and older filings use: :class:`StraightLabels`
    keeps the ``k`` nearest distinct providers of each member by a KD-tree on
    earth-centred coordinates (chord order is great-circle order).

A forward search from many members at once (:class:`FastestFrom`) gives every
node's fastest time from the nearest of them and that route's meters: a witness
that some member drives there within both limits.

Owns: ``DISTANCE_BASES``, ``route_meters``, ``route_at``, ``tree_route_meters``,
``FastestFrom``, ``StraightLabels``. Uses:
``adequacy.network`` and ``routing.labels``/``routing.snap``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from adequacy.network import RoadGraph
from adequacy.network.chain_labels import ChainPlaces, expand, seeds
from adequacy.network.osm import EARTH_RADIUS_METERS, haversine_meters
from adequacy.prefetch import prefetch
from adequacy.routing.kernels import fastest_from_kernel
from adequacy.routing.labels import NodeLabels
from adequacy.routing.snap import _unit_xyz

DISTANCE_BASES = ("shortest", "fastest_route", "straight_line")
#: Two times within this relative tolerance are the same time (summation order).
TIE_TOLERANCE = 1e-9
#: How many labels ahead the route-meters walk asks for the labels it will read (in
#: settled order, which jumps about the graph: the walk is bound by memory latency;
#: about 1.4x faster than asking for nothing, the same meters)
_AHEAD = 8


def route_meters(
    graph: RoadGraph,
    labels: NodeLabels,
    source_group: np.ndarray,
    source_meters: np.ndarray,
    source_seconds: np.ndarray,
    source_nodes: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Meters of each time label's route, and how many stayed unknown.

    Parameters
    ----------
    graph
        The road graph the time labels were searched on.
    labels
        Time labels (``metric == "time"``), full or contracted.
    source_group
        Provider group of each source (sites of one provider share one).
    source_meters, source_seconds
        Each source's snapping leg in meters and in seconds (the labels' own).
    source_nodes
        Graph node of each source.

    Returns an array shaped like the labels' own: n_nodes × k for full labels,
    n_core × k for contracted ones (read it with :func:`route_at`). A label
    with no route found (possible only where equal times tie at the ``k``-th
    place) is infinity, which never meets a mile limit, and counted.
    """
    if labels.metric != "time":
        raise ValueError("route meters are read off time labels")
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    source_seconds = np.asarray(source_seconds, dtype=np.float64)
    source_meters = np.asarray(source_meters, dtype=np.float64)
    if labels.contracted:  # on the core, whose chain edges keep their fastest way's meters
        core = labels._lazy
        chains = core.chains
        walk = chains.core
        edge_meters = chains.core_route_meters
        cost, source, order = core.cost, core.source, core.order
        seed_node, seed_seconds, which = seeds(chains, source_nodes, source_seconds, 1)
        _, seed_meters, _ = seeds(chains, source_nodes, source_meters, 2)
    else:
        walk, edge_meters = graph, graph.meters
        cost, source, order = labels.cost, labels.source, labels.order
        seed_node, seed_seconds, seed_meters = source_nodes, source_seconds, source_meters
        which = np.arange(len(source_nodes))
    by_source = np.argsort(which, kind="stable")
    seed_ptr = np.zeros(len(source_nodes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(which, minlength=len(source_nodes)), out=seed_ptr[1:])
    n, k = cost.shape
    out = np.full((n, k), np.nan)
    if order is None:  # labels updated since the search: sort them by cost
        flat = cost.ravel()
        order = np.argsort(flat, kind="stable")[: int(np.isfinite(flat).sum())]
    unknown = _route_meters_kernel(
        walk.offsets,
        walk.targets,
        edge_meters,
        walk.seconds,
        cost,
        source.astype(np.int64, copy=False),
        np.asarray(source_group, dtype=np.int64),
        seed_ptr,
        np.asarray(seed_node, dtype=np.int64)[by_source],
        np.asarray(seed_seconds, dtype=np.float64)[by_source],
        np.asarray(seed_meters, dtype=np.float64)[by_source],
        order.astype(np.int64),
        out,
    )
    out[np.isnan(out)] = np.inf
    return out, int(unknown)


def route_at(
    labels: NodeLabels,
    route: np.ndarray,
    nodes: np.ndarray,
    source_meters: np.ndarray,
    places: ChainPlaces | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seconds, source, route meters) of the time labels at some graph nodes.

    ``route`` is :func:`route_meters`'s answer for these labels and
    ``source_meters`` each source's snapping leg in meters; ``places`` the nodes'
    :func:`~adequacy.network.chain_labels.places_of` when the caller keeps them.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    if not labels.contracted:
        return labels.cost[nodes], labels.source[nodes], route[nodes]
    core = labels._lazy
    cost = np.empty((len(nodes), core.k))
    source = np.empty((len(nodes), core.k), dtype=np.int64)
    meters = np.empty((len(nodes), core.k))
    expand(
        core.chains, core.cost, core.source, core.source_nodes, core.source_cost,
        core.group_index, core.metric_index, core.cutoff, cost, source, nodes=nodes,
        route=(route, np.asarray(source_meters, dtype=np.float64), meters), places=places,
    )  # fmt: skip
    return cost, source, meters


def tree_route_meters(
    graph: RoadGraph,
    nodes: np.ndarray,
    seconds: np.ndarray,
    source_node: int,
    leg_seconds: float,
    leg_meters: float,
    *,
    metric: str = "time",
    scratch: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Meters of the fastest route from each of ``nodes`` to one source, given the
    fastest times ``seconds`` of those nodes (a bounded single-source search from the
    source, :func:`adequacy.routing.reach_within`, which reaches every node on their
    routes too). Infinity where no route is found.

    With ``metric="distance"`` the roles swap: ``seconds`` are the nodes' shortest
    road distances (meters), ``leg_seconds`` the source's leg in meters, and the
    answer is the seconds along each shortest route (``leg_meters`` its leg in
    seconds). ``scratch``: (cost, source, out) arrays of n_nodes × 1 holding
    infinity, -1 and NaN, reused across calls (put back as they were), so that a
    call costs what the search reached, not the graph's size.
    """
    n = graph.n_nodes
    nodes = np.asarray(nodes, dtype=np.int64)
    if scratch is None:
        scratch = (
            np.full((n, 1), np.inf),
            np.full((n, 1), -1, dtype=np.int64),
            np.full((n, 1), np.nan),
        )
    cost, source, out = scratch
    cost[nodes, 0] = seconds
    source[nodes, 0] = 0
    order = nodes[np.argsort(seconds, kind="stable")]
    along, by = (graph.meters, graph.seconds) if metric == "time" else (graph.seconds, graph.meters)
    _route_meters_kernel(
        graph.offsets, graph.targets, along, by, cost, source,
        np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64),
        np.array([source_node], dtype=np.int64), np.array([leg_seconds], dtype=np.float64),
        np.array([leg_meters], dtype=np.float64), order, out,
    )  # fmt: skip
    meters = out[nodes, 0]
    meters[np.isnan(meters)] = np.inf
    cost[nodes, 0] = np.inf  # the scratch as it was
    source[nodes, 0] = -1
    out[nodes, 0] = np.nan
    return meters


@njit(cache=True, nogil=True, inline="always")
def label_route(
    v, j, offsets, targets, meters, seconds, cost, source, group, seed_ptr, seed_node,
    seed_seconds, seed_meters, out,
):  # fmt: skip
    """Meters of the route of time label ``j`` at node ``v``: its provider's own site
    there, or the shortest way through a neighbour whose label of the same provider is
    exactly one edge faster and already known (``out``); infinity when none is."""
    k = cost.shape[1]
    s = source[v, j]
    c = cost[v, j]
    tol = TIE_TOLERANCE * max(1.0, c)
    g = group[s]
    best = np.inf
    for q in range(seed_ptr[s], seed_ptr[s + 1]):  # the provider's own site
        if seed_node[q] == v and abs(c - seed_seconds[q]) <= tol:
            best = min(best, seed_meters[q])
    for e in range(offsets[v], offsets[v + 1]):
        u = targets[e]
        if u == v:
            continue
        for jj in range(k):
            su = source[u, jj]
            if su < 0:
                break
            if group[su] == g:
                if abs(cost[u, jj] + seconds[e] - c) <= tol and not np.isnan(out[u, jj]):
                    m = out[u, jj] + meters[e]
                    if m < best:
                        best = m
                break
    return best


@njit(cache=True, nogil=True)
def _route_meters_kernel(
    offsets, targets, meters, seconds, cost, source, group, seed_ptr, seed_node, seed_seconds,
    seed_meters, order, out,
):  # fmt: skip
    k = cost.shape[1]
    n = order.shape[0]
    unknown = 0
    for _sweep in range(4):  # a neighbour tied in time may come later in the order
        unknown = 0
        for t in range(n):
            # the order jumps about the graph: ask ahead for the labels of a node
            # _AHEAD labels on, and for its edges half as far on (a hint only)
            if t + _AHEAD < n:
                w = order[t + _AHEAD] // k
                prefetch(out, w)
                prefetch(cost, w)
                prefetch(source, w)
                prefetch(offsets, w)
            if t + _AHEAD // 2 < n:
                prefetch(targets, offsets[order[t + _AHEAD // 2] // k])
            idx = order[t]
            v = idx // k
            j = idx - v * k
            if not np.isnan(out[v, j]):
                continue
            best = label_route(
                v, j, offsets, targets, meters, seconds, cost, source, group, seed_ptr,
                seed_node, seed_seconds, seed_meters, out,
            )  # fmt: skip
            if best < np.inf:
                out[v, j] = best
            else:
                unknown += 1
        if unknown == 0:
            break
    return unknown


class FastestFrom:
    """Repeated multi-source searches by time along the forward edges (residence to
    provider), each giving every node's fastest time (seconds) from the nearest
    source and the meters of that route: a real route some source drives in that
    time, so it is at least the length of that source's fastest route (and of its
    shortest). Scratch arrays are made once (about 40 bytes a node and 12 an edge);
    one instance per thread.
    """

    def __init__(self, graph: RoadGraph) -> None:
        n = graph.n_nodes
        self.graph = graph
        self.seconds = np.full(n, np.inf)
        self.meters = np.full(n, np.inf)
        self._settled = np.zeros(n, dtype=np.bool_)
        self._touched = np.empty(n, dtype=np.int64)
        self._n_touched = 0
        self._heap = (np.empty(graph.n_edges + n + 1), np.empty(graph.n_edges + n + 1, np.int32))

    def search(
        self,
        nodes: np.ndarray,
        start_seconds: np.ndarray,
        start_meters: np.ndarray,
        *,
        cutoff_seconds: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, meters) by node from the nearest of the sources at ``nodes`` (their
        legs ``start_seconds``/``start_meters``); infinity beyond ``cutoff_seconds``.
        The arrays are this instance's own and valid until the next search."""
        done = self._touched[: self._n_touched]
        self.seconds[done] = np.inf
        self.meters[done] = np.inf
        self._settled[done] = False
        g = self.graph
        if len(nodes) > g.n_nodes:  # each source may push once
            size = g.n_edges + len(nodes) + 1
            self._heap = (np.empty(size), np.empty(size, np.int32))
        self._n_touched = fastest_from_kernel(
            g.offsets, g.targets, g.seconds, g.meters,
            np.asarray(nodes, dtype=np.int64), np.asarray(start_seconds, dtype=np.float64),
            np.asarray(start_meters, dtype=np.float64), float(cutoff_seconds),
            self.seconds, self.meters, self._settled, self._touched, *self._heap,
        )  # fmt: skip
        return self.seconds, self.meters


class StraightLabels:
    """The ``k`` nearest distinct providers of points by straight-line distance.

    Parameters
    ----------
    lon, lat
        Each source's (provider site's) coordinates, WGS84 degrees.
    groups
        Provider group per source; sites of one provider count once, at the nearest.
    k
        Providers kept per point.
    cutoff
        Meters beyond which a provider is not kept.

    Quacks like :class:`~adequacy.routing.NodeLabels` where the engine needs it
    (``k``, ``cutoff``, ``metric``), but labels belong to points, not nodes:
    :meth:`at_points`.
    """

    metric = "distance"
    contracted = False

    def __init__(self, lon, lat, groups, *, k: int, cutoff: float) -> None:
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.k = int(k)
        self.cutoff = float(cutoff)
        self._tree = cKDTree(_unit_xyz(self.lon, self.lat)) if len(self.lon) else None
        # sites per provider: how many neighbours hold k distinct providers
        self._per_group = int(np.bincount(self.groups).max()) if len(self.groups) else 1

    def at_points(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(meters, source index) per point, nearest first; infinity / -1 where none."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        m = len(lon)
        cost = np.full((m, self.k), np.inf)
        source = np.full((m, self.k), -1, dtype=np.int64)
        if self._tree is None or not m:
            return cost, source
        q = min(self.k * self._per_group, len(self.lon))
        chord = 2.0 * np.sin(min(self.cutoff / EARTH_RADIUS_METERS, np.pi) / 2.0)
        _, idx = self._tree.query(_unit_xyz(lon, lat), k=q, distance_upper_bound=chord * (1 + 1e-9))
        idx = idx.reshape(m, q)
        found = idx < len(self.lon)
        safe = np.where(found, idx, 0)
        meters = np.where(
            found,
            haversine_meters(lon[:, None], lat[:, None], self.lon[safe], self.lat[safe]),
            np.inf,
        )
        meters[meters > self.cutoff] = np.inf
        _distinct_nearest(meters, np.where(found, safe, -1), self.groups, cost, source)
        return cost, source


@njit(cache=True, nogil=True)
def _distinct_nearest(meters, idx, groups, cost, source):
    """Per row, the k nearest entries of distinct groups (rows come sorted by the tree)."""
    m, q = meters.shape
    k = cost.shape[1]
    for i in range(m):
        n = 0
        for j in range(q):
            s = idx[i, j]
            if s < 0 or meters[i, j] == np.inf:
                break
            dup = False
            for r in range(n):
                if groups[source[i, r]] == groups[s]:
                    dup = True
                    break
            if dup:
                continue
            cost[i, n] = meters[i, j]
            source[i, n] = s
            n += 1
            if n == k:
                break
