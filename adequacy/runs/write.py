"""Writing run folders: an evaluation's tables, atomically, with their manifest.

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

The same inputs give the same bytes: the GeoPackage's one date
(``gpkg_contents.last_change``, which GDAL would take from the clock) is the
manifest's ``created_utc``, itself ``SOURCE_DATE_EPOCH`` when that is set; and
:func:`write_tables` leaves wall-clock timings out of its manifest.

Owns: ``write_run``, ``write_tables``, the staging/publish pair every
atomic output folder uses, and ``gpkg_date`` (a GeoPackage's date). Uses: the
manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from adequacy import __version__
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.runs.manifest import CREATED_FORMAT, build_manifest, json_default, run_time

OGR_CURRENT_DATE = "OGR_CURRENT_DATE"  # GDAL's option: the date GPKG files record
VOLATILE = ("timings_seconds",)  # never the same twice: left out of manifests

TABLES = (
    "county_summary",
    "service_area_summary",
    "language_summary",
    "prevalent_languages",
    "panel_findings",
    "plan_summary",
    "high_volume_specialists",
    "outside_service_area",
    "appointment_compliance",
)
#: Tables of :mod:`adequacy.findings` a run folder may hold (``adequacy evaluate`` and
#: ``demo`` write them; a run written from Python without them is still complete).
FINDINGS = (
    "deficiencies",
    "deficient_members",
    "recruitment_picks",
    "exception_providers",
    "outside_candidates",
    "outside_by_county",
)


def _tables(evaluation) -> dict[str, pd.DataFrame]:
    flag = evaluation.synthetic
    out = {}
    for name in TABLES:
        table = getattr(evaluation, name).copy()
        table["synthetic"] = flag
        out[name] = table
    if getattr(evaluation, "served", None) is not None:  # Medicare Advantage: the HSD tables
        out["providers_served"] = evaluation.served.assign(synthetic=flag)
    return out


def county_wide(evaluation):
    """One row per county with ``share_<rule>``/``verdict_<rule>`` columns, as a GeoDataFrame."""
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
        verdict = wide["county_fips"].map(part["verdict"])
        wide[f"verdict_{col}"] = verdict
        failing += (verdict == "fail").astype(int)  # no members (NaN) is not a fail
    wide["rules_failing"] = failing
    wide["synthetic"] = evaluation.synthetic
    return gpd.GeoDataFrame(wide, geometry="geometry", crs=4326)


@contextmanager
def gpkg_date(created_utc: str | None = None):
    """GeoPackages written inside carry ``created_utc`` as their date, not the clock's.

    GDAL stamps ``gpkg_contents.last_change`` with the current time unless its
    ``OGR_CURRENT_DATE`` option is set; this sets it (in the GeoPackage's
    format, ``YYYY-MM-DDTHH:MM:SS.sssZ``) and restores the previous value.
    Without ``created_utc``: :func:`run_time` (``SOURCE_DATE_EPOCH`` or now).
    """
    import pyogrio

    when = run_time() if created_utc is None else datetime.strptime(created_utc, CREATED_FORMAT)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    previous = pyogrio.get_gdal_config_option(OGR_CURRENT_DATE)
    pyogrio.set_gdal_config_options({OGR_CURRENT_DATE: stamp})
    try:
        yield stamp
    finally:
        pyogrio.set_gdal_config_options({OGR_CURRENT_DATE: previous})


def check_out(
    out_dir: str | os.PathLike,
    *,
    force: bool = False,
    inputs: list[Any] = (),
    kind: str | None = None,
) -> Path:
    """Refuse, before any work is done, an output folder that cannot take the result.

    A path that is (or lies inside) a file, and a folder that holds anything but an
    earlier output of adequacy of the same ``kind`` ('run', 'whatif', 'recruit',
    'report'; unless ``force``), get one line naming ``--out``. An earlier output is
    replaced whole when the new one is complete, so never, even
    with ``force``: the current folder or one of its parents, the home folder, or a
    folder holding one of the run's ``inputs`` (which replacing it would delete).
    """
    out = Path(out_dir)
    for part in (out, *out.parents):
        if part.exists() and not part.is_dir():
            raise InputError(
                f"--out {out}: {part} is a file; give a folder (it is made when missing)"
            )
    where = out.resolve()
    here = Path.cwd().resolve()
    if where == here or where in here.parents or where == Path.home().resolve():
        raise InputError(
            f"--out {out}: is the current folder, one of its parents or the home folder, "
            "which the output would replace whole; give a folder of its own, e.g. results/"
        )
    for source in inputs:
        given = isinstance(source, (str, os.PathLike)) and Path(source).exists()
        if given and where in Path(source).resolve().parents:
            raise InputError(
                f"--out {out}: holds the input {Path(source).name}, which replacing the "
                "folder would delete; give another output folder"
            )
    if out.is_dir() and not force:
        entries = sorted(out.iterdir())
        earlier = _earlier_output(out)
        if entries and earlier is None:
            raise InputError(
                f"--out {out}: the folder holds other files ({len(entries)} entries, e.g. "
                f"{entries[0].name}); give a new or empty folder, or --force to replace it whole"
            )
        if entries and kind is not None and earlier != kind:
            raise InputError(
                f"--out {out}: holds an earlier {earlier} output, not a {kind}; give another "
                "folder, or --force to replace it whole"
            )
    return out


def _earlier_output(folder: Path) -> str | None:
    """The kind of adequacy output a folder holds ('run', 'whatif', 'recruit', 'report'),
    by its manifest; None when it is not one."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "adequacy_version" not in manifest:
        return None
    if "report" in manifest:
        return "report"
    if "scenario" in manifest:
        return "whatif"
    if "base_run" in manifest:
        return "recruit"
    return "run"


