"""The k-nearest provider labels of every graph node, and their incremental updates.

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

Incremental updates (what-if)
    :meth:`NodeLabels.merge` adds one source by one bounded search from it;
    :meth:`NodeLabels.diff` lists the nodes whose labels differ between two
    searches; :meth:`NodeLabels.widen` adds empty slots. :func:`reach_within`
    is a bounded single-source search (recruitment).

Owns: ``NodeLabels``, ``k_nearest_labels``, ``reach_within``. Uses:
``adequacy.network`` (the graph and its chain contraction), ``routing.kernels``
and ``routing.snap``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from adequacy.errors import InputError
from adequacy.network import RoadGraph
from adequacy.network.chain_labels import ChainPlaces, affected_nodes, expand, seeds
from adequacy.network.chains import chains_of
from adequacy.routing.kernels import (
    LABEL_HEAP,
    TENTATIVE,
    k_nearest_kernel,
    merge_kernel,
    reach_kernel,
)
from adequacy.routing.snap import DEFAULT_SNAP_SPEED_MPH, Snap

METRICS = ("distance", "time")
#: Search the chain-contracted core when it has at most this share of the nodes.
CONTRACT_BELOW = 0.7


def contracted(graph: RoadGraph) -> bool:
    """Whether searches on ``graph`` run on its chain-contracted core: when the core
    holds at most ``CONTRACT_BELOW`` of the nodes, or as ``graph.meta["contracted"]``
    says (a graph clipped for a partition searches as its source graph does, so that
    both add the same edges in the same order)."""
    forced = graph.meta.get("contracted")
    if forced is not None:
        return bool(forced)
    return chains_of(graph).n_core <= CONTRACT_BELOW * graph.n_nodes


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
        lazy: CoreLabels | None = None,
        order: np.ndarray | None = None,
    ) -> None:
        if cost is None and lazy is None:
            raise ValueError("NodeLabels needs full labels or core labels")
        self._cost = cost
        self._source = source
        self._lazy = lazy
        #: flat indices (node * k + slot) of the labels in the order the search settled
        #: them, cost order (full labels from a search; None after an update)
        self.order = order
        self.metric = metric
        self.cutoff = cutoff

    @property
    def k(self) -> int:
        return self._cost.shape[1] if self._cost is not None else self._lazy.k

    def forget_order(self) -> None:
        """Drop the settled order (n × k indices). Only reading time labels' routes
        needs it (:func:`adequacy.routing.routes.route_meters`, where equal times
        tie); once they are read, or where they never will be, it is dead weight."""
        self.order = None
        if self._lazy is not None:
            self._lazy.order = None

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

    def nearest_bound(self) -> np.ndarray:
        """Per node the search settled (the core's when contracted, else every
        node), the cost to its nearest source, or the cutoff where none is within
        it: no source is nearer (in the metric's unit), the lower bound
        :func:`~adequacy.routing.fastest_route_counts` prunes with."""
        cost = self._lazy.cost if self._lazy is not None else self._cost
        first = cost[:, 0] if cost.shape[1] else np.full(cost.shape[0], np.inf)
        return np.minimum(first, self.cutoff)

    def at_nodes(
        self, nodes: np.ndarray, places: ChainPlaces | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cost, source) rows of the given nodes, as new arrays. ``places``: the
        nodes' :func:`~adequacy.network.chain_labels.places_of`, when the caller
        reads several searches at the same nodes (contracted labels only)."""
        if self._cost is not None:
            return self._cost[nodes], self._source[nodes]
        return self._lazy.expand(np.asarray(nodes, dtype=np.int64), places)

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

    # -- incremental updates (what-if)
    @property
    def contracted(self) -> bool:
        """Whether the labels are kept on the chain-contracted core."""
        return self._lazy is not None

    def groups_of(self, ids) -> np.ndarray | None:
        """Each label's provider group (``ids`` per source; -1 where none), as
        :meth:`merge` wants it: None for contracted labels, which keep their own."""
        if self.contracted:
            return None
        return label_ids(self.source, ids).astype(np.int32)

    def widen(self, pad: int, groups: np.ndarray | None = None):
        """New labels with ``pad`` more empty slots per node, and their widened groups."""
        if self.contracted:
            core = self._lazy
            wider = replace(
                core,
                cost=np.hstack([core.cost, np.full((core.cost.shape[0], pad), np.inf)]),
                source=np.hstack([core.source, np.full((core.source.shape[0], pad), -1)]),
                groups=None,
                order=None,
            )
            return NodeLabels(metric=self.metric, cutoff=self.cutoff, lazy=wider), None
        wider = NodeLabels(
            np.hstack([self.cost, np.full((self.cost.shape[0], pad), np.inf)]),
            np.hstack([self.source, np.full((self.source.shape[0], pad), -1)]),
            metric=self.metric,
            cutoff=self.cutoff,
        )
        return wider, np.hstack([groups, np.full((groups.shape[0], pad), -1, np.int32)])

    def merge(self, graph: RoadGraph, groups, node: int, *, start_cost: float, group: int,
              new_source: int):  # fmt: skip
        """These labels with one more source; see :func:`merge_source`."""
        return merge_source(
            graph, self, groups, node, start_cost=start_cost, group=group, new_source=new_source
        )

    def diff(self, new: NodeLabels, old_ids, new_ids) -> np.ndarray:
        """Nodes whose labels may differ from ``new``'s; see :func:`changed_nodes`."""
        return changed_nodes(self, new, old_ids, new_ids)


@dataclass
class CoreLabels:
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
    order: np.ndarray | None = None  # core labels in settled (cost) order, from a search

    def label_groups(self) -> np.ndarray:
        if self.groups is None:
            self.groups = label_ids(self.source, self.group_index)
        return self.groups

    @property
    def k(self) -> int:
        return self.cost.shape[1]

    def expand(
        self, nodes: np.ndarray | None, places: ChainPlaces | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self.chains.core_of.shape[0] if nodes is None else len(nodes)
        cost = np.empty((n, self.k))
        source = np.empty((n, self.k), dtype=np.int64)
        expand(
            self.chains, self.cost, self.source, self.source_nodes, self.source_cost,
            self.group_index, self.metric_index, self.cutoff, cost, source, nodes=nodes,
            places=places,
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
    if contracted(graph):
        # search the intersections only, then walk the chains of shape points
        m = 0 if metric == "distance" else 1
        seed_node, seed_cost, which = seeds(chains, source_nodes, source_cost, m)
        by_source = np.argsort(which, kind="stable")  # seeds in their sources' order: the
        seed_node, seed_cost, which = seed_node[by_source], seed_cost[by_source], which[by_source]
        core_cost, core_seed, order = _search(  # search orders equal costs by seed index
            chains.core, seed_node, seed_cost, group_index[which], k, metric, cutoff
        )
        lookup = np.append(which, -1).astype(np.int32)  # seed index -> source index; -1 stays
        core = CoreLabels(
            chains,
            core_cost,
            lookup[core_seed].astype(np.int32),  # source indices (int32: half the memory)
            source_nodes,
            source_cost,
            group_index,
            m,
            cutoff,
            group_values,
            order=order,
        )
        return NodeLabels(metric=metric, cutoff=cutoff, lazy=core)
    cost, source, order = _search(graph, source_nodes, source_cost, group_index, k, metric, cutoff)
    return NodeLabels(cost=cost, source=source, metric=metric, cutoff=cutoff, order=order)


def _search(graph, source_nodes, source_cost, group_index, k, metric, cutoff):
    """The compiled search on one graph: (n × k costs, n × k source indices, the labels'
    flat indices in settled order). Equal costs are ordered by source index."""
    n = graph.n_nodes
    n_sources = len(source_nodes)
    weights = graph.rev_meters if metric == "distance" else graph.rev_seconds
    label_cost = np.empty(n * k)
    label_source = np.empty(n * k, dtype=np.int32)
    tent = np.empty(n * k, dtype=TENTATIVE)  # each node's k slots side by side
    capacity = k * graph.n_edges + n_sources + 2  # 1-based, and a sentinel past the end
    raw = np.empty(capacity + 4, dtype=LABEL_HEAP)  # 16-byte entries, 64-byte aligned:
    start = (-raw.ctypes.data % 64) // LABEL_HEAP.itemsize  # an entry's 4 grandchildren
    heap = raw[start : start + capacity]  # fill one cache line
    settle_order = np.empty(n * k, dtype=np.int64)
    settled = 0
    if not n_sources:
        label_cost.fill(np.inf)
        label_source.fill(-1)
    else:
        settled = k_nearest_kernel(
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
            tent,
            heap,
            settle_order,
        )
    order = settle_order[:settled]
    if n * k < np.iinfo(np.int32).max:  # half the memory, kept as long as the search
        order = order.astype(np.int32)
    return label_cost.reshape(n, k), label_source.reshape(n, k), order


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
        n_changed = merge_kernel(
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
    m = reach_kernel(
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
        m = merge_kernel(
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
    new_core = CoreLabels(
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
