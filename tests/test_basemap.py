"""The offline basemap: road lines drawn from the real road graphs, checked against the graph.

Every drawn segment is looked up in the graph's own CSR arrays (by the node
coordinates at both ends), independently of how the basemap joins edges into
lines; the region view must hold every major road and no minor one; the points
stay under the bound; the county map carries the major roads under its counties,
the drill-down every road over the county's fill and under the points, and both
the attribution.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.io as pio
import pytest
from support import BOSTON_PBF

from adequacy import load_road_graph
from adequacy.demo import build_demo
from adequacy.engine.evaluate import evaluate
from adequacy.frontend.basemap import MAX_ROAD_POINTS, _polylines, road_layers, road_traces
from adequacy.frontend.maps import BAND_COLOURS, PROVIDER_COLOUR, county_map, points_map
from adequacy.report.style import PASS_COLOUR

#: OSM highway classes drawn in every view: motorway, trunk, primary, secondary and their links
MAJOR = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
}


def graph_edges(graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from node, to node, class name) of every directed edge, straight from the CSR arrays."""
    u = np.repeat(np.arange(graph.n_nodes), np.diff(graph.offsets))
    names = np.asarray(graph.class_names, dtype=object)[graph.edge_class]
    return u, graph.targets.astype(np.int64), names


def layer_segments(layers) -> list[frozenset]:
    """Each segment (two consecutive vertices of a line) of GeoJSON line layers."""
    out = []
    for layer in layers:
        for line in layer["source"]["geometry"]["coordinates"]:
            out += [frozenset([tuple(p), tuple(q)]) for p, q in zip(line, line[1:], strict=False)]
    return out


def trace_lines(trace) -> list[np.ndarray]:
    """The lines of a road trace as (n, 2) float32 lon/lat arrays (split at the NaN gaps)."""
    lon, lat = np.asarray(trace.lon), np.asarray(trace.lat)
    gaps = np.flatnonzero(np.isnan(lon))
    assert np.array_equal(gaps, np.flatnonzero(np.isnan(lat)))
    lines = []
    for x, y in zip(np.split(lon, gaps), np.split(lat, gaps), strict=True):
        keep = ~np.isnan(x)
        if keep.any():
            lines.append(np.column_stack([x[keep], y[keep]]))
    return lines


def rounded_key(graph, nodes) -> list[tuple]:
    return list(
        zip(np.round(graph.lon[nodes], 5).tolist(), np.round(graph.lat[nodes], 5).tolist(),
            strict=True)
    )  # fmt: skip


def test_region_view_draws_every_major_road_once_and_no_minor_road(boston):
    bounds = (boston.lon.min(), boston.lat.min(), boston.lon.max(), boston.lat.max())
    layers = road_layers(boston, bounds, detail=False)
    assert {layer["below"] for layer in layers} == {"traces"}
    drawn = layer_segments(layers)
    u, v, names = graph_edges(boston)
    a, b = rounded_key(boston, u), rounded_key(boston, v)
    major = {frozenset(p) for p, name in zip(zip(a, b, strict=True), names, strict=True)
             if name in MAJOR}  # fmt: skip
    minor = {frozenset(p) for p in zip(a, b, strict=True)} - major
    assert len(major) > 1000
    assert major <= set(drawn)  # every major edge, either way
    assert not set(drawn) & minor  # no minor one
    assert set(drawn) <= major  # and every segment is a major edge of the graph
    # a two-way road once: as many segments as major node pairs (distinct nodes may share
    # rounded coordinates, so count the pairs by node)
    pairs = {frozenset(p) for p, name in zip(zip(u, v, strict=True), names, strict=True)
             if name in MAJOR}  # fmt: skip
    assert len(drawn) == len(pairs)


