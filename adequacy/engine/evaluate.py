"""Evaluate a provider network against a standards set.

``evaluate(members, providers, graph, standards)`` runs the pipeline of
DESIGN.md: validate the inputs, place members in counties, snap members and
providers to the road graph once, run one k-nearest search per (provider
type, specialty, language, metric) — never one per member — and derive:

- ``member_results``: per member and rule (and language), the road distance in
  miles and time in minutes to the k-th nearest provider of the rule's type,
  how many providers qualify (up to the label cap), whether the rule is met,
  and the ids of the nearest providers;
- ``county_summary`` and ``service_area_summary``: members, share meeting,
  pass/fail against the threshold, providers, members per provider and the
  ratio's pass/fail;
- ``language_summary``: the same over language-concordant providers and the
  members who speak each prevalent language;
- ``panel_findings``, ``high_volume_specialists`` and the members outside every
  region (``outside_service_area``), reported apart, never dropped.

Distances are meters on the graph and reported in miles; times are seconds
and reported in minutes. A distance or time beyond the search horizon
(``max_report_miles``/``max_report_minutes``, or the rule's own limit if
larger) is reported as infinity.

Owns: ``evaluate`` and ``Evaluation``. Uses: :mod:`adequacy.inputs` (reading
and validating the tables), :mod:`adequacy.network` and
:mod:`adequacy.routing` (graph and snapping), and the rest of the engine.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.ahead import SearchesAhead
from adequacy.engine.appointments import (
    DEFAULT_APPOINTMENT_STANDARDS,
    AppointmentStandards,
    appointment_compliance,
    load_appointment_standards,
)
from adequacy.engine.appointments import OUTPUT_COLUMNS as APPOINTMENT_COLUMNS
from adequacy.engine.cms_ma import CMS_PROVIDER_TYPE, cms_ma_standards, is_recipe
from adequacy.engine.engine import MemberState, Progress, SearchKey
from adequacy.engine.judge import OUTSIDE, county_of
from adequacy.engine.panels import panel_findings
from adequacy.engine.passes import judge_members
from adequacy.engine.reach import served_counts
from adequacy.engine.results_file import ResultsFile
from adequacy.engine.search import Search
from adequacy.engine.settings import Settings
from adequacy.engine.standards import DEFAULT_STANDARDS, StandardsSet, load_standards
from adequacy.engine.summaries import plan_summary_tally, summarise_tally
from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.inputs.cms_specialties import cms_codes
from adequacy.inputs.languages import prevalent_languages
from adequacy.inputs.regions import classify_regions, read_regions
from adequacy.inputs.schemas import (
    read_census_languages,
    read_claims,
    read_members,
    read_providers,
)
from adequacy.inputs.surveys import read_survey
from adequacy.inputs.tables import row_names
from adequacy.network import RoadGraph, load_road_graph
from adequacy.network.extracts import file_box
from adequacy.network.load import BUILDER_VERSION, OSM_SUFFIXES
from adequacy.network.speeds import DEFAULT_OSM_PROFILE, get_profile
from adequacy.routing import Snap, snap_points
from adequacy.routing.snap import check_extent, prepare_snapping


@dataclass
class Evaluation:
    """Everything one evaluation produced; see the module docstring.

    ``settings`` are the :class:`Settings` it ran with; ``language_basis`` says
    whether prevalent languages came from a Census table or from the members.
    The fields after ``notes`` are the engine's state, kept for what-if.
    """

    members: pd.DataFrame
    providers: pd.DataFrame
    standards: StandardsSet
    member_results: pd.DataFrame | None
    county_summary: pd.DataFrame
    service_area_summary: pd.DataFrame
    language_summary: pd.DataFrame
    prevalent_languages: pd.DataFrame
    panel_findings: pd.DataFrame
    plan_summary: pd.DataFrame
    high_volume_specialists: pd.DataFrame
    outside_service_area: pd.DataFrame
    appointment_compliance: pd.DataFrame
    appointment_standards: AppointmentStandards
    regions: Any
    graph: RoadGraph | None  # None when partitions cut their own graphs (graphs="extract")
    settings: Settings
    language_basis: str = "members"
    notes: list[str] = field(default_factory=list)
    #: notes that name rows by ID and line (never written to a report)
    warnings: list[str] = field(default_factory=list)
    searches: dict[tuple[SearchKey, str], Search] = field(default_factory=dict, repr=False)
    member_snap: Snap | None = field(default=None, repr=False)
    provider_snap: Snap | None = field(default=None, repr=False)
    #: (rule id, language or "") -> (first row in member_results, member rows)
    blocks: dict[tuple[str, str], tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)
    #: member-side arrays of the engine, shared with what-if updates
    member_state: MemberState | None = field(default=None, repr=False)
    #: the standards as loaded, before rules were expanded per specialty and period
    standards_source: StandardsSet | None = field(default=None, repr=False)
    #: rules with terms per county: each provider site x county it serves (the reach
    #: rule of 42 CFR 422.116(a)(2)(i); :mod:`adequacy.engine.reach`)
    served: pd.DataFrame | None = field(default=None, repr=False)
    #: the member results on disk (``evaluate(results_path=...)``), or None
    results_file: ResultsFile | None = field(default=None, repr=False)
    #: a partitioned run's partitions: name, members, graph nodes, seconds, peak memory
    #: (:class:`adequacy.distributed.worker.PartitionResult`)
    partitions: list = field(default_factory=list, repr=False)
    #: the road network's description when no graph was loaded (``graphs="extract"``)
    extract_meta: dict | None = field(default=None, repr=False)

    @property
    def network_meta(self) -> dict:
        """What is known of the road network: the graph's ``meta``, or, when the
        partitions cut their own graphs, the OpenStreetMap file's description."""
        return self.graph.meta if self.graph is not None else dict(self.extract_meta or {})

    def require_graph(self, what: str) -> RoadGraph:
        """The road graph, or one line saying why ``what`` cannot run without it."""
        if self.graph is None:
            raise InputError(
                f"{what} needs the road graph, and this run never loaded it (its partitions "
                "cut their own graphs from the OpenStreetMap file): run with "
                "--partition-graphs clip, or on the counties in question alone"
            )
        return self.graph

    def block_results(
        self, rule_id: str, language: str = "", columns: list[str] | None = None
    ) -> pd.DataFrame:
        """One (rule, language)'s member results, in the order of its member rows
        (``blocks[(rule_id, language)][1]``), from memory or from the results file."""
        if self.member_results is None:
            assert self.results_file is not None
            return self.results_file.read(rule_id, language, columns)
        start, rows = self.blocks[(rule_id, language)]
        table = self.member_results if columns is None else self.member_results[columns]
        return table.iloc[start : start + len(rows)]

    @property
    def synthetic(self) -> bool:
        """Whether any input row is synthetic (marked on every output)."""
        return bool(self.members["synthetic"].any() or self.providers["synthetic"].any())

    def manifest_settings(self) -> dict[str, Any]:
        """The settings as the run folder's manifest records them."""
        return {**self.settings.to_dict(), "language_basis": self.language_basis}


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def evaluate(
    members: Any,
    providers: Any,
    graph: RoadGraph | Any,
    standards: Any = DEFAULT_STANDARDS,
    *,
    claims: Any = None,
    regions: Any = None,
    census_languages: Any = None,
    survey: Any = None,
    appointment_standards: Any = DEFAULT_APPOINTMENT_STANDARDS,
    settings: Settings | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    hsd_reference: Any = None,
    cms_crosswalk: Any = None,
    results_path: str | os.PathLike | None = None,
    cluster: Any = None,
    **overrides: Any,
) -> Evaluation:
    """Evaluate members' access to providers against a standards set.

    Parameters
    ----------
    members, providers
        Paths (CSV, Parquet, GeoParquet, GeoPackage) or DataFrames; see
        :func:`adequacy.inputs.schemas.read_members` and ``read_providers``.
    graph
        A :class:`RoadGraph` or anything :func:`load_road_graph` accepts.
    standards
        A built-in set name, a YAML path or a :class:`StandardsSet`.
    claims
        Claims by specialty; the top specialties by claims are the
        high-volume specialists. Without claims, rules on high-volume
        specialists are not evaluated, and a note says so.
    regions
        County polygons (path or GeoDataFrame). Members without
        ``county_fips`` are placed by spatial join; members outside every
        region are reported separately.
    census_languages
        Census table of speakers per county and language (prevalent at
        ``min_census_speakers``); without it, languages spoken by at least
        ``min_language_members`` members of a county are evaluated.
    survey, appointment_standards
        Appointment-availability survey answers (path or frame; see
        :func:`adequacy.inputs.surveys.read_survey`) and the wait-time standards
        they are judged by (see :mod:`adequacy.engine.appointments`). Without a
        survey, ``appointment_compliance`` is empty.
    settings
        A :class:`Settings` (quarter, count cap, report horizon, snapping,
        language thresholds); default ``Settings()``.
    workers
        Threads for the searches (default: the number of CPUs).
    progress
        Called as ``progress(step, done, total)``.
    hsd_reference, cms_crosswalk
        For standards built from CMS's HSD Reference File (``cms-ma``): another
        year's file (default: the bundled CY2026 one), and a crosswalk from
        NPPES taxonomy codes to CMS specialty codes (``taxonomy``,
        ``cms_specialty_code``) for rosters without ``cms_specialty_code``.
    results_path
        Write the member results to this Parquet file as they are made, chunk by
        chunk (``Settings.chunk_members``), instead of holding them in memory:
        ``member_results`` is then None and :meth:`Evaluation.block_results` reads
        a rule's rows back. How a run folder's ``members.parquet`` is written.
    cluster
        A :class:`adequacy.distributed.Cluster`: judge the members partition by
        partition on Dask workers (an embedded ``LocalCluster``, or an existing
        scheduler); results equal a single-machine run's. The searches stay on
        the workers, so such an evaluation's ``searches`` are empty.
    **overrides
        Any :class:`Settings` field by name, e.g. ``quarter=3`` or
        ``count_cap=4``, applied on top of ``settings``.
    """
    settings = (settings or Settings()).replace(**overrides)
    tick = progress or (lambda step, done, total: None)
    if isinstance(graph, RoadGraph):  # its snapping index is built while inputs are read
        prepare_snapping(graph)
    standards = load_standards(standards)
    if settings.distance_basis is None:  # the standards' basis, recorded with the run
        settings = settings.replace(distance_basis=standards.distance_basis)
    tick("reading inputs", 0, 1)
    # the searches of the rules over all members need no member: with the road graph at
    # hand they begin on a background thread as soon as the providers are read, while
    # the members are read, placed and snapped (not for Medicare Advantage, whose rules
    # are built from the members' counties). Problems are still reported members first.
    cms = is_recipe(standards) or any(r.provider_type == CMS_PROVIDER_TYPE for r in standards.rules)
    threads = workers or os.cpu_count() or 1  # one asked for: no thread beside it
    early = (isinstance(graph, RoadGraph) and cluster is None and not cms
             and settings.distance_basis != "straight_line" and threads > 1)  # fmt: skip
    ahead = provider_snap = expanded = starting = None
    rule_notes: list[str] = []  # the rules' notes, kept in their place after the inputs'
    try:
        # a problem found early is raised where it would have been, after the members'
        failed: dict[str, InputError] = {}
        if early:
            try:
                providers = read_providers(providers, extra_types=standards.provider_types)
                claims_table = read_claims(claims) if claims is not None else None
            except InputError as error:
                failed["reading"] = error
            else:
                try:
                    expanded, hv_table = _which_rules(
                        providers, claims_table, standards, settings, rule_notes
                    )
                except InputError as error:
                    failed["rules"] = error
                else:  # snapped (once the snapping index is built) while members are read
                    starting = _start_ahead(graph, providers, settings, expanded)
        members = read_members(members)
        if "reading" in failed:
            raise failed["reading"]
        if starting is not None:
            try:
                provider_snap, ahead = starting.result()
            except InputError as error:
                failed["rules"] = error
            starting = None
        if not early:
            providers = read_providers(providers, extra_types=standards.provider_types)
            claims_table = read_claims(claims) if claims is not None else None
        survey_table = read_survey(survey) if survey is not None else None
        appointment_std = load_appointment_standards(appointment_standards)
        census = read_census_languages(census_languages) if census_languages is not None else None
        extract = cluster is not None and cluster.graphs == "extract"
        extract_meta = None
        if extract:  # no graph: each partition cuts its own from the file
            extract_meta = _extract_source(graph, cluster, settings, standards)
            graph = None
        elif not isinstance(graph, RoadGraph):
            tick("loading road graph", 0, 1)
            graph = load_road_graph(graph)
            prepare_snapping(graph)
        notes: list[str] = []
        warnings: list[str] = []
        # without a graph, the file header's box (members far from every road fail later)
        extent = graph if not extract else file_box(extract_meta["path"])
        for table, what, id_column in ((members, "members", "member_id"),
                                       (providers, "providers", "provider_id")):  # fmt: skip
            if extent is None:
                break
            label = str(table.attrs.get("source") or what)
            note = check_extent(
                extent,
                table["lon"].to_numpy(),
                table["lat"].to_numpy(),
                what=what,
                label=label,
                names=lambda rows, t=table, c=id_column: row_names(t, c, rows),
                refuse_most=what == "members",
            )
            if note:  # the run's notes count them, by the file's name (the manifest, report)
                notes.append(Path(label).name + note[0].removeprefix(label))
                warnings.append(note[1])  # named by ID and line: for the terminal only
        if "rules" in failed:
            raise failed["rules"]
        notes += rule_notes
        if not cms and expanded is None:
            expanded, hv_table = _which_rules(providers, claims_table, standards, settings, notes)
            if cluster is None and settings.distance_basis != "straight_line" and threads > 1:
                provider_snap, ahead = _begin_searches(graph, providers, settings, expanded)

        # ---- regions: county and class of every member and provider
        region_table = read_regions(regions) if regions is not None else None
        members, providers = _place(members, providers, region_table, standards)
        if (members["county_fips"] == OUTSIDE).all():
            raise InputError(
                "no member is inside the service area: give regions (county polygons) "
                "or a county_fips column on the members"
            )

        # ---- Medicare Advantage: rules built for this service area from the reference file
        if cms:
            codes, code_notes = cms_codes(providers, crosswalk=cms_crosswalk)
            providers = providers.assign(cms_code=codes.to_numpy())
            notes += code_notes
        if is_recipe(standards):
            standards, built_notes = cms_ma_standards(
                standards,
                regions=region_table,
                members=members,
                providers=providers,
                hsd_reference=hsd_reference,
            )
            notes += built_notes

        if cms:  # the rules of the reference file, now built
            expanded, hv_table = _which_rules(providers, claims_table, standards, settings, notes)

        # ---- snapping, once for everyone
        member_snap = None
        if not extract:
            tick("snapping to roads", 0, 1)
            member_snap = _snap(graph, members, "members", "member_id", settings, notes)
            if provider_snap is None:
                provider_snap = _snap(graph, providers, "providers", "provider_id", settings, notes)
            else:  # snapped before the searches ahead: recorded now, in the same order
                _record_snap(providers, provider_snap, "providers", settings, notes)

        # ---- languages
        prevalent = prevalent_languages(
            members,
            census=census,
            counties=list(region_table["fips"]) if region_table is not None else None,
            min_speakers=settings.min_census_speakers,
            min_members=settings.min_language_members,
        )
        languages = sorted(prevalent["language"].unique())

        if cluster is not None:  # partitions judged on Dask workers (adequacy.distributed)
            from adequacy.distributed.run import judge_partitions

            judged = judge_partitions(
                graph, members, providers, member_snap, provider_snap,
                settings, expanded, languages, cluster, results_path=results_path, progress=tick,
                source=extract_meta["path"] if extract else None, profile=cluster.profile,
                source_sha256=extract_meta["source_sha256"] if extract else None,
            )  # fmt: skip
            if extract:  # the legs the partitions snapped, as a single run records them
                member_snap, provider_snap = judged.snaps
                _record_snap(members, member_snap, "members", settings, notes)
                _record_snap(providers, provider_snap, "providers", settings, notes)
                unplaced = int(np.isnan(provider_snap.meters).sum())
                if unplaced:  # a one-machine run snaps them, to no effect on any result
                    notes.append(
                        f"{unplaced} provider location(s) lie beyond the reach of every "
                        "partition's members and were not snapped (snap_meters empty); they "
                        "change no result, and no off-road count includes them."
                    )
        else:
            judged = judge_members(
                graph,
                members,
                providers,
                member_snap,
                provider_snap,
                settings,
                expanded,
                languages,
                chunk_members=settings.chunk_members,
                results_path=results_path,
                workers=workers or os.cpu_count() or 1,
                progress=tick,
                ahead=ahead,
            )
    finally:  # whatever happened: searches not begun are dropped
        if starting is not None:  # stopped while they were being started
            with contextlib.suppress(Exception):
                ahead = starting.result()[1]
        if ahead is not None:
            ahead.close()
    served = judged.served
    county_rules = [r for r in expanded.rules if r.counties]
    if judged.unrouted:
        notes.append(
            f"{judged.unrouted} fastest routes could not be read off the time labels (equal "
            "times at the last label kept); those providers do not count on miles"
        )
    tick("summarising", 0, 1)
    values = judged.values()
    county, area, outside, language_summary = summarise_tally(
        judged.tally,
        values,
        providers,
        expanded,
        region_table,
        prevalent,
        served=served_counts(served, providers, county_rules) if served is not None else None,
        # a block's medians hold its counties, miles and minutes (20 bytes a member)
        # while they are computed: one block per thread
        threads=workers or os.cpu_count() or 1,
    )
    panel = panel_findings(providers, members)
    plans = plan_summary_tally(judged.tally, expanded, area)
    if survey_table is not None:
        names = (
            dict(zip(region_table["fips"], region_table["name"], strict=True))
            if (region_table is not None)
            else None
        )
        appointments = appointment_compliance(
            survey_table, providers, appointment_std, county_names=names
        )
    else:
        appointments = pd.DataFrame(columns=APPOINTMENT_COLUMNS)
    tick("done", 1, 1)
    return Evaluation(
        members=members,
        providers=providers,
        standards=expanded,
        member_results=judged.results,
        county_summary=county,
        service_area_summary=area,
        language_summary=language_summary,
        prevalent_languages=prevalent,
        panel_findings=panel,
        plan_summary=plans,
        high_volume_specialists=hv_table,
        outside_service_area=outside,
        appointment_compliance=appointments,
        appointment_standards=appointment_std,
        regions=region_table,
        graph=graph,
        settings=settings,
        language_basis="census" if census is not None else "members",
        notes=notes,
        warnings=warnings,
        searches=judged.searches,
        member_snap=member_snap,
        provider_snap=provider_snap,
        blocks=judged.blocks,
        served=served,
        member_state=judged.state,
        results_file=judged.results_file,
        partitions=judged.partitions,
        standards_source=standards,
        extract_meta=extract_meta,
    )


