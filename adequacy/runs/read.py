"""Reading a run folder back: its tables checked against the manifest, or its
inputs evaluated again.

:func:`read_run` gives the tables and the member rows' counts columns (no
member ids) after checking every file against the manifest's SHA-256: the
report's input. :func:`evaluate_run` evaluates the run's inputs again, with
the same standards and :class:`~adequacy.engine.settings.Settings`, after
checking the input files have not changed: the base of ``whatif``,
``recruit`` and the app's run view.

Owns: ``Run``, ``read_run`` and ``evaluate_run``. Uses: the engine,
:mod:`adequacy.network` and the manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from adequacy.engine.evaluate import Evaluation, evaluate
from adequacy.engine.panels import PANEL_COLUMNS
from adequacy.engine.settings import Settings
from adequacy.engine.summaries import (
    COUNTY_COLUMNS,
    OUTSIDE_COLUMNS,
    RULE_COLUMNS,
    SERVICE_AREA_COLUMNS,
)
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.network import SpeedProfile, load_road_graph
from adequacy.network.speeds import PROFILES, SPEED_PROFILE_FIELDS
from adequacy.runs.manifest import read_manifest
from adequacy.runs.write import TABLES

#: Findings tables the report reads (counts and providers; never member rows).
REPORTED_FINDINGS = (
    "deficiencies",
    "recruitment_picks",
    "exception_providers",
    "outside_by_county",
)

#: Text columns of the run tables (read as text, blanks as "").
TEXT_COLUMNS = (
    *(c for c in RULE_COLUMNS if c != "threshold"),
    "county_fips",
    "county",
    "basis",
    "finding",
    "provider_id",
    "practice_id",
    "verdict",
    "verdict_reasons",
    "findings",
    "recruitment_sites",
    "recruitment_note",
    "candidate",
    "network",
    "residence_county_fips",
    "residence_county",
)
#: Columns a run table must have to be read (the tables' own column lists).
REQUIRED_COLUMNS = {
    "county_summary": tuple(COUNTY_COLUMNS),
    "service_area_summary": tuple(SERVICE_AREA_COLUMNS),
    "language_summary": ("rule", "language", "county_fips", "share_meeting", "verdict"),
    "prevalent_languages": ("county_fips", "language", "members"),
    "panel_findings": tuple(PANEL_COLUMNS),
    "high_volume_specialists": ("rank", "specialty"),
    "outside_service_area": tuple(OUTSIDE_COLUMNS),
}
RUN_MEMBER_COLUMNS = (
    "rule",
    "language",
    "county_fips",
    "in_service_area",
    "count_required",
    "miles",
    "minutes",
    "meets",
)


@dataclass(frozen=True)
class Run:
    """The parts of a run folder the report uses (counts and shares, no member rows)."""

    folder: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    members: pd.DataFrame | None  # RUN_MEMBER_COLUMNS only (no member ids)
    counties: Any  # GeoDataFrame of county_summary.gpkg, or None without regions


def _checked(path: Path, manifest: dict[str, Any], what: str) -> Path:
    """The path of a run file, after checking it exists and matches the manifest's hash."""
    if not path.is_file():
        raise InputError(
            f"{what} {path}: missing; the run folder is incomplete (re-run the evaluation)"
        )
    digest = (manifest.get("outputs") or {}).get(path.name)
    if digest and file_sha256(path) != digest:
        raise InputError(
            f"{what} {path}: damaged or changed since the run (its SHA-256 differs from "
            "manifest.json); re-run the evaluation to rebuild the run folder"
        )
    return path


def _read_table(path: Path, name: str, what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, "str"))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{what} {path}: damaged (not a readable CSV table); re-run the evaluation"
        ) from None
    missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} {path}: damaged (missing column {', '.join(missing)}); re-run the evaluation"
        )
    for col in TEXT_COLUMNS:
        if col in table.columns:
            table[col] = table[col].fillna("").astype(object)
    return table


