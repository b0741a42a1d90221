"""Partitioned runs on Dask distributed: members judged partition by partition on workers.

:func:`judge_partitions` is the member pass of :func:`adequacy.evaluate` when a
:class:`Cluster` is given. The coordinator (the process that called
``evaluate``) reads and places the inputs, builds the rules and snaps every
point to the source road graph, as a single-machine run does. Then it

1. splits the members into partitions (:mod:`adequacy.distributed.partitions`);
2. writes each partition's inputs as files in the work folder: the source graph
   clipped to the partition's members plus a buffer at least as far as any
   search reaches (:func:`~adequacy.distributed.partitions.buffer_meters`,
   :func:`adequacy.network.clip.clip_graph`), its members, and the roster;
3. runs :func:`~adequacy.distributed.worker.run_partition` for each on the
   cluster, a progress bar over partitions; a partition that fails is run once
   more, and if it fails again the run stops naming it, and nothing is written;
4. adds the partitions' tallies (exact integer counts) and served counties, and
   appends their member results, row group by row group, to the run's results
   file.

With ``Cluster(graphs="extract")`` the coordinator never loads the road graph:
the partitions are made of the members' own points, step 2 writes no graph and
snaps nothing, and each worker cuts its graph out of the OpenStreetMap file and
snaps its own points (:mod:`adequacy.distributed.clip_snap`); the merge also
gathers their snapping legs.

Why each member's result equals the single-machine one: see the README
("Partitioned runs"). In short, every label a member reads is a road path no
longer than the buffer, and the clip keeps, around every node within it, the
same edges and the same shape-point chains, so the search computes the same
floating-point costs there; snapping was done once on the source graph.

Owns: ``Cluster``, ``cluster_options``, ``judge_partitions``, ``PartitionFailed``. Uses: the
partitions, the worker, the engine's member pass types and the graph clip.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from adequacy.distributed.partitions import (
    PARTITION_SCHEMES,
    Partition,
    auto_partitions,
    buffer_meters,
    make_partitions,
)
from adequacy.distributed.worker import NODE, PartitionResult, PartitionTask, run_partition
from adequacy.engine.engine import Engine, MemberState, Progress, group_counts, rule_variants
from adequacy.engine.passes import MemberPass
from adequacy.engine.reach import served_union
from adequacy.engine.result_table import member_counties
from adequacy.engine.results_file import ResultsFile, discarded_on_error
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.engine.tally import Tally
from adequacy.errors import InputError
from adequacy.network import RoadGraph
from adequacy.network.clip import clip_graph
from adequacy.routing import Snap
from adequacy.routing.labels import contracted

#: Where a partition's graph comes from (``Cluster.graphs``).
GRAPH_SOURCES = ("clip", "extract")


class PartitionFailed(InputError):
    """A partition failed twice; the run stops and writes nothing."""


@dataclass(frozen=True)
class Cluster:
    """Where and how a partitioned run runs.

    Parameters
    ----------
    workers
        Worker processes of the embedded :class:`distributed.LocalCluster`
        (ignored with ``scheduler``).
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers
        must reach ``work_dir`` (a shared file system) and have ``adequacy``
        installed.
    partition_by
        ``county``, ``state`` or ``grid`` (:mod:`adequacy.distributed.partitions`).
    partitions
        How many partitions (``county``, ``grid``); default one per million
        members, at least one per worker.
    threads_per_worker
        Threads each worker's searches use.
    work_dir
        Folder for the partitions' files; default a temporary folder beside the
        run's results file (removed afterwards).
    graphs
        ``clip``: the coordinator loads the road graph, snaps every point and
        writes each partition's clip of it. ``extract``: no process loads the
        whole graph; each worker cuts its partition's graph from the
        OpenStreetMap file (``.osm.pbf``) and snaps its own points.
    """

    workers: int = 2
    scheduler: str | None = None
    partition_by: str = "county"
    partitions: int | None = None
    threads_per_worker: int = 1
    work_dir: str | None = None
    graphs: str = "clip"
    #: the speed profile's name, for graphs cut from the file (default: the OSM profile)
    profile: str | None = None
    #: the function run per partition (tests wrap it to make a partition fail)
    task: Callable[[PartitionTask], PartitionResult] = field(default=run_partition, repr=False)


def cluster_options(
    workers: int | None,
    scheduler: str | None,
    partition_by: str = "county",
    partitions: int | None = None,
    work_dir=None,
    graphs: str = "clip",
) -> Cluster | None:
    """The :class:`Cluster` of ``adequacy evaluate``'s options (``--workers``,
    ``--scheduler``, ``--partition-by``, ``--partitions``, ``--work-dir``,
    ``--partition-graphs``), or None for one process; a wrong combination is one line
    naming the option."""
    if workers is None and scheduler is None:
        if (partitions is not None or work_dir is not None or partition_by != "county"
                or graphs != "clip"):  # fmt: skip
            raise InputError(
                "--partition-by, --partitions, --partition-graphs and --work-dir need "
                "--workers N or --scheduler"
            )
        return None
    if graphs not in GRAPH_SOURCES:
        raise InputError(f"--partition-graphs {graphs}: use one of {', '.join(GRAPH_SOURCES)}")
    if partition_by not in PARTITION_SCHEMES:
        raise InputError(
            f"--partition-by {partition_by}: use one of {', '.join(PARTITION_SCHEMES)}"
        )
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: give at least 1")
    if partitions is not None and partitions < 1:
        raise InputError(f"--partitions {partitions}: give at least 1")
    if scheduler is not None and work_dir is None:
        raise InputError(
            "--scheduler needs --work-dir: a folder every worker can read and write "
            "(a shared file system)"
        )
    return Cluster(
        workers=workers or 1,
        scheduler=scheduler,
        partition_by=partition_by,
        partitions=partitions,
        work_dir=str(work_dir) if work_dir is not None else None,
        graphs=graphs,
    )


def judge_partitions(
    graph: RoadGraph | None,
    members: pd.DataFrame,
    providers: pd.DataFrame,
    member_snap: Snap | None,
    provider_snap: Snap | None,
    settings: Settings,
    standards: StandardsSet,
    languages: list[str],
    cluster: Cluster,
    *,
    results_path: str | Path | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    profile: str | None = None,
    source_sha256: str | None = None,
) -> MemberPass:
    """The member pass of a partitioned run (see the module docstring); returns what
    :func:`~adequacy.engine.passes.judge_members` returns for one machine, without
    the searches (they stay on the workers).

    With ``cluster.graphs == "extract"``, ``graph`` and the snaps are None and
    ``source`` is the OpenStreetMap file (``profile`` its speed profile's name,
    ``source_sha256`` its hash); the pass's ``snaps`` are then the members' and
    providers' snapping legs."""
    tick = progress or (lambda step, done, total: None)
    count = cluster.partitions or auto_partitions(len(members), cluster.workers)
    if cluster.graphs == "extract":
        lon, lat = members["lon"].to_numpy(), members["lat"].to_numpy()
    else:
        lon, lat = graph.lon[member_snap.node], graph.lat[member_snap.node]
    spread = count if cluster.graphs == "extract" else None  # outside members: cells
    parts = make_partitions(members, lon, lat, by=cluster.partition_by, n_partitions=count,
                            outside_cells=spread)  # fmt: skip
    base = Path(results_path).parent if results_path is not None else None
    with _work_folder(cluster.work_dir, base) as work:
        tick("writing partitions", 0, len(parts))
        if cluster.graphs == "extract":
            tasks = _write_tasks(
                work, parts, None, members, providers, None, None, settings, standards,
                languages, cluster, 0.0, tick, source=str(source), profile=profile,
                source_sha256=source_sha256,
            )  # fmt: skip
        else:
            legs = provider_snap.meters
            widest = float(legs.max()) if len(legs) else 0.0
            buffer = buffer_meters(standards, settings, graph, provider_leg_meters=widest)
            tasks = _write_tasks(
                work, parts, graph, members, providers, member_snap, provider_snap, settings,
                standards, languages, cluster, buffer, tick,
            )  # fmt: skip
        with _client(cluster) as client:
            results = _run_tasks(client, cluster, tasks, tick)
            for _ in range(3):  # the label widths a single run reaches, in every partition
                widest = _widest(results)
                redo = [i for i, r in enumerate(results) if r.widths != widest]
                if not redo:
                    break
                for i in redo:
                    tasks[i] = replace(tasks[i], min_width=widest)
                for i, result in zip(redo, _run_tasks(client, cluster, [tasks[i] for i in redo],
                                                      tick), strict=True):  # fmt: skip
                    results[i] = result
        judged = _merged(results, tasks, parts, members, standards, languages, results_path,
                         work)  # fmt: skip
        if cluster.graphs == "extract":
            judged.snaps = _gathered_snaps(results, tasks, parts, len(members), len(providers),
                                           settings.max_snap_meters)  # fmt: skip
        return judged


