"""Snapping points to the road graph, and the k-nearest provider search.

Snapping
    Each point (member residence or provider site, WGS84 lon/lat) is attached
    to the nearest graph node. The nearest node is found with a KD-tree on
    geocentric (earth-centred) coordinates, where straight-line chord order is
    great-circle order, so it is exact on the sphere anywhere, with no choice
    of map projection. The straight-line leg from the point to its node, in
    meters, is reported per point and added to every distance; it is added to
    travel time at ``snap_speed_mph`` (15 mph by default, the speed of a
    service road or driveway). A point whose leg is longer than
    ``max_snap_meters`` is flagged ``off_road``: a likely bad geocode, or a
    point off the map.

The k-nearest search
    Trips run from the member's residence to the provider, so the search runs
    on the *reversed* graph, from all providers of a group at once. Every node
    keeps up to ``k`` labels (cost, provider) from distinct providers; a
    label-setting Dijkstra settles each node's labels in cost order. The work
    is O(k (E + V log V)) per provider group whatever the number of members,
    and members then read their labels by array lookup. The loop is compiled
    with numba and allocates nothing: every array (the heap included, sized by
    the bound k·E + sources) is made before it starts.

    Two providers at one node are two providers. One provider listed at two
    sites counts once: pass ``groups`` (one id per site) and labels are kept
    distinct per group, each reporting its nearest site.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from ._chains import chains_of, expand, seeds
from ._osm import EARTH_RADIUS_METERS
from .errors import InputError
from .network import RoadGraph
from .speeds import MPH_TO_METERS_PER_SECOND

#: Default distance beyond which a point is flagged as off the road network.
DEFAULT_MAX_SNAP_METERS = 1000.0
#: Default speed for the straight-line leg between a point and its node.
DEFAULT_SNAP_SPEED_MPH = 15.0

METRICS = ("distance", "time")
#: Search the chain-contracted core when it has at most this share of the nodes.
CONTRACT_BELOW = 0.7

_trees: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------
# snapping
# ---------------------------------------------------------------------------
@dataclass
class Snap:
    """Where points attach to the graph.

    ``node`` is the graph node of each point, ``meters`` the straight-line
    (great-circle) leg to it, ``off_road`` whether that leg exceeds the limit.
    """

    node: np.ndarray
    meters: np.ndarray
    off_road: np.ndarray
    max_snap_meters: float

    def __len__(self) -> int:
        return len(self.node)

    def leg_cost(self, metric: str, snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH) -> np.ndarray:
        """The leg in meters (``distance``) or in seconds at ``snap_speed_mph`` (``time``)."""
        if metric == "distance":
            return self.meters
        return self.meters / (snap_speed_mph * MPH_TO_METERS_PER_SECOND)


def _unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return np.column_stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)])


def _tree(graph: RoadGraph) -> cKDTree:
    tree = _trees.get(graph)
    if tree is None:
        xyz = _unit_xyz(graph.lon, graph.lat) * EARTH_RADIUS_METERS
        tree = cKDTree(xyz, balanced_tree=False)  # builds faster, queries as fast
        _trees[graph] = tree
    return tree


def as_lonlat(points, *, what: str = "points", ids=None) -> np.ndarray:
    """Check and return an (n, 2) float array of WGS84 longitude/latitude.

    Raises :class:`InputError` naming the first bad rows (by ``ids`` when
    given, else by row number) when a coordinate is NaN or out of range.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what}: expected an (n, 2) array of longitude, latitude")
    lon, lat = arr[:, 0], arr[:, 1]
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    bad |= (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        rows = np.flatnonzero(bad)
        names = [str(ids[i]) if ids is not None else f"row {i}" for i in rows[:5]]
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise InputError(
            f"{what}: {len(rows)} point(s) with missing or out-of-range coordinates "
            f"({', '.join(names)}{more}); give longitude in [-180, 180] and latitude "
            "in [-90, 90], in that order"
        )
    return arr


def snap_points(
    graph: RoadGraph,
    points_lonlat,
    *,
    max_snap_meters: float = DEFAULT_MAX_SNAP_METERS,
    what: str = "points",
    ids=None,
) -> Snap:
    """Attach WGS84 lon/lat points to their nearest graph nodes.

    Returns a :class:`Snap` with the node, the straight-line leg in meters and
    an ``off_road`` flag for legs longer than ``max_snap_meters``.
    """
    arr = as_lonlat(points_lonlat, what=what, ids=ids)
    if len(arr) == 0:
        return Snap(
            np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool), max_snap_meters
        )
    chord, node = _tree(graph).query(
        _unit_xyz(arr[:, 0], arr[:, 1]) * EARTH_RADIUS_METERS, workers=-1
    )
    meters = 2 * EARTH_RADIUS_METERS * np.arcsin(np.minimum(chord / (2 * EARTH_RADIUS_METERS), 1))
    return Snap(
        node=node.astype(np.int64),
        meters=meters,
        off_road=meters > max_snap_meters,
        max_snap_meters=float(max_snap_meters),
    )