def read_run(run_dir: str | os.PathLike, *, members: bool = True, what: str = "run") -> Run:
    """Read and check a run folder; every problem is one InputError naming the file and the fix.

    ``members=False`` skips ``members.parquet`` (a previous run needs only its tables).
    """
    folder = Path(run_dir)
    try:
        manifest = read_manifest(folder)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("standards"), dict):
        raise InputError(
            f"{what} {folder / 'manifest.json'}: damaged (no standards); re-run the evaluation"
        )
    tables = {
        name: _read_table(_checked(folder / f"{name}.csv", manifest, what), name, what)
        for name in TABLES
    }
    outputs = manifest.get("outputs") or {}
    for name in REPORTED_FINDINGS:  # written by the command line; optional in a run
        if f"{name}.csv" in outputs:
            tables[name] = _read_table(_checked(folder / f"{name}.csv", manifest, what), name, what)
    results = None
    if members:
        path = _checked(folder / "members.parquet", manifest, what)
        try:
            results = pd.read_parquet(path, columns=list(RUN_MEMBER_COLUMNS))
        except Exception:  # pyarrow raises several types for damaged files
            raise InputError(
                f"{what} {path}: damaged (not a readable Parquet file with columns "
                f"{', '.join(RUN_MEMBER_COLUMNS)}); re-run the evaluation"
            ) from None
        for col in ("rule", "language", "county_fips"):
            results[col] = results[col].astype(str)
    counties = None
    gpkg = folder / "county_summary.gpkg"
    if gpkg.exists() or "county_summary.gpkg" in (manifest.get("outputs") or {}):
        import geopandas as gpd

        path = _checked(gpkg, manifest, what)
        try:
            counties = gpd.read_file(path, layer="county_summary")
        except Exception:  # pyogrio raises several types for damaged files
            raise InputError(
                f"{what} {path}: damaged (not a readable GeoPackage); re-run the evaluation"
            ) from None
        if not {"county_fips", "county"} <= set(counties.columns):
            raise InputError(
                f"{what} {path}: damaged (missing county_fips or county); re-run the evaluation"
            )
        counties["county_fips"] = counties["county_fips"].astype(str)
        counties = counties.sort_values("county_fips", ignore_index=True)
    return Run(folder, manifest, tables, results, counties)


def _profile(manifest: dict[str, Any]):
    """The run's speed profile: the recorded one (its speeds too, for a custom profile)."""
    recorded = manifest.get("speed_profile") or {}
    if not recorded.get("name"):
        return None
    if recorded.get("name") in PROFILES and PROFILES[recorded["name"]].to_dict() == recorded:
        return recorded["name"]
    return SpeedProfile(**{k: v for k, v in recorded.items() if k in SPEED_PROFILE_FIELDS})


def evaluate_run(run_dir: str | os.PathLike, *, progress=None) -> tuple[Evaluation, dict]:
    """Evaluate a run folder's inputs again (as recorded in its manifest), with the
    run's standards and every one of its settings; returns the evaluation and the manifest.

    Used by ``adequacy whatif`` and ``adequacy recruit`` as their base. Fails
    with a clear message when an input file is gone or changed since the run.
    """
    manifest = read_manifest(run_dir)
    inputs = manifest.get("inputs") or {}
    paths: dict[str, Any] = {}
    for name, info in inputs.items():
        if not info:
            paths[name] = None
            continue
        path = Path(info["path"])
        if info.get("sha256") is not None:
            if not path.is_file():
                raise InputError(
                    f"{run_dir}: input {name} {path} is gone; restore it or evaluate again"
                )
            if file_sha256(path) != info["sha256"]:
                raise InputError(
                    f"{run_dir}: input {name} {path} changed since the run "
                    "(SHA-256 differs); evaluate again to make a new base"
                )
        paths[name] = str(path)
    graph = load_road_graph(
        paths["road_network"],
        class_column=manifest["road_network"].get("class_column"),
        profile=_profile(manifest),
    )
    return evaluate(
        paths["members"],
        paths["providers"],
        graph,
        paths.get("standards") or manifest["standards"]["name"],
        claims=paths.get("claims"),
        regions=paths.get("regions"),
        census_languages=paths.get("census_languages"),
        survey=paths.get("survey"),
        appointment_standards=manifest.get("appointment_standards") or "seed-manual",
        settings=Settings.from_dict(manifest.get("settings")),
        hsd_reference=paths.get("hsd_reference"),
        cms_crosswalk=paths.get("cms_crosswalk"),
        progress=progress,
    ), manifest
