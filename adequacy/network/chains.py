"""Chain contraction: the road graph's intersections, with shape points folded into chains.

Most nodes of an OpenStreetMap or TIGER graph are shape points: a node with
exactly two neighbours that a street merely passes through (77-94% of the
bundled extracts). The k-nearest search runs on the *core* graph of the other
nodes (intersections, dead ends, and any node where one-way rules change),
where each chain of shape points between two core nodes ``A ... B`` becomes
one edge ``A -> B`` (and ``B -> A`` when the chain is two-way) whose meters
and seconds are the sums along the chain. The core of the bundled extracts
is 6-23% of the nodes, so the search does that much less work.

A shape point is *pure*: either two-way to both neighbours (edges both ways
on both sides) or a one-way pass-through (in from one neighbour, out to the
other). Any other node is core, so a chain is entirely two-way or entirely
one-way. Parallel edges are reduced to the cheapest per metric; a third "metric" keeps
the meters of the fastest parallel edge, so that the length of a fastest route
(``distance_basis: fastest_route``) is exact on the core too.

Exactness (the routing tests compare with networkx on the full graph):

- a source on a chain seeds the core search at the chain's ends, at the cost
  from each end along the chain to it (where the direction allows);
- a node on a chain takes its ``k`` nearest from the labels of the chain's
  ends plus the cost of walking to them, and from sources on the same chain
  reached directly along it, distinct providers kept once at their cheapest.

Any path from a shape point leaves the chain through one of its ends, or
stays on the chain, so nothing is missed.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass

import numpy as np
from numba import njit

from adequacy.network import RoadGraph


@dataclass
class Chains:
    """The core graph and the chains of one road graph (see the module docstring)."""

    core: RoadGraph  # core nodes renumbered 0..n_core-1
    core_of: np.ndarray  # full node -> core index, -1 for shape points
    core_nodes: np.ndarray  # core index -> full node
    chain_of: np.ndarray  # full node -> chain id, -1 for core nodes
    pos_of: np.ndarray  # full node -> position in its chain (1..L-1)
    chain_ptr: np.ndarray  # chain c: entries chain_ptr[c]..chain_ptr[c+1] (A first, B last)
    chain_nodes: np.ndarray  # full node of each entry
    # per metric (0 meters, 1 seconds, 2 meters along the fastest edges), per entry:
    # cost from A to the entry (A->B way), from the entry to A (B->A way), from B to
    # the entry, from the entry to B
    from_a: np.ndarray
    to_a: np.ndarray
    from_b: np.ndarray
    to_b: np.ndarray
    core_route_meters: np.ndarray  # per core edge (forward order): meters of its fastest way

    incidence: tuple | None = None  # core node -> chains ending there (made when needed)

    @property
    def n_core(self) -> int:
        return len(self.core_nodes)


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: Bump when what a contraction holds, or how it is built, changes: a graph file
#: saved with another version's contraction builds it anew when loaded.
CHAINS_VERSION = "1"
_SAVED = (
    "core_of", "core_nodes", "chain_of", "pos_of", "chain_ptr", "chain_nodes",
    "from_a", "to_a", "from_b", "to_b", "core_route_meters",
)  # fmt: skip
_PREFIX, _CORE = "chains.", "chains.core."


def chains_of(graph: RoadGraph) -> Chains:
    """The chain contraction of ``graph`` (built once per graph object, or read with
    the graph from its file: :meth:`RoadGraph.save <adequacy.network.RoadGraph.save>`)."""
    found = _cache.get(graph)
    if found is None:
        found = _build(graph)
        _cache[graph] = found
    return found


def contraction_arrays(graph: RoadGraph) -> dict[str, np.ndarray]:
    """The chain contraction of ``graph`` (built now if it was not) as named arrays,
    for the graph's file; :func:`restore_contraction` reads them back."""
    chains = chains_of(graph)
    arrays = {_PREFIX + name: getattr(chains, name) for name in _SAVED}
    core = chains.core
    arrays.update({_CORE + name: getattr(core, name) for name in core.array_names()})
    head = {"class_names": core.class_names, "meta": core.meta}
    arrays[_PREFIX + "core_header"] = np.array(json.dumps(head))
    return arrays