# ---------------------------------------------------------------------------
# the compiled search
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _heap_push(hc, hn, hs, size, c, node, src):
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if hc[parent] <= c:
            break
        hc[i] = hc[parent]
        hn[i] = hn[parent]
        hs[i] = hs[parent]
        i = parent
    hc[i] = c
    hn[i] = node
    hs[i] = src
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _heap_pop(hc, hn, hs, size):
    """Remove the root; the caller has read it. Returns the new size."""
    size -= 1
    c = hc[size]
    node = hn[size]
    src = hs[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and hc[child + 1] < hc[child]:
            child += 1
        if hc[child] >= c:
            break
        hc[i] = hc[child]
        hn[i] = hn[child]
        hs[i] = hs[child]
        i = child
    hc[i] = c
    hn[i] = node
    hs[i] = src
    return size


@njit(cache=True, nogil=True, inline="always")
def _offer(tent_cost, tent_group, base, k, c, g):
    """Record a tentative label (c, group g) at a node; False if it cannot matter.

    The node's tentative list holds its ``k`` best costs from distinct groups
    seen so far. A label that is not better than ``k`` other groups' costs can
    never be among the node's ``k`` nearest, so it is not pushed.
    """
    worst = -1
    worst_cost = -1.0
    for j in range(k):
        tg = tent_group[base + j]
        if tg == g:
            if tent_cost[base + j] <= c:
                return False
            tent_cost[base + j] = c
            return True
        if tg == -1:
            tent_cost[base + j] = c
            tent_group[base + j] = g
            return True
        if tent_cost[base + j] > worst_cost:
            worst_cost = tent_cost[base + j]
            worst = j
    if c < worst_cost:
        tent_cost[base + worst] = c
        tent_group[base + worst] = g
        return True
    return False


@njit(cache=True, nogil=True)
def _k_nearest_kernel(
    offsets,
    targets,
    weights,
    source_node,
    source_cost,
    source_group,
    k,
    cutoff,
    label_cost,
    label_source,
    n_labels,
    tent_cost,
    tent_group,
    heap_cost,
    heap_node,
    heap_source,
):
    for i in range(label_cost.shape[0]):  # initialised here, without the GIL
        label_cost[i] = np.inf
        label_source[i] = -1
        tent_cost[i] = np.inf
        tent_group[i] = -1
    for i in range(n_labels.shape[0]):
        n_labels[i] = 0
    size = 0
    for s in range(source_node.shape[0]):
        c = source_cost[s]
        node = source_node[s]
        if c <= cutoff and _offer(tent_cost, tent_group, node * k, k, c, source_group[s]):
            size = _heap_push(heap_cost, heap_node, heap_source, size, c, node, s)
    settled = 0
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        s = heap_source[0]
        size = _heap_pop(heap_cost, heap_node, heap_source, size)
        m = n_labels[node]
        if m >= k:
            continue
        g = source_group[s]
        base = node * k
        duplicate = False
        for j in range(m):
            if source_group[label_source[base + j]] == g:
                duplicate = True
                break
        if duplicate:
            continue
        label_cost[base + m] = c
        label_source[base + m] = s
        n_labels[node] = m + 1
        settled += 1
        for e in range(offsets[node], offsets[node + 1]):
            nxt = targets[e]
            nc = c + weights[e]
            if nc > cutoff or n_labels[nxt] >= k:
                continue
            if _offer(tent_cost, tent_group, nxt * k, k, nc, g):
                size = _heap_push(heap_cost, heap_node, heap_source, size, nc, nxt, s)
    return settled


class NodeLabels:
    """The ``k`` nearest sources of every graph node.

    ``cost`` (n_nodes × k) in meters or seconds, ascending per row, infinity
    where fewer than ``k`` sources are reachable within the cutoff;
    ``source`` (n_nodes × k) the source index, -1 where none.

    A search on a chain-contracted graph keeps only the labels of the core
    (intersections) and works out a shape point's labels when asked:
    :meth:`at_nodes` for some nodes, ``cost``/``source`` for all of them (made
    once, then kept).
    """

    def __init__(
        self,
        cost: np.ndarray | None = None,
        source: np.ndarray | None = None,
        *,
        metric: str,
        cutoff: float,
        lazy: _CoreLabels | None = None,
    ) -> None:
        if cost is None and lazy is None:
            raise ValueError("NodeLabels needs full labels or core labels")
        self._cost = cost
        self._source = source
        self._lazy = lazy
        self.metric = metric
        self.cutoff = cutoff

    @property
    def k(self) -> int:
        return self._cost.shape[1] if self._cost is not None else self._lazy.k

    @property
    def cost(self) -> np.ndarray:
        self._materialise()
        return self._cost

    @property
    def source(self) -> np.ndarray:
        self._materialise()
        return self._source

    def _materialise(self) -> None:
        if self._cost is None:
            self._cost, self._source = self._lazy.expand(None)

    def at_nodes(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cost, source) rows of the given nodes, as new arrays."""
        if self._cost is not None:
            return self._cost[nodes], self._source[nodes]
        return self._lazy.expand(np.asarray(nodes, dtype=np.int64))

    def at(self, snap: Snap, snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH):
        """Costs and sources for snapped points: node labels plus each point's leg.

        Costs beyond the cutoff become infinity (and their source -1).
        """
        if self._cost is None and len(snap.node) > 1000:
            # work out each distinct node once, in node order (kinder to the caches)
            nodes, inverse = np.unique(snap.node, return_inverse=True)
            cost_u, source_u = self.at_nodes(nodes)
            cost, source = cost_u[inverse], source_u[inverse]
        else:
            cost, source = self.at_nodes(snap.node)
        return self.with_legs(cost, source, snap.leg_cost(self.metric, snap_speed_mph))

    def with_legs(self, cost: np.ndarray, source: np.ndarray, legs: np.ndarray):
        """Add each point's leg to its node's labels (in place); beyond the cutoff: none."""
        cost += legs[:, None]
        beyond = cost > self.cutoff
        cost[beyond] = np.inf
        source[beyond] = -1
        return cost, source


@dataclass
class _CoreLabels:
    """Labels of a contracted search: the core's, and what is needed to expand them."""

    chains: object
    cost: np.ndarray
    source: np.ndarray
    source_nodes: np.ndarray
    source_cost: np.ndarray
    group_index: np.ndarray
    metric_index: int
    cutoff: float
    group_values: np.ndarray  # the caller's group id of each group index
    groups: np.ndarray | None = None  # group index of each core label (made when needed)

    def label_groups(self) -> np.ndarray:
        if self.groups is None:
            self.groups = label_ids(self.source, self.group_index)
        return self.groups

    @property
    def k(self) -> int:
        return self.cost.shape[1]

    def expand(self, nodes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = self.chains.core_of.shape[0] if nodes is None else len(nodes)
        cost = np.empty((n, self.k))
        source = np.empty((n, self.k), dtype=np.int64)
        expand(
            self.chains, self.cost, self.source, self.source_nodes, self.source_cost,
            self.group_index, self.metric_index, self.cutoff, cost, source, nodes=nodes,
        )  # fmt: skip
        return cost, source


def k_nearest_labels(
    graph: RoadGraph,
    source_nodes,
    *,
    k: int = 1,
    metric: str = "distance",
    source_cost=None,
    groups=None,
    cutoff: float | None = None,
) -> NodeLabels:
    """Run the k-nearest search from sources at graph nodes, member→provider direction.

    Parameters
    ----------
    graph
        The road graph.
    source_nodes
        Graph node of each source (provider site).
    k
        Labels kept per node.
    metric
        ``"distance"`` (meters) or ``"time"`` (seconds).
    source_cost
        Cost already spent at each source (its snapping leg), same unit.
    groups
        One integer per source; sources sharing a group count as one provider.
        Default: every source is its own provider.
    cutoff
        Stop at this cost (meters or seconds); labels beyond it are infinity.
    """
    if metric not in METRICS:
        raise InputError(f"metric must be 'distance' or 'time', not {metric!r}")
    if int(k) < 1:
        raise InputError(f"k must be at least 1, not {k}")
    k = int(k)
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    n_sources = len(source_nodes)
    if source_cost is None:
        source_cost = np.zeros(n_sources)
    source_cost = np.asarray(source_cost, dtype=np.float64)
    if groups is None:
        group_index = np.arange(n_sources, dtype=np.int32)
        group_values = np.arange(n_sources)
    else:
        group_values, group_index = np.unique(np.asarray(groups), return_inverse=True)
        group_index = group_index.astype(np.int32).ravel()
    cutoff = np.inf if cutoff is None else float(cutoff)

    chains = chains_of(graph)
    if chains.n_core <= CONTRACT_BELOW * graph.n_nodes:
        # search the intersections only, then walk the chains of shape points
        m = 0 if metric == "distance" else 1
        seed_node, seed_cost, which = seeds(chains, source_nodes, source_cost, m)
        core_cost, core_seed = _search(
            chains.core, seed_node, seed_cost, group_index[which], k, metric, cutoff
        )
        lookup = np.append(which, -1)  # seed index -> source index; -1 stays -1
        core = _CoreLabels(
            chains,
            core_cost,
            lookup[core_seed],
            source_nodes,
            source_cost,
            group_index,
            m,
            cutoff,
            group_values,
        )
        return NodeLabels(metric=metric, cutoff=cutoff, lazy=core)
    cost, source = _search(graph, source_nodes, source_cost, group_index, k, metric, cutoff)
    return NodeLabels(cost=cost, source=source, metric=metric, cutoff=cutoff)


def _search(graph, source_nodes, source_cost, group_index, k, metric, cutoff):
    """The compiled search on one graph: (n × k costs, n × k source indices)."""
    n = graph.n_nodes
    n_sources = len(source_nodes)
    weights = graph.rev_meters if metric == "distance" else graph.rev_seconds
    label_cost = np.empty(n * k)
    label_source = np.empty(n * k, dtype=np.int32)
    n_labels = np.empty(n, dtype=np.int32)
    tent_cost = np.empty(n * k)
    tent_group = np.empty(n * k, dtype=np.int32)
    capacity = k * graph.n_edges + n_sources + 1
    heap_cost = np.empty(capacity)
    heap_node = np.empty(capacity, dtype=np.int32)
    heap_source = np.empty(capacity, dtype=np.int32)
    if not n_sources:
        label_cost.fill(np.inf)
        label_source.fill(-1)
    else:
        _k_nearest_kernel(
            graph.rev_offsets,
            graph.rev_targets,
            weights,
            np.asarray(source_nodes, dtype=np.int64),
            np.asarray(source_cost, dtype=np.float64),
            np.asarray(group_index, dtype=np.int32),
            k,
            cutoff,
            label_cost,
            label_source,
            n_labels,
            tent_cost,
            tent_group,
            heap_cost,
            heap_node,
            heap_source,
        )
    return label_cost.reshape(n, k), label_source.reshape(n, k)


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


# ---------------------------------------------------------------------------
# incremental updates (what-if): one more source, and bounded single-source reach
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _relax(
    offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost, heap_node, size
):
    """Single-source Dijkstra step: relax the node's edges, remember nodes first reached."""
    for e in range(offsets[node], offsets[node + 1]):
        nxt = targets[e]
        nc = c + weights[e]
        if nc <= cutoff and nc < dist[nxt]:
            if dist[nxt] == np.inf:
                touched[n_touched] = nxt
                n_touched += 1
            dist[nxt] = nc
            size = _heap_push(heap_cost, heap_node, heap_node, size, nc, nxt, nxt)
    return n_touched, size


@njit(cache=True, nogil=True)
def _merge_kernel(
    offsets,
    targets,
    weights,
    start_node,
    start_cost,
    group,
    new_source,
    cutoff,
    label_cost,
    label_source,
    label_group,
    dist,
    touched,
    changed,
    heap_cost,
    heap_node,
):
    k = label_cost.shape[1]
    n_changed = 0
    dist[start_node] = start_cost
    touched[0] = start_node
    n_touched = 1
    size = _heap_push(heap_cost, heap_node, heap_node, 0, start_cost, start_node, start_node)
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        size = _heap_pop(heap_cost, heap_node, heap_node, size)
        if c > dist[node]:
            continue  # stale entry
        # where would (c, group) go among the node's sorted labels?
        same = -1
        for j in range(k):
            if label_group[node, j] == group and label_source[node, j] >= 0:
                same = j
                break
        if same >= 0:
            if label_cost[node, same] <= c:
                continue  # this provider already reaches the node as cheaply: prune
            j = same  # the provider moves up: drop its old label
        else:
            if not c < label_cost[node, k - 1]:
                continue  # not among the node's k nearest, nor anywhere beyond: prune
            j = k - 1  # the k-th label drops out
        while j > 0 and label_cost[node, j - 1] > c:
            label_cost[node, j] = label_cost[node, j - 1]
            label_source[node, j] = label_source[node, j - 1]
            label_group[node, j] = label_group[node, j - 1]
            j -= 1
        label_cost[node, j] = c
        label_source[node, j] = new_source
        label_group[node, j] = group
        changed[n_changed] = node
        n_changed += 1
        n_touched, size = _relax(
            offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost,
            heap_node, size,
        )  # fmt: skip
    return n_changed


def merge_source(
    graph: RoadGraph,
    labels: NodeLabels,
    label_group: np.ndarray,
    node: int,
    *,
    start_cost: float,
    group: int,
    new_source: int,
) -> tuple[NodeLabels, np.ndarray, np.ndarray]:
    """Labels with one more source, by one bounded search from it.

    The search from the new source (member→provider direction, like
    :func:`k_nearest_labels`) stops wherever the new provider is not among the
    node's ``k`` nearest: no node beyond can gain it either, since the node's
    own ``k`` providers reach them at least as cheaply. The result equals a
    full search with the source added (ties aside).

    Parameters
    ----------
    labels, label_group
        Current labels and the provider group of each label (-1 where none).
    node, start_cost
        The new source's graph node and its snapping leg (labels' unit).
    group
        The new source's provider group: an existing group when the provider
        already has other sites.
    new_source
        Source index recorded in the new labels.

    Returns the new labels, their groups and the nodes whose labels may have
    changed; the inputs are not modified. Labels of a contracted search are
    merged on the core (``label_group`` is then not needed and None is
    returned for it); ``group`` is then in the ids the search was given.
    """
    if labels._lazy is not None:  # core labels (even when full ones were made from them)
        return _merge_core(labels, int(node), float(start_cost), group, new_source)
    cost = labels.cost.copy()
    source = labels.source.copy()
    groups = label_group.copy()
    n = graph.n_nodes
    weights = graph.rev_meters if labels.metric == "distance" else graph.rev_seconds
    dist = np.full(n, np.inf)  # own array: calls may run on several threads
    touched = np.empty(n, dtype=np.int64)
    changed = np.empty(n, dtype=np.int64)
    heap_cost = np.empty(graph.n_edges + 1)
    heap_node = np.empty(graph.n_edges + 1, dtype=np.int32)
    if start_cost <= labels.cutoff:
        n_changed = _merge_kernel(
            graph.rev_offsets,
            graph.rev_targets,
            weights,
            int(node),
            float(start_cost),
            int(group),
            int(new_source),
            labels.cutoff,
            cost,
            source,
            groups,
            dist,
            touched,
            changed,
            heap_cost,
            heap_node,
        )
    else:
        n_changed = 0
    new = NodeLabels(cost=cost, source=source, metric=labels.metric, cutoff=labels.cutoff)
    return new, groups, np.unique(changed[:n_changed])


@njit(cache=True, nogil=True)
def _reach_kernel(
    offsets, targets, weights, start_node, start_cost, cutoff, dist, touched, heap_cost, heap_node
):
    dist[start_node] = start_cost
    touched[0] = start_node
    n_touched = 1
    size = _heap_push(heap_cost, heap_node, heap_node, 0, start_cost, start_node, start_node)
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        size = _heap_pop(heap_cost, heap_node, heap_node, size)
        if c > dist[node]:
            continue
        n_touched, size = _relax(
            offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost,
            heap_node, size,
        )  # fmt: skip
    return n_touched


def reach_within(
    graph: RoadGraph, node: int, *, metric: str, cutoff: float, start_cost: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes from which a provider at ``node`` is within ``cutoff``, and their costs.

    One bounded Dijkstra on the reversed graph (member→provider trips);
    ``start_cost`` is the provider's snapping leg. Costs are meters or seconds.
    """
    n = graph.n_nodes
    weights = graph.rev_meters if metric == "distance" else graph.rev_seconds
    dist = np.full(n, np.inf)  # own array: calls may run on several threads
    touched = np.empty(n, dtype=np.int64)
    heap_cost = np.empty(graph.n_edges + 1)
    heap_node = np.empty(graph.n_edges + 1, dtype=np.int32)
    if start_cost > cutoff:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    m = _reach_kernel(
        graph.rev_offsets,
        graph.rev_targets,
        weights,
        int(node),
        float(start_cost),
        float(cutoff),
        dist,
        touched,
        heap_cost,
        heap_node,
    )
    nodes = touched[:m].copy()
    return nodes, dist[nodes]


def _merge_core(labels: NodeLabels, node: int, start_cost: float, group, new_source: int):
    """:func:`merge_source` for labels kept on the chain-contracted core."""
    from ._chains import affected_nodes

    core = labels._lazy
    chains = core.chains
    found = np.flatnonzero(core.group_values == group)
    group_values = core.group_values
    if len(found):
        g = int(found[0])
    else:
        g = len(group_values)
        group_values = np.append(group_values, group)
    cost = core.cost.copy()
    source = core.source.copy()
    groups = core.label_groups().astype(np.int64)  # a copy
    seed_node, seed_cost, _ = seeds(chains, [node], np.array([start_cost]), core.metric_index)
    core_graph = chains.core
    weights = core_graph.rev_meters if labels.metric == "distance" else core_graph.rev_seconds
    n = core_graph.n_nodes
    touched = np.empty(n, dtype=np.int64)
    changed = np.empty(n, dtype=np.int64)
    heap_cost = np.empty(core_graph.n_edges + 1)
    heap_node = np.empty(core_graph.n_edges + 1, dtype=np.int32)
    hits = []
    for c_node, c_cost in zip(seed_node, seed_cost, strict=True):
        if c_cost > labels.cutoff:
            continue
        m = _merge_kernel(
            core_graph.rev_offsets,
            core_graph.rev_targets,
            weights,
            int(c_node),
            float(c_cost),
            g,
            int(new_source),
            labels.cutoff,
            cost,
            source,
            groups,
            np.full(n, np.inf),  # own scratch: merges may run on several threads
            touched,
            changed,
            heap_cost,
            heap_node,
        )
        hits.append(changed[:m].copy())
    changed_core = np.concatenate(hits) if hits else np.zeros(0, np.int64)
    new_core = _CoreLabels(
        chains,
        cost,
        source,
        np.append(core.source_nodes, node),
        np.append(core.source_cost, start_cost),
        np.append(core.group_index, g).astype(np.int32),
        core.metric_index,
        core.cutoff,
        group_values,
        groups,
    )
    new = NodeLabels(metric=labels.metric, cutoff=labels.cutoff, lazy=new_core)
    return new, None, affected_nodes(chains, changed_core, np.array([node]))


def label_ids(source: np.ndarray, ids) -> np.ndarray:
    """Map labels' source indices to ids (a provider id or group per source); -1 stays -1."""
    ids = np.asarray(ids)
    if not len(ids):
        return np.full(source.shape, -1, dtype=np.int64)
    return np.where(source >= 0, ids[np.maximum(source, 0)], -1)


def changed_nodes(old: NodeLabels, new: NodeLabels, old_ids, new_ids) -> np.ndarray:
    """Nodes whose labels may differ between two searches of one graph (terminations).

    ``old_ids``/``new_ids`` map each search's source index to a provider id
    shared by both. Compared on the core when both searches are contracted.
    """
    from ._chains import affected_nodes

    if old.k != new.k:
        return np.arange(len(old.cost))
    if old._lazy is not None and new._lazy is not None:
        a, b = old._lazy, new._lazy

        differ = (a.cost != b.cost).any(axis=1)
        differ |= (label_ids(a.source, old_ids) != label_ids(b.source, new_ids)).any(axis=1)

        # sources that came or went: (node, provider, leg) in one search only
        def sites(core, ids):
            return set(
                zip(
                    core.source_nodes.tolist(),
                    np.asarray(ids).tolist(),
                    core.source_cost.tolist(),
                    strict=True,
                )
            )

        moved = sites(a, old_ids) ^ sites(b, new_ids)
        sources = np.array(sorted({node for node, _, _ in moved}), dtype=np.int64)
        return affected_nodes(a.chains, np.flatnonzero(differ), sources)
    differ = (old.cost != new.cost).any(axis=1)
    differ |= (label_ids(old.source, old_ids) != label_ids(new.source, new_ids)).any(axis=1)
    return np.flatnonzero(differ)
