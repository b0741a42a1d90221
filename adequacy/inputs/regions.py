"""Regions (counties): reading county polygons and their urban/rural class.

Regions are polygons in WGS84 (EPSG:4326) with a 5-digit ``fips`` code, a
``name``, a ``population`` and an area in square miles. Column names of the
bundled US county file (``COUNTY_FIPS``, ``County Name``, ``Population``,
``CENSUSAREA``) and of Census TIGER county files (``GEOID``, ``NAME``) are
understood as well. Which county a point lies in is the judge's decision
(:func:`adequacy.engine.judge.county_of`).

Owns: ``read_regions`` and ``classify_regions``. Uses: :mod:`adequacy.errors`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.errors import InputError
from adequacy.units import SQ_METERS_PER_SQ_MILE

BUNDLED_COUNTIES = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "regions"
    / ("us_counties_2018_population.geojson")
)

_ALIASES = {
    "fips": ("fips", "county_fips", "COUNTY_FIPS", "GEOID", "geoid", "FIPS"),
    "name": ("name", "County Name", "NAME", "NAMELSAD", "county"),
    "state": ("state", "State", "STATE", "STUSPS"),
    "population": ("population", "Population", "POPULATION", "POP"),
    "area_sq_mi": ("area_sq_mi", "CENSUSAREA", "census_area"),
    "region_class": ("region_class", "class", "county_class"),
}


def read_regions(source: Any = None, *, fips: list[str] | None = None):
    """Read region polygons as a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    source
        Path to a GeoPackage/GeoJSON/GeoParquet/Shapefile of polygons, or a
        GeoDataFrame. Default: the bundled US counties (2018 population).
    fips
        Keep only these regions (5-digit codes).

    Returns
    -------
    GeoDataFrame with ``fips``, ``name``, ``population``, ``area_sq_mi``,
    ``density_per_sq_mi`` and, when the source has one, ``region_class``.
    """
    import geopandas as gpd

    if source is None:
        source = BUNDLED_COUNTIES
    if isinstance(source, pd.DataFrame):
        gdf, label = source.copy(), str(source.attrs.get("source_name", "regions"))
    else:
        path = Path(os.fspath(source))
        label = str(path)
        if not path.exists():
            raise InputError(f"{path}: regions file not found; check the path")
        try:
            gdf = (
                gpd.read_parquet(path)
                if path.suffix.lower() in (".parquet", ".geoparquet")
                else gpd.read_file(path)
            )
        except Exception as exc:
            raise InputError(
                f"{path}: could not be read as region polygons "
                f"({str(exc).splitlines()[0][:120]}); give a GeoPackage, "
                "GeoJSON or GeoParquet of county polygons"
            ) from None
    geometry = getattr(gdf, "_geometry_column_name", None)
    if (
        not isinstance(gdf, gpd.GeoDataFrame)
        or geometry not in gdf
        or (len(gdf) and gdf.geometry.isna().all())
    ):
        raise InputError(
            f"{label}: regions must be county polygons with a geometry (a plain table was "
            "given); give a GeoPackage, GeoJSON or GeoParquet of county polygons"
        )
    if len(gdf) == 0:
        raise InputError(f"{label}: the regions file has no rows")
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise InputError(
            f"{label}: regions must be polygons (counties); found "
            f"{', '.join(sorted(set(gdf.geom_type.dropna())))}"
        )
    columns = {}
    for canon, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in gdf.columns:
                columns[canon] = alias
                break
    if "fips" not in columns:
        raise InputError(
            f"{label}: regions need a fips column (5-digit county code; also "
            "read from COUNTY_FIPS or GEOID)"
        )
    if gdf.crs is None:
        raise InputError(f"{label}: the regions file has no CRS; set EPSG:4326")
    if not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    out = gpd.GeoDataFrame(
        {
            "fips": gdf[columns["fips"]].astype(str).str.strip().str.zfill(5).to_numpy(),
            "name": gdf[columns["name"]].astype(str).to_numpy()
            if "name" in columns
            else gdf[columns["fips"]].astype(str).to_numpy(),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=4326,
    )
    if "state" in columns:
        out["state"] = gdf[columns["state"]].astype(str).to_numpy()
    if fips is not None:
        wanted = {str(f).zfill(5) for f in fips}
        out = out[out["fips"].isin(wanted)]
        gdf = gdf.loc[out.index]
        missing = wanted - set(out["fips"])
        if missing:
            raise InputError(f"{label}: no region with fips {', '.join(sorted(missing))}")
    if out["fips"].duplicated().any():
        dup = out.loc[out["fips"].duplicated(), "fips"].tolist()[:5]
        raise InputError(f"{label}: duplicate region fips {', '.join(dup)}; one polygon each")
    population = (
        pd.to_numeric(gdf[columns["population"]], errors="coerce").to_numpy()
        if "population" in columns
        else np.full(len(out), np.nan)
    )
    if "area_sq_mi" in columns:
        area = pd.to_numeric(gdf[columns["area_sq_mi"]], errors="coerce").to_numpy()
    else:
        area = out.geometry.to_crs(6933).area.to_numpy() / SQ_METERS_PER_SQ_MILE
    out["population"] = population
    out["area_sq_mi"] = area
    with np.errstate(divide="ignore", invalid="ignore"):
        out["density_per_sq_mi"] = population / area
    if "region_class" in columns:
        out["region_class"] = gdf[columns["region_class"]].astype(str).str.lower().to_numpy()
    return out.reset_index(drop=True)


def classify_regions(regions, urban_density_per_sq_mi: float = 250.0) -> np.ndarray:
    """``urban``/``rural`` per region: the given class, else density ≥ the threshold."""
    if "region_class" in regions.columns:
        return regions["region_class"].to_numpy(dtype=object)
    dense = regions["density_per_sq_mi"].to_numpy() >= urban_density_per_sq_mi
    return np.where(dense, "urban", "rural").astype(object)
