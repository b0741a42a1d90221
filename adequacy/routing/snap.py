"""Snapping points to the road graph.

    Each point (member residence or provider site, WGS84 lon/lat) is attached
    to the nearest graph node. The nearest node is found with a KD-tree on
    geocentric (earth-centred) coordinates, where straight-line chord order is
    great-circle order, so it is exact on the sphere anywhere, with no choice
    of map projection. The straight-line leg from the point to its node, in
    meters, is reported per point and added to every distance; it is added to
    travel time at ``snap_speed_mph`` (15 mph by default, the speed of a
    service road or driveway). A point whose leg is longer than
    ``max_snap_meters`` is flagged ``off_road``: a likely bad geocode, or a
    point off the map.

    Nodes at the same position (OpenStreetMap has some) are one point of the
    tree, answered by the lowest-numbered node there. Node numbers follow
    OpenStreetMap ids in every graph built from a file, and a clip keeps their
    order, so a point snaps to the same node on a clip of the graph as on the
    whole graph whenever the clip holds every node within that distance (how a
    partition snaps its own points: :mod:`adequacy.distributed.clip_snap`).

    Such a clip records how far past a box it holds every node
    (``graph.meta["exact_snaps"]``); :func:`snap_points` then answers node -1
    (leg NaN) for a point whose snap it cannot prove the whole graph's
    (:func:`snap_proved`): not on this graph, as far as anyone can tell.

Owns: ``snap_points``, ``prepare_snapping``, ``snap_proved``, ``snap_width_needed``,
``within_width``, ``Snap``, the snapping defaults and ``some_ids`` (naming rows in a
message). Uses: ``adequacy.network``.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from adequacy.errors import InputError
from adequacy.network import RoadGraph
from adequacy.network.osm import EARTH_RADIUS_METERS, haversine_meters
from adequacy.units import MPH_TO_METERS_PER_SECOND

#: Default distance beyond which a point is flagged as off the road network.
DEFAULT_MAX_SNAP_METERS = 1000.0
#: Default speed for the straight-line leg between a point and its node.
DEFAULT_SNAP_SPEED_MPH = 15.0

_trees: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_trees_lock = threading.Lock()


@dataclass
class Snap:
    """Where points attach to the graph.

    ``node`` is the graph node of each point, ``meters`` the straight-line
    (great-circle) leg to it, ``off_road`` whether that leg exceeds the limit.
    """

    node: np.ndarray
    meters: np.ndarray
    off_road: np.ndarray
    max_snap_meters: float

    def __len__(self) -> int:
        return len(self.node)

    def leg_cost(self, metric: str, snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH) -> np.ndarray:
        """The leg in meters (``distance``) or in seconds at ``snap_speed_mph`` (``time``)."""
        if metric == "distance":
            return self.meters
        return self.meters / (snap_speed_mph * MPH_TO_METERS_PER_SECOND)


def _unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return np.column_stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)])


def _xyz_meters(lon: np.ndarray, lat: np.ndarray, threads: int = 2) -> np.ndarray:
    """:func:`_unit_xyz` times the earth's radius, in ``threads`` slices at once (numpy
    releases the GIL; every value is computed as in one piece)."""
    n = len(lon)
    out = np.empty((n, 3))
    bounds = np.linspace(0, n, threads + 1).astype(int)

    def part(a: int, b: int) -> None:
        out[a:b] = _unit_xyz(lon[a:b], lat[a:b]) * EARTH_RADIUS_METERS

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, bounds[:-1], bounds[1:]))
    return out


def prepare_snapping(graph: RoadGraph) -> None:
    """Start building the graph's snapping index on a background thread, so that it is
    ready by the time the first points are snapped (an evaluation reads and places
    its inputs meanwhile; the build releases the GIL). Snapping waits for it."""
    with _trees_lock:
        if graph in _trees:
            return
        future: Future = Future()
        _trees[graph] = future

    def build() -> None:
        try:
            future.set_result(_build_tree(graph))
        except BaseException as error:  # handed to whoever snaps
            future.set_exception(error)

    threading.Thread(target=build, name="adequacy-snap-index", daemon=True).start()


def _tree(graph: RoadGraph) -> tuple[cKDTree, np.ndarray | None]:
    """The KD-tree of the graph's distinct node positions, and the node of each tree
    point (the lowest-numbered node at that position; None when every position is
    distinct, the tree's points being then the nodes)."""
    with _trees_lock:
        cached = _trees.get(graph)
    if isinstance(cached, Future):  # being built (prepare_snapping)
        return cached.result()
    if cached is None:
        cached = _build_tree(graph)
        with _trees_lock:
            _trees[graph] = cached
    return cached


def _build_tree(graph: RoadGraph) -> tuple[cKDTree, np.ndarray | None]:
    lon, lat = graph.lon, graph.lat
    nodes = None
    later = _same_place_later(lon, lat)
    if later.any():
        nodes = np.flatnonzero(~later)
        lon, lat = lon[nodes], lat[nodes]
    xyz = _xyz_meters(lon, lat)
    return cKDTree(xyz, balanced_tree=False), nodes  # builds faster, queries as fast


def _same_place_later(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether each node shares its position with a lower-numbered node. A hash of the
    coordinates' bits picks the candidates (usually none) in one pass; they are then
    compared exactly."""
    bits = [(np.asarray(x, dtype=np.float64) + 0.0).view(np.int64) for x in (lon, lat)]  # -0 is 0
    key = bits[0] * np.int64(1_000_003) + bits[1]  # wraps: a hash
    later = np.zeros(len(lon), dtype=bool)
    maybe = np.flatnonzero(_repeated(key))
    if not len(maybe):
        return later
    order = maybe[np.lexsort((lat[maybe], lon[maybe]))]  # stable: a place's nodes in order
    same = (lon[order][1:] == lon[order][:-1]) & (lat[order][1:] == lat[order][:-1])
    later[order[1:][same]] = True
    return later


@njit(cache=True, nogil=True)
def _repeated(key: np.ndarray) -> np.ndarray:
    """Whether each key occurs more than once (``duplicated(keep=False)``), by one
    open-addressing hash table of first occurrences (Fibonacci hashing, linear
    probing; some 10 bytes a key): keys compared whole, so the answer is exact."""
    n = key.shape[0]
    bits = 1
    while (1 << bits) < n + n // 2 + 1:
        bits += 1
    size = 1 << bits
    first = np.full(size, -1, dtype=np.int32)  # the first row holding the slot's key
    again = np.zeros(size, dtype=np.bool_)  # its key seen again
    slot = np.empty(n, dtype=np.int32)
    for i in range(n):
        k = key[i]
        s = np.int64((np.uint64(k) * np.uint64(11400714819323198485)) >> np.uint64(64 - bits))
        while first[s] >= 0 and key[first[s]] != k:
            s = (s + 1) & (size - 1)
        if first[s] < 0:
            first[s] = i
        else:
            again[s] = True
        slot[i] = s
    out = np.empty(n, dtype=np.bool_)
    for i in range(n):
        out[i] = again[slot[i]]
    return out


def as_lonlat(points, *, what: str = "points", ids=None) -> np.ndarray:
    """Check and return an (n, 2) float array of WGS84 longitude/latitude.

    Raises :class:`InputError` naming the first bad rows (by ``ids`` when
    given, else by row number) when a coordinate is NaN or out of range.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what}: expected an (n, 2) array of longitude, latitude")
    lon, lat = arr[:, 0], arr[:, 1]
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    bad |= (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{what}: {len(rows)} point(s) with missing or out-of-range coordinates "
            f"({some_ids(rows, ids)}); give longitude in [-180, 180] and latitude "
            "in [-90, 90], in that order"
        )
    return arr


def some_ids(rows: np.ndarray, ids=None, shown: int = 5) -> str:
    """'a, b, c and 4 more': the first ``shown`` rows by ID (``ids``) or row number."""
    names = [str(ids[i]) if ids is not None else f"row {i}" for i in rows[:shown]]
    more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
    return ", ".join(names) + more


def snap_points(
    graph: RoadGraph,
    points_lonlat,
    *,
    max_snap_meters: float = DEFAULT_MAX_SNAP_METERS,
    what: str = "points",
    ids=None,
) -> Snap:
    """Attach WGS84 lon/lat points to their nearest graph nodes.

    Returns a :class:`Snap` with the node, the straight-line leg in meters and
    an ``off_road`` flag for legs longer than ``max_snap_meters``.
    """
    arr = as_lonlat(points_lonlat, what=what, ids=ids)
    if len(arr) == 0:
        return Snap(
            np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool), max_snap_meters
        )
    # queried in spatial order (cells of 0.01 degrees): neighbouring queries walk the
    # same branches of the tree, twice as fast as in the file's order; same answers
    cell = np.floor((arr - arr.min(axis=0)) / 0.01).astype(np.int64)
    order = np.argsort((cell[:, 0] << 24) + cell[:, 1], kind="stable")
    chord, node = np.empty(len(arr)), np.empty(len(arr), dtype=np.int64)
    tree, tree_node = _tree(graph)
    chord[order], node[order] = tree.query(
        _unit_xyz(arr[order, 0], arr[order, 1]) * EARTH_RADIUS_METERS, workers=-1
    )
    if tree_node is not None:
        node = tree_node[node]
    meters = 2 * EARTH_RADIUS_METERS * np.arcsin(np.minimum(chord / (2 * EARTH_RADIUS_METERS), 1))
    exact = graph.meta.get("exact_snaps")
    if exact is not None:  # a clip: only the snaps it can prove
        unproved = ~snap_proved(arr, meters, exact["bbox"], exact["meters"])
        node, meters = np.where(unproved, -1, node), np.where(unproved, np.nan, meters)
    return Snap(
        node=node.astype(np.int64),
        meters=meters,
        off_road=meters > max_snap_meters,
        max_snap_meters=float(max_snap_meters),
    )