def _begin_searches(graph: RoadGraph, providers: pd.DataFrame, settings: Settings,
                    standards: StandardsSet) -> tuple[Snap, SearchesAhead]:  # fmt: skip
    """The providers snapped (waiting for the snapping index if it is being built) and
    their searches begun on a background thread (:class:`SearchesAhead`)."""
    snap = _snap_points(graph, providers, "providers", "provider_id", settings)
    return snap, SearchesAhead(graph, providers, snap, settings, standards)


def _start_ahead(graph: RoadGraph, providers: pd.DataFrame, settings: Settings,
                 standards: StandardsSet) -> Future:  # fmt: skip
    """:func:`_begin_searches` on a thread of its own, while the members are read; the
    future's result is (provider snap, searches ahead)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="searches-start")
    try:
        return pool.submit(_begin_searches, graph, providers, settings, standards)
    finally:
        pool.shutdown(wait=False)


def _snap(graph, table: pd.DataFrame, what: str, id_column: str, settings: Settings, notes):
    """Snap a table's points, record ``snap_meters``/``off_road`` on it, note off-road rows."""
    snap = _snap_points(graph, table, what, id_column, settings)
    _record_snap(table, snap, what, settings, notes)
    return snap


def _snap_points(graph, table: pd.DataFrame, what: str, id_column: str, settings: Settings):
    """A table's points snapped to the graph (nothing recorded)."""
    return snap_points(
        graph,
        table[["lon", "lat"]].to_numpy(),
        what=what,
        ids=table[id_column].to_numpy(),
        max_snap_meters=settings.max_snap_meters,
    )