def restore_contraction(graph: RoadGraph, arrays: dict[str, np.ndarray], version) -> bool:
    """Attach a contraction saved by :func:`contraction_arrays` to ``graph``; False
    (nothing attached: it is built when first needed) when it is of another
    :data:`CHAINS_VERSION` or incomplete."""
    names = [_PREFIX + name for name in (*_SAVED, "core_header")]
    if version != CHAINS_VERSION or any(name not in arrays for name in names):
        return False
    core_arrays = {name[len(_CORE) :]: a for name, a in arrays.items() if name.startswith(_CORE)}
    if set(core_arrays) != set(RoadGraph.array_names()):
        return False
    head = json.loads(str(arrays[_PREFIX + "core_header"]))
    core = RoadGraph(**core_arrays, class_names=head["class_names"], meta=head["meta"])
    _cache[graph] = Chains(core, *(arrays[_PREFIX + name] for name in _SAVED))
    return True


def _build(graph: RoadGraph) -> Chains:
    n = graph.n_nodes
    u = graph.edge_sources()
    v = graph.targets.astype(np.int64)
    keep = u != v
    u, v = u[keep], v[keep]
    meters, seconds = graph.meters[keep], graph.seconds[keep]
    # neighbours, in and out, without duplicates
    a = np.minimum(u, v)
    b = np.maximum(u, v)
    pairs = _distinct(a * n + b)
    nb_count = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
    out_pairs = _distinct(u * n + v)
    out_deg = np.bincount(out_pairs // n, minlength=n)
    in_deg = np.bincount(out_pairs % n, minlength=n)
    two = nb_count == 2
    pure = two & (((out_deg == 2) & (in_deg == 2)) | ((out_deg == 1) & (in_deg == 1)))
    # (with two neighbours, one distinct in and one distinct out are different neighbours)
    is_core = ~pure
    nb = np.full((n, 2), -1, dtype=np.int64)
    lo, hi = pairs // n, pairs % n
    _fill_neighbours(lo, hi, nb)
    chain_of = np.full(n, -1, dtype=np.int64)
    pos_of = np.zeros(n, dtype=np.int64)
    cap = n + 2 * n + 1
    chain_ptr = np.zeros(n + 1, dtype=np.int64)
    chain_nodes = np.empty(cap, dtype=np.int64)
    n_chains, n_entries = _walk(is_core, nb, chain_of, pos_of, chain_ptr, chain_nodes)
    chain_ptr = chain_ptr[: n_chains + 1].copy()
    chain_nodes = chain_nodes[:n_entries].copy()

    # segment costs along each chain, both ways, per metric (cheapest parallel edge)
    fwd = np.empty((3, n_entries))
    bwd = np.empty((3, n_entries))
    _segments(
        graph.offsets, graph.targets, graph.meters, graph.seconds, chain_ptr, chain_nodes, fwd, bwd
    )
    from_a = np.empty((3, n_entries))
    to_a = np.empty((3, n_entries))
    from_b = np.empty((3, n_entries))
    to_b = np.empty((3, n_entries))
    _prefix(chain_ptr, fwd, bwd, from_a, to_a, from_b, to_b)

    # the core graph: core-core edges, plus one edge per chain direction
    core_nodes = np.flatnonzero(is_core)
    core_of = np.full(n, -1, dtype=np.int64)
    core_of[core_nodes] = np.arange(len(core_nodes))
    direct = is_core[u] & is_core[v]
    starts = chain_nodes[chain_ptr[:-1]]
    ends = chain_nodes[chain_ptr[1:] - 1]
    last = chain_ptr[1:] - 1
    ab_m, ab_s, ab_r = from_a[0, last], from_a[1, last], from_a[2, last]
    ba_m, ba_s, ba_r = (from_b[m, chain_ptr[:-1]] for m in range(3))
    loop = starts == ends
    ok_ab = np.isfinite(ab_m) & ~loop
    ok_ba = np.isfinite(ba_m) & ~loop
    cu = np.concatenate([u[direct], starts[ok_ab], ends[ok_ba]])
    cv = np.concatenate([v[direct], ends[ok_ab], starts[ok_ba]])
    cm = np.concatenate([meters[direct], ab_m[ok_ab], ba_m[ok_ba]])
    cs = np.concatenate([seconds[direct], ab_s[ok_ab], ba_s[ok_ba]])
    cr = np.concatenate([meters[direct], ab_r[ok_ab], ba_r[ok_ba]])
    core = RoadGraph.from_edges(
        core_of[cu],
        core_of[cv],
        cm,
        cs,
        graph.lon[core_nodes],
        graph.lat[core_nodes],
        largest_component=False,
        meta={"source": "core of " + str(graph.meta.get("source"))},
    )
    order = np.lexsort((core_of[cv], core_of[cu]))  # the core graph's forward edge order
    return Chains(
        core, core_of, core_nodes, chain_of, pos_of, chain_ptr, chain_nodes,
        from_a, to_a, from_b, to_b, cr[order],
    )  # fmt: skip


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique, by sorting: much faster on large int arrays)."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


