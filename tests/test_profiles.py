"""The calibrated speed profile: its rules on a hand-written extract, the search's
exactness on its costs against networkx (costs built here, independently), the cache."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from support import BOSTON_PBF

from adequacy import load_road_graph
from adequacy.network import graph_from_networkx
from adequacy.network.speeds import US_OSM_CALIBRATED
from adequacy.routing import k_nearest_labels

MPS_PER_MPH = 0.44704
MPH_PER_KMH = 0.621371192237334

# six nodes on a north-south line, 0.001 degree (about 111 m) apart, and a spur east of n3
NODES = {1: (0.000, 0.0), 2: (0.001, 0.0), 3: (0.002, 0.0), 4: (0.003, 0.0), 5: (0.004, 0.0)}
NODES[6] = (0.002, 0.001)
TAGS = {2: "traffic_signals", 4: "stop", 5: "give_way"}
WAYS = [
    (100, [1, 2, 3], {"highway": "residential"}),
    (101, [3, 4], {"highway": "primary", "maxspeed": "30 mph"}),
    (102, [4, 5], {"highway": "escape"}),  # drivable, not in the profile: the fallback speed
    (103, [3, 6], {"highway": "residential"}),
]


def _xml() -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for node, (lat, lon) in NODES.items():
        tag = f'<tag k="highway" v="{TAGS[node]}"/>' if node in TAGS else ""
        out.append(f'<node id="{node}" version="1" lat="{lat}" lon="{lon}">{tag}</node>')
    for way, refs, tags in WAYS:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        out.append(f'<way id="{way}" version="1">{body}</way>')
    out.append("</osm>")
    return "\n".join(out)


def _meters(a: int, b: int) -> float:
    (lat1, lon1), (lat2, lon2) = NODES[a], NODES[b]
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h))


def test_the_profile_rules_edge_by_edge(tmp_path):
    path = tmp_path / "line.osm"
    path.write_text(_xml())
    graph = load_road_graph(path, profile="us-osm-calibrated", cache_dir=tmp_path)
    assert graph.profile_label == "us-osm-calibrated@1"
    residential = 25 * MPH_PER_KMH  # OSRM's 25 km/h
    primary = 30 * 0.8  # a tagged maxspeed, driven at 0.8 of it
    fallback = 25 * MPH_PER_KMH
    delay = {2: 2.6, 3: 0.3, 4: 2.0, 5: 1.0}  # signals, intersection (n2, n4, n6), stop, give way
    speed = {(1, 2): residential, (2, 3): residential, (3, 4): primary, (4, 5): fallback}
    speed[(3, 6)] = residential
    expected = {}
    for (a, b), mph in speed.items():
        for u, v in ((a, b), (b, a)):
            expected[(u, v)] = _meters(u, v) / (mph * MPS_PER_MPH) + delay.get(v, 0.0)
    ids = graph.node_ids
    got = {
        (int(ids[u]), int(ids[v])): s
        for u, v, s in zip(graph.edge_sources(), graph.targets, graph.seconds, strict=True)
    }
    assert got.keys() == expected.keys()
    for edge, seconds in expected.items():
        assert got[edge] == pytest.approx(seconds, rel=1e-9), edge


def test_the_free_flow_profile_is_still_there(tmp_path):
    path = tmp_path / "line.osm"
    path.write_text(_xml())
    graph = load_road_graph(path, profile="us-osm-default", cache_dir=tmp_path)
    ids = list(graph.node_ids)
    e = next(
        i for i, (u, v) in enumerate(zip(graph.edge_sources(), graph.targets, strict=True))
        if (ids[u], ids[v]) == (1, 2)
    )  # fmt: skip
    assert graph.seconds[e] == pytest.approx(_meters(1, 2) / (25 * MPS_PER_MPH))  # no delay


def test_the_cache_key_changes_with_the_profile(tmp_path):
    a = load_road_graph(BOSTON_PBF, profile="us-osm-calibrated", cache_dir=tmp_path)
    b = load_road_graph(BOSTON_PBF, profile="us-osm-default", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("roadgraph-*.npz"))) == 2
    assert a.profile_label != b.profile_label
    assert np.array_equal(a.meters, b.meters) and not np.allclose(a.seconds, b.seconds)
    again = load_road_graph(BOSTON_PBF, cache_dir=tmp_path)  # the default: calibrated
    assert again.profile_label == "us-osm-calibrated@1"
    assert np.array_equal(again.seconds, a.seconds)


def _mph(value) -> float | None:
    """maxspeed as mph, read here without the package's parser."""
    if value is None:
        return None
    parts = value if isinstance(value, list) else str(value).split(";")
    speeds = []
    for part in parts:
        text = str(part).strip().lower()
        try:
            speeds.append(float(text[:-3]) if text.endswith("mph") else float(text) * MPH_PER_KMH)
        except ValueError:
            return None
    return sum(speeds) / len(speeds) if speeds else None


