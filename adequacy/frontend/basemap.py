"""An offline basemap: the evaluation's own road network under the app's maps.

The roads are drawn from the evaluation's :class:`~adequacy.network.RoadGraph`
(node longitude/latitude in WGS84 degrees, EPSG:4326), not from a tile server,
so the maps show streets and towns with no internet connection. Roads are in
groups drawn alike (:data:`ROAD_GROUPS`: motorways; other major roads; tertiary
roads; minor streets), each group one line layer, in one of two forms:

- :func:`road_layers`: GeoJSON ``MultiLineString`` layers of the plotly ``map``
  (MapLibre) layout, inserted below every trace (``below="traces"``): under the
  county fill and its outlines, with no hover, no legend entry, no click events
  and no change to the figure's traces. GeoJSON is plain JSON, so this suits a
  few thousand vertices (the region view).
- :func:`road_traces`: ``go.Scattermap`` line traces of float32 lon/lat (base64
  in the figure's JSON: about half the GeoJSON's size, and milliseconds instead
  of a few hundred to encode 100,000 points) with a gap between lines, no hover,
  no legend entry. plotly draws every
  ``scattermap`` trace above every ``choroplethmap`` one, so these lie over the
  county fill and, added before the points, under them (the county drill-down).

Level of detail follows the view. The region view (``detail=False``) draws the
major groups only (motorway, trunk, primary and secondary, with their links);
a county drill-down (``detail=True``) adds the tertiary and minor groups. Only
lines near the view are drawn (the view's bounds padded by
:data:`PAD_FRACTION` of their span on each side), and a figure holds at most
:data:`MAX_ROAD_POINTS` points (vertices and a gap per line): a minor group
that would pass the bound is left out, and if the major groups alone pass it,
only the ends and every k-th vertex of their lines are kept (a line keeps at
least its two ends, so the bound holds while there are fewer lines than a third
of it).

Lines are the graph's edges merged into polylines (a two-way road once,
consecutive edges joined through nodes with two neighbours), so every segment
drawn is one edge of the graph. The polylines of a graph are computed once per
graph and group (cached by a hash of the graph's arrays), and each view once.

Owns: ``road_layers``, ``road_traces``, ``road_group`` and the road groups.
Uses: :class:`~adequacy.network.RoadGraph`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from adequacy.network import RoadGraph

#: Road points (line vertices and one gap per line, all groups) a figure may hold.
MAX_ROAD_POINTS = 150_000
#: Roads within this fraction of the view's span beyond its bounds are drawn too.
PAD_FRACTION = 0.25
#: Decimals of the rounded lon/lat degrees (1e-5 degree is about 1.1 m).
COORD_DECIMALS = 5


@dataclass(frozen=True)
class RoadGroup:
    """Roads drawn alike: a MapLibre line layer with a colour and a width in pixels."""

    name: str
    major: bool
    colour: str
    width_px: float


MOTORWAY = RoadGroup("motorway", True, "#5f5f5f", 2.4)
MAJOR = RoadGroup("major", True, "#777777", 1.6)
TERTIARY = RoadGroup("tertiary", False, "#8f8f8f", 1.1)
MINOR = RoadGroup("minor", False, "#a8a8a8", 0.7)
#: The groups in order of importance (drawn in reverse, so the most important are on top).
ROAD_GROUPS = (MOTORWAY, MAJOR, TERTIARY, MINOR)

_GROUP_OF_CLASS = {
    # OpenStreetMap highway classes
    "motorway": MOTORWAY,
    "motorway_link": MOTORWAY,
    "trunk": MOTORWAY,
    "trunk_link": MOTORWAY,
    "primary": MAJOR,
    "primary_link": MAJOR,
    "secondary": MAJOR,
    "secondary_link": MAJOR,
    "tertiary": TERTIARY,
    "tertiary_link": TERTIARY,
    # TIGER/Line MTFCC: primary roads and ramps, secondary roads; prisec_fl: either
    "s1100": MOTORWAY,
    "s1630": MOTORWAY,
    "s1200": MAJOR,
    "true": MAJOR,
}


def road_group(class_name: str) -> RoadGroup:
    """The group of a road class (OSM highway, TIGER MTFCC or prisec_fl); unknown: minor."""
    return _GROUP_OF_CLASS.get(str(class_name).strip().lower(), MINOR)


@dataclass(frozen=True)
class _Lines:
    """Polylines of one road group: node indices of every line, concatenated."""

    nodes: np.ndarray  # int64 node indices
    starts: np.ndarray  # first position of each line in ``nodes``, then len(nodes)
    box: np.ndarray  # (n_lines, 4): west, south, east, north of each line, degrees

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.starts)


_LOCK = threading.Lock()
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LINES: OrderedDict[tuple[str, str], _Lines] = OrderedDict()
_VIEWS: OrderedDict[tuple, Any] = OrderedDict()
_MAX_LINES = 4 * len(ROAD_GROUPS)  # about four graphs
_MAX_VIEWS = 32


def road_layers(
    graph: RoadGraph, bounds, *, detail: bool, max_points: int = MAX_ROAD_POINTS
) -> list[dict[str, Any]]:
    """The roads of a view as MapLibre line layers, for ``fig.update_layout(map={"layers": ...})``.

    ``bounds`` are the view's (west, south, east, north) in WGS84 degrees;
    ``detail`` adds the tertiary and minor groups (a county drill-down) to the
    major ones (the region view); ``max_points`` bounds the line vertices (one
    more per line is counted, as in :func:`road_traces`). Each layer is one
    GeoJSON ``MultiLineString`` (coordinates rounded to :data:`COORD_DECIMALS`),
    inserted below every trace of the figure, least important group first. The
    list is shared by calls with the same view: do not change it.
    """
    return _cached(("layers", graph, bounds, detail, max_points), _layers)


def road_traces(
    graph: RoadGraph, bounds, *, detail: bool, max_points: int = MAX_ROAD_POINTS
) -> list[go.Scattermap]:
    """The roads of a view as ``go.Scattermap`` line traces, least important group first.

    As :func:`road_layers`, but one trace per group: float32 lon/lat degrees
    (WGS84; about 1 m) with a NaN between lines (a gap), no hover, no legend
    entry, at most ``max_points`` points in all. A trace is drawn above every
    ``choroplethmap`` trace and in data order among the ``scattermap`` ones.
    """
    arrays = _cached(("traces", graph, bounds, detail, max_points), _trace_arrays)
    return [
        go.Scattermap(
            lon=lon,
            lat=lat,
            mode="lines",
            line={"color": group.colour, "width": group.width_px},
            hoverinfo="skip",
            showlegend=False,
            name=f"roads: {group.name}",
        )
        for group, lon, lat in arrays
    ]


def _cached(request: tuple, make):
    kind, graph, bounds, detail, max_points = request
    west, south, east, north = (float(b) for b in bounds)
    pad_lon = max((east - west) * PAD_FRACTION, 0.01)
    pad_lat = max((north - south) * PAD_FRACTION, 0.01)
    box = (west - pad_lon, south - pad_lat, east + pad_lon, north + pad_lat)
    fingerprint = _fingerprint(graph)
    key = (kind, fingerprint, tuple(round(b, 6) for b in box), bool(detail), int(max_points))
    with _LOCK:
        if key in _VIEWS:
            _VIEWS.move_to_end(key)
            return _VIEWS[key]
    value = make(graph, _select(graph, fingerprint, box, bool(detail), int(max_points)))
    with _LOCK:
        _VIEWS[key] = value
        while len(_VIEWS) > _MAX_VIEWS:
            _VIEWS.popitem(last=False)
    return value


def _select(
    graph, fingerprint, box, detail, max_points
) -> list[tuple[RoadGroup, np.ndarray, np.ndarray]]:
    """(group, node indices, vertices per line) of the lines drawn, least important first.

    Lines whose bounding box meets ``box``; major groups always, the others with
    ``detail`` while the points (vertices and one gap per line) stay within
    ``max_points``; if the major groups alone pass it, every k-th interior vertex.
    """
    west, south, east, north = box
    chosen: list[tuple[RoadGroup, np.ndarray, np.ndarray]] = []
    vertices = n_lines = 0
    for group in ROAD_GROUPS:
        if not (group.major or detail):
            continue
        lines = _lines(graph, fingerprint, group)
        near = (
            (lines.box[:, 0] <= east)
            & (lines.box[:, 2] >= west)
            & (lines.box[:, 1] <= north)
            & (lines.box[:, 3] >= south)
        )
        sizes = lines.sizes[near]
        count = int(sizes.sum())
        if not count or (not group.major and vertices + n_lines + count + len(sizes) > max_points):
            continue
        chosen.append((group, lines.nodes[np.repeat(near, lines.sizes)], sizes))
        vertices += count
        n_lines += len(sizes)
    if vertices + n_lines > max_points:
        every = np.concatenate([sizes for _, _, sizes in chosen])
        stride = max(2, math.ceil(vertices / max(max_points - n_lines, 1)))
        while _thinned_points(every, stride) > max_points and stride < every.max():
            stride = math.ceil(stride * 1.25)
        chosen = [(group, *_thin(nodes, sizes, stride)) for group, nodes, sizes in chosen]
    return chosen[::-1]


def _thinned_points(sizes: np.ndarray, stride: int) -> int:
    """Points (vertices and a gap per line) left by :func:`_thin`."""
    return int(((sizes - 2) // stride + 3).sum())


def _thin(nodes: np.ndarray, sizes: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of every line and every ``stride``-th vertex between them."""
    line = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(len(nodes)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    keep = (position % stride == 0) | (position == sizes[line] - 1)
    return nodes[keep], np.bincount(line[keep], minlength=len(sizes))


def _layers(graph: RoadGraph, chosen) -> list[dict[str, Any]]:
    layers = []
    for group, nodes, sizes in chosen:
        lon = np.round(graph.lon[nodes], COORD_DECIMALS).tolist()
        lat = np.round(graph.lat[nodes], COORD_DECIMALS).tolist()
        points = [[x, y] for x, y in zip(lon, lat, strict=True)]
        ends = np.cumsum(sizes).tolist()
        lines = [points[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
        layers.append(
            {
                "name": f"roads: {group.name}",
                "sourcetype": "geojson",
                "source": {
                    "type": "Feature",
                    "properties": {"road_group": group.name},
                    "geometry": {"type": "MultiLineString", "coordinates": lines},
                },
                "type": "line",
                "color": group.colour,
                "line": {"width": group.width_px},
                "below": "traces",
            }
        )
    return layers


def _trace_arrays(graph: RoadGraph, chosen) -> list[tuple[RoadGroup, np.ndarray, np.ndarray]]:
    arrays = []
    for group, nodes, sizes in chosen:
        # a gap (-1, drawn as NaN) after every line
        gap_at = np.cumsum(sizes)
        index = np.insert(nodes, gap_at, -1)
        lon = np.where(index >= 0, graph.lon[index], np.nan).astype(np.float32)
        lat = np.where(index >= 0, graph.lat[index], np.nan).astype(np.float32)
        lon.flags.writeable = lat.flags.writeable = False
        arrays.append((group, lon, lat))
    return arrays


def _fingerprint(graph: RoadGraph) -> str:
    """SHA-1 of the graph's topology, coordinates and classes (cached per graph object)."""
    with _LOCK:
        known = _FINGERPRINTS.get(graph)
    if known is not None:
        return known
    h = hashlib.sha1(usedforsecurity=False)
    for array in (graph.offsets, graph.targets, graph.lon, graph.lat, graph.edge_class):
        h.update(np.ascontiguousarray(array).view(np.uint8))
    h.update("\n".join(map(str, graph.class_names)).encode())
    fingerprint = h.hexdigest()
    with _LOCK:
        _FINGERPRINTS[graph] = fingerprint
    return fingerprint


def _lines(graph: RoadGraph, fingerprint: str, group: RoadGroup) -> _Lines:
    key = (fingerprint, group.name)
    with _LOCK:
        if key in _LINES:
            _LINES.move_to_end(key)
            return _LINES[key]
    in_group = np.array([road_group(c) == group for c in graph.class_names], dtype=bool)
    u = graph.edge_sources()
    v = graph.targets.astype(np.int64)
    sel = in_group[graph.edge_class] if len(in_group) else np.zeros(len(v), dtype=bool)
    a, b = np.minimum(u[sel], v[sel]), np.maximum(u[sel], v[sel])
    pairs = np.unique(a * graph.n_nodes + b)  # a two-way road once
    nodes, starts = _polylines(pairs // graph.n_nodes, pairs % graph.n_nodes, graph.n_nodes)
    lon, lat = graph.lon[nodes], graph.lat[nodes]
    head = starts[:-1]
    box = np.column_stack(
        [
            np.minimum.reduceat(lon, head) if len(head) else lon[:0],
            np.minimum.reduceat(lat, head) if len(head) else lat[:0],
            np.maximum.reduceat(lon, head) if len(head) else lon[:0],
            np.maximum.reduceat(lat, head) if len(head) else lat[:0],
        ]
    )
    lines = _Lines(nodes=nodes, starts=starts, box=box)
    with _LOCK:
        _LINES[key] = lines
        while len(_LINES) > _MAX_LINES:
            _LINES.popitem(last=False)
    return lines


def _polylines(a: np.ndarray, b: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges ``a[i]-b[i]`` joined into polylines through nodes of degree 2.

    Returns the lines' node indices, concatenated, and the start of each line
    (then the total). Every edge is on exactly one line, between two
    consecutive nodes; lines run from a node of degree other than 2 to the next
    one, and closed loops of degree-2 nodes start at their smallest edge.
    """
    m = len(a)
    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    offsets = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=offsets[1:])
    other = np.concatenate([b, a])[order].tolist()
    edge = np.concatenate([np.arange(m), np.arange(m)])[order].tolist()
    off = offsets.tolist()
    degree = np.diff(offsets)
    used = bytearray(m)
    nodes: list[int] = []
    starts: list[int] = []

    def walk(node: int, slot: int) -> None:
        starts.append(len(nodes))
        nodes.append(node)
        e = edge[slot]
        while True:
            used[e] = 1
            node = other[slot]
            nodes.append(node)
            if off[node + 1] - off[node] != 2:
                return
            slot = off[node] if edge[off[node]] != e else off[node] + 1
            e = edge[slot]
            if used[e]:
                return

    for node in np.flatnonzero((degree != 2) & (degree > 0)).tolist():
        for slot in range(off[node], off[node + 1]):
            if not used[edge[slot]]:
                walk(node, slot)
    for e in range(m):  # loops whose every node has degree 2
        if not used[e]:
            node = int(a[e])
            walk(node, next(s for s in range(off[node], off[node + 1]) if edge[s] == e))
    starts.append(len(nodes))
    return np.asarray(nodes, dtype=np.int64), np.asarray(starts, dtype=np.int64)
