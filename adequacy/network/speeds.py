"""Speed profiles: how fast a car is assumed to travel on each road.

Travel time on an edge is its length divided by its speed. The speed comes from
the OpenStreetMap ``maxspeed`` tag where one is present and can be read, else
from a per-class default in the active :class:`SpeedProfile`. Every profile has
a name and a version; both are stored in the road graph, in its cache key and in
every report, so a result can always be traced to the speeds that produced it.

All speeds are in miles per hour (mph).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from adequacy.errors import InputError
from adequacy.units import KMH_TO_MPH, MPH_TO_METERS_PER_SECOND  # noqa: F401 - re-exported


@dataclass(frozen=True)
class SpeedProfile:
    """A named, versioned table of default speeds per road class.

    Parameters
    ----------
    name, version
        Identify the profile in caches, manifests and reports. Change the
        version whenever a speed changes.
    class_mph
        Default speed in mph for each road class (the OSM ``highway`` value, or
        the values of the road-class column of a non-OSM road file).
    fallback_mph
        Speed for a class missing from ``class_mph``.
    use_maxspeed
        Use a readable ``maxspeed`` tag in preference to the class default.
    maxspeed_factor
        Share of a tagged ``maxspeed`` actually driven (OSRM's car profile
        drives at 0.8 of it); class defaults are already speeds driven.
    node_delay_seconds
        Seconds lost at a node by its OSM ``highway`` tag, e.g.
        ``{"traffic_signals": 2.6, "stop": 2.0}``: added to every edge entering
        the node, so the search stays node-based and exact on these costs.
    intersection_delay_seconds
        Seconds added to every edge entering an intersection (a node joined to
        three or more other nodes): turning and slowing down.
    description
        One line for reports.
    """

    name: str
    version: str
    class_mph: dict[Any, float] = field(default_factory=dict)
    fallback_mph: float = 25.0
    use_maxspeed: bool = True
    maxspeed_factor: float = 1.0
    node_delay_seconds: dict[str, float] = field(default_factory=dict)
    intersection_delay_seconds: float = 0.0
    description: str = ""

    @property
    def label(self) -> str:
        """``name@version``, as written in manifests and reports."""
        return f"{self.name}@{self.version}"

    def class_speed_mph(self, road_class: Any) -> float:
        """Default speed in mph for ``road_class`` (matched as text, case-blind).

        ``True``, ``"True"`` and ``"true"`` are the same class, so a flag column
        read from CSV or GeoParquet as text still finds its speed.
        """
        return float(self._lookup().get(_class_text(road_class), self.fallback_mph))

    def has_class(self, road_class: Any) -> bool:
        """Whether ``road_class`` has its own speed (else the fallback applies)."""
        return _class_text(road_class) in self._lookup()

    def _lookup(self) -> dict[str, float]:
        return {_class_text(k): float(v) for k, v in self.class_mph.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (class keys become strings)."""
        return {
            "name": self.name,
            "version": self.version,
            "class_mph": {str(k): v for k, v in self.class_mph.items()},
            "fallback_mph": self.fallback_mph,
            "use_maxspeed": self.use_maxspeed,
            "maxspeed_factor": self.maxspeed_factor,
            "node_delay_seconds": dict(self.node_delay_seconds),
            "intersection_delay_seconds": self.intersection_delay_seconds,
            "description": self.description,
        }


#: US urban/suburban defaults for OpenStreetMap ``highway`` classes, in mph.
#: Links (ramps) are slower than the road they serve.
US_OSM = SpeedProfile(
    name="us-osm-default",
    version="1",
    class_mph={
        "motorway": 65,
        "motorway_link": 45,
        "trunk": 55,
        "trunk_link": 40,
        "primary": 45,
        "primary_link": 35,
        "secondary": 40,
        "secondary_link": 30,
        "tertiary": 35,
        "tertiary_link": 30,
        "unclassified": 25,
        "residential": 25,
        "living_street": 10,
        "road": 25,
        "busway": 25,
        "service": 15,
    },
    fallback_mph=25,
    description=(
        "OSM maxspeed where tagged, else US defaults per highway class "
        "(motorway 65 mph, trunk 55, primary 45, secondary 40, tertiary 35, "
        "residential/unclassified 25, service 15)"
    ),
)

#: Speeds as OSRM's car profile drives them (its ``car.lua``: default speeds per
#: ``highway`` class in km/h, 0.8 of a tagged ``maxspeed``), plus delays at
#: traffic signals, stop and give-way signs and intersections, calibrated against
#: OSRM's trip times on the same OpenStreetMap data (``benchmarks/fidelity.py``).
CALIBRATED_KMH = {
    "motorway": 90,
    "motorway_link": 45,
    "trunk": 85,
    "trunk_link": 40,
    "primary": 65,
    "primary_link": 30,
    "secondary": 55,
    "secondary_link": 25,
    "tertiary": 40,
    "tertiary_link": 20,
    "unclassified": 25,
    "residential": 25,
    "living_street": 10,
    "road": 25,
    "busway": 25,
    "service": 15,
}
US_OSM_CALIBRATED = SpeedProfile(
    name="us-osm-calibrated",
    version="1",
    class_mph={k: v * KMH_TO_MPH for k, v in CALIBRATED_KMH.items()},
    fallback_mph=25 * KMH_TO_MPH,
    maxspeed_factor=0.8,
    node_delay_seconds={"traffic_signals": 2.6, "stop": 2.0, "give_way": 1.0},
    intersection_delay_seconds=0.3,
    description=(
        "calibrated to OSRM's car profile: 0.8 of a tagged maxspeed, else OSRM's class "
        "speeds (motorway 56 mph, trunk 53, primary 40, secondary 34, tertiary 25, "
        "residential/unclassified 15.5); plus 2.6 s at traffic signals, 2 s at stop "
        "signs, 1 s at give-way signs and 0.3 s at every intersection"
    ),
)

