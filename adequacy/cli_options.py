"""The options the ``adequacy`` commands share, as typer annotations.

Owns: the option types (``FORCE``, ``WORKERS``, ...). Use: :mod:`adequacy.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORCE = Annotated[
    bool, typer.Option("--force", help="Replace an --out folder that holds other files")
]
QUIET = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress bars (drawn on stderr, and only when it is a terminal)"
    ),
]
HSD_REFERENCE = Annotated[
    Path | None,
    typer.Option(
        help="--standards cms-ma: CMS's HSD Reference File (.xlsx) of another contract "
        "year (default: the bundled CY2026 file)"
    ),
]
CMS_CROSSWALK = Annotated[
    Path | None,
    typer.Option(
        help="--standards cms-ma: NPPES taxonomy -> CMS specialty code crosswalk "
        "(taxonomy, cms_specialty_code) for rosters without cms_specialty_code"
    ),
]
WORKERS = Annotated[int | None, typer.Option(
    help="Judge members partition by partition on N Dask worker processes here (a "
    "LocalCluster); results equal one process's")]  # fmt: skip
SCHEDULER = Annotated[
    str | None,
    typer.Option(
        help="An existing Dask cluster (tcp://host:8786); workers need --work-dir and adequacy"
    ),
]
PARTITION_BY = Annotated[str, typer.Option(help="Partitions: county, state or grid")]
PARTITIONS = Annotated[
    int | None,
    typer.Option(help="How many partitions (default: one per million members, one per worker)"),
]
PARTITION_GRAPHS = Annotated[
    str,
    typer.Option(
        help="Partitions' road graphs: clip (of the graph loaded here) or extract (each "
        "worker cuts its own from the .osm.pbf; nothing loads the whole graph)"
    ),
]
WORK_DIR = Annotated[
    Path | None, typer.Option(help="Folder for the partitions' files (default: a temporary folder)")
]
CHUNK_MEMBERS = Annotated[
    int | None, typer.Option(help="Members judged at once (bounds memory; default 500,000)")
]
PROFILE = Annotated[
    str | None,
    typer.Option(help="Speed profile name (default: calibrated for OSM, tiger-prisec for TIGER)"),
]
DISTANCE_BASIS = Annotated[
    str | None,
    typer.Option(
        help="How miles are measured: shortest, fastest_route or straight_line "
        "(default: the standards set's own)"
    ),
]