@njit(cache=True)
def _fill_neighbours(lo, hi, nb):
    for i in range(lo.shape[0]):
        for x, y in ((lo[i], hi[i]), (hi[i], lo[i])):
            if nb[x, 0] == -1:
                nb[x, 0] = y
            elif nb[x, 1] == -1:
                nb[x, 1] = y


@njit(cache=True)
def _walk(is_core, nb, chain_of, pos_of, chain_ptr, chain_nodes):
    n = is_core.shape[0]
    n_chains = 0
    n_entries = 0
    for start in range(n):
        if is_core[start] or chain_of[start] >= 0:
            continue
        # find an end: walk towards the first neighbour until a core node
        prev = start
        cur = nb[start, 0]
        while not is_core[cur] and cur != start:
            nxt = nb[cur, 0] if nb[cur, 0] != prev else nb[cur, 1]
            prev = cur
            cur = nxt
        if cur == start:  # a ring of shape points: make one of them core
            is_core[start] = True
            end = start
            first = nb[start, 0]
        else:
            end = cur
            first = prev
        # record the chain from `end` through `first` to the other end
        chain_ptr[n_chains] = n_entries
        chain_nodes[n_entries] = end
        n_entries += 1
        p = end
        c = first
        position = 1
        while not is_core[c]:
            chain_of[c] = n_chains
            pos_of[c] = position
            position += 1
            chain_nodes[n_entries] = c
            n_entries += 1
            nxt = nb[c, 0] if nb[c, 0] != p else nb[c, 1]
            p = c
            c = nxt
        chain_nodes[n_entries] = c
        n_entries += 1
        n_chains += 1
        chain_ptr[n_chains] = n_entries
    return n_chains, n_entries


@njit(cache=True)
def _edge_cost(offsets, targets, weights, a, b):
    best = np.inf
    for e in range(offsets[a], offsets[a + 1]):
        if targets[e] == b and weights[e] < best:
            best = weights[e]
    return best


@njit(cache=True)
def _fastest_meters(offsets, targets, meters, seconds, a, b):
    """Meters of the fastest edge a -> b (the shortest of equally fast ones)."""
    best_s = np.inf
    best_m = np.inf
    for e in range(offsets[a], offsets[a + 1]):
        if targets[e] == b and (
            seconds[e] < best_s or (seconds[e] == best_s and meters[e] < best_m)
        ):
            best_s = seconds[e]
            best_m = meters[e]
    return best_m


