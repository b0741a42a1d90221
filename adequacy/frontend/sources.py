"""The data sources the app offers: demo regions, bundled road networks, built-in standards.

Everything here is derived from where it is defined (the demo's regions,
the standards that ship), so the app never keeps a copy of a list.

An upload without county polygons is evaluated on the bundled US counties that
hold it: those named by the members' ``county_fips`` or holding an in-network
provider (:func:`service_area_counties`). Members outside them are outside the
service area, as on the command line, rather than a county of their own.

Owns: the app's choice lists and the service area of an upload without
polygons. Uses: :mod:`adequacy.demo`, the engine's standards, the regions
reader and the judge's point-in-county look-up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from adequacy.demo import REGIONS
from adequacy.engine.judge import OUTSIDE, county_of
from adequacy.engine.standards import DEFAULT_STANDARDS, builtin_standards, load_standards
from adequacy.errors import InputError
from adequacy.inputs.regions import read_regions


def demo_regions() -> dict[str, str]:
    """Demo region name -> its title, e.g. 'boston' -> 'Boston, Massachusetts (urban; ...)'."""
    return {name: spec.title for name, spec in REGIONS.items()}


def demo_class_column(region: str) -> str | None:
    """The road-class column of a demo region's road file (None: OpenStreetMap)."""
    return REGIONS[region].class_column


def speed_profiles(class_column: str | None) -> dict[str, str]:
    """Drive-time profiles to choose from, by label, the default first: OpenStreetMap
    sources offer the calibrated and the free-flow profile; TIGER lines their own."""
    if class_column == "prisec_fl":
        return {"TIGER classes (coarse)": "tiger-prisec"}
    return {
        "Calibrated to OSRM (default)": "us-osm-calibrated",
        "Free flow (posted speeds)": "us-osm-default",
    }


def bundled_roads() -> dict[str, tuple[str, str | None]]:
    """Title -> (road file path, road-class column) of each demo region's road network."""
    return {spec.title: (str(spec.roads), spec.class_column) for spec in REGIONS.values()}


def builtin_standards_titles() -> dict[str, str]:
    """A built-in standards set's title (or name) -> its name; the default set first."""
    out = {}
    names = builtin_standards()
    for name in sorted(names, key=lambda n: (n != DEFAULT_STANDARDS, n)):
        std = load_standards(name)
        out[std.title or name] = name
    return out


@lru_cache(maxsize=1)
def bundled_counties():
    """The bundled US county polygons, read once per process (public data; callers copy)."""
    return read_regions()  # default: the bundled counties


def service_area_counties(members: pd.DataFrame, providers: pd.DataFrame) -> Any:
    """The bundled counties that hold an upload: those named by the members'
    ``county_fips`` and those holding an in-network provider (every provider when none
    is in network), as a GeoDataFrame sorted by FIPS.

    ``members`` and ``providers`` as the input readers give them (``county_fips``,
    ``lon``, ``lat``, ``in_network``). Members elsewhere then fall outside the service
    area. No such county is an InputError asking for county polygons.
    """
    counties = bundled_counties()
    named = set(members["county_fips"].astype(str)) - {OUTSIDE}
    network = providers[providers["in_network"]] if providers["in_network"].any() else providers
    held = set(county_of(network["lon"].to_numpy(), network["lat"].to_numpy(), counties))
    chosen = counties[counties["fips"].isin((named | held) - {OUTSIDE})]
    if not len(chosen):
        raise InputError(
            "no county holds a provider or is named by the members' county_fips: upload "
            "the service area's county polygons"
        )
    return chosen.sort_values("fips").reset_index(drop=True)


def service_area_note(evaluation: Any) -> str:
    """One line on an upload evaluated without county polygons: which counties, and how
    many members live outside them."""
    names = list(evaluation.regions["name"].astype(str))
    names = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    outside = int((~evaluation.members["in_service_area"]).sum())
    n = len(evaluation.regions)
    return (
        f"No county polygons uploaded: the service area is the {n} "
        f"{'county' if n == 1 else 'counties'} holding the members' county_fips or an "
        f"in-network provider ({names}); {outside:,} "
        f"{'member lives' if outside == 1 else 'members live'} outside them "
        "(outside the service area)."
    )
