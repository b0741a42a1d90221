"""Build, load and cache drivable road graphs from OSM, GraphML and road-line sources.

A :class:`RoadGraph` is a directed graph kept as compressed-sparse-row numpy
arrays, forward and reversed, with the length of every edge in meters and its
travel time in seconds, and the longitude/latitude (WGS84, EPSG:4326) of every
node. It is built from:

- an OpenStreetMap extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``), read with
  pyosmium and filtered with osmnx's ``drive`` filter;
- an osmnx GraphML file, or a networkx graph made by osmnx (which is how the
  optional download by place name or polygon arrives);
- a file or GeoDataFrame of road centerlines that is not OpenStreetMap (US
  Census TIGER/Line, a state DOT layer), noded where lines share a vertex, with
  speeds from a road-class column that the caller names.

Only the largest strongly connected component is kept, so every member can
reach every provider. Built graphs are cached on disk, keyed by the source's
SHA-256, the speed profile (name, version and speeds) and the builder version,
so a second load skips parsing.

Owns: ``load_road_graph`` and the builders, the on-disk cache. Uses: ``osm``,
``speeds``, ``graph``.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from adequacy import __version__
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.network.chains import has_contraction
from adequacy.network.graph import RoadGraph
from adequacy.network.osm import (
    DRIVE_EXCLUDE,
    EdgeList,
    haversine_meters,
    is_drivable,
    read_osm_file,
)
from adequacy.network.speeds import (
    DEFAULT_OSM_PROFILE,
    MPH_TO_METERS_PER_SECOND,
    TIGER_MTFCC,
    TIGER_PRISEC,
    SpeedProfile,
    get_profile,
    parse_maxspeed,
)

#: Bump when the graph format or the way graphs are built changes.
BUILDER_VERSION = "3"  # 2: node delays in edge seconds; 3: posted speeds over 90 mph ignored


OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".osm.xml")
GRAPHML_SUFFIXES = (".graphml",)
LINE_SUFFIXES = (".parquet", ".geoparquet", ".gpkg", ".geojson", ".json", ".shp", ".fgb")

_FILTER_KEYS = tuple(key for key, _ in DRIVE_EXCLUDE)


def edge_seconds(
    u: np.ndarray,
    v: np.ndarray,
    meters: np.ndarray,
    mph: np.ndarray,
    node_delay: np.ndarray | None,
    profile: SpeedProfile,
) -> np.ndarray:
    """Seconds to drive each edge u->v: its length at its speed, plus the delays of the
    node it enters (tagged signals and stops, and the profile's intersection delay at a
    node joined to three or more others)."""
    seconds = meters / (mph * MPH_TO_METERS_PER_SECOND)
    n = int(max(u.max(initial=-1), v.max(initial=-1))) + 1
    delay = np.zeros(n) if node_delay is None else np.asarray(node_delay, dtype=float).copy()
    if profile.intersection_delay_seconds:
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        pairs = np.unique(lo.astype(np.int64) * n + hi)  # distinct neighbours, undirected
        degree = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
        delay += np.where(degree >= 3, profile.intersection_delay_seconds, 0.0)
    return seconds + delay[v]


def _graph_from_edgelist(
    edges: EdgeList, profile: SpeedProfile, meta: dict, *, largest_component: bool = True
) -> RoadGraph:
    seconds = edge_seconds(edges.u, edges.v, edges.meters, edges.mph, edges.node_delay, profile)
    meta = dict(meta, profile=profile.to_dict(), n_ways=edges.n_ways)
    return RoadGraph.from_edges(
        edges.u,
        edges.v,
        edges.meters,
        seconds,
        edges.lon,
        edges.lat,
        node_ids=edges.node_ids,
        edge_class=edges.road_class,
        class_names=edges.class_names,
        meta=meta,
        largest_component=largest_component,
    )


# ---------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------
def load_road_graph(
    source: str | os.PathLike | Any,
    *,
    profile: SpeedProfile | str | None = None,
    class_column: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> RoadGraph:
    """Load a drive graph from a file, a GeoDataFrame of road lines, or an osmnx graph.

    Parameters
    ----------
    source
        Path to an ``.osm.pbf``/``.osm``/``.osm.bz2`` extract, an osmnx
        ``.graphml`` file, or a road-lines file (GeoParquet, GeoPackage,
        GeoJSON, Shapefile, FlatGeobuf); or a GeoDataFrame of road lines; or a
        networkx MultiDiGraph made by osmnx.
    profile
        Speed profile (a :class:`~adequacy.speeds.SpeedProfile` or the name of
        a built-in one). Defaults to ``us-osm-default`` for OSM data; for road
        lines, ``tiger-prisec`` when ``class_column`` is ``prisec_fl``, else
        ``us-osm-default`` (so OSM-style class names get OSM speeds).
    class_column
        Road lines only (required there): the column holding the road class
        whose values key the profile's speeds.
    cache
        Read and write the on-disk cache (files only).
    cache_dir
        Cache folder; default ``$ADEQUACY_CACHE_DIR`` or ``~/.cache/adequacy``.

    Returns
    -------
    RoadGraph
        Largest strongly connected component; meters and seconds per edge.
    """
    if _is_networkx(source):
        return graph_from_networkx(source, profile=profile)
    if _is_geodataframe(source):
        return _graph_from_lines(source, "GeoDataFrame", class_column, profile, digest=None)

    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: road network file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a road network file (.osm.pbf, .graphml, ...)")
    kind = _source_kind(path, class_column)
    if kind == "lines" and class_column is None:
        raise InputError(
            f"{path}: a road-lines file needs its road-class column named "
            "(class_column= in Python, --class-column on the command line; "
            "for TIGER/Line roads: prisec_fl)"
        )
    profile = _default_profile(kind, class_column, profile)
    digest = file_sha256(path)
    key = _cache_key(digest, profile, kind, class_column)
    cache_file = _cache_root(cache_dir) / f"roadgraph-{key}.npz"
    if cache and cache_file.exists():
        try:
            graph = RoadGraph.load(cache_file)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cache_file.unlink(missing_ok=True)
        else:
            if not has_contraction(graph):  # saved by another version of the contraction:
                # built now and kept, not again at every load (unless the cache is
                # shared read-only: then it is built at each load, as before)
                with contextlib.suppress(OSError):
                    graph.save(cache_file)
            return graph

    meta = {
        "source": path.name,
        "source_kind": kind,
        "source_sha256": digest,
        "class_column": class_column,
        "builder_version": BUILDER_VERSION,
        "adequacy_version": __version__,
    }
    if kind == "osm":
        graph = _graph_from_edgelist(read_osm_file(path, profile), profile, meta)
    elif kind == "graphml":
        graph = _graph_from_graphml(path, profile, meta)
    else:
        graph = _graph_from_lines(path, path.name, class_column, profile, digest=digest)
    if cache:
        graph.save(cache_file)
    return graph


def graph_from_networkx(G: Any, *, profile: SpeedProfile | str | None = None) -> RoadGraph:
    """Convert an osmnx ``MultiDiGraph`` (from GraphML or a download) to a RoadGraph.

    Node attributes ``x``/``y`` are longitude/latitude (the graph must be
    unprojected, EPSG:4326). Edges keep their direction; ``length`` (meters) is
    used where present, else the great-circle distance between the ends. The
    ``drive`` filter is applied to edges that carry the tags it reads, and the
    speed comes from ``maxspeed`` or the ``highway`` class via the profile.
    """
    profile = get_profile(profile or DEFAULT_OSM_PROFILE)
    crs = str(G.graph.get("crs", "epsg:4326")).lower()
    if crs not in ("epsg:4326", "wgs84", "+init=epsg:4326"):
        raise InputError(
            f"the osmnx graph is projected ({crs}); pass the unprojected graph "
            "(ox.project_graph(G, to_latlong=True))"
        )
    nodes = list(G.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    lon = np.array([G.nodes[n]["x"] for n in nodes], dtype=np.float64)
    lat = np.array([G.nodes[n]["y"] for n in nodes], dtype=np.float64)
    u_list, v_list, meters, mph, classes = [], [], [], [], []
    class_names: list[str] = []
    class_index: dict[str, int] = {}
    for a, b, data in G.edges(data=True):
        tags = {k: str(_first(data[k])) for k in _FILTER_KEYS if k in data}
        if "highway" in tags and not is_drivable(tags):
            continue
        highway = tags.get("highway", "road")
        if highway not in class_index:
            class_index[highway] = len(class_names)
            class_names.append(highway)
        ia, ib = index[a], index[b]
        length = data.get("length")
        if length is None:
            length = float(haversine_meters(lon[ia], lat[ia], lon[ib], lat[ib]))
        speed = _maxspeed_of(data.get("maxspeed")) if profile.use_maxspeed else None
        speed = speed * profile.maxspeed_factor if speed else None
        u_list.append(ia)
        v_list.append(ib)
        meters.append(float(length))
        mph.append(speed or profile.class_speed_mph(highway))
        classes.append(class_index[highway])
    if not u_list:
        raise InputError(
            "the osmnx graph has no drivable edges; download with network_type='drive'"
        )
    node_ids = np.array([n if isinstance(n, (int, np.integer)) else i for i, n in enumerate(nodes)])
    meters_arr = np.asarray(meters)
    delays = profile.node_delay_seconds
    node_delay = np.array(
        [float(delays.get(str(_first(G.nodes[n].get("highway"))), 0.0)) for n in nodes]
    )
    u_arr, v_arr = np.asarray(u_list), np.asarray(v_list)
    meta = dict(
        G.graph.get("adequacy_meta", {}),
        profile=profile.to_dict(),
        builder_version=BUILDER_VERSION,
        adequacy_version=__version__,
    )
    meta.setdefault("source", "osmnx graph")
    meta.setdefault("source_kind", "networkx")
    return RoadGraph.from_edges(
        u_arr,
        v_arr,
        meters_arr,
        edge_seconds(u_arr, v_arr, meters_arr, np.asarray(mph), node_delay, profile),
        lon,
        lat,
        node_ids=node_ids,
        edge_class=np.asarray(classes),
        class_names=class_names,
        meta=meta,
    )


def graph_from_place(
    query: str | dict | list,
    *,
    profile: SpeedProfile | str | None = None,
    graphml_path: str | os.PathLike | None = None,
) -> RoadGraph:
    """Download the drive network of a place with osmnx (needs the internet).

    With ``graphml_path`` the download is also saved as GraphML, so that later
    runs (and an auditor) can load exactly the same roads with
    :func:`load_road_graph` offline.
    """
    import osmnx as ox

    G = ox.graph_from_place(query, network_type="drive", simplify=False, retain_all=True)
    return _downloaded(G, f"osmnx place {query!r}", profile, graphml_path)


def graph_from_polygon(
    polygon: Any,
    *,
    profile: SpeedProfile | str | None = None,
    graphml_path: str | os.PathLike | None = None,
) -> RoadGraph:
    """Download the drive network inside a shapely polygon (EPSG:4326) with osmnx."""
    import osmnx as ox

    G = ox.graph_from_polygon(polygon, network_type="drive", simplify=False, retain_all=True)
    return _downloaded(G, "osmnx polygon", profile, graphml_path)


def _downloaded(G, label: str, profile, graphml_path) -> RoadGraph:
    if graphml_path is not None:
        import osmnx as ox

        ox.save_graphml(G, graphml_path)
        return load_road_graph(graphml_path, profile=profile)
    G.graph["adequacy_meta"] = {"source": label, "source_kind": "osmnx-download"}
    return graph_from_networkx(G, profile=profile)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _graph_from_graphml(path: Path, profile: SpeedProfile, meta: dict) -> RoadGraph:
    import osmnx as ox

    try:
        G = ox.load_graphml(path)
    except Exception as exc:
        raise InputError(
            f"{path}: could not be read as an osmnx GraphML file ({_short(exc)}); "
            "save it with osmnx.save_graphml"
        ) from None
    if G.number_of_edges() == 0:
        raise InputError(f"{path}: the GraphML file has no edges; it is not a road network")
    G.graph["adequacy_meta"] = meta
    return graph_from_networkx(G, profile=profile)


def _graph_from_lines(
    source: Any,
    label: str,
    class_column: str | None,
    profile: SpeedProfile | str | None,
    *,
    digest: str | None,
) -> RoadGraph:
    """Road centerlines → graph: nodes where lines share a vertex, two-way edges."""
    import geopandas as gpd
    import shapely

    if class_column is None:
        raise InputError(f"{label}: road lines need class_column= naming the road-class column")
    profile = _default_profile("lines", class_column, profile)
    if isinstance(source, Path):
        try:
            if source.suffix.lower() in (".parquet", ".geoparquet"):
                gdf = gpd.read_parquet(source)
            else:
                gdf = gpd.read_file(source)
        except Exception as exc:
            raise InputError(
                f"{source}: could not be read as road lines ({_short(exc)}); "
                "give GeoParquet, GeoPackage, GeoJSON, Shapefile or FlatGeobuf"
            ) from None
    else:
        gdf = source
    if class_column not in gdf.columns:
        cols = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        raise InputError(
            f"{label}: has no road-class column {class_column!r}; columns are: {cols}. "
            "Name the right one with class_column="
        )
    if len(gdf) == 0:
        raise InputError(f"{label}: has no road lines")
    if gdf.crs is None:
        raise InputError(f"{label}: has no CRS; set one (EPSG:4326 for longitude/latitude)")
    if not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    lines = gdf[gdf.geom_type.isin(["LineString", "MultiLineString"])]
    if len(lines) == 0:
        raise InputError(f"{label}: has no LineString geometries; it is not a road-lines file")
    parts = shapely.get_parts(lines.geometry.values, return_index=True)
    geoms, owner = parts
    coords, part_of = shapely.get_coordinates(geoms, return_index=True)
    if len(coords) < 2:
        raise InputError(f"{label}: has no road segments")
    # node where vertices coincide (to 1e-7 degree, about 1 cm)
    key = np.round(coords * 1e7).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    a = np.arange(len(coords) - 1)
    a = a[(part_of[a] == part_of[a + 1]) & (inverse[a] != inverse[a + 1])]
    u, v = inverse[a], inverse[a + 1]
    meters = haversine_meters(coords[a, 0], coords[a, 1], coords[a + 1, 0], coords[a + 1, 1])
    values = lines[class_column].to_numpy()[owner[part_of[a]]]
    class_names = sorted({_class_key(x) for x in values}, key=str)
    class_index = {c: i for i, c in enumerate(class_names)}
    seg_class = np.array([class_index[_class_key(x)] for x in values], dtype=np.int16)
    class_mph = np.array([profile.class_speed_mph(c) for c in class_names])
    missing = [str(c) for c in class_names if not profile.has_class(c)]
    both_u, both_v = np.concatenate([u, v]), np.concatenate([v, u])
    both_m = np.concatenate([meters, meters])
    seconds = edge_seconds(
        both_u, both_v, both_m, np.concatenate([class_mph[seg_class]] * 2), None, profile
    )
    meta = {
        "source": label,
        "source_kind": "lines",
        "source_sha256": digest,
        "class_column": class_column,
        "classes_at_fallback_speed": missing,
        "profile": profile.to_dict(),
        "n_ways": int(len(lines)),
        "builder_version": BUILDER_VERSION,
        "adequacy_version": __version__,
    }
    return RoadGraph.from_edges(
        both_u,
        both_v,
        both_m,
        seconds,
        coords[first, 0],
        coords[first, 1],
        edge_class=np.concatenate([seg_class, seg_class]),
        class_names=[str(c) for c in class_names],
        meta=meta,
    )


def _class_key(value: Any) -> Any:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _source_kind(path: Path, class_column: str | None) -> str:
    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        return "osm"
    if name.endswith(GRAPHML_SUFFIXES):
        return "graphml"
    if name.endswith(LINE_SUFFIXES):
        return "lines"
    raise InputError(
        f"{path}: unknown road network format; use .osm.pbf, .osm, .osm.bz2, .graphml, "
        "or a road-lines file (.parquet, .gpkg, .geojson, .shp) with class_column="
    )


def _default_profile(kind: str, class_column: str | None, profile) -> SpeedProfile:
    if profile is not None:
        return get_profile(profile)
    if kind == "lines" and class_column == "prisec_fl":
        return TIGER_PRISEC
    if kind == "lines" and str(class_column).lower() == "mtfcc":
        return TIGER_MTFCC
    return DEFAULT_OSM_PROFILE


def _cache_key(digest: str, profile: SpeedProfile, kind: str, class_column: str | None) -> str:
    parts = json.dumps(
        [digest, profile.to_dict(), kind, class_column, BUILDER_VERSION], sort_keys=True
    )
    return hashlib.sha256(parts.encode()).hexdigest()[:32]


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("ADEQUACY_CACHE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "adequacy"


def _is_networkx(obj: Any) -> bool:
    return type(obj).__module__.startswith("networkx")


def _is_geodataframe(obj: Any) -> bool:
    return type(obj).__name__ == "GeoDataFrame"


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _maxspeed_of(value: Any) -> float | None:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if isinstance(value, list):
        speeds = [s for s in (parse_maxspeed(x) for x in value) if s]
        return sum(speeds) / len(speeds) if speeds else None
    return parse_maxspeed(value)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
