"""The deficiency workpaper of a run whose partitions cut their own graphs.

The workpaper (:func:`adequacy.findings.deficiencies`) and the candidates for
members outside the service area (:func:`adequacy.findings.outside_candidates`)
route from members to providers over the road graph, which a run with
``graphs="extract"`` never loads. :func:`partitioned_findings` makes them on the
workers, as a second round of tasks once the summaries say which counties fail:

1. the members of the failing counties are grouped in whole counties
   (:func:`~adequacy.distributed.partitions.make_partitions`, ``county``), and the
   members outside every county in cells of a grid; each group is a task;
2. a task's folder gets its members and their results of the failing rules; the
   roster, the out-of-network supply, the served counties, the county polygons
   and the summaries are written once for all;
3. a worker cuts the group's graph from the file and snaps its members to it
   (:func:`~adequacy.distributed.clip_snap.partition_graph`, which also proves
   every roster and supply site near them), and marks the clip so that a later
   snap onto it answers "not here" for a point it cannot prove
   (``meta["exact_snaps"]``); then runs the workpaper for its counties (or the
   candidates for its outside members) on an evaluation of the group alone;
4. the coordinator puts the tables together in the order one run writes them:
   counties in the failing rows' order, members by rule and then roster order.

Why the tables equal one run's: a county's rows read only its own members, the
providers and sites within the rules' limits or the report horizon of them (all
proved onto the clip, each at the node the whole graph gives it; a site the clip
cannot place is out of every member's reach there, and is neither searched nor
picked), the whole run's summaries (the verdicts, the failing counties named in
a note) and the whole roster (counts of providers and candidates). Recruitment's
road-node candidates are named by the node's own id, the same on any clip.

Owns: ``partitioned_findings``, ``FindingsTask``, ``run_findings``. Uses: the
findings, the partitions, the clip-and-snap of a partition and the coordinator's
task runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.distributed.clip_snap import partition_graph
from adequacy.distributed.partitions import leg_reach_meters, make_partitions, reach_meters
from adequacy.distributed.run import Cluster, _client, _run_tasks, _work_folder, plain_table
from adequacy.engine.appointments import DEFAULT_APPOINTMENT_STANDARDS
from adequacy.engine.engine import MemberState, Progress
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.findings import deficiencies, outside_candidates
from adequacy.findings.deficiencies import (
    COUNTY_COLUMNS,
    MEMBER_COLUMNS,
    PICK_COLUMNS,
    PROVIDER_COLUMNS,
    Deficiencies,
    failing_rows,
)
from adequacy.findings.outside import COUNTY_COLUMNS as OUTSIDE_COUNTY_COLUMNS
from adequacy.findings.outside import MEMBER_COLUMNS as OUTSIDE_MEMBER_COLUMNS
from adequacy.inputs.schemas import read_providers
from adequacy.routing import snap_points

#: the member results the workpaper and recruitment read
RESULT_COLUMNS = ["member_id", "county_fips", "in_service_area", "meets", "miles", "minutes",
                  "n_qualifying"]  # fmt: skip
_RULE, _LANGUAGE, _ROW = "_rule", "_language", "_row"
#: the outside candidates' tables, by their run-folder names
OUTSIDE = ("outside_candidates", "outside_by_county")


@dataclass(frozen=True)
class FindingsTask:
    """One group of members whose findings a worker makes."""

    name: str
    folder: str  # members.parquet, results/*.parquet in; <table>.pkl out
    shared: str  # providers.parquet, supply.parquet, context.pkl
    source: str
    source_sha256: str
    settings: Settings
    standards: StandardsSet
    counties: tuple[str, ...]  # failing counties whose workpaper rows it makes
    outside: bool  # its members live outside the service area
    supply: bool
    profile: str | None = None
    cache_dir: str | None = None

    def path(self, name: str) -> Path:
        return Path(self.folder) / name


def partitioned_findings(
    ev: Evaluation,
    cluster: Cluster,
    *,
    supply: Any = None,
    beside: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[Deficiencies, pd.DataFrame, pd.DataFrame]:
    """``deficiencies(ev, supply=supply)`` and ``outside_candidates(ev, supply=supply)``
    of a run whose partitions cut their own graphs, made on the cluster's workers (see
    the module docstring): the workpaper, the outside candidates and their counties."""
    tick = progress or (lambda step, done, total: None)
    failing = failing_rows(ev)
    members = ev.members
    inside = members["in_service_area"].to_numpy(dtype=bool)
    failing_counties = set(failing["county_fips"].astype(str))
    in_failing = inside & members["county_fips"].astype(str).isin(failing_counties).to_numpy()
    groups = _groups(members, np.flatnonzero(in_failing), "county", cluster, "")
    groups += _groups(members, np.flatnonzero(~inside), "grid", cluster, "outside-")
    if not groups:
        return _empty_findings()
    with _work_folder(cluster.work_dir, Path(beside) if beside else None) as work:
        tick("writing findings tasks", 0, len(groups))
        tasks = _write(work, ev, cluster, groups, failing, supply)
        with _client(cluster) as client:
            done = _run_tasks(client, cluster, tasks, tick, function=run_findings)
        return _merged(ev, failing, tasks, done)


def _groups(members, rows: np.ndarray, by: str, cluster: Cluster, prefix: str):
    if not len(rows):
        return []
    count = cluster.partitions or cluster.workers
    subset = members.iloc[rows]
    parts = make_partitions(subset, subset["lon"].to_numpy(), subset["lat"].to_numpy(), by=by,
                            n_partitions=count)  # fmt: skip
    return [(prefix + part.name, rows[part.member_rows], by == "grid") for part in parts]


def _write(work: Path, ev: Evaluation, cluster: Cluster, groups, failing, supply):
    shared = work / "findings"
    shared.mkdir(exist_ok=True)
    plain_table(ev.providers).to_parquet(shared / "providers.parquet", index=False)
    if supply is not None:  # read once; out_of_network drops the plan's own ids on a worker
        table = read_providers(supply, extra_types=ev.standards.provider_types)
        plain_table(table).to_parquet(shared / "supply.parquet", index=False)
    pd.to_pickle(
        {
            "county_summary": ev.county_summary,
            "language_summary": ev.language_summary,
            "served": ev.served,
            "regions": ev.regions,
            "appointment_standards": ev.appointment_standards,
        },
        shared / "context.pkl",
    )
    folders = [work / f"findings-{name}" for name, _, _ in groups]
    indexes = [pd.Index(rows) for _, rows, _ in groups]  # member row -> place in its group
    for folder in folders:
        (folder / "results").mkdir(parents=True, exist_ok=True)
    # the failing rules' results, one rule (and language) read at a time, each group's
    # rows to its own file
    for k, key in enumerate(dict.fromkeys(zip(failing["rule"], failing["language"], strict=True))):
        block_rows, res = ev.blocks[key][1], ev.block_results(*key, RESULT_COLUMNS)
        for folder, index, (_, _, outside) in zip(folders, indexes, groups, strict=True):
            local = index.get_indexer(block_rows)
            hit = local >= 0
            if outside or not hit.any():
                continue
            part = res[hit].assign(**{_RULE: key[0], _LANGUAGE: key[1], _ROW: local[hit]})
            part["member_id"] = part["member_id"].astype(str)  # only the group's ids
            part.reset_index(drop=True).to_parquet(folder / "results" / f"{k:05d}.parquet")
    tasks = []
    for folder, (name, rows, outside) in zip(folders, groups, strict=True):
        table = plain_table(ev.members.iloc[rows])
        table.to_parquet(folder / "members.parquet", index=False)
        counties = sorted(set(table["county_fips"].astype(str))) if not outside else []
        tasks.append(
            FindingsTask(
                name=name,
                folder=str(folder),
                shared=str(shared),
                source=str(ev.network_meta["path"]),
                source_sha256=str(ev.network_meta["source_sha256"]),
                settings=ev.settings,
                standards=ev.standards,
                counties=tuple(counties),
                outside=outside,
                supply=supply is not None,
                profile=cluster.profile,
            )
        )
    return tasks


def run_findings(task: FindingsTask) -> dict[str, str]:
    """Make one group's findings on a graph cut for it; the tables' files by name."""
    shared = Path(task.shared)
    members = pd.read_parquet(task.path("members.parquet"))
    roster = pd.read_parquet(shared / "providers.parquet")
    supply = pd.read_parquet(shared / "supply.parquet") if task.supply else None
    context = pd.read_pickle(shared / "context.pkl")
    sites = roster[["lon", "lat"]].to_numpy()
    if supply is not None:
        sites = np.vstack([sites, supply[["lon", "lat"]].to_numpy()])
    part = partition_graph(
        task.source,
        members[["lon", "lat"]].to_numpy(),
        sites,
        reach=lambda speed: reach_meters(task.standards, task.settings, speed),
        leg_reach_meters=leg_reach_meters(task.standards, task.settings),
        max_snap_meters=task.settings.max_snap_meters,
        profile=task.profile,
        cache_dir=task.cache_dir,
        source_sha256=task.source_sha256,
        member_ids=members["member_id"].to_numpy(),
    )
    graph = part.graph
    graph.meta["exact_snaps"] = {"bbox": list(part.bbox), "meters": part.width_meters}
    provider_snap = snap_points(graph, roster[["lon", "lat"]].to_numpy(),
                                max_snap_meters=task.settings.max_snap_meters)  # fmt: skip
    results, blocks = _results(task)
    ev = Evaluation(
        members=members,
        providers=roster,
        standards=task.standards,
        member_results=results,
        county_summary=context["county_summary"],
        service_area_summary=pd.DataFrame(),
        language_summary=context["language_summary"],
        prevalent_languages=pd.DataFrame(),
        panel_findings=pd.DataFrame(),
        plan_summary=pd.DataFrame(),
        high_volume_specialists=pd.DataFrame(),
        outside_service_area=pd.DataFrame(),
        appointment_compliance=pd.DataFrame(),
        appointment_standards=context.get("appointment_standards", DEFAULT_APPOINTMENT_STANDARDS),
        regions=context["regions"],
        graph=graph,
        settings=task.settings,
        member_snap=part.member_snap,
        provider_snap=provider_snap,
        blocks=blocks,
        member_state=MemberState.of(members),
        served=context["served"],
    )
    if task.outside:
        tables = dict(zip(OUTSIDE, outside_candidates(ev, supply=supply), strict=True))
    else:
        tables = deficiencies(ev, supply=supply, counties=task.counties).tables()
    out = {}
    for name, table in tables.items():
        out[name] = str(task.path(f"{name}.pkl"))
        table.to_pickle(out[name])
    return out


def _results(task: FindingsTask):
    """The group's member results as one table, and its blocks (rule, language) ->
    (first row, member rows)."""
    parts = sorted(task.path("results").glob("*.parquet"))
    if not parts:
        return pd.DataFrame(columns=RESULT_COLUMNS), {}
    frames, blocks, start = [], {}, 0
    for path in parts:  # one rule (and language) each
        frame = pd.read_parquet(path)
        key = (str(frame[_RULE].iat[0]), str(frame[_LANGUAGE].iat[0]))
        blocks[key] = (start, frame[_ROW].to_numpy(dtype=np.int64))
        start += len(frame)
        frames.append(frame.drop(columns=[_RULE, _LANGUAGE, _ROW]))
    return pd.concat(frames, ignore_index=True), blocks


def _merged(ev: Evaluation, failing: pd.DataFrame, tasks, done):
    """The tasks' tables in the order one run writes them."""
    position = {key: i for i, key in enumerate(zip(failing["rule"], failing["language"],
                                                   failing["county_fips"].astype(str),
                                                   strict=True))}  # fmt: skip
    block = {key: i for i, key in enumerate(dict.fromkeys((r, lang) for r, lang, _ in position))}
    row_of = pd.Index(ev.members["member_id"].astype(str))

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        frames = [pd.read_pickle(files[name]) for files in done if name in files]
        frames = [f for f in frames if len(f)]
        return (
            pd.concat(frames, ignore_index=True)[columns]
            if frames
            else pd.DataFrame(columns=columns)
        )

    def by_county(table: pd.DataFrame) -> pd.DataFrame:
        keys = zip(table["rule"], table["language"], table["county_fips"].astype(str), strict=True)
        return _sorted(table, [position[k] for k in keys])

    counties = by_county(read("deficiencies", COUNTY_COLUMNS))
    # one run makes this table from all rows at once: its columns' types are inferred
    # over every county (a minimum given in one group and not in another is float)
    counties = pd.DataFrame(counties.to_dict("records"), columns=COUNTY_COLUMNS)
    members = read("deficient_members", MEMBER_COLUMNS)
    members = _sorted(members, [block[k] for k in zip(members["rule"], members["language"],
                                                       strict=True)],
                      row_of.get_indexer(members["member_id"].astype(str)))  # fmt: skip
    found = Deficiencies(
        counties,
        members,
        by_county(read("recruitment_picks", PICK_COLUMNS)),
        by_county(read("exception_providers", PROVIDER_COLUMNS)),
    )
    types = {t: i for i, t in enumerate(dict.fromkeys(r.provider_type for r in ev.standards.rules))}
    outside = read("outside_candidates", OUTSIDE_MEMBER_COLUMNS)
    outside = _sorted(outside, outside["provider_type"].map(types).to_numpy(),
                      row_of.get_indexer(outside["member_id"].astype(str)))  # fmt: skip
    where = read("outside_by_county", OUTSIDE_COUNTY_COLUMNS)
    if len(where):
        where = (
            where.groupby(["residence_county_fips", "residence_county"], sort=True)["members"]
            .sum()
            .reset_index()
            .sort_values(["members", "residence_county_fips"], ascending=[False, True])
            .reset_index(drop=True)
        )[OUTSIDE_COUNTY_COLUMNS]
    return found, outside, where


def _sorted(table: pd.DataFrame, *keys) -> pd.DataFrame:
    if not len(table):
        return table
    order = np.lexsort([np.asarray(k) for k in reversed(keys)])
    return table.iloc[order].reset_index(drop=True)


def _empty_findings():
    found = Deficiencies(
        pd.DataFrame(columns=COUNTY_COLUMNS),
        pd.DataFrame(columns=MEMBER_COLUMNS),
        pd.DataFrame(columns=PICK_COLUMNS),
        pd.DataFrame(columns=PROVIDER_COLUMNS),
    )
    return (found, pd.DataFrame(columns=OUTSIDE_MEMBER_COLUMNS),
            pd.DataFrame(columns=OUTSIDE_COUNTY_COLUMNS))  # fmt: skip