#: US Census TIGER/Line roads classed only by the primary/secondary flag
#: ``prisec_fl``: primary and secondary roads (US and state highways) at 55 mph,
#: every other road (local, rural and private roads) at 25 mph.
TIGER_PRISEC = SpeedProfile(
    name="tiger-prisec",
    version="1",
    class_mph={True: 55, False: 25},
    fallback_mph=25,
    use_maxspeed=False,
    description=(
        "TIGER/Line prisec_fl: primary/secondary roads 55 mph, all other roads 25 mph "
        "(no speed or one-way data in the source)"
    ),
)


#: US Census TIGER/Line roads classed by ``MTFCC`` (the feature class code), at the
#: speeds OSRM's car profile gives the matching OpenStreetMap classes (km/h):
#: S1100 primary roads (limited-access highways) as trunk, S1200 secondary (US and
#: state highways) as primary, S1400 local roads as residential, S1630 ramps as
#: motorway links, S1640 service drives and S1740 private roads as service, S1730
#: alleys at half that, S1500 4WD trails as living streets. TIGER has no speed,
#: one-way or signal data, so no delays: a coarse profile, not calibrated.
TIGER_MTFCC_KMH = {
    "S1100": 85,
    "S1200": 65,
    "S1400": 25,
    "S1500": 10,
    "S1630": 45,
    "S1640": 15,
    "S1730": 7.5,
    "S1740": 15,
    "S1750": 15,
    "S1780": 10,
}
TIGER_MTFCC = SpeedProfile(
    name="tiger-mtfcc",
    version="1",
    class_mph={k: v * KMH_TO_MPH for k, v in TIGER_MTFCC_KMH.items()},
    fallback_mph=25 * KMH_TO_MPH,
    use_maxspeed=False,
    description=(
        "TIGER/Line MTFCC classes at OSRM's car speeds for the matching OSM classes "
        "(S1100 53 mph, S1200 40, S1400 local 15.5, S1630 ramps 28); no delays (TIGER has "
        "no signal or one-way data): coarse"
    ),
)


def _class_text(value: Any) -> str:
    return str(value).strip().lower()


PROFILES = {p.name: p for p in (US_OSM_CALIBRATED, US_OSM, TIGER_PRISEC, TIGER_MTFCC)}
#: The profile of OpenStreetMap sources unless one is asked for.
DEFAULT_OSM_PROFILE = US_OSM_CALIBRATED
#: The fields of a SpeedProfile, to rebuild one from its ``to_dict``.
SPEED_PROFILE_FIELDS = tuple(SpeedProfile.__dataclass_fields__)

#: The highest posted speed believed (US limits top out at 85 mph); above, the class
#: default applies.
MAX_POSTED_MPH = 90.0

_NUMBER_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.I)


def parse_maxspeed(value: Any) -> float | None:
    """Read an OSM ``maxspeed`` value as mph, or None when it cannot be read.

    ``"25 mph"`` is 25 mph; a bare number (``"40"``) is km/h, as the OSM wiki
    defines it; ``"50 km/h"`` is km/h; a list (``"35;45"``, ``"25 mph;35 mph"``)
    gives the mean of its readable parts, as osmnx does. Anything else
    (``"none"``, ``"signals"``, ``"RU:urban"``, ``"walk"``, empty) is None, so
    the class default applies.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            return None
        mph = float(value) * KMH_TO_MPH
        return mph if mph <= MAX_POSTED_MPH else None
    speeds = []
    for part in str(value).split(";"):
        part = part.strip()
        if not part:
            continue
        m = _NUMBER_UNIT.match(part)
        if not m:
            return None
        number = float(m.group(1))
        unit = (m.group(2) or "km/h").lower()
        if unit == "mph":
            mph = number
        elif unit == "knots":
            mph = number * 1.150779
        else:
            mph = number * KMH_TO_MPH
        if mph <= 0 or mph > MAX_POSTED_MPH:  # a typo ("550") must not speed a road up
            return None
        speeds.append(mph)
    if not speeds:
        return None
    return sum(speeds) / len(speeds)


def get_profile(profile: SpeedProfile | str) -> SpeedProfile:
    """Return ``profile`` itself, or the built-in profile of that name."""
    if isinstance(profile, SpeedProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        names = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown speed profile {profile!r}; use one of: {names}") from None
