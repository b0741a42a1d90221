"""Road networks: reading OpenStreetMap and other road sources into a drive graph.

Owns the OSM reader and drive filter (``osm``), speed profiles (``speeds``),
the CSR :class:`RoadGraph` (``graph``), building and caching graphs from
files and osmnx (``load``), and the chain contraction the search runs on
(``chains``) with a search's seeds and labels on it (``chain_labels``),
clipping a graph around a region with every chain kept whole (``clip``),
cutting a large ``.osm.pbf`` into extracts (``extracts``) and building a
partition's clip from a cut, proved equal to the whole file's
(``extract_clip``). Uses
only :mod:`adequacy.errors`, :mod:`adequacy.units` and :mod:`adequacy.hashing`.
Distances are meters, times seconds, coordinates WGS84 (EPSG:4326)
longitude/latitude.
"""

from adequacy.network.graph import RoadGraph
from adequacy.network.load import (
    graph_from_networkx,
    graph_from_place,
    graph_from_polygon,
    load_road_graph,
)
from adequacy.network.speeds import SpeedProfile, get_profile

__all__ = [
    "RoadGraph",
    "SpeedProfile",
    "get_profile",
    "graph_from_networkx",
    "graph_from_place",
    "graph_from_polygon",
    "load_road_graph",
]
