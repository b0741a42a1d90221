"""Read the drivable ways of an OpenStreetMap file into a directed edge list.

Reads ``.osm.pbf``, ``.osm`` and ``.osm.bz2``/``.osm.gz`` files with pyosmium
(libosmium). The drive filter is osmnx's ``network_type="drive"`` filter,
applied with the same semantics as the Overpass query osmnx sends: a way is
kept when it has a ``highway`` tag and, for every ``key !~ regex`` condition,
the tag is absent or its value does not contain a match of the regex.
One-way rules also follow osmnx: ``oneway`` in {yes, true, 1} is one-way along
the way, {-1, reverse} one-way against it, ``junction=roundabout`` (or
``circular``) is one-way along the way; everything else is two-way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adequacy.errors import InputError
from adequacy.network.speeds import SpeedProfile, parse_maxspeed

#: osmnx's ``drive`` filter (osmnx 2.x, ``_overpass._get_network_filter``),
#: as (key, regex of excluded values).
DRIVE_EXCLUDE: tuple[tuple[str, str], ...] = (
    ("area", "yes"),
    ("access", "private"),
    (
        "highway",
        "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track",
    ),
    ("motor_vehicle", "no"),
    ("motorcar", "no"),
    ("service", "alley|driveway|emergency_access|parking|parking_aisle|private"),
)
_DRIVE_EXCLUDE_RE = tuple((k, re.compile(v)) for k, v in DRIVE_EXCLUDE)

ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_REVERSE = frozenset({"-1", "reverse"})
ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})

EARTH_RADIUS_METERS = 6_371_009.0  # mean radius, as osmnx uses


def is_drivable(tags: dict[str, str]) -> bool:
    """Whether a way with these tags passes osmnx's ``drive`` filter."""
    if "highway" not in tags:
        return False
    for key, regex in _DRIVE_EXCLUDE_RE:
        value = tags.get(key)
        if value is not None and regex.search(value):
            return False
    return True


def oneway_direction(tags: dict[str, str]) -> int:
    """+1 one-way along the way, -1 one-way against it, 0 two-way."""
    oneway = tags.get("oneway")
    if oneway in ONEWAY_REVERSE:
        return -1
    if oneway in ONEWAY_FORWARD or tags.get("junction") in ONEWAY_JUNCTIONS:
        return 1
    return 0


