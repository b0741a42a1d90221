"""Miles along the fastest route after a what-if merge, worked out where they changed.

A time search's route meters (:func:`adequacy.routing.routes.route_meters`) are
made once per search and kept on it (``Search.route``). After a what-if adds a
site (:meth:`adequacy.routing.NodeLabels.merge`) the labels differ only at a few
nodes, yet a search without route meters would have them read again off every
label of the graph. :func:`merged_route` starts from the old search's route
meters instead and works out again only the labels that may have changed: the
labels of the nodes whose labels changed, and, in time order, every label whose
route may run through a label whose route meters or time changed.

Why the answer is :func:`route_meters`'s own: a label's route meters are the
least, over its node's neighbours holding a label of the same provider that is
exactly one edge faster (and the provider's own site), of that label's meters
plus the edge's. When every edge takes longer than the time tolerance, such a
neighbour's label is strictly faster, so the meters are one function of the
labels, whatever order labels are visited in (cost order), and a label whose
neighbours' labels and meters did not change keeps its meters. A graph with
edges of (nearly) no time is left to :func:`route_meters` (None is returned), and
so is a merge that changed most labels (one sweep in time order is then quicker).
The nodes whose labels changed are the merges' own answer (the nodes a what-if
judges again), which holds every core node a merge wrote to.

Owns: ``merged_route``. Uses: :mod:`adequacy.routing` (labels, ``TIE_TOLERANCE``)
and :mod:`adequacy.network.chains` (seeds on the contracted core).
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit

from adequacy.network.chain_labels import seeds
from adequacy.routing.routes import TIE_TOLERANCE, label_route


def merged_route(
    graph, old_labels, old_route, new_labels, group, meters, seconds, nodes, changed, cache=None
):
    """The route meters of ``new_labels`` (time labels: ``old_labels`` with sources
    merged in, sources appended), from ``old_route`` (``old_labels``' route meters).

    ``group``, ``meters``, ``seconds`` and ``nodes`` are per source of the new labels
    (as :func:`~adequacy.routing.routes.route_meters` takes them); ``changed`` the graph
    nodes whose labels the merges may have changed (their answer). ``cache`` (a dict)
    keeps the old sources' seeds for the next update of the same labels. Returns None
    where the update does not apply (labels of another kind or shape, edges of no
    time): the caller then leaves the route meters to be made from scratch.
    """
    if old_route is None or getattr(new_labels, "metric", None) != "time":
        return None
    if old_labels.contracted != new_labels.contracted:
        return None
    if new_labels.contracted:
        old_core, new_core = old_labels._lazy, new_labels._lazy
        chains = new_core.chains  # the contraction the labels were searched on
        if old_core.chains is not chains:
            return None
        walk, edge_meters = chains.core, chains.core_route_meters
        old_cost, old_source = old_core.cost, old_core.source
        cost, source = new_core.cost, new_core.source
        rows = chains.core_of[np.asarray(changed, dtype=np.int64)]
        rows = np.unique(rows[rows >= 0])
    else:
        chains = None
        walk, edge_meters = graph, graph.meters
        old_cost, old_source = old_labels.cost, old_labels.source
        cost, source = new_labels.cost, new_labels.source
        rows = np.unique(np.asarray(changed, dtype=np.int64))
    n, k = cost.shape
    k_old = old_cost.shape[1]
    if old_cost.shape[0] != n or k_old > k or old_route.shape != old_cost.shape:
        return None
    if not len(walk.seconds) or _least(walk.seconds, cache) <= 2 * TIE_TOLERANCE * max(
        1.0, new_labels.cutoff
    ):
        return None  # labels a zero-time edge apart: the visiting order decides
    if len(rows) * _WHOLE > n:
        return None  # most labels changed: quicker read again in one sweep, in time order
    found = _seeds(chains, old_labels, nodes, seconds, meters, cache)
    if found is None:
        return None
    seed_ptr, seed_node, seed_seconds, seed_meters = found
    out = np.empty((n, k))
    out[:, :k_old] = old_route
    out[:, k_old:] = np.inf
    _update_kernel(
        walk.offsets,
        walk.targets,
        edge_meters,
        walk.seconds,
        walk.rev_offsets,
        walk.rev_targets,
        old_cost,
        old_source,
        cost,
        source,
        np.asarray(group, dtype=np.int64),
        seed_ptr,
        seed_node,
        seed_seconds,
        seed_meters,
        rows,
        out,
    )
    return out


#: a merge that changed more than one node's labels in this many: route meters made
#: again in full (a label worked out here costs a few times one of a full sweep)
_WHOLE = 4


def _least(seconds: np.ndarray, cache) -> float:
    """The least edge time of a graph, kept in ``cache`` (when given) with the array
    it is of: every update on the same graph would otherwise read every edge again."""
    if cache is None:
        return seconds.min()
    key = ("least", id(seconds))
    found = cache.get(key)
    if found is None or found[0] is not seconds:
        found = cache[key] = (seconds, seconds.min())
    return found[1]


def _seeds(chains, old_labels, nodes, seconds, meters, cache):
    """Each source's seeds (where a route may end at the provider's own site), grouped by
    source: (pointers, node, seconds, meters), as ``route_meters`` makes them. The old
    sources' come from ``cache`` when it holds them; None if the seeds do not pair up."""
    nodes = np.asarray(nodes, dtype=np.int64)
    seconds = np.asarray(seconds, dtype=np.float64)
    meters = np.asarray(meters, dtype=np.float64)
    old = cache.get(id(old_labels)) if cache is not None else None
    if old is not None and (old[0] is not old_labels or old[1] > len(nodes)):
        old = None
    start = old[1] if old is not None else 0
    if chains is not None:
        seed_node, seed_seconds, which = seeds(chains, nodes[start:], seconds[start:], 1)
        _, seed_meters, which_m = seeds(chains, nodes[start:], meters[start:], 2)
        if not np.array_equal(which, which_m):
            return None
    else:
        seed_node, seed_seconds, seed_meters = nodes[start:], seconds[start:], meters[start:]
        which = np.arange(len(nodes) - start)
    by_source = np.argsort(which, kind="stable")
    ptr = np.zeros(len(nodes) - start + 1, dtype=np.int64)
    np.cumsum(np.bincount(which, minlength=len(nodes) - start), out=ptr[1:])
    part = (
        ptr,
        np.asarray(seed_node, dtype=np.int64)[by_source],
        np.asarray(seed_seconds, dtype=np.float64)[by_source],
        np.asarray(seed_meters, dtype=np.float64)[by_source],
    )
    if old is not None:
        o_ptr, o_node, o_sec, o_met = old[2]
        part = (
            np.concatenate([o_ptr, o_ptr[-1] + ptr[1:]]),
            np.concatenate([o_node, part[1]]),
            np.concatenate([o_sec, part[2]]),
            np.concatenate([o_met, part[3]]),
        )
    elif cache is not None and start == 0 and len(nodes):
        # the old labels' own sources, for the next update: the first n_old ones
        n_old = _n_sources(old_labels)
        if n_old is not None and n_old <= len(nodes):
            p = part[0]
            cut = int(p[n_old])
            cache[id(old_labels)] = (
                old_labels,
                n_old,
                (p[: n_old + 1].copy(), part[1][:cut], part[2][:cut], part[3][:cut]),
            )
    return part


