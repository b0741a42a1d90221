"""Clipping a road graph to a bbox plus a buffer (``network.clip``) and cutting OSM
extracts (``network.extracts``).

The clipped graph must give the k-nearest search bitwise the same costs at
every node of the bbox as the whole graph. Every check compares with a search
on the whole graph, networkx, or a brute-force computation, never with the
clip's own output.
"""

from __future__ import annotations

from types import SimpleNamespace

import networkx as nx
import numpy as np
import osmium
import pytest
from support import REISTERSTOWN_PBF, chain_network

from adequacy import RoadGraph, load_road_graph
from adequacy.errors import InputError
from adequacy.network.chains import chains_of
from adequacy.network.clip import buffered_bbox, clip_graph
from adequacy.network.extracts import cut_extract
from adequacy.network.osm import haversine_meters, read_osm_file
from adequacy.network.speeds import DEFAULT_OSM_PROFILE
from adequacy.routing import k_nearest_labels, snap_points
from adequacy.routing.labels import CONTRACT_BELOW

K = 3


def part_of(graph: RoadGraph, x0: float, y0: float, x1: float, y1: float):
    """The bbox over fractions x0..x1 (west to east) and y0..y1 of the graph's extent."""
    w, s, e, n = graph.lon.min(), graph.lat.min(), graph.lon.max(), graph.lat.max()
    return (
        float(w + x0 * (e - w)),
        float(s + y0 * (n - s)),
        float(w + x1 * (e - w)),
        float(s + y1 * (n - s)),
    )


