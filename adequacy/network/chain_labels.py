"""Searching the chain-contracted core: seeds at chain ends, and labels expanded back.

A search on the core (:mod:`adequacy.network.chains`) starts from sources that may
sit on chains: :func:`seeds` places each at its chain's ends, at the cost of
walking there along the chain. Its labels are the core's; a shape point's are
worked out when asked (:func:`expand`): the labels of its chain's two ends plus
the walk to each, and any source on its own chain reached directly along it,
distinct providers kept once at their cheapest, ordered by (cost, source) as the
search orders them. :func:`places_of` finds where some nodes sit on the chains
once, so that every search expanded at the same nodes (a block of members read
by every rule) skips that lookup. :func:`affected_nodes` lists the nodes whose
labels an update of some core labels may change (what-if).

Costs are meters (metric 0), seconds (1) or meters along the fastest edges (2).

Owns: ``seeds``, ``ChainPlaces``, ``places_of``, ``expand``, ``affected_nodes``.
Uses: :mod:`adequacy.network.chains`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from adequacy.network.chains import Chains
from adequacy.prefetch import prefetch


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


@dataclass(frozen=True)
class ChainPlaces:
    """Where some graph nodes sit on the contracted graph (a row per node).

    ``core`` is the node's core index (-1 on a chain); for a node on a chain,
    ``chain`` its chain (-1 on the core), ``entry`` its index into the chain
    arrays, ``end_a``/``end_b`` the core indices of the chain's ends and
    ``to_a``/``to_b`` (3 × rows, per metric) the cost of walking from the node to
    each end along the chain (infinity where one-way forbids it).
    """

    core: np.ndarray
    chain: np.ndarray
    entry: np.ndarray
    end_a: np.ndarray
    end_b: np.ndarray
    to_a: np.ndarray
    to_b: np.ndarray

    def __len__(self) -> int:
        return len(self.core)


def places_of(chains: Chains, nodes: np.ndarray) -> ChainPlaces:
    """:class:`ChainPlaces` of graph ``nodes`` (full-graph indices)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    core = chains.core_of[nodes].astype(np.int32)
    chain = chains.chain_of[nodes].astype(np.int32)
    on = chain >= 0
    first = chains.chain_ptr[chain[on]]
    entry = np.zeros(len(nodes), dtype=np.int32)
    entry[on] = first + chains.pos_of[nodes[on]]
    end_a = np.full(len(nodes), -1, dtype=np.int32)
    end_b = np.full(len(nodes), -1, dtype=np.int32)
    end_a[on] = chains.core_of[chains.chain_nodes[first]]
    end_b[on] = chains.core_of[chains.chain_nodes[chains.chain_ptr[chain[on] + 1] - 1]]
    to_a = np.full((3, len(nodes)), np.inf)
    to_b = np.full((3, len(nodes)), np.inf)
    to_a[:, on] = chains.to_a[:, entry[on]]
    to_b[:, on] = chains.to_b[:, entry[on]]
    return ChainPlaces(core, chain, entry, end_a, end_b, to_a, to_b)


#: How many rows ahead the expansion asks for the core labels it will read (rows
#: are in graph order, the core's labels in their own: about 1.05x faster)
_AHEAD = 16

_NONE_I, _NONE_F = np.full(1, -1, dtype=np.int32), np.full((3, 1), np.inf)
#: No places given: the kernel works them out from the chains
_NO_PLACES = ChainPlaces(_NONE_I, _NONE_I, _NONE_I, _NONE_I, _NONE_I, _NONE_F, _NONE_F)


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
    places: ChainPlaces | None = None,
    route: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None:
    """Fill labels of ``nodes`` (default: every node; rows in that order) from core labels.

    ``places``: the nodes' :func:`places_of`, when the caller keeps them (several
    searches expanded at the same nodes). ``route``: (core labels' route meters,
    each source's leg meters, output array) to also fill each time label's route
    meters (the fastest route's length).
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
    if route is None:
        no = np.zeros((1, 1))
        route_core, route_source, out_route, with_route = no, no[0], no, False
    else:
        (route_core, route_source, out_route), with_route = route, True
    if places is None:  # the nodes' places worked out as the kernel goes
        nodes = np.arange(len(chains.core_of)) if nodes is None else nodes
        rows, at = len(nodes), _NO_PLACES
    else:
        nodes, rows, at = np.zeros(1, dtype=np.int64), len(places), places
    if rows != out_cost.shape[0]:  # the kernel checks no bound
        raise ValueError(f"{rows} nodes to expand for {out_cost.shape[0]} rows of labels")
    _expand_kernel(
        rows, places is not None, at.core, at.chain, at.entry, at.end_a, at.end_b,
        at.to_a[metric], at.to_b[metric], at.to_a[2], at.to_b[2],
        np.asarray(nodes, dtype=np.int64), chains.core_of, chains.chain_of, chains.pos_of,
        chains.chain_ptr, chains.chain_nodes, chains.from_a[metric], chains.to_a[metric],
        chains.to_b[metric], core_cost, core_source, group_index, order, by_chain_ptr,
        src_entry, source_cost, cutoff, out_cost, out_source, chains.from_a[2],
        chains.to_a[2], chains.to_b[2], route_core, route_source, out_route, with_route,
    )  # fmt: skip


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
    rows,
    use_places,
    core,
    chain,
    entry,
    end_a,
    end_b,
    walk_a,
    walk_b,
    r_walk_a,
    r_walk_b,
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
    """Labels of ``rows`` nodes: where each sits is read from its places
    (``use_places``: ``core`` .. ``r_walk_b``, one per row) or worked out from the
    chains for ``nodes`` (cheaper when every node is expanded, once)."""
    k = out_cost.shape[1]
    best_cost = np.empty(k)
    best_src = np.empty(k, dtype=np.int64)
    best_grp = np.empty(k, dtype=np.int64)
    best_aux = np.zeros(k)
    aux = 0.0
    for row in range(rows):
        if use_places and row + _AHEAD < rows:  # a later row's labels asked for (a hint)
            ahead = row + _AHEAD
            if core[ahead] >= 0:
                prefetch(core_cost, core[ahead])
                prefetch(core_source, core[ahead])
            else:
                for end in (end_a[ahead], end_b[ahead]):
                    prefetch(core_cost, end)
                    prefetch(core_source, end)
                    if with_route:
                        prefetch(route_core, end)
                prefetch(by_chain_ptr, chain[ahead])
        x = -1 if use_places else nodes[row]
        cx = core[row] if use_places else core_of[x]
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
        if use_places:
            ch, i, a, b = chain[row], entry[row], end_a[row], end_b[row]
            wa, wb, rwa, rwb = walk_a[row], walk_b[row], r_walk_a[row], r_walk_b[row]
        else:
            ch = chain_of[x]
            first, last = chain_ptr[ch], chain_ptr[ch + 1] - 1
            i = first + pos_of[x]
            a, b = core_of[chain_nodes[first]], core_of[chain_nodes[last]]
            wa, wb, rwa, rwb = to_a[i], to_b[i], r_to_a[i], r_to_b[i]
        # the node -> each end along the chain (inf when one-way the other way)
        for end, walk, r_walk in ((a, wa, rwa), (b, wb, rwb)):
            if walk == np.inf:
                continue  # one-way: this end cannot be reached from the node
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
