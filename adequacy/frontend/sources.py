"""The data sources the app offers: demo regions, bundled road networks, built-in standards.

Everything here is derived from where it is defined (the demo's regions,
the standards that ship), so the app never keeps a copy of a list.

Owns: the app's choice lists. Uses: :mod:`adequacy.demo` and the engine's
standards.
"""

from __future__ import annotations

from adequacy.demo import DATA_DIR, REGIONS
from adequacy.engine.standards import DEFAULT_STANDARDS, builtin_standards, load_standards

#: Bundled county polygons, the fallback for uploads without their own.
BUNDLED_COUNTIES = DATA_DIR / "regions" / "us_counties_2018_population.geojson"


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
