"""Shared test support: data paths, the command-line runner and the toy road.

Test modules import helpers from here (never from each other); fixtures built
on them live in ``conftest.py``.

The toy road: nodes n0..n6 on a north-south line, 0.01 degree apart, joined by
a local street of 1 mile per hop at 30 mph (2 minutes a mile), plus a highway
bypass n0 <-> n6 of 8 miles at 80 mph (6 minutes). From n0:

    node      n1  n2  n3  n4  n5  n6
    miles      1   2   3   4   5   6   (street)
    minutes    2   4   6   8  10   6   (n6 by the highway; n5 = min(10, 6 + 2))

A spur n7, 1 mile north of n6, lies outside both counties (``counties()``:
county A holds n0..n3, county B n4..n6).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import box

from adequacy import RoadGraph
from adequacy.units import MPH_TO_METERS_PER_SECOND

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
BOSTON_PBF = DATA / "osm" / "boston_ma.osm.pbf"
REISTERSTOWN_PBF = DATA / "osm" / "reisterstown_md.osm.pbf"
IDAHO_ROADS = DATA / "roads" / "eastern_idaho_tiger2023.parquet"


def run_cli(*args, env_cache: Path) -> subprocess.CompletedProcess:
    """Run ``adequacy ARGS`` in a subprocess with its own graph cache."""
    env = dict(os.environ, ADEQUACY_CACHE_DIR=str(env_cache), COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "adequacy.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


# ---------------------------------------------------------------------------
# the toy road
# ---------------------------------------------------------------------------
MILE = 1609.344
LON = -100.0


def lat_of(i: int) -> float:
    return 40.0 + 0.01 * i


def toy_road() -> RoadGraph:
    """The toy road graph (see the module docstring)."""
    u, v, miles, mph = [], [], [], []
    for i in range(6):
        u += [i, i + 1]
        v += [i + 1, i]
        miles += [1, 1]
        mph += [30, 30]
    u += [0, 6, 6, 7]
    v += [6, 0, 7, 6]
    miles += [8, 8, 1, 1]
    mph += [80, 80, 30, 30]
    meters = np.array(miles, float) * MILE
    seconds = meters / (np.array(mph, float) * MPH_TO_METERS_PER_SECOND)
    lat = [lat_of(i) for i in range(7)] + [lat_of(16)]
    return RoadGraph.from_edges(
        u, v, meters, seconds, [LON] * 8, lat, meta={"source": "toy", "profile": {"name": "toy"}}
    )


def toy_members(nodes):
    """Members standing on the toy road's nodes (ids m0, m1, ...)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(len(nodes))],
            "lat": [lat_of(n) for n in nodes],
            "lon": LON,
        }
    )


def counties():
    # county A holds n0..n3, county B n4..n6; n7 is outside both
    return gpd.GeoDataFrame(
        {
            "fips": ["00001", "00002"],
            "name": ["A", "B"],
            "population": [1000, 10],
            "area_sq_mi": [1.0, 1.0],
        },
        geometry=[
            box(LON - 0.01, lat_of(0) - 0.005, LON + 0.01, lat_of(3) + 0.005),
            box(LON - 0.01, lat_of(4) - 0.005, LON + 0.01, lat_of(6) + 0.005),
        ],
        crs=4326,
    )


def osmnx_drive_graph(xml_path):
    """osmnx's own graph of the file, cut down with osmnx's own 'drive' filter text."""
    import osmnx as ox
    from osmnx import _overpass

    tags = set(ox.settings.useful_tags_way) | {"motor_vehicle", "motorcar", "access", "area"}
    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = sorted(tags)
    try:
        G = ox.graph_from_xml(xml_path, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    conditions = re.findall(
        r'\["([^"]+)"(?:!~"([^"]*)")?\]', _overpass._get_network_filter("drive")
    )
    assert any(key == "highway" and regex for key, regex in conditions)

    def passes(data):
        for key, regex in conditions:
            value = data.get(key)
            if not regex:
                if value is None:
                    return False
            elif value is not None and re.search(regex, str(value)):
                return False
        return True

    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not passes(d)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    return ox.truncate.largest_component(G, strongly=True)


def chain_network(seed: int) -> RoadGraph:
    """A 4x4 grid of intersections whose streets carry 0-4 shape points each,
    some one-way (either way), some with different speeds each way, some
    doubled (two parallel streets), plus a ring of shape points hanging off
    one corner and a one-way loop back to the same intersection."""
    rng = np.random.default_rng(seed)
    lon, lat, u, v, m, s = [], [], [], [], [], []

    def node(x, y):
        lon.append(x)
        lat.append(y)
        return len(lon) - 1

    def street(a, b, oneway):
        points = (
            [a]
            + [
                node(lon[a] + (lon[b] - lon[a]) * t, lat[a] + (lat[b] - lat[a]) * t)
                for t in np.sort(rng.uniform(0.1, 0.9, rng.integers(0, 5)))
            ]
            + [b]
        )
        for p, q in zip(points[:-1], points[1:], strict=True):
            meters = float(rng.uniform(50, 400))
            if oneway >= 0:
                u.append(p), v.append(q), m.append(meters), s.append(meters / rng.uniform(5, 25))
            if oneway <= 0:
                u.append(q), v.append(p), m.append(meters), s.append(meters / rng.uniform(5, 25))
        return points

    grid = [[node(i * 0.01, j * 0.01) for j in range(4)] for i in range(4)]
    for i in range(4):
        for j in range(4):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < 4 and j + dj < 4:
                    oneway = int(rng.choice([0, 0, 0, 1, -1]))
                    street(grid[i][j], grid[i + di][j + dj], oneway)
                    if rng.random() < 0.15:
                        street(grid[i][j], grid[i + di][j + dj], 0)  # a parallel street
    ring = [node(0.05 + 0.001 * t, 0.05) for t in range(5)]
    for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
        street(a, b, 0)
    street(grid[3][3], ring[0], 0)
    loop = street(grid[0][0], node(-0.005, -0.005), 1)
    street(loop[-1], grid[0][0], 1)
    return RoadGraph.from_edges(u, v, m, s, lon, lat, largest_component=False)