#: Relative and absolute slack kept from a clip's width when proving a snap (rounding).
_SLACK, _SLACK_METERS = 1e-9, 1.0


def snap_width_needed(points_lonlat, meters, bbox) -> np.ndarray:
    """How far past ``bbox`` (west, south, east, north; WGS84 degrees) a clip must hold
    every node of the whole graph for each point's snap onto it to be the whole
    graph's, the point's node lying ``meters`` from it: ``meters`` plus the point's
    distance from the box (at most: to the box's nearest point in degrees). Every node
    nearer than its node lies within that of the box."""
    arr = np.asarray(points_lonlat, dtype=np.float64).reshape(-1, 2)
    west, south, east, north = (float(x) for x in bbox)
    near_lon, near_lat = np.clip(arr[:, 0], west, east), np.clip(arr[:, 1], south, north)
    return np.asarray(meters, dtype=np.float64) + haversine_meters(
        arr[:, 0], arr[:, 1], near_lon, near_lat
    )


def snap_proved(points_lonlat, meters, bbox, width_meters: float) -> np.ndarray:
    """Whether each snap onto a clip that holds every node within ``width_meters`` of
    ``bbox`` is the whole graph's (:func:`snap_width_needed`, less a rounding slack)."""
    return within_width(snap_width_needed(points_lonlat, meters, bbox), width_meters)