def in_box(lon, lat, bbox) -> np.ndarray:
    w, s, e, n = bbox
    return (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


def top_speed(graph: RoadGraph) -> float:
    """Fastest edge speed, m/s (rounded up so that meters <= seconds * speed holds)."""
    return float(np.max(graph.meters / graph.seconds)) * (1 + 1e-12)


def contracted(graph: RoadGraph) -> bool:
    """Whether ``k_nearest_labels`` searches the chain-contracted core of ``graph``."""
    return chains_of(graph).n_core <= CONTRACT_BELOW * graph.n_nodes


def searches(graph, bbox, *, metric, cutoff, buffer, n_sources=200, seed=7):
    """Labels at the bbox's nodes on the whole graph and on the clipped one.

    ``cost_full``/``source_full`` and ``cost_part``/``source_part`` (clipped run, its
    sources as indices into ``sources``) are rows of the bbox's nodes ``nodes``
    (whole-graph numbers).
    """
    rng = np.random.default_rng(seed)
    sources = rng.choice(graph.n_nodes, n_sources, replace=False)
    full = k_nearest_labels(graph, sources, k=K, metric=metric, cutoff=cutoff)
    clipped, full_node = clip_graph(graph, bbox, buffer_meters=buffer)
    kept = np.flatnonzero(np.isin(sources, full_node))
    part = k_nearest_labels(
        clipped, np.searchsorted(full_node, sources[kept]), k=K, metric=metric, cutoff=cutoff
    )
    rows = np.flatnonzero(in_box(clipped.lon, clipped.lat, bbox))
    cost_full, source_full = full.at_nodes(full_node[rows])
    cost_part, source_part = part.at_nodes(rows)
    assert contracted(graph) == contracted(clipped)  # the clip's precondition
    return SimpleNamespace(
        cost_full=cost_full,
        source_full=source_full,
        cost_part=cost_part,
        source_part=np.where(source_part >= 0, kept[source_part], -1),
        nodes=full_node[rows],
        clipped=clipped,
        full_node=full_node,
        sources=sources,
    )


# ---------------------------------------------------------------------------
# the search inside the bbox: bitwise equal
# ---------------------------------------------------------------------------
CASES = [
    ("reisterstown", "distance", 3000.0, (0.35, 0.3, 0.6, 0.6)),
    ("reisterstown", "time", 120.0, (0.35, 0.3, 0.6, 0.6)),
    ("idaho", "distance", 15000.0, (0.3, 0.35, 0.55, 0.6)),
    ("idaho", "time", 600.0, (0.3, 0.35, 0.55, 0.6)),
]


@pytest.mark.parametrize(("name", "metric", "cutoff", "fractions"), CASES)
def test_costs_inside_bbox_bitwise_equal(request, name, metric, cutoff, fractions):
    graph = request.getfixturevalue(name)
    bbox = part_of(graph, *fractions)
    buffer = cutoff if metric == "distance" else cutoff * top_speed(graph)
    r = searches(graph, bbox, metric=metric, cutoff=cutoff, buffer=buffer)
    # a real test: a part of the graph, some sources left out, labels within and beyond
    assert len(r.nodes) > 500
    assert r.clipped.n_nodes < 0.75 * graph.n_nodes
    assert 10 < np.isin(r.sources, r.full_node).sum() < len(r.sources) - 10
    finite = np.isfinite(r.cost_full)
    assert 0.2 < finite.mean() < 1.0
    assert np.array_equal(np.isfinite(r.cost_part), finite)
    assert np.array_equal(r.cost_full, r.cost_part)  # bitwise, infinities included
    # the same providers (tied costs aside, which random sources do not make)
    assert np.array_equal(r.source_full, r.source_part)


def grid_graph(size: int, seed: int) -> RoadGraph:
    """A two-way street grid with no shape points (every node core), random costs."""
    rng = np.random.default_rng(seed)
    node = np.arange(size * size).reshape(size, size)
    a = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    b = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    meters = rng.uniform(80, 120, len(a))
    seconds = meters / rng.uniform(8, 25, len(a))
    lon = -100 + 0.001 * (node % size).ravel()
    lat = 40 + 0.001 * (node // size).ravel()
    return RoadGraph.from_edges(
        np.concatenate([a, b]),
        np.concatenate([b, a]),
        np.concatenate([meters, meters]),
        np.concatenate([seconds, seconds * rng.uniform(0.9, 1.1, len(a))]),
        lon,
        lat,
    )


@pytest.mark.parametrize("metric", ["distance", "time"])
def test_costs_bitwise_equal_on_an_uncontracted_graph(metric):
    """The search on the whole graph, not the core (most nodes are intersections)."""
    graph = grid_graph(70, 5)
    assert not contracted(graph)
    bbox = part_of(graph, 0.4, 0.4, 0.6, 0.6)
    cutoff = 600.0 if metric == "distance" else 40.0
    buffer = cutoff if metric == "distance" else cutoff * top_speed(graph)
    r = searches(graph, bbox, metric=metric, cutoff=cutoff, buffer=buffer, n_sources=300)
    assert r.clipped.n_nodes < 0.5 * graph.n_nodes
    assert 0.2 < np.isfinite(r.cost_full).mean() < 1.0
    assert np.array_equal(r.cost_full, r.cost_part)
    assert np.array_equal(r.source_full, r.source_part)


@pytest.mark.parametrize("metric", ["distance", "time"])
def test_sources_outside_the_clip_never_reach_the_bbox(reisterstown, metric):
    """On the whole graph, the sources the clip drops reach no bbox node within the
    cutoff, though they reach every one without it."""
    graph = reisterstown
    bbox = part_of(graph, 0.35, 0.3, 0.6, 0.6)
    cutoff = 3000.0 if metric == "distance" else 120.0
    buffer = cutoff if metric == "distance" else cutoff * top_speed(graph)
    _, full_node = clip_graph(graph, bbox, buffer_meters=buffer)
    dropped = np.setdiff1d(np.arange(graph.n_nodes), full_node)
    assert len(dropped) > 1000
    rows = np.flatnonzero(in_box(graph.lon, graph.lat, bbox))
    within = k_nearest_labels(graph, dropped, metric=metric, cutoff=cutoff)
    assert np.isinf(within.at_nodes(rows)[0]).all()
    beyond = k_nearest_labels(graph, dropped, metric=metric)
    cost = beyond.at_nodes(rows)[0]
    assert np.isfinite(cost).all() and cost.min() > cutoff


def test_too_small_a_buffer_changes_costs(reisterstown):
    """The comparison has teeth: a buffer below the cutoff loses labels in the bbox."""
    graph = reisterstown
    bbox = part_of(graph, 0.35, 0.3, 0.6, 0.6)
    r = searches(graph, bbox, metric="distance", cutoff=3000.0, buffer=600.0)
    assert not np.array_equal(r.cost_full, r.cost_part)
    assert (np.isfinite(r.cost_full) & ~np.isfinite(r.cost_part)).any()


@pytest.mark.parametrize(("metric", "weight"), [("distance", "meters"), ("time", "seconds")])
def test_clipped_costs_match_networkx(reisterstown, metric, weight):
    """Independent oracle: networkx multi-source Dijkstra on the whole graph, reversed
    (trips run from the node to the provider), for a dozen bbox nodes."""
    graph = reisterstown
    bbox = part_of(graph, 0.35, 0.3, 0.6, 0.6)
    cutoff = 3000.0 if metric == "distance" else 120.0
    buffer = cutoff if metric == "distance" else cutoff * top_speed(graph)
    r = searches(graph, bbox, metric=metric, cutoff=cutoff, buffer=buffer)
    cost_part, source_part, nodes, sources = r.cost_part, r.source_part, r.nodes, r.sources
    G = graph.to_networkx(weight).reverse(copy=False)
    dist = nx.multi_source_dijkstra_path_length(
        G, set(sources.tolist()), cutoff=cutoff, weight=weight
    )
    rng = np.random.default_rng(3)
    finite = np.flatnonzero(np.isfinite(cost_part[:, 0]))
    beyond = np.flatnonzero(~np.isfinite(cost_part[:, 0]))
    picks = np.concatenate([rng.choice(finite, 10, replace=False), beyond[:2]])
    for r in picks:
        expect = dist.get(int(nodes[r]), np.inf)
        assert cost_part[r, 0] == pytest.approx(expect, rel=1e-9)
        if np.isfinite(expect):  # the nearest source is that far on the whole graph
            source_node = int(sources[source_part[r, 0]])
            leg = nx.dijkstra_path_length(G, source_node, int(nodes[r]), weight=weight)
            assert leg == pytest.approx(expect, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 10])
def test_snapped_points_bitwise_equal(idaho, seed):
    """End to end with snapping: members in the bbox snapped on the clipped graph,
    providers snapped on the whole graph and mapped with full_node (those whose node
    the clip dropped are beyond reach). Snapping providers on the clipped graph instead
    can be wrong: a provider near the buffer's edge whose nearest node lies beyond it
    snaps to a nearer-looking kept node and becomes reachable (seed 10)."""
    graph = idaho
    bbox = part_of(graph, 0.52, 0.58, 0.6, 0.67)
    cutoff = 10_000.0
    clipped, full_node = clip_graph(graph, bbox, buffer_meters=cutoff)
    rng = np.random.default_rng(seed)
    w, s, e, n = part_of(graph, 0, 0, 1, 1)
    providers = np.column_stack([rng.uniform(w, e, 300), rng.uniform(s, n, 300)])
    members = np.column_stack(
        [rng.uniform(bbox[0], bbox[2], 1000), rng.uniform(bbox[1], bbox[3], 1000)]
    )
    snap = snap_points(graph, providers)
    full = k_nearest_labels(graph, snap.node, k=K, cutoff=cutoff, source_cost=snap.meters)
    cost_full, source_full = full.at(snap_points(graph, members))
    assert 0.2 < np.isfinite(cost_full).mean() < 1.0

    kept = np.flatnonzero(np.isin(snap.node, full_node))
    part = k_nearest_labels(
        clipped,
        np.searchsorted(full_node, snap.node[kept]),
        k=K,
        cutoff=cutoff,
        source_cost=snap.meters[kept],
    )
    cost_part, source_part = part.at(snap_points(clipped, members))
    assert np.array_equal(cost_full, cost_part)
    assert np.array_equal(source_full, np.where(source_part >= 0, kept[source_part], -1))

    naive_snap = snap_points(clipped, providers)
    naive = k_nearest_labels(
        clipped, naive_snap.node, k=K, cutoff=cutoff, source_cost=naive_snap.meters
    )
    naive_cost, _ = naive.at(snap_points(clipped, members))
    assert np.array_equal(naive_cost, cost_full) == (seed != 10)


# ---------------------------------------------------------------------------
# the chains of the region
# ---------------------------------------------------------------------------
def same_chains(graph: RoadGraph, clipped: RoadGraph, full_node: np.ndarray, region) -> None:
    """Assert that every node of ``region`` (whole-graph numbers) has the same chain
    (ends, orientation, positions, prefix costs) and the same core status in both
    graphs, and that core edges between region nodes are the same. ``full_node``:
    the whole-graph number of each node of ``clipped`` (any order)."""
    big, small = chains_of(graph), chains_of(clipped)
    where = np.full(graph.n_nodes, -1, dtype=np.int64)
    where[full_node] = np.arange(len(full_node))
    local = where[region]
    assert (local >= 0).all(), "region nodes dropped"
    assert np.array_equal(big.core_of[region] >= 0, small.core_of[local] >= 0), "core status"
    for c in np.unique(big.chain_of[region][big.chain_of[region] >= 0]):
        s, e = big.chain_ptr[c], big.chain_ptr[c + 1]
        c2 = small.chain_of[where[big.chain_nodes[s + 1]]]
        s2, e2 = small.chain_ptr[c2], small.chain_ptr[c2 + 1]
        nodes = full_node[small.chain_nodes[s2:e2]]
        assert np.array_equal(nodes, big.chain_nodes[s:e]), "chain nodes, ends or orientation"
        for name in ("from_a", "to_a", "from_b", "to_b"):
            assert np.array_equal(getattr(big, name)[:, s:e], getattr(small, name)[:, s2:e2])

    def core_edges(chains, to_full):
        core = chains.core
        u = to_full[chains.core_nodes[core.edge_sources()]]
        v = to_full[chains.core_nodes[core.targets]]
        sel = np.isin(u, region) & np.isin(v, region)
        rows = np.stack([u[sel], v[sel], core.meters[sel], core.seconds[sel]])
        rows = np.vstack([rows, chains.core_route_meters[sel]])
        return rows[:, np.lexsort(rows[::-1])]

    assert np.array_equal(
        core_edges(big, np.arange(graph.n_nodes)), core_edges(small, full_node)
    ), "core edges between region nodes"


def region_of(graph: RoadGraph, bbox, buffer: float) -> np.ndarray:
    """Nodes within ``buffer`` meters of ``bbox`` (great circle), brute force: inside it,
    straight north or south of it (the meridian arc), or within ``buffer`` of a sample of
    points of its edges (so never a node farther than ``buffer``)."""
    w, s, e, n = bbox
    lon, lat = graph.lon, graph.lat
    near = in_box(lon, lat, bbox)
    below = (lon >= w) & (lon <= e)
    gap = np.maximum(s - lat, lat - n)
    near |= below & (np.radians(gap) * 6_371_009.0 <= buffer)
    t = np.linspace(0, 1, 200)
    edge_lon = np.concatenate([w + (e - w) * t, w + (e - w) * t, np.full(200, w), np.full(200, e)])
    edge_lat = np.concatenate([np.full(200, s), np.full(200, n), s + (n - s) * t, s + (n - s) * t])
    pad = 2 * np.degrees(buffer / 6_371_009.0) / max(np.cos(np.radians(max(abs(s), abs(n)))), 0.1)
    maybe = np.flatnonzero(~near & in_box(lon, lat, (w - pad, s - pad, e + pad, n + pad)))
    for x, y in zip(edge_lon, edge_lat, strict=True):
        hit = haversine_meters(lon[maybe], lat[maybe], x, y) <= buffer
        near[maybe[hit]] = True
    return np.flatnonzero(near)


def permuted(graph: RoadGraph, seed: int) -> RoadGraph:
    """``graph`` with its nodes numbered in a random order."""
    perm = np.random.default_rng(seed).permutation(graph.n_nodes)
    inverse = np.argsort(perm)
    u = graph.edge_sources()
    return RoadGraph.from_edges(
        perm[u],
        perm[graph.targets],
        graph.meters,
        graph.seconds,
        graph.lon[inverse],
        graph.lat[inverse],
        node_ids=graph.node_ids[inverse],
        largest_component=False,
    )


@pytest.mark.parametrize("seed", range(6))
def test_chains_same_in_region_synthetic(seed):
    """One-way and two-way chains, parallel streets, rings, random node numbering."""
    graph = chain_network(seed)
    if seed % 2:
        graph = permuted(graph, seed)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        at = rng.integers(graph.n_nodes)  # a bbox of about 400 m around a node
        x, y = graph.lon[at], graph.lat[at]
        bbox = (x - 0.002, y - 0.002, x + 0.002, y + 0.002)
        buffer = float(rng.uniform(0, 600))
        clipped, full_node = clip_graph(graph, bbox, buffer_meters=buffer)
        region = region_of(graph, bbox, buffer)
        assert np.isin(region, full_node).all()
        same_chains(graph, clipped, full_node, region)


@pytest.mark.parametrize("renumber", [False, True])
def test_chains_same_in_region_real(reisterstown, renumber):
    graph = permuted(reisterstown, 11) if renumber else reisterstown
    bbox = part_of(graph, 0.4, 0.4, 0.6, 0.6)
    clipped, full_node = clip_graph(graph, bbox, buffer_meters=800.0)
    region = region_of(graph, bbox, 800.0)
    assert 1000 < len(region) < clipped.n_nodes < graph.n_nodes
    same_chains(graph, clipped, full_node, region)


def test_chain_check_catches_reversed_numbering(reisterstown):
    """Orientation hangs on node order: the clipped graph numbered backwards turns
    chains around, and the chain check sees it (so the check can fail)."""
    graph = reisterstown
    bbox = part_of(graph, 0.4, 0.4, 0.6, 0.6)
    clipped, full_node = clip_graph(graph, bbox, buffer_meters=800.0)
    region = region_of(graph, bbox, 800.0)
    same_chains(graph, clipped, full_node, region)  # the order-keeping clip passes
    n = clipped.n_nodes
    flip = n - 1 - np.arange(n)  # backwards node i is clipped node n-1-i
    backwards = RoadGraph.from_edges(
        flip[clipped.edge_sources()],
        flip[clipped.targets],
        clipped.meters,
        clipped.seconds,
        clipped.lon[::-1],
        clipped.lat[::-1],
        largest_component=False,
    )
    with pytest.raises(AssertionError, match="orientation"):
        same_chains(graph, backwards, full_node[::-1], region)


# ---------------------------------------------------------------------------
# the clipped graph itself
# ---------------------------------------------------------------------------
def test_clipped_graph_is_the_induced_subgraph(idaho, tmp_path):
    graph = idaho
    bbox = part_of(graph, 0.3, 0.35, 0.55, 0.6)
    clipped, full_node = clip_graph(graph, bbox, buffer_meters=5000.0)
    assert full_node.dtype == np.int64 and (np.diff(full_node) > 0).all()
    assert np.array_equal(clipped.node_ids, graph.node_ids[full_node])
    assert np.array_equal(clipped.lon, graph.lon[full_node])
    assert np.array_equal(clipped.lat, graph.lat[full_node])
    assert clipped.class_names == graph.class_names
    # rebuilt independently: the whole graph's edges between kept nodes
    keep = np.zeros(graph.n_nodes, dtype=bool)
    keep[full_node] = True
    u, v = graph.edge_sources(), graph.targets
    sel = keep[u] & keep[v]
    index = np.cumsum(keep) - 1
    ref = RoadGraph.from_edges(
        index[u[sel]],
        index[v[sel]],
        graph.meters[sel],
        graph.seconds[sel],
        graph.lon[full_node],
        graph.lat[full_node],
        edge_class=graph.edge_class[sel],
        class_names=graph.class_names,
        largest_component=False,
    )
    for name in ("offsets", "targets", "meters", "seconds", "rev_offsets", "rev_targets",
                 "rev_meters", "rev_seconds", "edge_class"):  # fmt: skip
        assert np.array_equal(getattr(clipped, name), getattr(ref, name)), name
    # every node within the buffer is kept (brute-force great-circle distances)
    assert np.isin(region_of(graph, bbox, 5000.0), full_node).all()
    clip = clipped.meta["clip"]
    assert clip["bbox"] == list(bbox) and clip["buffer_meters"] == 5000.0
    assert clip["source_meta"]["source"] == graph.meta["source"]
    assert clipped.meta["nodes"] == clipped.n_nodes < graph.n_nodes
    clipped.save(tmp_path / "clipped.npz")
    again = RoadGraph.load(tmp_path / "clipped.npz")
    assert np.array_equal(again.node_ids, clipped.node_ids) and again.meta["clip"] == clip


def test_buffered_bbox_holds_the_buffer():
    """Points at the buffer distance in every direction, from every corner, at several
    latitudes, lie in the buffered box; it is not much wider than needed."""
    for lat0 in (-60.0, -10.0, 0.0, 35.0, 48.0, 70.0):
        bbox = (10.0, lat0, 10.5, lat0 + 0.4)
        buffer = 30_000.0
        w, s, e, n = buffered_bbox(bbox, buffer)
        bearing = np.radians(np.arange(0, 360, 1.0))
        for lon1, lat1 in [(10.0, lat0), (10.5, lat0), (10.0, lat0 + 0.4), (10.5, lat0 + 0.4)]:
            # destination points on the sphere of the graph's lengths
            d = buffer / 6_371_009.0
            p1, l1 = np.radians(lat1), np.radians(lon1)
            p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(bearing))
            l2 = l1 + np.arctan2(
                np.sin(bearing) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2)
            )
            lon2, lat2 = np.degrees(l2), np.degrees(p2)
            assert ((lon2 >= w) & (lon2 <= e) & (lat2 >= s) & (lat2 <= n)).all()
        assert (n - (lat0 + 0.4)) * 111_195 < 1.01 * buffer
    # across the antimeridian: the box wraps
    w, _, e, _ = buffered_bbox((179.9, 0.0, 180.0, 0.1), 50_000.0)
    assert e > 180 and w < 179.9