@njit(cache=True)
def _segments(offsets, targets, meters, seconds, chain_ptr, chain_nodes, fwd, bwd):
    for c in range(chain_ptr.shape[0] - 1):
        for i in range(chain_ptr[c], chain_ptr[c + 1] - 1):
            a = chain_nodes[i]
            b = chain_nodes[i + 1]
            fwd[0, i] = _edge_cost(offsets, targets, meters, a, b)
            fwd[1, i] = _edge_cost(offsets, targets, seconds, a, b)
            fwd[2, i] = _fastest_meters(offsets, targets, meters, seconds, a, b)
            bwd[0, i] = _edge_cost(offsets, targets, meters, b, a)
            bwd[1, i] = _edge_cost(offsets, targets, seconds, b, a)
            bwd[2, i] = _fastest_meters(offsets, targets, meters, seconds, b, a)
        last = chain_ptr[c + 1] - 1
        for m in range(3):
            fwd[m, last] = 0.0
            bwd[m, last] = 0.0


@njit(cache=True)
def _prefix(chain_ptr, fwd, bwd, from_a, to_a, from_b, to_b):
    for m in range(3):
        for c in range(chain_ptr.shape[0] - 1):
            s, e = chain_ptr[c], chain_ptr[c + 1]
            from_a[m, s] = 0.0
            to_a[m, s] = 0.0
            for i in range(s + 1, e):
                from_a[m, i] = from_a[m, i - 1] + fwd[m, i - 1]
                to_a[m, i] = to_a[m, i - 1] + bwd[m, i - 1]
            from_b[m, e - 1] = 0.0
            to_b[m, e - 1] = 0.0
            for i in range(e - 2, s - 1, -1):
                from_b[m, i] = from_b[m, i + 1] + bwd[m, i]
                to_b[m, i] = to_b[m, i + 1] + fwd[m, i]


# ---------------------------------------------------------------------------
# seeding and expanding a search
# ---------------------------------------------------------------------------
def seeds(chains: Chains, source_nodes, source_cost, metric: int):
    """Core seeds for sources at full-graph nodes: (core node, cost, source index)."""
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    idx = np.arange(len(source_nodes))
    core = chains.core_of[source_nodes]
    on_core = core >= 0
    nodes = [core[on_core]]
    costs = [source_cost[on_core]]
    which = [idx[on_core]]
    off = ~on_core
    ch = chains.chain_of[source_nodes[off]]
    entry = chains.chain_ptr[ch] + chains.pos_of[source_nodes[off]]
    a = chains.chain_nodes[chains.chain_ptr[ch]]
    b = chains.chain_nodes[chains.chain_ptr[ch + 1] - 1]
    for end, cost in ((a, chains.from_a[metric, entry]), (b, chains.from_b[metric, entry])):
        ok = np.isfinite(cost)
        nodes.append(chains.core_of[end[ok]])
        costs.append(source_cost[off][ok] + cost[ok])
        which.append(idx[off][ok])
    return np.concatenate(nodes), np.concatenate(costs), np.concatenate(which)