def run_inputs(run_dir: str | os.PathLike) -> list[str]:
    """The input files a run folder's manifest records (best effort: [] when unreadable)."""
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
        inputs = (manifest.get("inputs") or {}).values()
        return [i["path"] for i in inputs if isinstance(i, dict) and i.get("path")]
    except (OSError, ValueError, AttributeError, TypeError):
        return []


@contextmanager
def staging(out_dir: str | os.PathLike):
    """A temporary folder beside ``out_dir``, removed afterwards whatever happens.

    Write every file there, then :func:`publish` them: a failure part-way never
    leaves a partial output folder. A place where no folder can be made is one line
    naming ``--out``.
    """
    out = Path(out_dir)
    check_out(out, force=True)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".adequacy-", dir=parent))
    except OSError as exc:
        raise InputError(
            f"--out {out}: cannot write there ({exc.strerror or type(exc).__name__}); "
            "give a folder you can write to"
        ) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(files: dict[str, Path], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Put the staging folder of ``files`` in place of ``out_dir``, whole.

    An earlier ``out_dir`` is moved aside first and removed only once the new folder
    is in place, so no file of an earlier output survives beside the new one, and a
    failure leaves the earlier folder as it was. Returns the files' final paths.
    """
    out = Path(out_dir)
    stage = {p.parent for p in files.values()}
    if len(stage) != 1:  # pragma: no cover - every writer stages into one folder
        raise ValueError("publish: files must share one staging folder")
    stage_dir = stage.pop()
    aside = None
    if out.exists():
        aside = Path(tempfile.mkdtemp(prefix=".adequacy-old-", dir=out.resolve().parent))
        os.rmdir(aside)
        os.rename(out, aside)
    try:
        os.rename(stage_dir, out)
    except OSError:
        if aside is not None:
            os.rename(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return {key: out / path.name for key, path in files.items()}


def write_run(
    evaluation,
    out_dir: str | os.PathLike,
    *,
    inputs: dict[str, Any],
    command: str = "",
    extra: dict[str, Any] | None = None,
    findings: dict[str, pd.DataFrame] | None = None,
    stage: Path | None = None,
) -> dict[str, Path]:
    """Write the run folder atomically; returns the written paths.

    ``stage``: a staging folder of :func:`staging` the caller already wrote into (the
    demo's inputs); it becomes the run folder, and inputs inside it are recorded at
    their final place.

    ``findings`` are more tables by name, written as CSV beside the evaluation's
    (the deficiency workpaper and the candidates for members outside the area of
    :mod:`adequacy.findings`; see :data:`FINDINGS`).
    """
    relocate = (stage, Path(out_dir)) if stage is not None else None
    manifest = build_manifest(
        evaluation, inputs=inputs, command=command, extra=extra, relocate=relocate
    )
    with nullcontext(stage) if stage is not None else staging(out_dir) as tmp:
        files: dict[str, Path] = {}
        path = tmp / "members.parquet"
        streamed = evaluation.results_file
        if evaluation.member_results is not None:
            evaluation.member_results.to_parquet(path, index=False)
        elif streamed.path.resolve() != path.resolve():  # written elsewhere: copied in
            shutil.copyfile(streamed.path, path)
        files["members"] = path
        extra_tables = {
            n: t.assign(synthetic=evaluation.synthetic) for n, t in (findings or {}).items()
        }
        for name, table in {**_tables(evaluation), **extra_tables}.items():
            path = tmp / f"{name}.csv"
            table.to_csv(path, index=False, float_format="%.6g")
            files[name] = path
        if evaluation.regions is not None:
            path = tmp / "county_summary.gpkg"
            with gpkg_date(manifest["created_utc"]):
                county_wide(evaluation).to_file(
                    path, driver="GPKG", layer="county_summary", engine="pyogrio"
                )
            files["county_summary_gpkg"] = path
        manifest["outputs"] = {p.name: file_sha256(p) for p in files.values()}
        path = tmp / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2, default=json_default) + "\n")
        files["manifest"] = path
        published = publish(files, out_dir)
        if streamed is not None and evaluation.member_results is None:
            streamed.path = published["members"]  # the results file moved with the folder
        return published


def write_tables(
    out_dir: str | os.PathLike,
    tables: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    *,
    parquet: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Write tables as CSV (and Parquet for the names in ``parquet``) plus a manifest.

    Atomic like :func:`write_run`: a temporary folder beside ``out_dir``,
    moved in only when every file is complete. Equal inputs give equal bytes:
    wall-clock timings (a ``timings_seconds`` key of ``manifest``) are left out.
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
        manifest = {k: v for k, v in manifest.items() if k not in VOLATILE}
        manifest.setdefault("adequacy_version", __version__)
        manifest["outputs"] = {n: file_sha256(p) for n, p in files.items()}
        path = tmp / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2, default=json_default) + "\n")
        files["manifest.json"] = path
        return publish(files, out_dir)


class FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed time, so that equal workbooks give
    equal bytes (the report's and the HSD tables' XLSX files)."""

    date_time: tuple[int, int, int, int, int, int] = (2000, 1, 1, 0, 0, 0)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.date_time)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        """Add a file's bytes (openpyxl writes sheets through temporary files) at the fixed time."""
        data = Path(filename).read_bytes()
        self.writestr(arcname or Path(filename).name, data, compress_type, compresslevel)


def save_workbook(wb, path: str | os.PathLike, created, title: str) -> Path:
    """Save an openpyxl workbook with ``created`` as its dates and every zip entry's time,
    so that equal workbooks give equal bytes (``wb.save`` stamps the clock)."""
    from openpyxl.writer.excel import ExcelWriter

    from adequacy import __version__

    wb.properties.creator = f"adequacy {__version__}"
    wb.properties.title = title
    wb.properties.created = created
    wb.properties.modified = created
    wb.properties.lastModifiedBy = f"adequacy {__version__}"
    path = Path(path)
    archive = FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    archive.date_time = (
        max(created.year, 1980),
        created.month,
        created.day,
        created.hour,
        created.minute,
        created.second,
    )
    ExcelWriter(wb, archive).save()
    return path
