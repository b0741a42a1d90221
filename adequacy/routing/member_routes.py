"""One member's fastest routes to every provider nearby, searched from the member.

The k-nearest labels hold each node's ``k`` fastest providers. Under
``distance_basis: fastest_route`` a provider qualifies when it is within the
minute limit *or* its fastest route is within the mile limit, and a provider
whose route is short but slow can lie past the ``k``-th fastest label. Where a
member falls short of a rule and such a provider may exist, asking every
search again with twice the labels, over the whole graph, for a handful of
members, is costly: :func:`fastest_route_counts` answers those members
exactly instead, with one forward search from each.

The search runs by time along the forward edges (residence to provider) on
the chain-contracted core when searches do (``routing.labels.contracted``),
keeping each node's fastest time and the meters of that route (the shortest
of equally fast ones, as :func:`~adequacy.routing.route_meters` does). It
stops when no unsettled node is live: a node is live when its time plus the
time to the provider nearest it by time is within the minute limit, or its
route's meters plus the distance to the provider nearest it by distance are
within the mile limit (those nearest costs are the k-nearest labels' first,
lower bounds; zero when not given, and the search then covers the limits
whole). Pruning never changes what the search does before it stops, only
when it stops: a provider that qualifies is reached along the chain of last
updates the search itself follows (its fastest route, ties within
``TIE_TOLERANCE`` taken as the search takes them), and the first unsettled node
on that chain already holds its final time and meters, so it is live and the
search has not stopped. It then goes on, if needed, until every
provider with a route within the mile limit is settled by its fastest way, so
a faster way through an unsettled node cannot change its route. The answer
is therefore exact (the tests compare with networkx on the full graph).

Owns: ``fastest_route_counts``. Uses: ``adequacy.network`` (the graph and its
chains) and ``routing.kernels``/``labels``/``routes``.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from adequacy.network import RoadGraph
from adequacy.network.chain_labels import seeds
from adequacy.network.chains import chains_of
from adequacy.routing.kernels import heap_pop, heap_push
from adequacy.routing.labels import contracted
from adequacy.routing.routes import TIE_TOLERANCE  # equal times, as route_meters has them


def fastest_route_counts(
    graph: RoadGraph,
    member_nodes: np.ndarray,
    member_seconds: np.ndarray,
    member_meters: np.ndarray,
    source_nodes: np.ndarray,
    source_seconds: np.ndarray,
    source_meters: np.ndarray,
    source_group: np.ndarray,
    *,
    max_seconds: np.ndarray,
    max_meters: np.ndarray,
    cutoff_seconds: float,
    lower_seconds: np.ndarray | None = None,
    lower_meters: np.ndarray | None = None,
    scratch: threading.local | None = None,
) -> np.ndarray:
    """Distinct providers each member reaches within ``max_seconds`` or along a
    fastest route of at most ``max_meters``.

    Parameters
    ----------
    graph
        The road graph (searched on its chain-contracted core when searches are).
    member_nodes, member_seconds, member_meters
        Each member's graph node and snapping leg (seconds, meters).
    source_nodes, source_seconds, source_meters, source_group
        Each provider site's graph node, snapping leg (seconds, meters) and
        provider (sites of one provider count once, by their fastest).
    max_seconds, max_meters
        Per member, inclusive bounds on the whole trip (legs included), in
        seconds and meters; NaN where the rule sets no such limit.
    cutoff_seconds
        A provider farther than this in time is not reached at all (the time
        search's own cutoff), whatever its route's length.
    lower_seconds, lower_meters
        Optional, per node searched (the core's when searches run contracted,
        else the graph's): no provider is nearer than this from that node, in
        seconds and meters (the k-nearest labels' first cost, or the search
        cutoff where none; :meth:`~adequacy.routing.NodeLabels.nearest_bound`).
        The search then leaves alone nodes from which no provider can be within
        either limit. Default: zero (no such knowledge).
    scratch
        Optional, a ``threading.local()`` the caller keeps for calls on one graph:
        each thread's search scratch (some 60 bytes per node) is made in it once and
        reused, not filled anew per call. Default: made for this call alone.

    Returns the count per member (int64).
    """
    chains = chains_of(graph)
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    source_seconds = np.asarray(source_seconds, dtype=np.float64)
    source_meters = np.asarray(source_meters, dtype=np.float64)
    member_nodes = np.asarray(member_nodes, dtype=np.int64)
    n_sources = len(source_nodes)
    if contracted(graph):
        walk, walk_meters = chains.core, chains.core_route_meters
        way_node, way_seconds, which = seeds(chains, source_nodes, source_seconds, 1)
        _, way_meters, _ = seeds(chains, source_nodes, source_meters, 2)
        src_chain = chains.chain_of[source_nodes]
        src_entry = np.where(
            src_chain >= 0,
            chains.chain_ptr[np.maximum(src_chain, 0)] + chains.pos_of[source_nodes],
            -1,
        )
        chain_arrays = (
            chains.core_of, chains.chain_of, chains.pos_of, chains.chain_ptr,
            chains.chain_nodes, chains.from_a[1], chains.to_a[1], chains.to_b[1],
            chains.from_a[2], chains.to_a[2], chains.to_b[2],
        )  # fmt: skip
    else:
        walk, walk_meters = graph, graph.meters
        way_node, way_seconds, way_meters = source_nodes, source_seconds, source_meters
        which = np.arange(n_sources)
        src_chain = np.full(n_sources, -1, dtype=np.int64)
        src_entry = src_chain
        none_i = np.full(1, -1, dtype=np.int64)
        none_f = np.zeros(1)
        chain_arrays = (
            np.arange(graph.n_nodes, dtype=np.int64), np.full(graph.n_nodes, -1, np.int64),
            np.zeros(graph.n_nodes, np.int64), none_i, none_i,
            none_f, none_f, none_f, none_f, none_f, none_f,
        )  # fmt: skip
    by_source = np.argsort(which, kind="stable")
    way_ptr = np.zeros(n_sources + 1, dtype=np.int64)
    np.cumsum(np.bincount(which, minlength=n_sources), out=way_ptr[1:])
    group_values, group = np.unique(np.asarray(source_group), return_inverse=True)

    def bound(limit, leg):
        limit = np.asarray(limit, dtype=np.float64)
        return np.where(np.isnan(limit), -np.inf, limit - leg)

    member_seconds = np.asarray(member_seconds, dtype=np.float64)
    member_meters = np.asarray(member_meters, dtype=np.float64)
    n = walk.n_nodes
    out = np.zeros(len(member_nodes), dtype=np.int64)
    _counts_kernel(
        walk.offsets, walk.targets, walk.seconds, walk_meters, *chain_arrays,
        member_nodes, member_seconds, member_meters,
        bound(max_seconds, member_seconds), bound(max_meters, member_meters),
        float(cutoff_seconds),
        way_ptr, np.asarray(way_node, dtype=np.int64)[by_source],
        np.asarray(way_seconds, dtype=np.float64)[by_source],
        np.asarray(way_meters, dtype=np.float64)[by_source],
        src_chain.astype(np.int64), src_entry.astype(np.int64), source_seconds, source_meters,
        group.astype(np.int64).ravel(), len(group_values),
        _lower(lower_seconds, n, "lower_seconds"), _lower(lower_meters, n, "lower_meters"),
        *_scratch(scratch, n, walk.n_edges), out,
    )  # fmt: skip
    return out


def _scratch(kept: threading.local | None, n: int, n_edges: int) -> tuple[np.ndarray, ...]:
    """The search's scratch for a walk of ``n`` nodes and ``n_edges`` edges: best
    seconds and meters (infinity), settled (False), touched nodes, heap. The kernel
    leaves it as it found it (it resets the nodes it touched), so a caller that
    keeps it (``kept``, per thread) reuses it instead of filling it anew."""
    key = (n, n_edges)
    found = getattr(kept, "arrays", None)
    if found is None or found[0] != key:
        found = (
            key,
            (
                np.full(n, np.inf), np.full(n, np.inf), np.zeros(n, dtype=np.bool_),
                np.empty(n, dtype=np.int64), np.empty(n_edges + 3),
                np.empty(n_edges + 3, np.int32),
            ),
        )  # fmt: skip
        if kept is not None:
            kept.arrays = found
    return found[1]


#: Bounds and sums compared 1e-9 smaller (relative): rounding of different summation
#: orders, even over millions of edges, stays below it.
_SHRINK = 1.0 - 1e-9


def _lower(values: np.ndarray | None, n: int, name: str) -> np.ndarray:
    """A lower bound per node (zero when not given), checked; :func:`_live` takes it
    slightly smaller still, against the rounding of another summation order."""
    if values is None:
        return np.zeros(n)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(f"{name} must have one value per node searched ({n}), not {values.shape}")
    return values


@njit(cache=True, nogil=True)
def _search_until(
    offsets, targets, seconds, meters, best_s, best_m, settled, touched, n_touched,
    heap_cost, heap_node, size, live, meters_bound, time_bound, cutoff, lower_m, lower_s,
    seconds_bound,
):  # fmt: skip
    """Settle nodes by time until no unsettled node is live (:func:`_live`) and the next
    is past ``time_bound``. Returns (heap size, touched, live)."""
    while size > 0:
        c = heap_cost[0]
        if live == 0 and c > time_bound:
            break
        node = heap_node[0]
        size = heap_pop(heap_cost, heap_node, heap_node, size)
        if settled[node] or c > best_s[node]:
            continue
        settled[node] = True
        m = best_m[node]
        if _live(node, c, m, lower_m, lower_s, meters_bound, seconds_bound):
            live -= 1
        for e in range(offsets[node], offsets[node + 1]):
            nxt = targets[e]
            if settled[nxt]:
                continue
            nc = c + seconds[e]
            nm = m + meters[e]
            if nc > cutoff:
                continue
            old = best_s[nxt]
            was = old < np.inf and _live(
                nxt, old, best_m[nxt], lower_m, lower_s, meters_bound, seconds_bound
            )
            if old < np.inf and abs(nc - old) <= TIE_TOLERANCE * max(1.0, old):  # equally fast
                if nm < best_m[nxt]:
                    best_m[nxt] = nm
            elif nc < old:
                if old == np.inf:
                    touched[n_touched] = nxt
                    n_touched += 1
                best_s[nxt] = nc
                best_m[nxt] = nm
                size = heap_push(heap_cost, heap_node, heap_node, size, nc, nxt, nxt)
            else:
                continue
            now = _live(nxt, best_s[nxt], best_m[nxt], lower_m, lower_s, meters_bound,
                        seconds_bound)  # fmt: skip
            if now and not was:
                live += 1
            elif was and not now:
                live -= 1
    return size, n_touched, live


@njit(cache=True, nogil=True, inline="always")
def _live(node, t, m, lower_m, lower_s, meters_bound, seconds_bound):
    """Whether a route reaching ``node`` in ``t`` seconds and ``m`` meters may still
    lead to a provider within either bound (``lower_*``: no provider is nearer). The
    bounds and sums are taken 1e-9 smaller (the bounds a micrometer or microsecond
    more): the route's own float sum may lose what a bound summed the other way kept
    (a long route of many edges below its rounding step)."""
    lm = max(lower_m[node] * _SHRINK - 1e-6, 0.0)
    ls = max(lower_s[node] * _SHRINK - 1e-6, 0.0)
    return (m + lm) * _SHRINK <= meters_bound or (t + ls) * _SHRINK <= seconds_bound


@njit(cache=True, nogil=True, inline="always")
def _keep(grp_s, grp_m, g, t, m):
    """Keep provider ``g``'s fastest way (the shortest of equally fast ones)."""
    old = grp_s[g]
    if old < np.inf and abs(t - old) <= TIE_TOLERANCE * max(1.0, old):
        grp_s[g] = min(old, t)
        grp_m[g] = min(grp_m[g], m)
    elif t < old:
        grp_s[g] = t
        grp_m[g] = m


@njit(cache=True, nogil=True)
def _providers(
    best_s, best_m, settled, way_ptr, way_node, way_seconds, way_meters, src_chain, src_entry,
    source_seconds, source_meters, group, grp_s, grp_m, grp_open, next_s,
    x_chain, x_entry, from_a, to_a, r_from_a, r_to_a,
):  # fmt: skip
    """Each provider's fastest way found so far (``grp_s``/``grp_m``, walk costs plus the
    site's leg) and whether a faster way may still pass an unsettled node
    (``grp_open``: its fastest is not below ``next_s``, the next time to settle)."""
    for g in range(grp_s.shape[0]):
        grp_s[g] = np.inf
        grp_m[g] = np.inf
        grp_open[g] = False
    for s in range(src_chain.shape[0]):
        g = group[s]
        for w in range(way_ptr[s], way_ptr[s + 1]):
            v = way_node[w]
            if settled[v]:
                _keep(grp_s, grp_m, g, best_s[v] + way_seconds[w], best_m[v] + way_meters[w])
            elif best_s[v] < np.inf or next_s < np.inf:
                grp_open[g] = True
        if x_chain >= 0 and src_chain[s] == x_chain:  # along the member's own chain
            p = src_entry[s]
            i = x_entry
            if p == i:
                _keep(grp_s, grp_m, g, source_seconds[s], source_meters[s])
            elif p > i and from_a[p] < np.inf:
                t = source_seconds[s] + (from_a[p] - from_a[i])
                _keep(grp_s, grp_m, g, t, source_meters[s] + (r_from_a[p] - r_from_a[i]))
            elif p < i and to_a[i] < np.inf:
                t = source_seconds[s] + (to_a[i] - to_a[p])
                _keep(grp_s, grp_m, g, t, source_meters[s] + (r_to_a[i] - r_to_a[p]))
    for g in range(grp_s.shape[0]):
        grp_open[g] = grp_open[g] and not grp_s[g] < next_s


@njit(cache=True, nogil=True)
def _counts_kernel(
    offsets, targets, seconds, meters, core_of, chain_of, pos_of, chain_ptr, chain_nodes,
    from_a, to_a, to_b, r_from_a, r_to_a, r_to_b, member_nodes, member_seconds, member_meters,
    time_bound, meters_bound, cutoff, way_ptr, way_node, way_seconds, way_meters, src_chain,
    src_entry, source_seconds, source_meters, group, n_groups, lower_s, lower_m, best_s, best_m,
    settled, touched, heap_cost, heap_node, out,
):  # fmt: skip
    grp_s = np.empty(n_groups)
    grp_m = np.empty(n_groups)
    grp_open = np.zeros(n_groups, dtype=np.bool_)
    start_v = np.empty(2, dtype=np.int64)
    start_s = np.empty(2)
    start_m = np.empty(2)
    for r in range(member_nodes.shape[0]):
        x = member_nodes[r]
        tb = time_bound[r]
        mb = meters_bound[r]
        cut = cutoff - member_seconds[r]
        n_touched = 0
        size = 0
        live = 0
        x_chain = -1
        x_entry = -1
        if core_of[x] >= 0:
            n_starts = 1
            start_v[0] = core_of[x]
            start_s[0] = 0.0
            start_m[0] = 0.0
        else:  # a shape point: leave its chain by either end the one-way rules allow
            n_starts = 2
            x_chain = chain_of[x]
            x_entry = chain_ptr[x_chain] + pos_of[x]
            start_v[0] = core_of[chain_nodes[chain_ptr[x_chain]]]
            start_v[1] = core_of[chain_nodes[chain_ptr[x_chain + 1] - 1]]
            start_s[0] = to_a[x_entry]
            start_s[1] = to_b[x_entry]
            start_m[0] = r_to_a[x_entry]
            start_m[1] = r_to_b[x_entry]
        for q in range(n_starts):
            v = start_v[q]
            t = start_s[q]
            m = start_m[q]
            if not (t < np.inf and t <= cut):  # an end the one-way rules keep away
                continue
            if best_s[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            elif t > best_s[v] or (t == best_s[v] and m >= best_m[v]):
                continue
            elif _live(v, best_s[v], best_m[v], lower_m, lower_s, mb, tb):
                live -= 1
            best_s[v] = t
            best_m[v] = m
            if _live(v, t, m, lower_m, lower_s, mb, tb):
                live += 1
            size = heap_push(heap_cost, heap_node, heap_node, size, t, v, v)
        size, n_touched, live = _search_until(
            offsets, targets, seconds, meters, best_s, best_m, settled, touched, n_touched,
            heap_cost, heap_node, size, live, mb, -np.inf, cut, lower_m, lower_s, tb,
        )  # fmt: skip
        # go on until every provider that may be within the mile limit is settled
        while True:
            next_s = heap_cost[0] if size > 0 else np.inf
            _providers(
                best_s, best_m, settled, way_ptr, way_node, way_seconds, way_meters,
                src_chain, src_entry, source_seconds, source_meters, group, grp_s, grp_m,
                grp_open, next_s, x_chain, x_entry, from_a, to_a, r_from_a, r_to_a,
            )  # fmt: skip
            need = -np.inf
            for g in range(n_groups):
                if grp_open[g] and grp_m[g] <= mb and grp_s[g] <= cut:
                    need = max(need, grp_s[g])
            if need == -np.inf or size == 0:
                break
            size, n_touched, live = _search_until(
                offsets, targets, seconds, meters, best_s, best_m, settled, touched,
                n_touched, heap_cost, heap_node, size, live, mb, need, cut, lower_m,
                lower_s, tb,
            )  # fmt: skip
        count = 0
        for g in range(n_groups):
            if grp_s[g] <= cut and (grp_s[g] <= tb or grp_m[g] <= mb):
                count += 1
        out[r] = count
        for i in range(n_touched):  # the scratch as it was
            v = touched[i]
            best_s[v] = np.inf
            best_m[v] = np.inf
            settled[v] = False
