"""Uploaded files read in memory, never written to disk, logged or sent anywhere.

Owns: turning an uploaded file's bytes into a table the input readers
validate, and the service area of uploads without county polygons
(:func:`with_service_area`). Uses: :mod:`adequacy.errors`, the input readers and
:func:`adequacy.frontend.sources.service_area_counties`. The frame carries the
file's name (``attrs["source_name"]``) so validation messages name the uploaded
file.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pandas as pd

from adequacy.errors import InputError


def read_upload(name: str, data: bytes, what: str) -> pd.DataFrame:
    """An uploaded CSV, Parquet or GeoPackage/GeoJSON as a (Geo)DataFrame, read in memory.

    ``name`` is the uploaded file's name (its suffix picks the reader), ``what``
    the table it should be (members, providers, claims, regions) for messages.
    """
    if not data:
        raise InputError(f"{name}: the file is empty; upload the {what} table")
    lower = name.lower()
    try:
        if lower.endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(data))
        elif lower.endswith((".gpkg", ".geojson")):
            import geopandas as gpd

            frame = gpd.read_file(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False).replace(
                "", None
            )
    except Exception as exc:  # noqa: BLE001 - any reader error becomes one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: cannot be read as a {what} table ({first})") from None
    frame.attrs["source_name"] = name
    return frame


def digest(*parts: bytes | str | None) -> str:
    """SHA-256 of some bytes and strings: the session cache key of an upload."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()


def with_service_area(
    tables: dict[str, pd.DataFrame | None], standards: Any
) -> tuple[dict[str, Any], bool]:
    """The uploaded tables to evaluate, and whether their service area was found here.

    With county polygons uploaded, the tables as they are. Without, the members and
    providers read and checked (messages name the uploaded files) and, as regions,
    the bundled US counties named by the members' ``county_fips`` or holding an
    in-network provider: members elsewhere are outside the service area, as on the
    command line, and the map shows only those counties.
    """
    if tables.get("regions") is not None:
        return tables, False
    from adequacy.engine.standards import load_standards
    from adequacy.frontend.sources import service_area_counties
    from adequacy.inputs.schemas import read_members, read_providers

    members = read_members(tables["members"])
    providers = read_providers(
        tables["providers"], extra_types=load_standards(standards).provider_types
    )
    regions = service_area_counties(members, providers)
    return {**tables, "members": members, "providers": providers, "regions": regions}, True