@contextlib.contextmanager
def _work_folder(work_dir: str | None, beside: Path | None):
    if work_dir is not None:
        folder = Path(work_dir)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix=".adequacy-partitions-", dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_tasks(work, parts, graph, members, providers, member_snap, provider_snap, settings,
                 standards, languages, cluster, buffer, tick, *, source=None,
                 profile=None, source_sha256=None) -> list[PartitionTask]:  # fmt: skip
    """Write the roster once and each partition's graph and members; the tasks. Without
    a graph (``source``: the workers cut their own), no graph and no node is written."""
    roster = work / "providers.parquet"
    _parquet(providers if graph is None else providers.assign(**{NODE: provider_snap.node}),
             roster)  # fmt: skip
    keys = {Engine.key_of(rule, lang) for rule, lang in rule_variants(standards, languages)}
    n_groups = group_counts(providers, keys)  # the whole roster's, in every partition
    tasks = []
    for i, part in enumerate(parts):
        folder = work / f"partition-{part.name}"
        folder.mkdir(exist_ok=True)
        rows = part.member_rows
        if graph is None:
            _parquet(members.iloc[rows], folder / "members.parquet")
        else:
            clipped, full_node = clip_graph(graph, part.bbox, buffer_meters=buffer)
            clipped.meta["contracted"] = contracted(graph)  # searched as the source graph is
            clipped.save(folder / "graph.npz", contraction=False)  # workers build their own
            np.save(folder / "full_node.npy", full_node)
            del clipped
            _parquet(members.iloc[rows].assign(**{NODE: member_snap.node[rows]}),
                     folder / "members.parquet")  # fmt: skip
        tasks.append(
            PartitionTask(
                name=part.name,
                folder=str(folder),
                providers_path=str(roster),
                settings=settings,
                standards=standards,
                languages=tuple(languages),
                max_snap_meters=settings.max_snap_meters,
                threads=cluster.threads_per_worker,
                n_groups=n_groups,
                source=source,
                source_sha256=source_sha256,
                profile=profile,
            )
        )
        tick("writing partitions", i + 1, len(parts))
    return tasks


