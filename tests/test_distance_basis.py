"""How miles are measured (``distance_basis``): shortest road distance, the length of
the fastest route, or straight line.

The fastest-route oracle is networkx's own Dijkstra by seconds from each provider
(on the reversed graph: member→provider trips), whose path gives the route's
meters; parallel streets keep the fastest one (the shortest among equally fast).
The engine is checked on the toy road, whose figures are worked out by hand in
``test_evaluate_rules``: from n0, n6 is 6 miles by street but 6 minutes by the
8-mile highway; n4 is 4 miles and 8 minutes by street.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from support import LON, MILE, chain_network, counties, lat_of
from support import toy_members as members

from adequacy import InputError
from adequacy.engine.evaluate import evaluate
from adequacy.engine.settings import Settings
from adequacy.engine.standards import load_standards
from adequacy.network import RoadGraph
from adequacy.routing import fastest_route_counts, k_nearest_labels
from adequacy.routing.labels import contracted
from adequacy.routing.routes import StraightLabels, route_at, route_meters


def fastest_routes(graph, source_nodes, leg_seconds, leg_meters, groups, queries, k):
    """k nearest providers by time per query node, with each fastest route's meters."""
    G = nx.DiGraph()
    G.add_nodes_from(range(graph.n_nodes))
    u = graph.edge_sources()
    for a, b, m, s in zip(u, graph.targets, graph.meters, graph.seconds, strict=True):
        a, b = int(a), int(b)
        if a == b:
            continue
        old = G.get_edge_data(b, a)  # reversed: searches run from the provider
        if old is None or (s, m) < (old["seconds"], old["meters"]):
            G.add_edge(b, a, seconds=float(s), meters=float(m))
    best: dict = {}  # (query, group) -> (seconds, meters)
    for g in np.unique(groups):
        H = G.copy()
        H.add_node("S")
        for node, ls, lm, gg in zip(source_nodes, leg_seconds, leg_meters, groups, strict=True):
            if gg == g:
                old = H.get_edge_data("S", int(node))
                if old is None or (ls, lm) < (old["seconds"], old["meters"]):
                    H.add_edge("S", int(node), seconds=float(ls), meters=float(lm))
        dist, paths = nx.single_source_dijkstra(H, "S", weight="seconds")
        for q in queries:
            if int(q) in dist:
                path = paths[int(q)]
                meters = sum(H[a][b]["meters"] for a, b in zip(path[:-1], path[1:], strict=True))
                best[(int(q), int(g))] = (dist[int(q)], meters)
    out_s = np.full((len(queries), k), np.inf)
    out_m = np.full((len(queries), k), np.inf)
    for i, q in enumerate(queries):
        found = sorted(v for (qq, _), v in best.items() if qq == int(q))[:k]
        for j, (s, m) in enumerate(found):
            out_s[i, j], out_m[i, j] = s, m
    return out_s, out_m


