"""Road graph building: OSM files, osmnx graphs, road lines, the cache, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString
from support import BOSTON_PBF, IDAHO_ROADS

from adequacy import InputError, RoadGraph, load_road_graph
from adequacy.network import chains as chains_module
from adequacy.network import graph_from_networkx
from adequacy.network.speeds import SpeedProfile
from adequacy.units import MPH_TO_METERS_PER_SECOND


def _edge_table(graph: RoadGraph) -> dict[tuple[int, int], tuple[float, float]]:
    """(source id, target id) -> (min meters, min seconds) over parallel edges."""
    u = graph.node_ids[graph.edge_sources()]
    v = graph.node_ids[graph.targets]
    table: dict[tuple[int, int], tuple[float, float]] = {}
    for a, b, m, s in zip(u.tolist(), v.tolist(), graph.meters, graph.seconds, strict=True):
        old = table.get((a, b))
        table[(a, b)] = (m, s) if old is None else (min(old[0], m), min(old[1], s))
    return table


def test_pbf_and_xml_give_the_same_graph(boston, boston_osm_xml, graph_cache):
    from_xml = load_road_graph(boston_osm_xml, cache_dir=graph_cache)
    assert from_xml.n_nodes == boston.n_nodes
    assert np.array_equal(from_xml.node_ids, boston.node_ids)
    assert np.array_equal(from_xml.targets, boston.targets)
    assert np.allclose(from_xml.seconds, boston.seconds)


def test_graph_matches_osmnx_drive_graph_of_the_same_file(boston, osmnx_drive):
    G = osmnx_drive
    theirs: dict[tuple[int, int], float] = {}
    for u, v, d in G.edges(data=True):
        theirs[(u, v)] = min(theirs.get((u, v), np.inf), d["length"])
    ours = _edge_table(boston)
    common = ours.keys() & theirs.keys()
    only_ours, only_theirs = ours.keys() - theirs.keys(), theirs.keys() - ours.keys()
    # the same drivable edges, within a small tolerance
    assert len(common) > 30_000
    assert len(only_ours) + len(only_theirs) <= 0.002 * len(common)
    assert set(boston.node_ids.tolist()) ^ set(G.nodes) <= set().union(*only_ours, *only_theirs)
    lengths = np.array([[ours[e][0], theirs[e]] for e in common])
    assert np.abs(lengths[:, 0] - lengths[:, 1]).max() < 0.05  # meters
    # one-way streets survive: many edges have no twin
    one_way = [e for e in ours if (e[1], e[0]) not in ours]
    assert len(one_way) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["us-osm-default", "us-osm-calibrated"])
def test_graphml_from_osmnx_gives_same_edges_and_speeds(osmnx_drive, tmp_path, profile):
    import osmnx as ox

    G = osmnx_drive
    path = tmp_path / "boston.graphml"
    ox.save_graphml(G, path)
    pbf = load_road_graph(BOSTON_PBF, profile=profile, cache_dir=tmp_path)
    graph = load_road_graph(path, profile=profile, cache_dir=tmp_path)
    assert graph.meta["source_kind"] == "graphml"
    ours, theirs = _edge_table(pbf), _edge_table(graph)
    common = ours.keys() & theirs.keys()
    assert len(common) >= 0.998 * max(len(ours), len(theirs))
    # maxspeed, class defaults and signal tags read from GraphML strings give the same
    # travel times; osmnx's graph lost the roads into pieces cut off from the rest, so a
    # few nodes there are not intersections for it: at most that one delay apart
    diff = np.array([abs(ours[e][1] - theirs[e][1]) for e in common])
    if profile == "us-osm-default":
        assert diff.max() < 1e-6
    else:
        off = diff[diff > 1e-6]
        assert len(off) <= 0.005 * len(common)
        assert np.allclose(off, 0.3)


def test_downloaded_osmnx_graph_converts_through_the_local_path(osmnx_drive):
    """graph_from_place/graph_from_polygon hand osmnx's graph to graph_from_networkx."""
    G = osmnx_drive
    graph = graph_from_networkx(G, profile="us-osm-default")
    assert graph.n_nodes == len(G)
    assert graph.meta["profile"]["name"] == "us-osm-default"
    assert graph_from_networkx(G).meta["profile"]["name"] == "us-osm-calibrated"  # default
    # speeds follow maxspeed where tagged: some motorway edges are not at the 65 mph default
    mph = graph.meters / graph.seconds / MPH_TO_METERS_PER_SECOND
    motorway = graph.class_names.index("motorway")
    assert set(np.round(mph[graph.edge_class == motorway])) > {65.0}


