"""The k-nearest search and snapping, checked against networkx on the same graphs.

The reference computes, with networkx's own Dijkstra, the shortest path from
every query node *to* every source (the member→provider direction) and keeps
the k cheapest distinct providers. Nothing here compares our output with
numbers it produced itself.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from support import chain_network

from adequacy import InputError, RoadGraph, nearest_providers, snap_points
from adequacy.network.osm import haversine_meters
from adequacy.routing import k_nearest_labels
from adequacy.routing.snap import prepare_snapping
from adequacy.units import MPH_TO_METERS_PER_SECOND

WEIGHT = {"distance": "meters", "time": "seconds"}


def reference(
    graph,
    source_nodes,
    query_nodes,
    k,
    metric,
    *,
    source_cost=None,
    groups=None,
    cutoff=np.inf,
    reverse=True,
):
    """k cheapest distinct-provider costs per query node, by networkx.

    With ``reverse`` (the default) the cost is of the trip query → source.
    """
    weight = WEIGHT[metric]
    G = graph.to_networkx(weight)
    walk = G.reverse(copy=True) if reverse else G
    source_nodes = np.asarray(source_nodes)
    source_cost = np.zeros(len(source_nodes)) if source_cost is None else np.asarray(source_cost)
    groups = np.arange(len(source_nodes)) if groups is None else np.asarray(groups)
    dist = {
        int(n): nx.single_source_dijkstra_path_length(walk, int(n), weight=weight)
        for n in np.unique(source_nodes)
    }
    out = np.full((len(query_nodes), k), np.inf)
    per_source = np.full((len(query_nodes), len(source_nodes)), np.inf)
    for i, q in enumerate(query_nodes):
        best: dict = {}
        for s, (node, c0, g) in enumerate(zip(source_nodes, source_cost, groups, strict=True)):
            c = c0 + dist[int(node)].get(int(q), np.inf)
            per_source[i, s] = c
            if c < best.get(g, np.inf):
                best[g] = c
        costs = sorted(c for c in best.values() if c <= cutoff)[:k]
        out[i, : len(costs)] = costs
    return out, per_source


def check_sources(cost, source, per_source, groups=None):
    """Each reported source really has the reported cost; providers are distinct per row."""
    for i in range(len(cost)):
        found = source[i][source[i] >= 0]
        assert np.allclose(per_source[i, found], cost[i, : len(found)], rtol=1e-9, atol=1e-6)
        assert np.all(np.isinf(cost[i, len(found) :]))
        g = found if groups is None else np.asarray(groups)[found]
        assert len(set(g.tolist())) == len(found)


@pytest.fixture(params=["boston", "reisterstown", pytest.param("idaho", marks=pytest.mark.slow)])
def graph(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("metric", ["distance", "time"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_nearest_equals_networkx(graph, metric, k):
    rng = np.random.default_rng(7 + k)
    n_sources = 12 if graph.n_nodes > 100_000 else 25
    sources = rng.choice(graph.n_nodes, n_sources, replace=False)
    sources = np.concatenate([sources, [sources[0], sources[0]]])  # three providers on one node
    queries = np.concatenate([rng.choice(graph.n_nodes, 250), [sources[0], sources[1]]])
    labels = k_nearest_labels(graph, sources, k=k, metric=metric)
    expected, per_source = reference(graph, sources, queries, k, metric)
    got = labels.cost[queries]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)
    check_sources(got, labels.source[queries], per_source)
    # the three providers on one node are three providers at cost zero
    assert np.all(labels.cost[sources[0], : min(k, 3)] == 0)


def test_direction_is_member_to_provider(boston):
    """One-way streets make the trip differ from its reverse; we report the trip."""
    rng = np.random.default_rng(1)
    sources = rng.choice(boston.n_nodes, 10, replace=False)
    queries = rng.choice(boston.n_nodes, 300)
    labels = k_nearest_labels(boston, sources, k=1, metric="distance")
    trip, _ = reference(boston, sources, queries, 1, "distance")
    back, _ = reference(boston, sources, queries, 1, "distance", reverse=False)
    np.testing.assert_allclose(labels.cost[queries], trip, rtol=1e-9)
    assert np.mean(~np.isclose(trip, back)) > 0.2


@pytest.mark.parametrize("metric", ["distance", "time"])
def test_cutoff(reisterstown, metric):
    rng = np.random.default_rng(3)
    sources = rng.choice(reisterstown.n_nodes, 15, replace=False)
    queries = rng.choice(reisterstown.n_nodes, 300)
    cutoff = 3000.0 if metric == "distance" else 240.0
    labels = k_nearest_labels(reisterstown, sources, k=2, metric=metric, cutoff=cutoff)
    expected, _ = reference(reisterstown, sources, queries, 2, metric, cutoff=cutoff)
    np.testing.assert_allclose(labels.cost[queries], expected, rtol=1e-9)
    assert np.isinf(expected).any() and np.isfinite(expected).any()
    assert np.all(labels.source[queries][np.isinf(expected)] == -1)


def test_unreachable_nodes_get_infinity(boston):
    """On a graph cut in pieces, nodes that cannot reach any provider get inf and -1."""
    u = boston.edge_sources()
    keep = boston.lat[u] < np.quantile(
        boston.lat, 0.5
    )  # cut off the northern half's outgoing edges
    keep |= np.random.default_rng(0).random(boston.n_edges) < 0.3
    cut = RoadGraph.from_edges(
        u[keep],
        boston.targets[keep],
        boston.meters[keep],
        boston.seconds[keep],
        boston.lon,
        boston.lat,
        largest_component=False,
    )
    rng = np.random.default_rng(5)
    sources = rng.choice(cut.n_nodes, 8, replace=False)
    queries = rng.choice(cut.n_nodes, 300)
    labels = k_nearest_labels(cut, sources, k=2, metric="distance")
    expected, per_source = reference(cut, sources, queries, 2, "distance")
    assert np.isinf(expected[:, 0]).sum() > 10
    np.testing.assert_allclose(labels.cost[queries], expected, rtol=1e-9)
    check_sources(labels.cost[queries], labels.source[queries], per_source)


def test_provider_at_two_sites_counts_once(reisterstown):
    rng = np.random.default_rng(11)
    sources = rng.choice(reisterstown.n_nodes, 20, replace=False)
    groups = np.arange(20) // 2  # ten providers, each at two sites
    queries = rng.choice(reisterstown.n_nodes, 300)
    labels = k_nearest_labels(reisterstown, sources, k=3, metric="time", groups=groups)
    expected, per_source = reference(reisterstown, sources, queries, 3, "time", groups=groups)
    np.testing.assert_allclose(labels.cost[queries], expected, rtol=1e-9)
    check_sources(labels.cost[queries], labels.source[queries], per_source, groups)


def test_ties_on_a_grid():
    """A 12 x 12 grid of equal edges is full of ties."""
    side = 12
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    u, v = np.concatenate([a, b]), np.concatenate([b, a])
    lon = (idx % side).ravel() * 0.001
    lat = (idx // side).ravel() * 0.001
    grid = RoadGraph.from_edges(u, v, np.full(len(u), 100.0), np.full(len(u), 10.0), lon, lat)
    sources = np.array([0, 11, 132, 143, 66, 66, 77])
    for k in (1, 2, 3, 4):
        labels = k_nearest_labels(grid, sources, k=k, metric="distance")
        expected, per_source = reference(grid, sources, np.arange(grid.n_nodes), k, "distance")
        np.testing.assert_allclose(labels.cost, expected)
        check_sources(labels.cost, labels.source, per_source)


def test_source_costs_are_added(reisterstown):
    rng = np.random.default_rng(2)
    sources = rng.choice(reisterstown.n_nodes, 10, replace=False)
    start = rng.uniform(0, 2000, 10)
    queries = rng.choice(reisterstown.n_nodes, 200)
    labels = k_nearest_labels(reisterstown, sources, k=2, metric="distance", source_cost=start)
    expected, _ = reference(reisterstown, sources, queries, 2, "distance", source_cost=start)
    np.testing.assert_allclose(labels.cost[queries], expected, rtol=1e-9)


# ---------------------------------------------------------------------------
# nearest_providers: lon/lat in, snapping legs included
# ---------------------------------------------------------------------------
def brute_force_snap(graph, lonlat):
    d = haversine_meters(lonlat[:, None, 0], lonlat[:, None, 1], graph.lon[None], graph.lat[None])
    return d.argmin(axis=1), d.min(axis=1)


@pytest.mark.parametrize("metric", ["distance", "time"])
def test_nearest_providers_from_coordinates(boston, metric):
    rng = np.random.default_rng(21)
    lo, la = boston.lon, boston.lat

    def random_points(n):
        return np.column_stack(
            [rng.uniform(lo.min(), lo.max(), n), rng.uniform(la.min(), la.max(), n)]
        )

    providers, members = random_points(30), random_points(1500)  # > 1000: distinct-node path
    result = nearest_providers(boston, providers, members, k=2, metric=metric)

    p_node, p_leg = brute_force_snap(boston, providers)
    m_node, m_leg = brute_force_snap(boston, members)
    np.testing.assert_allclose(result.snap_meters, m_leg, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(result.provider_snap_meters, p_leg, rtol=1e-9, atol=1e-6)
    to_cost = (
        (lambda m: m) if metric == "distance" else (lambda m: m / (15 * MPH_TO_METERS_PER_SECOND))
    )
    expected, _ = reference(boston, p_node, m_node, 2, metric, source_cost=to_cost(p_leg))
    expected = expected + to_cost(m_leg)[:, None]
    np.testing.assert_allclose(result.cost, expected, rtol=1e-9)
    assert result.cost.shape == (1500, 2) and result.source.shape == (1500, 2)


@pytest.mark.parametrize("prepared", [False, True])
def test_snapping_finds_the_nearest_node_by_great_circle(boston, tmp_path, prepared):
    """Each point's node and leg against a brute-force haversine over every node, for
    points in no spatial order (the snapper queries them in its own order); also with
    the index built on a background thread beforehand, as ``evaluate`` does."""
    rng = np.random.default_rng(3)
    n = 400
    points = np.column_stack([
        rng.uniform(boston.lon.min() - 0.02, boston.lon.max() + 0.02, n),
        rng.uniform(boston.lat.min() - 0.02, boston.lat.max() + 0.02, n),
    ])  # fmt: skip
    graph = boston
    if prepared:  # a graph of its own, whose index nobody has built yet
        boston.save(tmp_path / "boston.npz")
        graph = RoadGraph.load(tmp_path / "boston.npz")
        prepare_snapping(graph)
    snap = snap_points(graph, points)
    for i, (lon, lat) in enumerate(points):
        d = haversine_meters(lon, lat, boston.lon, boston.lat)
        assert snap.node[i] == int(np.argmin(d))
        assert abs(snap.meters[i] - d.min()) <= 1e-6 * max(1.0, d.min())


def test_off_road_points_are_flagged(boston):
    far = np.array([[-71.06, 42.36], [-70.5, 42.36]])  # downtown, and 40 km out at sea
    snap = snap_points(boston, far, max_snap_meters=1000)
    assert snap.off_road.tolist() == [False, True]
    assert snap.meters[1] > 30_000


@pytest.mark.parametrize(
    ("points", "text"),
    [
        (np.array([[-71.06, 42.36], [np.nan, 42.3]]), "row 1"),
        (np.array([[-71.06, 42.36], [-71.0, 142.3]]), "row 1"),
        (np.array([[42.36, -271.06]]), "row 0"),
    ],
)
def test_bad_coordinates_are_named(boston, points, text):
    with pytest.raises(InputError) as e:
        nearest_providers(boston, np.array([[-71.06, 42.36]]), points)
    assert text in str(e.value) and "longitude" in str(e.value)


def test_bad_coordinates_named_by_id(boston):
    with pytest.raises(InputError, match="M-17"):
        snap_points(boston, np.array([[np.inf, 0.0]]), ids=["M-17"], what="members.csv")


def test_no_providers_gives_infinity(boston):
    result = nearest_providers(boston, np.zeros((0, 2)), np.array([[-71.06, 42.36]]), k=2)
    assert np.isinf(result.cost).all() and (result.source == -1).all()


# ---------------------------------------------------------------------------
# the chain contraction, on a made-up network with every kind of chain
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("metric", ["distance", "time"])
def test_chain_contraction_is_exact(seed, metric):
    from adequacy.network.chains import chains_of

    graph = chain_network(seed)
    chains = chains_of(graph)
    assert 0 < chains.n_core < 0.7 * graph.n_nodes  # the contracted search is the one used
    rng = np.random.default_rng(seed)
    sources = rng.choice(graph.n_nodes, 9, replace=False)
    groups = np.arange(9)
    groups[4] = groups[1]  # one provider at two sites
    cost0 = rng.uniform(0, 30, 9)
    queries = np.arange(graph.n_nodes)
    for k in (1, 2, 3):
        labels = k_nearest_labels(
            graph, sources, k=k, metric=metric, groups=groups, source_cost=cost0
        )
        expected, per_source = reference(
            graph, sources, queries, k, metric, groups=groups, source_cost=cost0
        )
        np.testing.assert_allclose(labels.cost, expected, rtol=1e-9, atol=1e-6)
        check_sources(labels.cost, labels.source, per_source, groups)