def test_far_bbox_is_an_input_error(reisterstown):
    with pytest.raises(InputError, match="no node of the road graph"):
        clip_graph(reisterstown, (10.0, 50.0, 10.1, 50.1), buffer_meters=10_000.0)
    with pytest.raises(InputError, match="west <= east"):
        clip_graph(reisterstown, (-76.6, 39.4, -76.8, 39.5), buffer_meters=1000.0)
    with pytest.raises(InputError, match="buffer_meters"):
        clip_graph(reisterstown, (-76.8, 39.4, -76.6, 39.5), buffer_meters=-1.0)


# ---------------------------------------------------------------------------
# extracts
# ---------------------------------------------------------------------------
def edge_costs(graph: RoadGraph, select=None) -> dict[tuple[int, int], tuple[float, float]]:
    """(OSM id, OSM id) -> (meters, seconds) of the cheapest edge, for edges ``select``."""
    u, v = graph.edge_sources(), graph.targets.astype(np.int64)
    sel = np.ones(len(u), dtype=bool) if select is None else select
    out: dict[tuple[int, int], tuple[float, float]] = {}
    pairs = zip(graph.node_ids[u[sel]].tolist(), graph.node_ids[v[sel]].tolist(), strict=True)
    for key, m, s in zip(pairs, graph.meters[sel].tolist(), graph.seconds[sel].tolist(),
                         strict=True):  # fmt: skip
        old = out.get(key)
        out[key] = (m, s) if old is None else (min(old[0], m), min(old[1], s))
    return out


