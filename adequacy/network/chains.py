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
stays on the chain, so nothing is missed. Seeding a search and expanding its
labels live in :mod:`adequacy.network.chain_labels`.

Owns: ``Chains``, ``chains_of``, the contraction saved with a graph and the core's
numbering along a Hilbert curve (``hilbert_keys``). Uses:
:class:`~adequacy.network.RoadGraph`.
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
CHAINS_VERSION = "2"  # 2: core nodes in Hilbert order
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


def has_contraction(graph: RoadGraph) -> bool:
    """Whether ``graph``'s contraction is built or was read with it (of this version)."""
    return graph in _cache


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

    # the core graph: core-core edges, plus one edge per chain direction; core nodes
    # numbered along a Hilbert curve, so that nodes near on the map are near in memory
    core_nodes = np.flatnonzero(is_core)
    curve = hilbert_keys(graph.lon[core_nodes], graph.lat[core_nodes])
    core_nodes = core_nodes[np.argsort(curve, kind="stable")]  # one cell: graph order
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


def hilbert_keys(lon: np.ndarray, lat: np.ndarray, bits: int = 16) -> np.ndarray:
    """Each point's place along a Hilbert curve over the points' bounding box, a
    ``2**bits`` square grid (degrees, any CRS: only the order matters). Points near
    each other on the map are mostly near each other in this order, which is what the
    searches want of node numbers: they are bound by memory latency, and a node's
    neighbours then share its cache lines and pages."""
    if not len(lon):
        return np.zeros(0, dtype=np.int64)
    side = (1 << bits) - 1

    def grid(v):
        v = np.asarray(v, dtype=np.float64)
        span = float(v.max() - v.min())
        scaled = (v - v.min()) / span * side if span > 0 else np.zeros(len(v))
        return np.clip(np.nan_to_num(scaled), 0, side).astype(np.int64)

    return _hilbert(grid(lon), grid(lat), bits)


@njit(cache=True)
def _hilbert(x, y, bits):
    """The classic xy-to-distance conversion on a 2**bits grid, point by point."""
    out = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        xi, yi, d = x[i], y[i], 0
        s = 1 << (bits - 1)
        while s > 0:
            rx = 1 if xi & s else 0
            ry = 1 if yi & s else 0
            d += s * s * ((3 * rx) ^ ry)
            if ry == 0:  # rotate the quadrant
                if rx == 1:
                    xi = s - 1 - xi
                    yi = s - 1 - yi
                xi, yi = yi, xi
            s >>= 1
        out[i] = d
    return out


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
