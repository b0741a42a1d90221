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
    description
        One line for reports.
    """

    name: str
    version: str
    class_mph: dict[Any, float] = field(default_factory=dict)
    fallback_mph: float = 25.0
    use_maxspeed: bool = True
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


def _class_text(value: Any) -> str:
    return str(value).strip().lower()


PROFILES = {p.name: p for p in (US_OSM, TIGER_PRISEC)}

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
        return float(value) * KMH_TO_MPH
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
        if mph <= 0:
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