def _parquet(table: pd.DataFrame, path: Path) -> None:
    plain_table(table).to_parquet(path, index=False)


def plain_table(table: pd.DataFrame) -> pd.DataFrame:
    """Members or providers as a partition's Parquet file holds them: lon/lat columns,
    no geometry, a fresh index."""
    table = table.reset_index(drop=True)
    if "geometry" in table.columns:
        table = pd.DataFrame(table.drop(columns="geometry"))
    return table


@contextlib.contextmanager
def _client(cluster: Cluster):
    """A Dask client: of the scheduler given, or of an embedded LocalCluster."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if cluster.scheduler:
            client = stack.enter_context(Client(cluster.scheduler))
        else:
            local = stack.enter_context(
                LocalCluster(
                    n_workers=cluster.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=0,
                )
            )
            client = stack.enter_context(Client(local))
        yield client


def _widest(results: list[PartitionResult]) -> dict:
    widest: dict = {}
    for result in results:
        for job, k in result.widths.items():
            widest[job] = max(widest.get(job, 0), k)
    return widest


def _run_tasks(client, cluster: Cluster, tasks: list, tick, function=None) -> list:
    """Run every task once, and once more if it fails; the results in task order.
    ``function`` runs a task (default the cluster's: a partition's member pass)."""
    function = function or cluster.task
    from distributed import as_completed

    by_key, futures = {}, []
    for task in tasks:
        future = client.submit(function, task, key=_key(task, 1), pure=False)
        by_key[future.key] = (task, 1)
        futures.append(future)
    results: dict[str, PartitionResult] = {}
    tick("partitions", 0, len(tasks))
    pending = as_completed(futures)
    for future in pending:
        task, attempt = by_key[future.key]
        if future.status == "finished":
            results[task.name] = future.result()
            tick("partitions", len(results), len(tasks))
            continue
        error = future.exception()
        if attempt >= 2:
            client.cancel([f for f in pending.futures if f is not future])
            raise PartitionFailed(
                f"partition {task.name} failed twice ({_first_line(error)}); nothing "
                f"was written: fix the cause and run again (its inputs: {task.folder})"
            )
        again = client.submit(function, task, key=_key(task, 2), pure=False)
        by_key[again.key] = (task, 2)
        pending.add(again)
    return [results[t.name] for t in tasks]


def _key(task: PartitionTask, attempt: int) -> str:
    return f"adequacy-partition-{task.name}-attempt-{attempt}-{uuid.uuid4().hex[:12]}"


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _merged(results, tasks, parts: list[Partition], members, standards, languages,
            results_path, work) -> MemberPass:  # fmt: skip
    """Add the partitions' tallies and served counties; append their member results."""
    tally, served, unrouted = Tally(), [], 0
    for result in results:
        tally.add(result.tally)
        unrouted += result.unrouted
        if result.served is not None:
            served.append(result.served)
    served_table = None
    if any(r.counties for r in standards.rules):
        served_table = served_union(served)
    state = MemberState.of(members)
    variants = rule_variants(standards, languages)
    out_path = Path(results_path) if results_path is not None else work / "members.parquet"
    file = ResultsFile(out_path)
    rows: dict[tuple[str, str], list[np.ndarray]] = {}
    with discarded_on_error(file):  # a merge that fails leaves no results file
        for result, task, part in zip(results, tasks, parts, strict=True):
            file.append(ResultsFile.opened(task.path("results.parquet"), result.row_groups))
            local = MemberState.of(members.iloc[part.member_rows])
            for rule, lang in variants:
                key = (rule.id, lang or "")
                local_rows = local.rows_of(lang, len(part.member_rows))
                rows.setdefault(key, []).append(part.member_rows[local_rows])
        file.close()
    blocks = {key: (None, np.concatenate(parts_) if parts_ else np.zeros(0, np.int64))
              for key, parts_ in rows.items()}  # fmt: skip
    judged = MemberPass(
        tally=tally,
        served=served_table,
        searches={},
        state=state,
        unrouted=unrouted,
        blocks=blocks,
        results_file=file,
        county=member_counties(members),
        chunks=len(parts),
        partitions=results,
    )
    if results_path is None:  # the Python API without a results file: all in memory
        judged.results = _in_memory(judged, variants)
        judged.results_file = None
    return judged