def _which_rules(providers, claims, standards: StandardsSet, settings: Settings, notes):
    """The rules evaluated: high-volume specialists chosen from the claims, those in
    force in the settings' quarter. Returns them and the high-volume table."""
    in_network = providers[providers["in_network"]]
    specialties = in_network.loc[in_network["provider_type"] == "specialist", "specialty"]
    hv_table = _high_volume_table(claims, specialties, standards)
    hv_list = hv_table.loc[hv_table["selected"], "specialty"].tolist()
    if claims is None and any(r.specialty == "high_volume" for r in standards.rules):
        notes.append("High-volume specialist rules were not evaluated: no claims were given.")
    expanded = standards.expand(hv_list, specialties[specialties != ""].unique())
    return expanded.for_period(settings.quarter), hv_table


def _record_snap(table: pd.DataFrame, snap: Snap, what: str, settings: Settings, notes) -> None:
    """Record ``snap_meters``/``off_road`` on the table; note its off-road rows."""
    table["snap_meters"] = snap.meters
    table["off_road"] = snap.off_road
    limit = f"{settings.max_snap_meters:g} m"
    if what == "members" and snap.off_road.any():
        notes.append(
            f"{int(snap.off_road.sum())} member(s) are more than {limit} from any road "
            "(likely bad geocodes or outside the road extract); they are flagged "
            "off_road and routed from the nearest road."
        )
    if what == "providers":
        n_off = int(snap.off_road[table["in_network"].to_numpy()].sum())
        if n_off:
            notes.append(
                f"{n_off} in-network provider location(s) are more than {limit} from any road."
            )