def test_speeds_come_from_maxspeed_or_class(graph_cache):
    boston = load_road_graph(BOSTON_PBF, profile="us-osm-default", cache_dir=graph_cache)
    mph = boston.meters / boston.seconds / MPH_TO_METERS_PER_SECOND
    residential = boston.edge_class == boston.class_names.index("residential")
    values = set(np.round(mph[residential], 6))
    assert 25.0 in values  # the class default
    assert len(values) > 1  # and tagged speeds where present
    assert boston.meta["profile"]["version"] == "1"
    assert boston.profile_label == "us-osm-default@1"


def test_largest_strongly_connected_component_only(boston):
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    adj = sparse.csr_matrix(
        (np.ones(boston.n_edges), boston.targets.copy(), boston.offsets.copy()),
        shape=(boston.n_nodes, boston.n_nodes),
    )
    adj.sum_duplicates()  # scipy's strong components need canonical CSR
    n, _ = connected_components(adj, directed=True, connection="strong")
    assert n == 1
    assert boston.meta["nodes_before_largest_component"] > boston.n_nodes


def test_reverse_csr_holds_the_same_edges(reisterstown):
    g = reisterstown
    fwd = set(zip(g.edge_sources().tolist(), g.targets.tolist(), g.meters.tolist(), strict=True))
    rev_targets = np.repeat(np.arange(g.n_nodes), np.diff(g.rev_offsets))
    rev = set(zip(g.rev_targets.tolist(), rev_targets.tolist(), g.rev_meters.tolist(), strict=True))
    assert fwd == rev


def test_road_lines_are_noded_at_shared_vertices_with_class_speeds(idaho):
    assert idaho.meta["source_kind"] == "lines"
    assert idaho.profile_label == "tiger-prisec@1"
    mph = idaho.meters / idaho.seconds / MPH_TO_METERS_PER_SECOND
    assert set(np.round(mph, 6)) == {25.0, 55.0}
    # lines share vertices: the largest component is most of the network
    assert idaho.n_nodes / idaho.meta["nodes_before_largest_component"] > 0.9
    # TIGER roads are two-way
    assert idaho.n_edges % 2 == 0


def test_road_lines_from_a_geodataframe_toy():
    # a T junction (shared vertex at 0.01, 0) plus a crossing line without a shared vertex
    lines = gpd.GeoDataFrame(
        {"kind": ["primary", "residential", "residential"]},
        geometry=[
            LineString([(0, 0), (0.01, 0), (0.02, 0)]),
            LineString([(0.01, 0), (0.01, 0.01)]),
            LineString([(0.015, -0.005), (0.015, 0.005)]),  # overpass: no shared vertex
        ],
        crs="EPSG:4326",
    )
    graph = load_road_graph(lines, class_column="kind", profile="us-osm-default")
    assert graph.n_nodes == 4  # the overpass is its own component and is dropped
    assert graph.n_edges == 6
    mph = graph.meters / graph.seconds / MPH_TO_METERS_PER_SECOND
    assert sorted(set(np.round(mph))) == [25.0, 45.0]