def test_cut_extract_keeps_every_edge_inside(reisterstown, tmp_path):
    """Every drivable edge of the whole graph with both ends in the bbox is in the cut,
    at the same cost. The loader then keeps the cut's own largest strongly connected
    component, which can leave out bbox nodes whose way back to it runs beyond the cut
    (one-way streets): those edges go with their nodes, never alone."""
    graph = reisterstown
    size = REISTERSTOWN_PBF.stat().st_size
    u, v = graph.edge_sources(), graph.targets
    for bbox in (part_of(graph, 0.0, 0.0, 0.5, 1.0), part_of(graph, 0.5, 0.2, 1.0, 0.7)):
        path = cut_extract(REISTERSTOWN_PBF, bbox, buffer_meters=500.0, cache_dir=tmp_path)
        assert path.name.endswith(".osm.pbf") and path.parent.parent == tmp_path
        assert path.stat().st_size < 0.8 * size
        inside = in_box(graph.lon, graph.lat, bbox)
        expect = edge_costs(graph, inside[u] & inside[v])
        assert len(expect) > 5000
        # the cut's drivable edges, as the loader reads them (before its component step)
        edges = read_osm_file(path, DEFAULT_OSM_PROFILE)
        meters = {}
        for a, b, m in zip(edges.node_ids[edges.u].tolist(), edges.node_ids[edges.v].tolist(),
                           edges.meters.tolist(), strict=True):  # fmt: skip
            meters[a, b] = min(m, meters.get((a, b), np.inf))
        assert all(meters.get(key) == cost[0] for key, cost in expect.items())
        # the loaded graph: the same edges at the same meters and seconds, but for
        # nodes outside its largest strongly connected component
        cut = load_road_graph(path, cache_dir=tmp_path)
        assert cut.n_nodes < graph.n_nodes
        got = edge_costs(cut)
        nodes = set(cut.node_ids.tolist())
        missing = [key for key in expect if key not in got]
        assert len(missing) < 0.01 * len(expect)
        assert all(a not in nodes or b not in nodes for a, b in missing)
        assert all(got[key] == cost for key, cost in expect.items() if key in got)
        # complete ways: every node of every way has a location
        for obj in osmium.FileProcessor(str(path)).with_locations():
            if obj.is_way():
                assert all(node.location.valid() for node in obj.nodes)
        # cached: the second call does not write again
        stamp = path.stat().st_mtime_ns
        again = cut_extract(REISTERSTOWN_PBF, bbox, buffer_meters=500.0, cache_dir=tmp_path)
        assert again == path and path.stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "extracts").iterdir())) == 2  # no temporary files left


def test_cut_extract_bad_inputs(tmp_path):
    box = (-76.8, 39.4, -76.7, 39.45)
    with pytest.raises(InputError, match="not found") as err:
        cut_extract(tmp_path / "nowhere.osm.pbf", box, buffer_meters=100.0, cache_dir=tmp_path)
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.osm.pbf"
    bad.write_text("this is not OpenStreetMap data\n")
    with pytest.raises(InputError, match="could not be read as OpenStreetMap") as err:
        cut_extract(bad, box, buffer_meters=100.0, cache_dir=tmp_path)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    with pytest.raises(InputError, match="no highway"):
        cut_extract(REISTERSTOWN_PBF, (10.0, 50.0, 10.1, 50.1), buffer_meters=100.0,
                    cache_dir=tmp_path)  # fmt: skip
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "extracts").iterdir())