def within_width(needed_meters, width_meters: float) -> np.ndarray:
    """Whether each width needed (:func:`snap_width_needed`) is held by a clip of
    ``width_meters``, less a rounding slack."""
    return np.asarray(needed_meters) <= float(width_meters) * (1 - _SLACK) - _SLACK_METERS


#: How far outside the road network's bounding box a point may lie before it is
#: "off the map" (a wrong coordinate, or a road extract that does not cover it).
OFF_MAP_KM = 50.0


def off_the_map(graph, lon, lat, *, margin_km: float = OFF_MAP_KM) -> np.ndarray:
    """Whether each WGS84 point lies farther than ``margin_km`` outside the bounding
    box of the graph's nodes, or of a (west, south, east, north) box given instead of
    a graph (NaN coordinates count as off the map)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if isinstance(graph, RoadGraph):
        west, east = float(graph.lon.min()), float(graph.lon.max())
        south, north = float(graph.lat.min()), float(graph.lat.max())
    else:
        west, south, east, north = (float(x) for x in graph)
    dlat = margin_km / 111.0
    dlon = margin_km / (111.0 * max(np.cos(np.radians(max(abs(south), abs(north)))), 0.05))
    inside = (
        (lat >= south - dlat) & (lat <= north + dlat) & (lon >= west - dlon) & (lon <= east + dlon)
    )
    return ~inside


def check_extent(
    graph, lon, lat, *, what: str, label: str, names, refuse_most: bool = True
) -> tuple[str, str] | None:
    """Refuse a file whose points are mostly off the road network's map; name a few.

    ``graph``: the road graph, or the (west, south, east, north) box of the network
    (an OpenStreetMap file's header box, when no graph is loaded).

    When most points are far outside the network (more than half), the file is
    refused with one line: the latitude and longitude look swapped when swapping
    them puts most points inside, else the points are elsewhere (wrong
    coordinates, or a road network that does not cover them). When only some are,
    returns a note that counts them (for reports) and the same note naming up to five
    (``names(rows)``: those points' IDs and lines; for the terminal), or None when every point
    is on the map. With ``refuse_most=False`` (providers: a statewide roster beside a
    regional road extract is normal, and far-away providers change no result) only
    swapped coordinates, or every point off the map, are refused.
    """
    off = off_the_map(graph, lon, lat)
    n = len(off)
    if not n or not off.any():
        return None
    swapped = ~off_the_map(graph, lat, lon)
    if off.sum() * 2 > n and (refuse_most or off.all() or swapped.sum() * 2 > n):
        if swapped.sum() * 2 > n:
            raise InputError(
                f"{label}: latitude and longitude look swapped: {int(off.sum()):,} of {n:,} "
                f"{what} are far off the road network, and {int(swapped.sum()):,} fall on it "
                "when swapped; swap the lat and lon columns"
            )
        rows = np.flatnonzero(off)
        first = ", ".join(names(rows[:5]))
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise InputError(
            f"{label}: {int(off.sum()):,} of {n:,} {what} are more than {OFF_MAP_KM:g} km "
            f"outside the road network ({first}{more}; at 0,0, at sea or in another state?); "
            "check their coordinates, or give a road network that covers them"
        )
    rows = np.flatnonzero(off)
    shown = [
        name + (" (lat and lon swapped?)" if swapped[i] else "")
        for i, name in zip(rows[:5], names(rows[:5]), strict=True)
    ]
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    head = (
        f"{label}: {len(rows):,} of {n:,} {what} lie more than {OFF_MAP_KM:g} km outside "
        "the road network"
    )
    tail = "they are kept, routed from the nearest road, and flagged off_road"
    return f"{head}; {tail}", f"{head}: {', '.join(shown)}{more}; {tail}"
