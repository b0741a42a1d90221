"""Write an evaluation to a run folder, and read it back.

A run folder holds:

``members.parquet``
    Member results: one row per member and rule (and language).
``county_summary.csv`` / ``county_summary.gpkg``
    Per county and rule (CSV, long) and per county with a column pair per rule
    (GeoPackage, one polygon per county, for GIS).
``service_area_summary.csv``, ``language_summary.csv``, ``prevalent_languages.csv``,
``panel_findings.csv``, ``high_volume_specialists.csv``, ``outside_service_area.csv``
    The other tables of the evaluation.
``manifest.json``
    The inputs' paths and SHA-256 hashes, the road source and speed profile,
    the standards, the settings, package versions, the time, notes, and the
    hash of every output file.

Files are written to a temporary folder beside the destination and moved in
only when all of them are complete, so a failure never leaves a partial run.
Every table carries a ``synthetic`` column, true when any input row was
synthetic (the demo).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError

TABLES = (
    "county_summary",
    "service_area_summary",
    "language_summary",
    "prevalent_languages",
    "panel_findings",
    "plan_summary",
    "high_volume_specialists",
    "outside_service_area",
)
PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "numba",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyarrow",
    "networkx",
    "osmnx",
    "osmium",
    "pyyaml",
)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "adequacy": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_inputs(paths: dict[str, Any]) -> dict[str, Any]:
    """Path, SHA-256 and size of each input file (None when not given)."""
    out: dict[str, Any] = {}
    for name, path in paths.items():
        if path is None:
            out[name] = None
        elif isinstance(path, (str, os.PathLike)) and Path(path).is_file():
            p = Path(path)
            out[name] = {
                "path": str(p.resolve()),
                "sha256": file_sha256(p),
                "bytes": p.stat().st_size,
            }
        else:
            out[name] = {"path": str(path), "sha256": None, "bytes": None}
    return out


def build_manifest(
    evaluation, *, inputs: dict[str, Any], command: str = "", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    graph = evaluation.graph
    meta = graph.meta
    return {
        "adequacy_version": __version__,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "synthetic": evaluation.synthetic,
        "inputs": describe_inputs(inputs),
        "road_network": {
            "source": meta.get("source"),
            "source_kind": meta.get("source_kind"),
            "source_sha256": meta.get("source_sha256"),
            "class_column": meta.get("class_column"),
            "nodes": graph.n_nodes,
            "edges": graph.n_edges,
            "road_miles": round(graph.summary()["road_miles"], 3),
            "builder_version": meta.get("builder_version"),
            "attribution": (
                "© OpenStreetMap contributors, ODbL 1.0"
                if meta.get("source_kind") in ("osm", "graphml", "networkx", "osmnx-download")
                else ""
            ),
        },
        "speed_profile": meta.get("profile", {}),
        "snapping": {
            "method": "nearest graph node (KD-tree on geocentric coordinates); straight-line "
            "leg added to distance, and to time at snap_speed_mph",
            "max_snap_meters": evaluation.settings["max_snap_meters"],
            "snap_speed_mph": evaluation.settings["snap_speed_mph"],
        },
        "standards": evaluation.standards.to_dict(),
        "settings": evaluation.settings,
        "counts": {
            "members": int(len(evaluation.members)),
            "members_in_service_area": int(evaluation.members["in_service_area"].sum()),
            "members_off_road": int(evaluation.members["off_road"].sum()),
            "providers": int(len(evaluation.providers)),
            "providers_in_network": int(evaluation.providers["in_network"].sum()),
            "counties": int(len(evaluation.regions)) if evaluation.regions is not None else 0,
        },
        "notes": list(evaluation.notes),
        "packages": package_versions(),
        **(extra or {}),
    }


def _tables(evaluation) -> dict[str, pd.DataFrame]:
    flag = evaluation.synthetic
    out = {}
    for name in TABLES:
        table = getattr(evaluation, name).copy()
        table["synthetic"] = flag
        out[name] = table
    return out


def county_wide(evaluation):
    """One row per county with ``share_<rule>``/``pass_<rule>`` columns, as a GeoDataFrame."""
    import geopandas as gpd

    regions = evaluation.regions
    summary = evaluation.county_summary
    wide = regions[["fips", "name", "population", "density_per_sq_mi", "geometry"]].copy()
    wide = wide.rename(columns={"fips": "county_fips", "name": "county"})
    failing = pd.Series(0, index=wide.index)
    for rule in evaluation.standards.rules:
        part = summary[summary["rule"] == rule.id].set_index("county_fips")
        col = rule.id.replace(":", "_")
        wide[f"share_{col}"] = wide["county_fips"].map(part["share_meeting"])
        passes = wide["county_fips"].map(part["passes"])
        wide[f"pass_{col}"] = passes
        failing += (passes == False).astype(int)  # noqa: E712 - NaN (no members) is not a fail
    wide["rules_failing"] = failing
    wide["synthetic"] = evaluation.synthetic
    return gpd.GeoDataFrame(wide, geometry="geometry", crs=4326)


@contextmanager
def staging(out_dir: str | os.PathLike):
    """A temporary folder beside ``out_dir``, removed afterwards whatever happens.

    Write every file there, then :func:`publish` them: a failure part-way
    never leaves a partial output folder.
    """
    parent = Path(out_dir).resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".adequacy-", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(files: dict[str, Path], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Move finished files from the staging folder into ``out_dir`` (same file system)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = {}
    for key, path in files.items():
        target = out_dir / path.name
        os.replace(path, target)
        final[key] = target
    return final


def write_run(
    evaluation,
    out_dir: str | os.PathLike,
    *,
    inputs: dict[str, Any],
    command: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the run folder atomically; returns the written paths."""
    with staging(out_dir) as tmp:
        files: dict[str, Path] = {}
        results = evaluation.member_results
        path = tmp / "members.parquet"
        results.to_parquet(path, index=False)
        files["members"] = path
        for name, table in _tables(evaluation).items():
            path = tmp / f"{name}.csv"
            table.to_csv(path, index=False, float_format="%.6g")
            files[name] = path
        if evaluation.regions is not None:
            path = tmp / "county_summary.gpkg"
            county_wide(evaluation).to_file(path, driver="GPKG", layer="county_summary")
            files["county_summary_gpkg"] = path
        manifest = build_manifest(evaluation, inputs=inputs, command=command, extra=extra)
        manifest["outputs"] = {p.name: file_sha256(p) for p in files.values()}
        path = tmp / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        files["manifest"] = path
        return publish(files, out_dir)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a run folder, with a clear message when it is missing or damaged."""
    run_dir = Path(run_dir)
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise InputError(
            f"{run_dir}: run folder not found; give the --out folder of "
            "'adequacy evaluate' or 'adequacy demo'"
        )
    if not path.exists():
        raise InputError(
            f"{path}: missing; {run_dir} is not a complete run folder (re-run the evaluation)"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path}: is damaged (not valid JSON); re-run the evaluation") from None


def write_tables(
    out_dir: str | os.PathLike,
    tables: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    *,
    parquet: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Write tables as CSV (and Parquet for the names in ``parquet``) plus a manifest.

    Atomic like :func:`write_run`: a temporary folder beside ``out_dir``,
    moved in only when every file is complete.
    """
    with staging(out_dir) as tmp:
        files: dict[str, Path] = {}
        for name, table in tables.items():
            path = tmp / f"{name}.csv"
            table.to_csv(path, index=False, float_format="%.6g")
            files[f"{name}.csv"] = path
            if name in parquet:
                path = tmp / f"{name}.parquet"
                table.to_parquet(path, index=False)
                files[f"{name}.parquet"] = path
        manifest = dict(manifest, outputs={n: file_sha256(p) for n, p in files.items()})
        path = tmp / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        files["manifest.json"] = path
        return publish(files, out_dir)


def evaluate_run(run_dir: str | os.PathLike, *, progress=None):
    """Evaluate a run folder's inputs again (as recorded in its manifest).

    Used by ``adequacy whatif`` and ``adequacy recruit`` as their base. Fails
    with a clear message when an input file is gone or changed since the run.
    """
    from .evaluate import evaluate
    from .network import load_road_graph

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
        paths["road_network"], class_column=manifest["road_network"].get("class_column")
    )
    settings = manifest.get("settings") or {}
    return evaluate(
        paths["members"],
        paths["providers"],
        graph,
        paths.get("standards") or manifest["standards"]["name"],
        claims=paths.get("claims"),
        regions=paths.get("regions"),
        census_languages=paths.get("census_languages"),
        quarter=settings.get("quarter"),
        progress=progress,
    ), manifest