def _n_sources(labels) -> int | None:
    """How many sources labels were searched from (contracted labels know)."""
    return len(labels._lazy.source_nodes) if labels.contracted else None


@njit(cache=True, nogil=True)
def _push_dependents(v, g, c, rev_offsets, rev_targets, cost, source, group, queued, heap):
    """Queue the label of provider ``g`` at each node with an edge into ``v`` that is
    slower than ``c`` (only those can run through ``v``'s label)."""
    k = cost.shape[1]
    for e in range(rev_offsets[v], rev_offsets[v + 1]):
        w = rev_targets[e]
        if w == v:
            continue
        for jw in range(k):
            sw = source[w, jw]
            if sw < 0:
                break
            if group[sw] == g:
                flat = w * k + jw
                if cost[w, jw] > c and not queued[flat]:
                    queued[flat] = True
                    heapq.heappush(heap, (cost[w, jw], flat))
                break


@njit(cache=True, nogil=True)
def _update_kernel(
    offsets, targets, meters, seconds, rev_offsets, rev_targets, old_cost, old_source,
    cost, source, group, seed_ptr, seed_node, seed_seconds, seed_meters, changed, out,
):  # fmt: skip
    n, k = cost.shape
    k_old = old_cost.shape[1]
    queued = np.zeros(n * k, dtype=np.bool_)
    heap = [(0.0, np.int64(0))]
    heap.pop()
    is_changed = np.zeros(n, dtype=np.bool_)
    for v in changed:
        is_changed[v] = True
    for v in changed:
        for j in range(k):
            if source[v, j] >= 0 and cost[v, j] < np.inf:
                out[v, j] = np.nan  # worked out below
                queued[v * k + j] = True
                heapq.heappush(heap, (cost[v, j], v * k + j))
            else:
                out[v, j] = np.inf
        # routes that ran through this node's old labels
        for j in range(k_old):
            s = old_source[v, j]
            if s < 0:
                break
            _push_dependents(
                v, group[s], old_cost[v, j], rev_offsets, rev_targets, cost, source, group,
                queued, heap,
            )  # fmt: skip
    while len(heap):
        c, flat = heapq.heappop(heap)
        v = flat // k
        j = flat - v * k
        g = group[source[v, j]]
        best = label_route(
            v, j, offsets, targets, meters, seconds, cost, source, group, seed_ptr, seed_node,
            seed_seconds, seed_meters, out,
        )  # fmt: skip
        before = out[v, j]
        out[v, j] = best
        if is_changed[v] or before != best:
            _push_dependents(v, g, c, rev_offsets, rev_targets, cost, source, group, queued, heap)