def _extract_source(source, cluster, settings: Settings, standards: StandardsSet) -> dict:
    """The OpenStreetMap file partitions cut their graphs from, described as a graph's
    ``meta`` would be; one line when the run cannot be made that way."""
    if isinstance(source, RoadGraph) or not isinstance(source, (str, os.PathLike)):
        raise InputError(
            "partitions that cut their own graphs (graphs='extract') need the path of the "
            "OpenStreetMap file (.osm.pbf), not a loaded road graph"
        )
    path = Path(source)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InputError(
            f"{path}: --partition-graphs extract cuts graphs from an OpenStreetMap file "
            "(.osm.pbf); give one, or use --partition-graphs clip"
        )
    if not path.is_file():
        raise InputError(f"{path}: OpenStreetMap file not found; check the path")
    if (settings.distance_basis or standards.distance_basis) == "straight_line":
        raise InputError(
            "distance_basis straight_line: partitions that cut their own graphs do not "
            "support it yet; use --partition-graphs clip"
        )
    profile = get_profile(cluster.profile) if cluster.profile else DEFAULT_OSM_PROFILE
    return {
        "source": path.name,  # as a loaded graph records it
        "path": str(path.resolve()),  # where every worker reads it
        "source_kind": "osm",
        "source_sha256": file_sha256(path),
        "profile": profile.to_dict(),
        "builder_version": BUILDER_VERSION,
        "partition_graphs": "extract",
    }