def check_routes(graph, sources, groups, legs_s, legs_m, queries, k):
    labels = k_nearest_labels(graph, sources, k=k, metric="time", groups=groups, source_cost=legs_s)
    route, unknown = route_meters(graph, labels, groups, legs_m, legs_s, sources)
    seconds, _, meters = route_at(labels, route, queries, legs_m)
    exp_s, exp_m = fastest_routes(graph, sources, legs_s, legs_m, groups, queries, k)
    np.testing.assert_allclose(seconds, exp_s, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(meters, exp_m, rtol=1e-9, atol=1e-6)
    assert unknown == 0
    return labels.contracted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fastest_route_meters_equal_networkx_on_chains(seed):
    """Contracted search, one-way chains, parallel streets, a provider at two sites,
    snapping legs: each label's route meters are those of networkx's fastest path."""
    graph = chain_network(seed)
    rng = np.random.default_rng(seed)
    sources = rng.choice(graph.n_nodes, 9, replace=False)
    groups = np.arange(9)
    groups[4] = groups[1]
    legs_m = rng.uniform(0, 300, 9)
    legs_s = legs_m / 6.7
    for k in (1, 2, 3):
        contracted = check_routes(
            graph, sources, groups, legs_s, legs_m, np.arange(graph.n_nodes), k
        )
        assert contracted  # the chain-contracted search and its expansion are what is checked


@pytest.mark.parametrize("k", [1, 3])
def test_fastest_route_meters_equal_networkx_on_osm(reisterstown, k):
    graph = reisterstown
    rng = np.random.default_rng(11 + k)
    sources = rng.choice(graph.n_nodes, 15, replace=False)
    groups = np.arange(15)
    queries = rng.choice(graph.n_nodes, 200, replace=False)
    check_routes(graph, sources, groups, np.zeros(15), np.zeros(15), queries, k)


def check_member_counts(graph, rng, n_sources=12, n_members=60):
    """fastest_route_counts against networkx: every provider's fastest time from each
    member and that route's meters, counted by hand against the limits."""
    sources = rng.choice(graph.n_nodes, n_sources, replace=False)
    groups = np.arange(n_sources)
    groups[3] = groups[0]  # one provider at two sites
    legs_m = rng.uniform(0, 300, n_sources)
    legs_s = legs_m / 6.7
    queries = rng.choice(graph.n_nodes, n_members, replace=False)
    n_groups = len(np.unique(groups))
    exp_s, exp_m = fastest_routes(graph, sources, legs_s, legs_m, groups, queries, n_groups)
    member_m = rng.uniform(0, 200, n_members)
    member_s = member_m / 6.7
    total_s, total_m = exp_s + member_s[:, None], exp_m + member_m[:, None]
    reached = np.isfinite(total_s)

    # limits around the providers' own figures, so that counts vary; some NaN (no limit)
    def around(total):
        q = rng.uniform(0, 0.6, n_members)
        return np.array(
            [
                np.quantile(t[r], qq) if r.any() else np.nan
                for t, r, qq in zip(total, reached, q, strict=True)
            ]
        )

    max_s, max_m = around(total_s), around(total_m)
    max_s[::7] = np.nan
    max_m[3::7] = np.nan
    cutoff = float(np.nanquantile(total_s[reached], 0.8))
    with np.errstate(invalid="ignore"):
        ok = (total_s <= cutoff) & ((total_s <= max_s[:, None]) | (total_m <= max_m[:, None]))
    expected = ok.sum(axis=1)
    got = fastest_route_counts(
        graph, queries, member_s, member_m, sources, legs_s, legs_m, groups,
        max_seconds=max_s * (1 + 1e-9), max_meters=max_m * (1 + 1e-9), cutoff_seconds=cutoff,
    )  # fmt: skip
    np.testing.assert_array_equal(got, expected)
    assert 0 < expected.mean() < n_groups  # neither none nor all: the limits decide
    assert (ok & (total_s > max_s[:, None])).any()  # some qualify by route miles alone

    # pruned by the k-nearest labels' nearest costs (as the engine does): the same counts;
    # a short distance cutoff leaves nodes with no label (bounded by the cutoff)
    time = k_nearest_labels(graph, sources, k=2, metric="time", source_cost=legs_s,
                            groups=groups, cutoff=cutoff)  # fmt: skip
    whole = k_nearest_labels(graph, sources, k=1, metric="distance", source_cost=legs_m,
                             groups=groups).cost[:, 0]  # fmt: skip
    short = float(np.median(whole[np.isfinite(whole)]))
    near = k_nearest_labels(graph, sources, k=1, metric="distance", source_cost=legs_m,
                            groups=groups, cutoff=short)  # fmt: skip
    assert np.isinf(near.cost[:, 0]).any()
    pruned = fastest_route_counts(
        graph, queries, member_s, member_m, sources, legs_s, legs_m, groups,
        max_seconds=max_s * (1 + 1e-9), max_meters=max_m * (1 + 1e-9), cutoff_seconds=cutoff,
        lower_seconds=time.nearest_bound(), lower_meters=near.nearest_bound(),
    )  # fmt: skip
    np.testing.assert_array_equal(pruned, expected)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_member_searches_count_as_networkx_on_chains(seed):
    """The forward search from each member (on the contracted core, shape points and
    one-way chains included) counts the providers networkx's fastest routes do."""
    graph = chain_network(seed)
    assert contracted(graph)
    check_member_counts(graph, np.random.default_rng(seed), n_members=graph.n_nodes // 2)


def test_member_searches_count_as_networkx_on_osm(reisterstown, monkeypatch):
    check_member_counts(reisterstown, np.random.default_rng(7))
    monkeypatch.setattr("adequacy.routing.labels.CONTRACT_BELOW", 0.0)
    assert not contracted(reisterstown)  # now on the full graph, as searches would be
    check_member_counts(reisterstown, np.random.default_rng(8))


def test_pruning_survives_a_route_whose_float_sum_loses_its_small_edges(monkeypatch):
    """A 2**20 m edge, then 12,000 edges each under half its rounding step: the member's
    forward sum loses them (the route is 2**20 m in floats), the labels' reverse sum
    keeps them (1.4e-6 m). At a limit of exactly 2**20 m the bound must not prune."""
    monkeypatch.setattr("adequacy.routing.labels.CONTRACT_BELOW", 0.0)
    big, n = 2.0**20, 12_000
    meters = np.full(n + 1, 0.49 * np.spacing(big))
    meters[0] = big
    u = np.arange(n + 1)
    graph = RoadGraph.from_edges(u, u + 1, meters, np.ones(n + 1), np.arange(n + 2.0),
                                 np.zeros(n + 2), largest_component=False)  # fmt: skip
    source = [n + 1]
    near = k_nearest_labels(graph, source, k=1, metric="distance")
    assert near.nearest_bound()[1] > 1e-6  # what the member's own sum does not see
    counts = [
        fastest_route_counts(
            graph, [0], [0.0], [0.0], source, [0.0], [0.0], [0], max_seconds=np.array([0.5]),
            max_meters=np.array([big]), cutoff_seconds=1e9, **bounds,
        )[0]
        for bounds in ({}, {"lower_meters": near.nearest_bound()})
    ]  # fmt: skip
    assert counts == [1, 1]


UNBOUNDED_CUTOFF = """
import numpy as np
from adequacy.network import RoadGraph
from adequacy.network.chains import chains_of
from adequacy.routing import fastest_route_counts
from adequacy.routing.labels import contracted
edges = [(0, 2, 3, 5), (1, 4, 0, 13), (1, 7, 19, 1), (1, 9, 8, 4), (1, 9, 0, 9),
         (2, 0, 18, 8), (2, 3, 19, 19), (2, 3, 3, 16), (2, 5, 17, 12), (3, 2, 9, 18),
         (3, 4, 7, 13), (4, 1, 7, 3), (4, 3, 12, 10), (5, 2, 19, 18), (5, 6, 7, 1),
         (6, 5, 10, 16), (6, 5, 9, 16), (6, 7, 11, 12), (7, 1, 16, 15), (7, 6, 18, 9),
         (8, 0, 15, 14), (9, 8, 12, 2)]
u, v, m, s = (np.array(c, float) for c in zip(*edges))
graph = RoadGraph.from_edges(u.astype(int), v.astype(int), m, s, np.arange(10.0),
                             np.zeros(10), largest_component=False)
assert contracted(graph) and chains_of(graph).chain_of[9] >= 0
def count(cutoff):
    return fastest_route_counts(
        graph, [9] * 5, [0.0] * 5, [0.0] * 5, [0], [0.0], [0.0], [0],
        max_seconds=np.full(5, 100.0), max_meters=np.full(5, 100.0), cutoff_seconds=cutoff)
assert (count(np.inf) == count(1e12)).all()
print("ok")
"""


def test_an_unbounded_cutoff_with_a_member_on_a_one_way_chain():
    """With no time cutoff, the chain end a one-way chain keeps a member from is not a
    start (it once was, at infinite time, and overflowed the search's scratch: silent
    when compiled, so the search runs here as plain Python, where numpy checks)."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", UNBOUNDED_CUTOFF], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_a_slow_way_in_does_not_count_when_a_faster_way_is_longer():
    """The member at X reaches provider P (a shape point between A and B) in 22 minutes
    over 2 miles by A, or in 17.2 minutes over 20.1 miles by the highway to B. Its
    fastest route is the long one: within 5 miles P does not count, although the
    search from X has settled the short way first and stopped short of B."""
    mph = MILE / 3600
    # nodes: X 0, A 1, P 2, B 3, dead ends 4-6 that make X, A, B intersections, 7-10
    ways = [
        (0, 1, 1, 30),  # X-A, 1 mile at 30 mph: 2 minutes
        (1, 2, 1, 3),  # A-P, 1 mile at 3 mph: 20 minutes
        (2, 3, 0.1, 30),  # P-B, 0.1 mile: 0.2 minutes
        (0, 4, 1, 30), (1, 5, 1, 30), (3, 6, 1, 30),
    ]  # fmt: skip
    highway = [0, 7, 8, 9, 10, 3]  # X-B, 20 miles at 80 mph over shape points: 15 minutes
    ways += [(a, b, 4, 80) for a, b in zip(highway[:-1], highway[1:], strict=True)]
    u, v, m, s = [], [], [], []
    for a, b, miles, speed in ways:
        for p, q in ((a, b), (b, a)):
            u.append(p), v.append(q), m.append(miles * MILE), s.append(miles * MILE / (speed * mph))
    graph = RoadGraph.from_edges(
        u,
        v,
        m,
        s,
        [0, 0.01, 0.02, 0.03, 0, 0.01, 0.03, 0, 0.01, 0.02, 0.03],
        [0, 0, 0, 0, -0.01, -0.01, -0.01, 0.02, 0.02, 0.02, 0.02],
        largest_component=False,
    )
    assert contracted(graph)

    def count(miles, minutes):
        return fastest_route_counts(
            graph, [0], [0.0], [0.0], [2], [0.0], [0.0], [0],
            max_seconds=np.array([minutes * 60.0]), max_meters=np.array([miles * MILE]),
            cutoff_seconds=7200.0,
        )[0]  # fmt: skip

    assert count(5, 10) == 0  # 2 miles by the slow way, but that is not the fastest route
    assert count(20.2, 10) == 1  # the fastest route, 20.1 miles
    assert count(5, 17.3) == 1  # 17.2 minutes


def test_fastest_route_is_never_shorter_than_the_shortest(boston):
    rng = np.random.default_rng(5)
    sources = rng.choice(boston.n_nodes, 20, replace=False)
    time = k_nearest_labels(boston, sources, k=1, metric="time")
    route, unknown = route_meters(boston, time, np.arange(20), np.zeros(20), np.zeros(20), sources)
    _, _, meters = route_at(time, route, np.arange(boston.n_nodes), np.zeros(20))
    assert unknown == 0
    reached = np.flatnonzero(np.isfinite(meters[:, 0]))
    assert len(reached) > 0.9 * boston.n_nodes
    longer = 0
    for s in range(20):  # the shortest road distance to the same provider
        nodes = reached[time.source[reached, 0] == s]
        shortest = k_nearest_labels(boston, [sources[s]], k=1, metric="distance").cost[nodes, 0]
        assert np.all(shortest <= meters[nodes, 0] * (1 + 1e-9))
        longer += int((meters[nodes, 0] > shortest * 1.001).sum())
    assert longer > 0  # on real streets the fastest route is sometimes longer


# ---------------------------------------------------------------------------
# the engine, on the toy road
# ---------------------------------------------------------------------------
def providers(rows):
    return pd.DataFrame(
        [
            {"provider_id": pid, "provider_type": "pcp", "lat": lat_of(node), "lon": LON}
            for pid, node in rows
        ]
    )


def rule_set(basis=None, **rule):
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "rules": [{"id": "r", "provider_type": "pcp", "count": 1, **rule}],
    }
    if basis:
        std["distance_basis"] = basis
    return std


def row(toy, m, p, std, **kwargs):
    ev = evaluate(m, p, toy, std, regions=counties(), workers=1, **kwargs)
    return ev, ev.member_results.set_index("member_id").loc["m0"]


def test_each_basis_measures_its_own_miles(toy):
    p = providers([("P6", 6)])
    _, shortest = row(toy, members([0]), p, rule_set(miles=7, minutes=5))
    _, fastest = row(toy, members([0]), p, rule_set("fastest_route", miles=7, minutes=5))
    _, straight = row(toy, members([0]), p, rule_set("straight_line", miles=7, minutes=5))
    assert shortest["miles"] == pytest.approx(6.0)  # along the street
    assert fastest["miles"] == pytest.approx(8.0)  # the 6-minute highway route
    # straight line: 0.06 degree of latitude on the sphere (R = 6,371,008.8 m)
    assert straight["miles"] == pytest.approx(6371008.8 * math.radians(0.06) / MILE, rel=1e-6)
    assert shortest["minutes"] == fastest["minutes"] == pytest.approx(6.0)
    # 7 miles or 5 minutes: the street passes, the route actually driven does not
    assert bool(shortest["meets"]) and bool(straight["meets"])
    assert not bool(fastest["meets"])


def test_settings_override_the_standards_basis_and_are_recorded(toy):
    p = providers([("P6", 6)])
    ev, r = row(toy, members([0]), p, rule_set(miles=7), distance_basis="fastest_route")
    assert r["miles"] == pytest.approx(8.0)
    assert ev.settings.distance_basis == "fastest_route"
    ev, _ = row(toy, members([0]), p, rule_set("straight_line", miles=7))
    assert ev.settings.distance_basis == "straight_line"
    ev, _ = row(toy, members([0]), p, rule_set(miles=7))
    assert ev.settings.distance_basis == "shortest"


def test_a_slow_near_provider_behind_fast_far_ones_is_found(toy):
    """Three providers at n6 are faster (6 min, 8 mi) than P4 (8 min, 4 mi); with
    labels for two, P4 is beyond them, yet it is within 4.5 miles: the search widens."""
    p = providers([("P6a", 6), ("P6b", 6), ("P6c", 6), ("P4", 4)])
    _, r = row(toy, members([0]), p, rule_set("fastest_route", miles=4.5, minutes=5))
    assert bool(r["meets"])
    assert r["n_qualifying"] == 1
    # the member's figures describe the nearest by time: 6 minutes, 8 route miles
    assert r["minutes"] == pytest.approx(6.0)
    assert r["miles"] == pytest.approx(8.0)
    assert r["nearest_1"] in {"P6a", "P6b", "P6c"}


def test_and_rule_on_the_fastest_route(toy):
    # n4: 4 miles, 8 minutes by the street, its fastest route
    p = providers([("P4", 4)])
    _, r = row(toy, members([0]), p, rule_set("fastest_route", miles=4, minutes=8, combine="and"))
    assert bool(r["meets"])
    _, r = row(toy, members([0]), p, rule_set("fastest_route", miles=4, minutes=7, combine="and"))
    assert not bool(r["meets"])


def test_miles_only_rule_on_the_fastest_route(toy):
    p = providers([("P6", 6)])
    _, r = row(toy, members([0]), p, rule_set("fastest_route", miles=7.9))
    assert not bool(r["meets"])
    _, r = row(toy, members([0]), p, rule_set("fastest_route", miles=8.0))
    assert bool(r["meets"])


def test_straight_line_labels_keep_distinct_providers():
    # provider 0 has two sites; the nearer one counts, and once
    lon = np.array([0.0, 0.02, 0.01, 0.05])
    lat = np.zeros(4)
    labels = StraightLabels(lon, lat, [0, 0, 1, 2], k=2, cutoff=5000.0)
    cost, source = labels.at_points(np.array([0.016]), np.array([0.0]))
    assert source.tolist() == [[1, 2]]  # site 1 of provider 0 (0.004°), then provider 1
    per_degree = 6371008.8 * math.radians(1.0)
    np.testing.assert_allclose(cost[0], [0.004 * per_degree, 0.006 * per_degree], rtol=1e-6)
    # provider 2 is 3.8 km away: beyond a 3 km cutoff
    far = StraightLabels(lon, lat, [0, 0, 1, 2], k=3, cutoff=3000.0)
    cost, source = far.at_points(np.array([0.016]), np.array([0.0]))
    assert source[0, 2] == -1 and np.isinf(cost[0, 2])


def test_a_bad_basis_is_named():
    with pytest.raises(InputError, match="distance_basis: must be one of shortest"):
        load_standards(rule_set("crow", miles=5))
    with pytest.raises(InputError, match="distance_basis must be one of"):
        Settings(distance_basis="crow")


def test_built_in_sets_state_their_basis():
    assert load_standards("seed-manual").distance_basis == "fastest_route"
    assert load_standards("nc-medicaid").distance_basis == "fastest_route"


def test_fastest_from_many_members_equals_networkx(reisterstown):
    """The forward search from many members at once (the reach rule's county pass):
    every node's fastest time from the nearest member, with legs, and the meters of
    that route, against networkx's Dijkstra from a super-source on the forward graph."""
    from adequacy.routing.routes import FastestFrom

    graph = reisterstown
    rng = np.random.default_rng(7)
    nodes = rng.choice(graph.n_nodes, 40, replace=False)
    legs_m = rng.uniform(0, 400, 40)
    legs_s = legs_m / 6.7
    G = nx.DiGraph()
    for a, b, m, s in zip(graph.edge_sources(), graph.targets, graph.meters, graph.seconds,
                          strict=True):  # fmt: skip
        old = G.get_edge_data(int(a), int(b))
        if old is None or (s, m) < (old["seconds"], old["meters"]):
            G.add_edge(int(a), int(b), seconds=float(s), meters=float(m))
    for node, ls, lm in zip(nodes, legs_s, legs_m, strict=True):
        G.add_edge("S", int(node), seconds=float(ls), meters=float(lm))
    cutoff = 600.0
    dist, paths = nx.single_source_dijkstra(G, "S", cutoff=cutoff, weight="seconds")
    search = FastestFrom(graph)
    for _ in range(2):  # a second search on the same scratch gives the same answer
        seconds, meters = search.search(nodes, legs_s, legs_m, cutoff_seconds=cutoff)
        reached = np.flatnonzero(np.isfinite(seconds))
        assert set(reached.tolist()) == {v for v in dist if v != "S"}
        got_s = seconds[reached]
        exp_s = np.array([dist[int(v)] for v in reached])
        np.testing.assert_allclose(got_s, exp_s, rtol=1e-9)
        exp_m = np.array(
            [sum(G[a][b]["meters"] for a, b in zip(paths[int(v)][:-1], paths[int(v)][1:],
                                                   strict=True)) for v in reached]
        )  # fmt: skip
        np.testing.assert_allclose(meters[reached], exp_m, rtol=1e-9)
    assert len(reached) > 1000


@pytest.mark.parametrize("basis, options", [("shortest", 1), ("fastest_route", 0)])
def test_continuity_options_measure_miles_on_the_runs_basis(toy, basis, options):
    """P0 at n0 retires; its member at n0 could move to P6 at n6, 6 miles away by the
    street but an 8-mile drive by the faster highway. Within a 7-mile standard P6 is
    an option when miles are the shortest road distance, and not when they are the
    route driven."""
    from adequacy.whatif import continuity_of_care, run_whatif

    m = members([0]).assign(pcp_id="P0")
    p = pd.DataFrame(
        {
            "provider_id": ["P0", "P6"],
            "provider_type": ["pcp", "pcp"],
            "lat": [lat_of(0), lat_of(6)],
            "lon": [LON, LON],
        }
    )
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "distance_basis": basis,
        "rules": [{"id": "pcp", "provider_type": "pcp", "count": 1, "miles": 7}],
    }
    base = evaluate(m, p, toy, std, regions=counties(), workers=1)
    displaced, _ = continuity_of_care(run_whatif(base, {"terminate": ["P0"]}))
    assert displaced["options_within_standard"].tolist() == [options]
    assert displaced["assigned_pcp"].tolist() == (["P6"] if options else [""])