def haversine_meters(lon1, lat1, lon2, lat2):
    """Great-circle distance in meters between WGS84 points (arrays or floats)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_METERS * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


@dataclass
class EdgeList:
    """Directed road segments before the graph is built.

    ``u``/``v`` index into ``node_ids``/``lon``/``lat``; ``meters`` is the
    great-circle length; ``mph`` the speed; ``road_class`` indexes
    ``class_names``; ``node_delay`` the seconds lost at each node by its tags
    (the profile's ``node_delay_seconds``; zeros when it has none).
    """

    u: np.ndarray
    v: np.ndarray
    meters: np.ndarray
    mph: np.ndarray
    road_class: np.ndarray
    class_names: list[str]
    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    n_ways: int = 0
    node_delay: np.ndarray | None = None


def read_osm_file(path: Path, profile: SpeedProfile) -> EdgeList:
    """Read the drivable ways of an OSM file into an :class:`EdgeList`."""
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - a dependency
        raise InputError("reading OSM files needs pyosmium: pip install osmium") from exc

    class _Ways(osmium.SimpleHandler):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[int] = []
            self.lons: list[float] = []
            self.lats: list[float] = []
            self.way_of: list[int] = []
            self.ways: list[tuple[int, str, float | None, float | None]] = []
            self.n_highway = 0
            self.delays: dict[int, float] = {}  # node id -> seconds (tagged nodes only)

        def node(self, n) -> None:
            if delays_by_tag:
                value = n.tags.get("highway")
                if value in delays_by_tag:
                    self.delays[n.id] = delays_by_tag[value]

        def way(self, w) -> None:
            if "highway" not in w.tags:
                return
            self.n_highway += 1
            tags = {t.k: t.v for t in w.tags}
            if not is_drivable(tags):
                return
            direction = oneway_direction(tags)
            if profile.use_maxspeed:
                both = parse_maxspeed(tags.get("maxspeed"))
                fwd = parse_maxspeed(tags.get("maxspeed:forward")) or both
                bwd = parse_maxspeed(tags.get("maxspeed:backward")) or both
                fwd = fwd * profile.maxspeed_factor if fwd else None
                bwd = bwd * profile.maxspeed_factor if bwd else None
            else:
                fwd = bwd = None
            index = len(self.ways)
            self.ways.append((direction, tags["highway"], fwd, bwd))
            for node in w.nodes:
                loc = node.location
                if not loc.valid():
                    # a node outside the extract: break the way here
                    self.refs.append(-1)
                    self.lons.append(math.nan)
                    self.lats.append(math.nan)
                else:
                    self.refs.append(node.ref)
                    self.lons.append(loc.lon)
                    self.lats.append(loc.lat)
                self.way_of.append(index)

    delays_by_tag = dict(profile.node_delay_seconds)
    handler = _Ways()
    try:
        handler.apply_file(str(path), locations=True)
    except Exception as exc:  # libosmium raises RuntimeError with a terse text
        raise InputError(
            f"{path}: could not be read as OpenStreetMap data ({_first_line(exc)}); "
            "give an .osm.pbf, .osm or .osm.bz2 extract"
        ) from None
    if not handler.ways:
        what = "no highway ways" if handler.n_highway == 0 else "no drivable roads"
        raise InputError(
            f"{path}: the extract has {what} (osmnx 'drive' filter); "
            "check that it covers the service area and includes roads"
        )

    refs = np.asarray(handler.refs, dtype=np.int64)
    lons = np.asarray(handler.lons, dtype=np.float64)
    lats = np.asarray(handler.lats, dtype=np.float64)
    way_of = np.asarray(handler.way_of, dtype=np.int64)
    ways = handler.ways

    # consecutive pairs within one way, both ends with a location
    a = np.arange(len(refs) - 1)
    ok = (way_of[a] == way_of[a + 1]) & (refs[a] >= 0) & (refs[a + 1] >= 0)
    ok &= refs[a] != refs[a + 1]
    a = a[ok]
    seg_way = way_of[a]
    meters = haversine_meters(lons[a], lats[a], lons[a + 1], lats[a + 1])

    direction = np.array([w[0] for w in ways], dtype=np.int8)[seg_way]
    class_names = sorted({w[1] for w in ways})
    class_index = {c: i for i, c in enumerate(class_names)}
    way_class = np.array([class_index[w[1]] for w in ways], dtype=np.int16)
    default = np.array([profile.class_speed_mph(c) for c in class_names])[way_class]
    fwd = np.array([w[2] if w[2] else np.nan for w in ways])
    bwd = np.array([w[3] if w[3] else np.nan for w in ways])
    fwd = np.where(np.isnan(fwd), default, fwd)[seg_way]
    bwd = np.where(np.isnan(bwd), default, bwd)[seg_way]
    seg_class = way_class[seg_way]

    # forward edges: along the way unless one-way against it
    along = direction >= 0
    against = direction <= 0
    src = np.concatenate([refs[a][along], refs[a + 1][against]])
    dst = np.concatenate([refs[a + 1][along], refs[a][against]])
    mph = np.concatenate([fwd[along], bwd[against]])
    length = np.concatenate([meters[along], meters[against]])
    road_class = np.concatenate([seg_class[along], seg_class[against]])

    node_ids, first = np.unique(refs[refs >= 0], return_index=True)
    valid = np.flatnonzero(refs >= 0)
    node_lon = lons[valid][first]
    node_lat = lats[valid][first]
    node_delay = np.zeros(len(node_ids))
    if handler.delays:
        tagged = np.fromiter(handler.delays, dtype=np.int64, count=len(handler.delays))
        seconds = np.fromiter(handler.delays.values(), dtype=np.float64, count=len(tagged))
        where = np.searchsorted(node_ids, tagged)
        hit = (where < len(node_ids)) & (node_ids[np.minimum(where, len(node_ids) - 1)] == tagged)
        node_delay[where[hit]] = seconds[hit]
    return EdgeList(
        u=np.searchsorted(node_ids, src),
        v=np.searchsorted(node_ids, dst),
        meters=length,
        mph=mph,
        road_class=road_class,
        class_names=class_names,
        node_ids=node_ids,
        lon=node_lon,
        lat=node_lat,
        n_ways=len(ways),
        node_delay=node_delay,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
