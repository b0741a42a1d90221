"""One partition of a partitioned run, as a worker runs it.

:func:`run_partition` reads everything from files the coordinator wrote (the
clipped road graph in the graph cache's ``.npz`` format, the partition's members
and the roster as Parquet, every point already snapped to the source graph) and
writes the partition's member results to its own Parquet file. It returns only
what is small: the exact tally, the counties each provider site serves, the
row groups of the results file, and its own time and memory.

With ``PartitionTask.source`` (a run with ``graphs="extract"``) there is no
clipped graph file and no point is snapped: the worker cuts its own graph out of
the OpenStreetMap file and snaps its members and the roster to it
(:func:`adequacy.distributed.clip_snap.partition_graph`), writes its members'
snapping legs beside its results (``snaps.parquet``) and returns the legs of
the roster sites it placed.

Owns: ``PartitionTask``, ``PartitionResult``, ``run_partition``. Uses: the
engine's member pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adequacy.distributed.clip_snap import partition_graph
from adequacy.distributed.partitions import leg_reach_meters, reach_meters
from adequacy.engine.passes import judge_members
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.engine.tally import Tally
from adequacy.network import RoadGraph
from adequacy.routing import Snap

#: columns the coordinator adds to the members and roster files: each point's node in
#: the source graph, its snapping leg in meters and whether it is off the road
NODE, SNAP_METERS, OFF_ROAD = "_node", "snap_meters", "off_road"


@dataclass(frozen=True)
class PartitionTask:
    """Where a partition's inputs are, where its results go, and how to judge them."""

    name: str
    folder: str  # holds graph.npz, full_node.npy, members.parquet; results.parquet is written
    providers_path: str
    settings: Settings
    standards: StandardsSet
    languages: tuple[str, ...]
    max_snap_meters: float
    threads: int = 1
    #: the whole roster's providers per search key, and the label widths other
    #: partitions' searches reached (see ``Engine``): the same widths everywhere
    n_groups: dict = field(default_factory=dict)
    min_width: dict = field(default_factory=dict)
    #: ``graphs="extract"``: the OpenStreetMap file each worker cuts its graph from,
    #: its SHA-256, the speed profile's name and the cache folder of the cuts
    source: str | None = None
    source_sha256: str | None = None
    profile: str | None = None
    cache_dir: str | None = None

    def path(self, name: str) -> Path:
        return Path(self.folder) / name


@dataclass
class PartitionResult:
    """What a partition returns to the coordinator (all of it small)."""

    name: str
    tally: Tally
    served: pd.DataFrame | None  # provider_row indexes the whole roster
    unrouted: int
    row_groups: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    widths: dict = field(default_factory=dict)  # labels per node of each search
    rows: int = 0
    members: int = 0
    nodes: int = 0
    seconds: float = 0.0
    peak_gb: float | None = None  # the worker process's peak while it ran (Linux)
    #: ``graphs="extract"``: the roster rows the partition placed, their snapping legs
    #: (meters) and off-road flags
    provider_rows: np.ndarray | None = None
    provider_meters: np.ndarray | None = None
    provider_off_road: np.ndarray | None = None


def run_partition(task: PartitionTask) -> PartitionResult:
    """Judge one partition's members on its clipped graph; write its member results."""
    start = time.perf_counter()
    reset = _reset_peak()
    members = pd.read_parquet(task.path("members.parquet"))
    roster = pd.read_parquet(task.providers_path)
    if task.source is not None:
        graph, members, providers, member_snap, provider_snap, rows = _cut(task, members, roster)
    else:
        graph = RoadGraph.load(task.path("graph.npz"))
        full_node = np.load(task.path("full_node.npy"))
        member_snap = _snap(members, _local(full_node, members[NODE].to_numpy()), task)
        provider_nodes = _local(full_node, roster[NODE].to_numpy(), missing=True)
        rows = np.flatnonzero(provider_nodes >= 0)  # sites on the clipped graph
        providers = roster.iloc[rows].drop(columns=NODE).reset_index(drop=True)
        provider_snap = _snap(roster.iloc[rows], provider_nodes[rows], task)
        members = members.drop(columns=NODE)
    judged = judge_members(
        graph,
        members,
        providers,
        member_snap,
        provider_snap,
        task.settings,
        task.standards,
        list(task.languages),
        chunk_members=task.settings.chunk_members,
        results_path=task.path("results.parquet"),
        workers=task.threads,
        n_groups=task.n_groups,
        min_width=task.min_width,
    )
    served = judged.served
    if served is not None:  # rows of the whole roster, as the coordinator counts them
        served = served.assign(provider_row=rows[served["provider_row"].to_numpy(dtype=np.int64)])
    file = judged.results_file
    cut = task.source is not None
    return PartitionResult(
        name=task.name,
        tally=judged.tally,
        served=served,
        unrouted=judged.unrouted,
        row_groups=file.row_groups,
        widths=judged.widths,
        rows=file.rows,
        members=len(members),
        nodes=graph.n_nodes,
        seconds=time.perf_counter() - start,
        peak_gb=_peak_gb() if reset else None,
        provider_rows=rows if cut else None,
        provider_meters=provider_snap.meters if cut else None,
        provider_off_road=provider_snap.off_road if cut else None,
    )


def _cut(task: PartitionTask, members: pd.DataFrame, roster: pd.DataFrame):
    """The partition's graph cut from the OpenStreetMap file, its points snapped to it;
    the members' legs written to ``snaps.parquet`` (in the members file's order)."""
    part = partition_graph(
        task.source,
        members[["lon", "lat"]].to_numpy(),
        roster[["lon", "lat"]].to_numpy(),
        reach=lambda speed: reach_meters(task.standards, task.settings, speed),
        leg_reach_meters=leg_reach_meters(task.standards, task.settings),
        max_snap_meters=task.max_snap_meters,
        profile=task.profile,
        cache_dir=task.cache_dir,
        source_sha256=task.source_sha256,
        member_ids=members["member_id"].to_numpy(),
    )
    graph = part.graph
    snap = part.member_snap
    members = members.assign(**{SNAP_METERS: snap.meters, OFF_ROAD: snap.off_road})
    members[[SNAP_METERS, OFF_ROAD]].to_parquet(task.path("snaps.parquet"), index=False)
    rows = part.provider_rows
    providers = roster.iloc[rows].reset_index(drop=True)
    providers = providers.assign(**{SNAP_METERS: part.provider_snap.meters,
                                    OFF_ROAD: part.provider_snap.off_road})  # fmt: skip
    return graph, members, providers, snap, part.provider_snap, rows


def _local(full_node: np.ndarray, nodes: np.ndarray, *, missing: bool = False) -> np.ndarray:
    """Source-graph nodes as nodes of the clipped graph (``full_node`` is sorted); -1
    where absent (``missing=True``), else an error: a member's node is always kept."""
    pos = np.minimum(np.searchsorted(full_node, nodes), max(len(full_node) - 1, 0))
    found = full_node[pos] == nodes if len(full_node) else np.zeros(len(nodes), bool)
    if not missing and not found.all():
        raise RuntimeError(f"{int((~found).sum())} member road node(s) are not on the clip")
    return np.where(found, pos, -1).astype(np.int64)


def _snap(table: pd.DataFrame, nodes: np.ndarray, task: PartitionTask) -> Snap:
    return Snap(
        nodes,
        table[SNAP_METERS].to_numpy(dtype=np.float64),
        table[OFF_ROAD].to_numpy(dtype=bool),
        task.max_snap_meters,
    )


def _reset_peak() -> bool:
    """Reset the process's peak resident size (Linux ``clear_refs``); False elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_gb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None