def _first(value):
    return value[0] if isinstance(value, list) else value


def test_the_search_is_exact_on_the_calibrated_costs(osmnx_drive):
    """Travel times built here from osmnx's own reading of the extract (its tags, its
    lengths) by the profile's published rules; networkx's Dijkstra on them must equal
    our search on the graph the package builds with the calibrated profile."""
    G = osmnx_drive
    kmh = {k: v for k, v in _profile_kmh().items()}
    neighbours: dict[int, set] = {}
    for u, v in G.edges():
        if u != v:
            neighbours.setdefault(u, set()).add(v)
            neighbours.setdefault(v, set()).add(u)
    delays = {"traffic_signals": 2.6, "stop": 2.0, "give_way": 1.0}

    def delay(node) -> float:
        tag = delays.get(str(_first(G.nodes[node].get("highway"))), 0.0)
        return tag + (0.3 if len(neighbours.get(node, ())) >= 3 else 0.0)

    H = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        tagged = _mph(d.get("maxspeed"))
        mph = tagged * 0.8 if tagged else kmh.get(str(_first(d["highway"])), 25) * MPH_PER_KMH
        seconds = d["length"] / (mph * MPS_PER_MPH) + delay(v)
        if not H.has_edge(u, v) or seconds < H[u][v]["s"]:
            H.add_edge(u, v, s=seconds)
    graph = graph_from_networkx(G, profile="us-osm-calibrated")
    index = {int(n): i for i, n in enumerate(graph.node_ids)}
    rng = np.random.default_rng(11)
    for source in rng.choice(graph.node_ids, 4, replace=False):
        labels = k_nearest_labels(graph, [index[int(source)]], k=1, metric="time")
        ours = labels.cost[:, 0]
        # member -> provider: the time from every node to the source
        theirs = nx.single_source_dijkstra_path_length(H.reverse(copy=False), source, weight="s")
        both = [(ours[index[int(n)]], t) for n, t in theirs.items() if int(n) in index]
        assert len(both) > 0.99 * graph.n_nodes
        a, b = np.array(both).T
        assert np.allclose(a, b, rtol=1e-12, atol=1e-9)


def _profile_kmh() -> dict[str, float]:
    """OSRM's car.lua default speeds (km/h), as listed in its source."""
    return {
        "motorway": 90, "motorway_link": 45, "trunk": 85, "trunk_link": 40, "primary": 65,
        "primary_link": 30, "secondary": 55, "secondary_link": 25, "tertiary": 40,
        "tertiary_link": 20, "unclassified": 25, "residential": 25, "living_street": 10,
        "road": 25, "busway": 25, "service": 15,
    }  # fmt: skip


def test_the_profile_keeps_osrm_speeds():
    for road, kmh in _profile_kmh().items():
        assert US_OSM_CALIBRATED.class_speed_mph(road) == pytest.approx(kmh * MPH_PER_KMH, abs=1e-3)


def test_tiger_mtfcc_classes_take_their_osrm_speeds():
    import geopandas as gpd
    from shapely.geometry import LineString

    lines = gpd.GeoDataFrame(
        {"MTFCC": ["S1100", "S1400", "S1630"]},
        geometry=[
            LineString([(0, 0), (0.01, 0)]),
            LineString([(0.01, 0), (0.01, 0.01)]),
            LineString([(0.01, 0.01), (0, 0)]),
        ],
        crs="EPSG:4326",
    )
    graph = load_road_graph(lines, class_column="MTFCC")
    assert graph.profile_label == "tiger-mtfcc@1"
    mph = graph.meters / graph.seconds / MPS_PER_MPH
    by_class = {
        graph.class_names[c]: round(float(m), 6) for c, m in zip(graph.edge_class, mph, strict=True)
    }
    assert by_class == pytest.approx(
        {"S1100": 85 * MPH_PER_KMH, "S1400": 25 * MPH_PER_KMH, "S1630": 45 * MPH_PER_KMH}
    )