# ---------------------------------------------------------------------------
# placing members and providers in regions
# ---------------------------------------------------------------------------
def _place(members, providers, regions, standards):
    members = members.copy()
    providers = providers.copy()
    if regions is None:
        members["in_service_area"] = members["county_fips"] != OUTSIDE
        members["region_class"] = "unknown"
        providers["county_fips"] = OUTSIDE
        return members, providers
    fips = regions["fips"].to_numpy()
    classes = classify_regions(regions, standards.urban_density_per_sq_mi)
    class_of = dict(zip(fips, classes, strict=True))
    missing = members["county_fips"].to_numpy() == OUTSIDE
    if missing.any():
        found = county_of(
            members.loc[missing, "lon"].to_numpy(), members.loc[missing, "lat"].to_numpy(), regions
        )
        members.loc[missing, "county_fips"] = found
    inside = members["county_fips"].isin(set(fips)).to_numpy()
    members.loc[~inside, "county_fips"] = OUTSIDE
    members["in_service_area"] = inside
    members["region_class"] = members["county_fips"].map(class_of).fillna("unknown").to_numpy()
    providers["county_fips"] = county_of(providers["lon"].to_numpy(), providers["lat"].to_numpy(),
                                         regions)  # fmt: skip
    return members, providers


def _high_volume_table(claims, specialties: pd.Series, standards: StandardsSet) -> pd.DataFrame:
    top = max([r.top for r in standards.rules if r.specialty == "high_volume"], default=5)
    in_network = specialties[specialties != ""].value_counts()
    if claims is None:
        return pd.DataFrame(
            {
                "rank": pd.Series(dtype=int),
                "specialty": pd.Series(dtype=str),
                "claim_count": pd.Series(dtype=float),
                "providers_in_network": pd.Series(dtype=int),
                "selected": pd.Series(dtype=bool),
            }
        )
    table = claims.copy()
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["providers_in_network"] = table["specialty"].map(in_network).fillna(0).astype(int)
    table["selected"] = table["rank"] <= top
    return table