@pytest.mark.parametrize("view", [(0.0, 1.0), (0.3, 0.6)], ids=["whole-graph", "middle"])
def test_drill_down_traces_are_edges_of_the_graph_and_cover_the_view(boston, view):
    west, south = np.quantile(boston.lon, view[0]), np.quantile(boston.lat, view[0])
    east, north = np.quantile(boston.lon, view[1]), np.quantile(boston.lat, view[1])
    traces = road_traces(boston, (west, south, east, north), detail=True)
    assert [t.name for t in traces][-1] == "roads: motorway"  # the most important on top
    assert all(t.hoverinfo == "skip" and t.showlegend is False for t in traces)
    u, v, names = graph_edges(boston)
    edges = set(zip(u.tolist(), v.tolist(), strict=True))
    at: dict[tuple, list[int]] = {}
    lon32, lat32 = boston.lon.astype(np.float32), boston.lat.astype(np.float32)
    for node, key in enumerate(zip(lon32.tolist(), lat32.tolist(), strict=True)):
        at.setdefault(key, []).append(node)
    drawn = set()
    n_points = 0
    for trace in traces:
        n_points += len(trace.lon)
        for line in trace_lines(trace):
            nodes = [at[(float(x), float(y))] for x, y in line]  # KeyError: not a graph node
            for here, there in zip(nodes, nodes[1:], strict=False):
                pair = [(p, q) for p in here for q in there if (p, q) in edges or (q, p) in edges]
                assert pair, "a drawn segment that is no edge of the graph"
                drawn.update(frozenset(p) for p in pair)  # nodes may share a place
    assert n_points <= MAX_ROAD_POINTS
    inside = (
        (boston.lon >= west) & (boston.lon <= east) & (boston.lat >= south) & (boston.lat <= north)
    )
    within = {frozenset((p, q)) for p, q in edges if inside[p] and inside[q]}
    assert len(within) > 1000
    assert within <= drawn  # every road of the view, minor ones too
    assert {names[i] for i in range(len(u)) if inside[u[i]] and inside[v[i]]} - MAJOR


def test_a_closed_loop_of_two_way_roads_is_one_closed_line(toy):
    # the toy road without its spur n7: streets n0..n6 and the bypass n6-n0, a ring
    # whose every node has two neighbours (none of the real graphs has such a group)
    u, v, _ = graph_edges(toy)
    ring = (u != 7) & (v != 7)
    pairs = {tuple(sorted(p)) for p in zip(u[ring].tolist(), v[ring].tolist(), strict=True)}
    a, b = np.array(sorted(pairs)).T
    nodes, starts = _polylines(a, b, toy.n_nodes)
    assert starts.tolist() == [0, 8] and nodes[0] == nodes[-1]
    assert sorted(tuple(sorted(s)) for s in zip(nodes.tolist(), nodes[1:].tolist(),
                                                 strict=False)) == sorted(pairs)  # fmt: skip