def test_cache_is_used_and_invalidated(tmp_path):
    src = tmp_path / "boston.osm.pbf"
    shutil.copy(BOSTON_PBF, src)
    cache = tmp_path / "cache"
    first = load_road_graph(src, cache_dir=cache)
    files = list(cache.glob("roadgraph-*.npz"))
    assert len(files) == 1

    # prove a second load reads the cache: plant a marker in the cached graph
    first.meta["marker"] = "from-cache"
    first.save(files[0])
    assert load_road_graph(src, cache_dir=cache).meta["marker"] == "from-cache"

    # a new profile version misses the cache
    profile = SpeedProfile("us-osm-default", "2", class_mph={"residential": 20})
    other = load_road_graph(src, cache_dir=cache, profile=profile)
    assert "marker" not in other.meta
    assert other.meta["profile"]["version"] == "2"
    assert len(list(cache.glob("roadgraph-*.npz"))) == 2

    # a changed file misses the cache: drop the last (one-way) edge's way by rewriting the extract
    import osmium

    changed = tmp_path / "changed.osm.pbf"
    writer = osmium.SimpleWriter(str(changed))
    dropped = False
    for obj in osmium.FileProcessor(str(src)):
        if obj.is_way() and not dropped and obj.tags.get("highway") == "residential":
            dropped = True
            continue
        (
            writer.add_node
            if obj.is_node()
            else writer.add_way
            if obj.is_way()
            else writer.add_relation
        )(obj)
    writer.close()
    shutil.copy(changed, src)
    again = load_road_graph(src, cache_dir=cache)
    assert "marker" not in again.meta
    assert again.meta["source_sha256"] != first.meta["source_sha256"]
    assert len(list(cache.glob("roadgraph-*.npz"))) == 3


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    good = load_road_graph(BOSTON_PBF, cache_dir=cache)
    (entry,) = cache.glob("roadgraph-*.npz")
    entry.write_bytes(b"not a graph")
    again = load_road_graph(BOSTON_PBF, cache_dir=cache)
    assert again.n_edges == good.n_edges


def test_save_and_load_round_trip(reisterstown, tmp_path):
    reisterstown.save(tmp_path / "g.npz")
    back = RoadGraph.load(tmp_path / "g.npz")
    assert back.meta == reisterstown.meta
    for name in ("offsets", "targets", "meters", "seconds", "rev_offsets", "lon", "node_ids"):
        assert np.array_equal(getattr(back, name), getattr(reisterstown, name))


def test_saved_graph_carries_its_chain_contraction(reisterstown, tmp_path, monkeypatch):
    """A graph file holds the chain contraction, so loading it skips the build; what
    is read back is what was built, array for array."""
    built = chains_module.chains_of(reisterstown)
    reisterstown.save(tmp_path / "g.npz")

    def refuse(graph):
        raise AssertionError("the contraction was built again")

    monkeypatch.setattr(chains_module, "_build", refuse)
    back = chains_module.chains_of(RoadGraph.load(tmp_path / "g.npz"))
    for field in dataclasses.fields(built):
        want = getattr(built, field.name)
        if isinstance(want, np.ndarray):
            got = getattr(back, field.name)
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
    for name in RoadGraph.array_names():
        assert np.array_equal(getattr(back.core, name), getattr(built.core, name))
    assert (back.core.meta, back.core.class_names) == (built.core.meta, built.core.class_names)


def test_a_contraction_of_another_version_is_built_again(reisterstown, tmp_path, monkeypatch):
    monkeypatch.setattr(chains_module, "CHAINS_VERSION", "0")
    reisterstown.save(tmp_path / "old.npz")
    monkeypatch.undo()
    reisterstown.save(tmp_path / "bare.npz", contraction=False)
    with np.load(tmp_path / "bare.npz") as data:
        assert not [name for name in data.files if name.startswith("chains.")]
    builds = []
    real = chains_module._build
    monkeypatch.setattr(chains_module, "_build", lambda graph: builds.append(1) or real(graph))
    for name in ("old.npz", "bare.npz"):
        back = RoadGraph.load(tmp_path / name)
        assert chains_module.chains_of(back).n_core == chains_module.chains_of(reisterstown).n_core
    assert len(builds) == 2


def test_a_cached_graph_of_another_contraction_version_is_saved_again(tmp_path, monkeypatch):
    """A cache entry written by another version of the contraction is brought up to
    date at its first load, so later loads read the contraction instead of building it."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(chains_module, "CHAINS_VERSION", "0")
    load_road_graph(BOSTON_PBF, cache_dir=cache)
    monkeypatch.undo()
    (entry,) = cache.glob("roadgraph-*.npz")
    with np.load(entry) as data:
        assert json.loads(str(data["header"]))["chains_version"] == "0"
    first = load_road_graph(BOSTON_PBF, cache_dir=cache)
    with np.load(entry) as data:
        assert json.loads(str(data["header"]))["chains_version"] == chains_module.CHAINS_VERSION
    monkeypatch.setattr(chains_module, "_build", lambda graph: pytest.fail("built again"))
    again = load_road_graph(BOSTON_PBF, cache_dir=cache)
    assert chains_module.chains_of(again).n_core == chains_module.chains_of(first).n_core


def test_a_read_only_cache_of_another_contraction_version_still_loads(tmp_path, monkeypatch):
    """Where the cache cannot be written (a folder shared read-only), a graph whose
    contraction is of another version loads all the same, its file untouched."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(chains_module, "CHAINS_VERSION", "0")
    built = load_road_graph(BOSTON_PBF, cache_dir=cache)
    monkeypatch.undo()
    (entry,) = cache.glob("roadgraph-*.npz")
    before = entry.read_bytes()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(cache))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # what a read-only folder does
    graph = load_road_graph(BOSTON_PBF, cache_dir=cache)
    assert entry.read_bytes() == before
    assert chains_module.chains_of(graph).n_core == chains_module.chains_of(built).n_core