def _gathered_snaps(
    results, tasks, parts, n_members: int, n_providers: int, max_snap_meters: float
) -> tuple[Snap, Snap]:
    """The snapping legs the partitions found: every member's (from its partition's
    ``snaps.parquet``), and every roster site's that some partition placed (NaN, not
    off road, for a site no partition's roads reach). No node: there is no whole graph."""
    meters, off_road = np.full(n_members, np.nan), np.zeros(n_members, dtype=bool)
    for task, part in zip(tasks, parts, strict=True):
        legs = pd.read_parquet(task.path("snaps.parquet"))
        meters[part.member_rows] = legs["snap_meters"].to_numpy()
        off_road[part.member_rows] = legs["off_road"].to_numpy(dtype=bool)
    site_meters, site_off = np.full(n_providers, np.nan), np.zeros(n_providers, dtype=bool)
    for result in results:
        site_meters[result.provider_rows] = result.provider_meters
        site_off[result.provider_rows] = result.provider_off_road
    none = np.full(n_members, -1, dtype=np.int64)
    return (
        Snap(none, meters, off_road, max_snap_meters),
        Snap(np.full(n_providers, -1, dtype=np.int64), site_meters, site_off, max_snap_meters),
    )


def _in_memory(judged: MemberPass, variants) -> pd.DataFrame:
    """The merged results as one table in block order (``blocks`` get their starts)."""
    frames, start = [], 0
    for rule, lang in variants:
        key = (rule.id, lang or "")
        frame = judged.results_file.read(*key)
        frames.append(frame)
        judged.blocks[key] = (start, judged.blocks[key][1])
        start += len(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