def expand(
    chains: Chains,
    core_cost: np.ndarray,
    core_source: np.ndarray,
    source_nodes: np.ndarray,
    source_cost: np.ndarray,
    group_index: np.ndarray,
    metric: int,
    cutoff: float,
    out_cost: np.ndarray,
    out_source: np.ndarray,
    *,
    nodes: np.ndarray | None = None,
    route: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None:
    """Fill labels of ``nodes`` (default: every node; rows in that order) from core labels.

    ``route``: (core labels' route meters, each source's leg meters, output array)
    to also fill each time label's route meters (the fastest route's length).
    """
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    src_chain = chains.chain_of[source_nodes]
    on_chain = np.flatnonzero(src_chain >= 0)
    order = on_chain[np.argsort(src_chain[on_chain], kind="stable")]
    n_chains = len(chains.chain_ptr) - 1
    by_chain_ptr = np.zeros(n_chains + 1, dtype=np.int64)
    np.cumsum(np.bincount(src_chain[order], minlength=n_chains), out=by_chain_ptr[1:])
    src_entry = np.zeros(len(source_nodes), dtype=np.int64)
    src_entry[on_chain] = (
        chains.chain_ptr[src_chain[on_chain]] + chains.pos_of[source_nodes[on_chain]]
    )
    if nodes is None:
        nodes = np.arange(len(chains.core_of), dtype=np.int64)
    if route is None:
        no = np.zeros((1, 1))
        route_core, route_source, out_route, with_route = no, no[0], no, False
    else:
        (route_core, route_source, out_route), with_route = route, True
    _expand_kernel(
        nodes,
        chains.core_of,
        chains.chain_of,
        chains.pos_of,
        chains.chain_ptr,
        chains.chain_nodes,
        chains.from_a[metric],
        chains.to_a[metric],
        chains.to_b[metric],
        core_cost,
        core_source,
        group_index,
        order,
        by_chain_ptr,
        src_entry,
        source_cost,
        cutoff,
        out_cost,
        out_source,
        chains.from_a[2],
        chains.to_a[2],
        chains.to_b[2],
        route_core,
        route_source,
        out_route,
        with_route,
    )


@njit(cache=True, inline="always")
def _offer_label(best_cost, best_src, best_grp, best_aux, k, c, s, g, aux):
    """Keep (cost c, source s, group g) among the k best of distinct groups, ordered by
    (cost, source) as the search orders them; ``aux`` (route meters) travels with it,
    the smallest among equal costs of one group."""
    for j in range(k):
        if best_grp[j] == g and best_src[j] >= 0:
            if best_cost[j] < c or (best_cost[j] == c and best_src[j] <= s):
                if best_cost[j] == c and aux < best_aux[j]:
                    best_aux[j] = aux
                return
            if best_cost[j] == c:
                aux = min(aux, best_aux[j])
            # move up: remove j, then insert below
            for t in range(j, k - 1):
                best_cost[t] = best_cost[t + 1]
                best_src[t] = best_src[t + 1]
                best_grp[t] = best_grp[t + 1]
                best_aux[t] = best_aux[t + 1]
            best_cost[k - 1] = np.inf
            best_src[k - 1] = -1
            best_grp[k - 1] = -1
            break
    last = best_src[k - 1]
    if last >= 0 and not (c < best_cost[k - 1] or (c == best_cost[k - 1] and s < last)):
        return
    if last < 0 and not c < np.inf:
        return
    j = k - 1
    while j > 0 and (
        best_src[j - 1] < 0
        or best_cost[j - 1] > c
        or (best_cost[j - 1] == c and best_src[j - 1] > s)
    ):
        best_cost[j] = best_cost[j - 1]
        best_src[j] = best_src[j - 1]
        best_grp[j] = best_grp[j - 1]
        best_aux[j] = best_aux[j - 1]
        j -= 1
    best_cost[j] = c
    best_src[j] = s
    best_grp[j] = g
    best_aux[j] = aux


@njit(cache=True, nogil=True)
def _expand_kernel(
    nodes,
    core_of,
    chain_of,
    pos_of,
    chain_ptr,
    chain_nodes,
    from_a,
    to_a,
    to_b,
    core_cost,
    core_source,
    group_index,
    src_order,
    by_chain_ptr,
    src_entry,
    source_cost,
    cutoff,
    out_cost,
    out_source,
    r_from_a,
    r_to_a,
    r_to_b,
    route_core,
    route_source,
    out_route,
    with_route,
):
    k = out_cost.shape[1]
    best_cost = np.empty(k)
    best_src = np.empty(k, dtype=np.int64)
    best_grp = np.empty(k, dtype=np.int64)
    best_aux = np.zeros(k)
    aux = 0.0
    for row in range(nodes.shape[0]):
        x = nodes[row]
        cx = core_of[x]
        if cx >= 0:
            for j in range(k):
                out_cost[row, j] = core_cost[cx, j]
                out_source[row, j] = core_source[cx, j]
                if with_route:
                    out_route[row, j] = route_core[cx, j]
            continue
        for j in range(k):
            best_cost[j] = np.inf
            best_src[j] = -1
            best_grp[j] = -1
            best_aux[j] = np.inf
        ch = chain_of[x]
        s = chain_ptr[ch]
        e = chain_ptr[ch + 1] - 1
        i = s + pos_of[x]
        a = core_of[chain_nodes[s]]
        b = core_of[chain_nodes[e]]
        walk_a = to_a[i]  # x -> A along the chain (inf when one-way the other way)
        walk_b = to_b[i]
        for end, walk, r_walk in ((a, walk_a, r_to_a[i]), (b, walk_b, r_to_b[i])):
            if walk == np.inf:
                continue  # one-way: this end cannot be reached from x
            for j in range(k):
                src = core_source[end, j]
                if src < 0:
                    break
                c = walk + core_cost[end, j]
                if with_route:
                    aux = r_walk + route_core[end, j]
                if c <= cutoff:
                    _offer_label(
                        best_cost, best_src, best_grp, best_aux, k, c, src, group_index[src], aux
                    )
        for t in range(by_chain_ptr[ch], by_chain_ptr[ch + 1]):
            src = src_order[t]
            p = src_entry[src]
            if p == i:
                c = source_cost[src]
                if with_route:
                    aux = route_source[src]
            elif p > i:
                if from_a[p] == np.inf:
                    continue  # one-way towards A
                c = source_cost[src] + (from_a[p] - from_a[i])  # towards B
                if with_route:
                    aux = route_source[src] + (r_from_a[p] - r_from_a[i])
            else:
                if to_a[i] == np.inf:
                    continue  # one-way towards B
                c = source_cost[src] + (to_a[i] - to_a[p])  # towards A
                if with_route:
                    aux = route_source[src] + (r_to_a[i] - r_to_a[p])
            if c <= cutoff:
                _offer_label(
                    best_cost, best_src, best_grp, best_aux, k, c, src, group_index[src], aux
                )
        for j in range(k):
            out_cost[row, j] = best_cost[j]
            out_source[row, j] = best_src[j]
            if with_route:
                out_route[row, j] = best_aux[j]


def affected_nodes(
    chains: Chains, changed_core: np.ndarray, source_nodes: np.ndarray
) -> np.ndarray:
    """Nodes whose labels may change with the core labels ``changed_core``.

    ``changed_core`` are core indices whose labels changed; ``source_nodes``
    are full-graph nodes of sources that came or went. Affected: those core
    nodes, the shape points of chains ending at one of them, and the shape
    points of the chains the sources sit on. Work is proportional to the
    answer, not to the graph.
    """
    if chains.incidence is None:
        ends = np.concatenate(
            [
                chains.core_of[chains.chain_nodes[chains.chain_ptr[:-1]]],
                chains.core_of[chains.chain_nodes[chains.chain_ptr[1:] - 1]],
            ]
        )
        ids = np.concatenate([np.arange(len(chains.chain_ptr) - 1)] * 2)
        order = np.argsort(ends, kind="stable")
        ptr = np.zeros(chains.n_core + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=chains.n_core), out=ptr[1:])
        chains.incidence = (ptr, ids[order])
    ptr, chain_ids = chains.incidence
    on = chains.chain_of[np.asarray(source_nodes, dtype=np.int64)]
    return _affected_kernel(
        np.asarray(changed_core, dtype=np.int64),
        on[on >= 0],
        ptr,
        chain_ids,
        chains.core_nodes,
        chains.chain_ptr,
        chains.chain_nodes,
    )


@njit(cache=True)
def _affected_kernel(changed_core, source_chains, ptr, chain_ids, core_nodes, chain_ptr, nodes):
    n_chains = chain_ptr.shape[0] - 1
    seen = np.zeros(n_chains, dtype=np.bool_)
    picked = []
    for c in changed_core:
        for t in range(ptr[c], ptr[c + 1]):
            ch = chain_ids[t]
            if not seen[ch]:
                seen[ch] = True
                picked.append(ch)
    for ch in source_chains:
        if not seen[ch]:
            seen[ch] = True
            picked.append(ch)
    total = changed_core.shape[0]
    for ch in picked:
        total += chain_ptr[ch + 1] - chain_ptr[ch] - 2
    out = np.empty(total, dtype=np.int64)
    i = 0
    for c in changed_core:
        out[i] = core_nodes[c]
        i += 1
    for ch in picked:
        for e in range(chain_ptr[ch] + 1, chain_ptr[ch + 1] - 1):
            out[i] = nodes[e]
            i += 1
    return out