def test_points_stay_under_the_bound_on_the_idaho_graph(idaho):
    bounds = (idaho.lon.min(), idaho.lat.min(), idaho.lon.max(), idaho.lat.max())
    everything = road_traces(idaho, bounds, detail=True)
    assert sum(len(t.lon) for t in everything) <= MAX_ROAD_POINTS
    unbounded = road_traces(idaho, bounds, detail=True, max_points=10**7)
    assert sum(len(t.lon) for t in unbounded) > MAX_ROAD_POINTS  # so the bound left some out
    assert [t.name for t in unbounded] == ["roads: minor", "roads: major"]
    assert [t.name for t in everything] == ["roads: major"]  # the minor streets
    # a bound the major roads alone pass: their lines are thinned, each keeping its ends
    major = road_traces(idaho, bounds, detail=False)
    full = sum(len(t.lon) for t in major)
    thin = road_traces(idaho, bounds, detail=False, max_points=full // 3)
    assert sum(len(t.lon) for t in thin) <= full // 3
    for before, after in zip(major, thin, strict=True):
        lines_before, lines_after = trace_lines(before), trace_lines(after)
        assert len(lines_before) == len(lines_after)
        for a, b in zip(lines_before, lines_after, strict=True):
            assert np.array_equal(a[[0, -1]], b[[0, -1]])
            assert {tuple(p) for p in b.tolist()} <= {tuple(p) for p in a.tolist()}


def test_views_are_cached_by_the_graphs_content(boston, graph_cache):
    bounds = (-71.1, 42.35, -71.0, 42.4)
    first = road_layers(boston, bounds, detail=False)
    again = load_road_graph(BOSTON_PBF, cache_dir=graph_cache)  # another object, same roads
    assert again is not boston
    assert road_layers(again, bounds, detail=False) is first
    assert road_layers(boston, bounds, detail=True) is not first


@pytest.fixture(scope="module")
def boston_run(graph_cache):
    scenario = build_demo("boston", n_members=3000, cache_dir=graph_cache)
    return evaluate(scenario.members, scenario.providers, scenario.graph, regions=scenario.regions)


def test_county_map_draws_major_roads_under_the_counties(boston_run):
    fig = county_map(boston_run, "primary_care")
    assert {t.type for t in fig.data} == {"choroplethmap"}  # the traces are the counties only
    layers = fig.layout.map.layers
    assert [layer.name for layer in layers] == ["roads: major", "roads: motorway"]
    assert all(layer.below == "traces" and layer.type == "line" for layer in layers)
    assert all(len(layer.source["geometry"]["coordinates"]) > 100 for layer in layers)
    assert any("OpenStreetMap" in a.text for a in fig.layout.annotations)


def test_drill_down_draws_every_road_between_the_county_and_the_points(boston_run):
    fig = points_map(boston_run, "primary_care", "25025", failing_only=False)
    kinds = [
        "county" if t.type == "choroplethmap" else "roads" if t.name.startswith("roads:") else "pt"
        for t in fig.data
    ]
    assert kinds[0] == "county"
    n_roads = kinds.count("roads")
    assert n_roads == 4 and kinds[1 : 1 + n_roads] == ["roads"] * n_roads  # over the fill
    assert set(kinds[1 + n_roads :]) == {"pt"}  # and under every point
    assert sum(len(t.lon) for t in fig.data[1 : 1 + n_roads]) <= MAX_ROAD_POINTS
    points = fig.data[1 + n_roads :]
    meet = [t for t in points if t.name.startswith("meet")]
    assert len(meet) == 1 and meet[0].marker.color == PASS_COLOUR
    providers = [t for t in points if t.name.startswith("in-network")]
    assert len(providers) == 1 and providers[0].marker.color == PROVIDER_COLOUR
    assert all(t.showlegend is not False for t in (*meet, *providers))
    assert any("OpenStreetMap" in a.text for a in fig.layout.annotations)
    assert fig.layout.showlegend
    assert '"bdata"' in pio.to_json(fig)  # road arrays travel as binary, not as long lists


def test_failing_members_are_coloured_by_their_miles_band(graph_cache):
    scenario = build_demo("eastern-idaho", n_members=1500, cache_dir=graph_cache)
    ev = evaluate(scenario.members, scenario.providers, scenario.graph, regions=scenario.regions)
    res = ev.member_results
    res = res[(res["rule"] == "primary_care") & (res["language"] == "")]
    failing = res[~res["meets"]]
    county = failing["county_fips"].value_counts().index[0]
    miles = failing.set_index("member_id")["miles"]
    fig = points_map(ev, "primary_care", county)
    bands = [t for t in fig.data if (t.name or "").startswith("fail:")]
    shown = set()
    for trace in bands:
        ids = [text.split(" · ")[0] for text in trace.text]
        shown |= set(ids)
        assert trace.marker.color in (*BAND_COLOURS, "#252525")
        assert trace.name.endswith(f"({len(ids):,})")
        limits = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", trace.name.split("(")[0])]
        got = miles.loc[ids].to_numpy()
        if "no route" in trace.name:
            assert not np.isfinite(got).any()
        elif "≤" in trace.name:
            assert (got <= limits[0]).all()
        elif ">" in trace.name:
            assert (got > limits[0]).all()
        else:
            assert ((got > limits[0]) & (got <= limits[1])).all()
    assert shown == set(failing.loc[failing["county_fips"] == county, "member_id"])
    assert len({t.marker.color for t in bands}) == len(bands)  # one colour per band
