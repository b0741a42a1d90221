"""The run folder's manifest: what a run was made of, and reading it back.

``manifest.json`` records the inputs' paths and SHA-256 hashes, the road
source and speed profile, snapping, the standards, the :class:`Settings`,
package versions, the time, notes, and the hash of every output file.

The time (``created_utc``) is the run's one date: the clock's, or, when the
environment sets ``SOURCE_DATE_EPOCH`` (an integer Unix time, the
reproducible-builds convention), that time, so the same inputs give the same
bytes whenever they are run. Everything else dated by the run (the
GeoPackage, the report) takes its date from ``created_utc``.

Owns: building and reading manifests, JSON encoding of numpy values. Uses:
:mod:`adequacy.hashing`.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from adequacy import __version__
from adequacy.errors import InputError
from adequacy.hashing import file_sha256

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


CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # ``created_utc``: ISO 8601, UTC, to the second


def run_time() -> datetime:
    """The time a run records: ``SOURCE_DATE_EPOCH`` when set, else now (UTC, whole seconds).

    A malformed ``SOURCE_DATE_EPOCH`` is an error, as the convention asks,
    rather than silently falling back to the clock.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"SOURCE_DATE_EPOCH={raw!r}: give an integer Unix time (seconds since "
            "1970-01-01 UTC), or unset it to use the current time"
        ) from None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "adequacy": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_inputs(
    paths: dict[str, Any], relocate: tuple[Path, Path] | None = None
) -> dict[str, Any]:
    """Path, SHA-256 and size of each input file (None when not given).

    ``relocate`` (staging folder, final folder): inputs written into a staging folder
    are recorded at the place they will have once it is published.
    """
    out: dict[str, Any] = {}
    for name, path in paths.items():
        if path is None:
            out[name] = None
        elif isinstance(path, (str, os.PathLike)) and Path(path).is_file():
            p = Path(path)
            where = p.resolve()
            if relocate is not None and where.is_relative_to(relocate[0].resolve()):
                where = relocate[1].resolve() / where.relative_to(relocate[0].resolve())
            out[name] = {
                "path": str(where),
                "sha256": file_sha256(p),
                "bytes": p.stat().st_size,
            }
        else:
            out[name] = {"path": str(path), "sha256": None, "bytes": None}
    return out


def build_manifest(
    evaluation,
    *,
    inputs: dict[str, Any],
    command: str = "",
    extra: dict[str, Any] | None = None,
    relocate: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    graph = evaluation.graph  # None when the partitions cut their own graphs
    meta = evaluation.network_meta
    return {
        "adequacy_version": __version__,
        "created_utc": run_time().strftime(CREATED_FORMAT),
        "command": command,
        "synthetic": evaluation.synthetic,
        "inputs": describe_inputs(inputs, relocate),
        "road_network": {
            "source": meta.get("source"),
            "source_kind": meta.get("source_kind"),
            "source_sha256": meta.get("source_sha256"),
            "class_column": meta.get("class_column"),
            "nodes": graph.n_nodes if graph is not None else None,
            "edges": graph.n_edges if graph is not None else None,
            "road_miles": round(graph.summary()["road_miles"], 3) if graph is not None else None,
            "builder_version": meta.get("builder_version"),
            **({"partition_graphs": "cut from the file by each partition"} if not graph else {}),
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
            "max_snap_meters": evaluation.settings.max_snap_meters,
            "snap_speed_mph": evaluation.settings.snap_speed_mph,
        },
        "standards": evaluation.standards.to_dict(),
        "appointment_standards": evaluation.appointment_standards.to_dict(),
        "settings": evaluation.manifest_settings(),
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


def json_default(value: Any) -> Any:
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
