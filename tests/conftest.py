"""Shared fixtures: the real road graphs of data/ and the toy road, built once per session.

Graphs are cached in a per-session temporary folder, never in the user's cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import BOSTON_PBF, IDAHO_ROADS, REISTERSTOWN_PBF, osmnx_drive_graph, toy_road

from adequacy import load_road_graph


@pytest.fixture(scope="session")
def graph_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch, graph_cache):
    """Keep every test's graph cache out of the user's home folder."""
    monkeypatch.setenv("ADEQUACY_CACHE_DIR", str(graph_cache))


@pytest.fixture(scope="session")
def boston(graph_cache):
    return load_road_graph(BOSTON_PBF, cache_dir=graph_cache)


@pytest.fixture(scope="session")
def reisterstown(graph_cache):
    return load_road_graph(REISTERSTOWN_PBF, cache_dir=graph_cache)


@pytest.fixture(scope="session")
def idaho(graph_cache):
    return load_road_graph(IDAHO_ROADS, class_column="prisec_fl", cache_dir=graph_cache)


@pytest.fixture(scope="session")
def toy():
    """The toy road of ``support`` (hand-worked distances and times)."""
    return toy_road()


@pytest.fixture(scope="session")
def boston_osm_xml(tmp_path_factory) -> Path:
    """The Boston extract rewritten as OSM XML (bz2), by libosmium."""
    import osmium

    out = tmp_path_factory.mktemp("xml") / "boston_ma.osm.bz2"
    writer = osmium.SimpleWriter(str(out))
    for obj in osmium.FileProcessor(str(BOSTON_PBF)):
        if obj.is_node():
            writer.add_node(obj)
        elif obj.is_way():
            writer.add_way(obj)
        elif obj.is_relation():
            writer.add_relation(obj)
    writer.close()
    return out


@pytest.fixture(scope="session")
def osmnx_drive(boston_osm_xml):
    """osmnx's own drive graph of the Boston extract (an independent reader)."""
    return osmnx_drive_graph(boston_osm_xml)