def test_hilbert_order_steps_to_a_neighbouring_cell():
    """Along a Hilbert curve every step moves to an edge-adjacent cell of the grid
    (the property that makes it a good node numbering), checked cell by cell on a
    64 x 64 grid, every cell visited once."""
    side = 64
    x, y = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    keys = chains_module.hilbert_keys(x.ravel(), y.ravel(), bits=6)
    assert sorted(keys.tolist()) == list(range(side * side))
    order = np.argsort(keys)
    steps = np.abs(np.diff(x.ravel()[order])) + np.abs(np.diff(y.ravel()[order]))
    assert (steps == 1).all()


def test_core_nodes_are_numbered_along_the_curve(reisterstown):
    chains = chains_module.chains_of(reisterstown)
    core = chains.core
    keys = chains_module.hilbert_keys(core.lon, core.lat)
    assert (np.diff(keys) >= 0).all()
    assert np.array_equal(chains.core_of[chains.core_nodes], np.arange(chains.n_core))
    # neighbours sit near each other: the median edge spans few core numbers
    span = np.abs(core.targets.astype(np.int64) - core.edge_sources())
    assert np.median(span) < chains.n_core / 100


def test_summary_counts_two_way_roads_once(boston):
    s = boston.summary()
    assert s["nodes"] == boston.n_nodes and s["edges"] == boston.n_edges
    total_edge_miles = boston.meters.sum() / 1609.344
    assert total_edge_miles / 2 < s["road_miles"] < total_edge_miles


# ---------------------------------------------------------------------------
# bad input: one clear line, no traceback
# ---------------------------------------------------------------------------
def _message(exc_info) -> str:
    return str(exc_info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        load_road_graph(tmp_path / "nowhere.osm.pbf")
    assert "nowhere.osm.pbf" in _message(e) and "not found" in _message(e)


def test_file_that_is_not_a_road_network(tmp_path):
    bad = tmp_path / "roads.osm.pbf"
    bad.write_bytes(b"member_id,lat,lon\n1,42.3,-71.0\n")
    with pytest.raises(InputError) as e:
        load_road_graph(bad, cache_dir=tmp_path)
    assert "roads.osm.pbf" in _message(e) and "OpenStreetMap" in _message(e)
    assert "\n" not in _message(e)


def test_unknown_format(tmp_path):
    bad = tmp_path / "roads.txt"
    bad.write_text("hello")
    with pytest.raises(InputError, match="unknown road network format"):
        load_road_graph(bad)


def test_extract_with_no_drivable_road(tmp_path):
    xml = tmp_path / "paths.osm"
    xml.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='42.0' lon='-71.0'/><node id='2' lat='42.001' lon='-71.0'/>\n"
        "<way id='10'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way>\n"
        "</osm>\n"
    )
    with pytest.raises(InputError) as e:
        load_road_graph(xml, cache_dir=tmp_path)
    assert "paths.osm" in _message(e) and "no drivable roads" in _message(e)


def test_road_lines_without_the_class_column(tmp_path):
    with pytest.raises(InputError) as e:
        load_road_graph(IDAHO_ROADS, class_column="mtfcc", cache_dir=tmp_path)
    msg = _message(e)
    assert "mtfcc" in msg and "prisec_fl" in msg and IDAHO_ROADS.name in msg


def test_road_lines_without_naming_a_class_column(tmp_path):
    with pytest.raises(InputError, match="class_column"):
        load_road_graph(IDAHO_ROADS, cache_dir=tmp_path)
