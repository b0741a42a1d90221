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
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from ._chains import chains_of
from .errors import InputError
from .languages import prevalent_languages, speaks
from .network import METERS_PER_MILE, RoadGraph, load_road_graph
from .regions import classify_regions, locate, read_regions
from .routing import (
    DEFAULT_MAX_SNAP_METERS,
    DEFAULT_SNAP_SPEED_MPH,
    NodeLabels,
    Snap,
    k_nearest_labels,
    snap_points,
)
from .schemas import read_census_languages, read_claims, read_members, read_providers
from .standards import DEFAULT_STANDARDS, Rule, StandardsSet, load_standards

SECONDS_PER_MINUTE = 60.0
OUTSIDE = ""  # county code of members outside every region
LIMIT_TOLERANCE = 1e-9  # relative: floating-point sums of edge costs at exactly the limit

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SearchKey:
    """Which providers a search starts from."""

    provider_type: str
    specialty: str | None = None
    language: str | None = None


@dataclass
class Search:
    """Stored k-nearest labels of one (key, metric), kept for what-if updates."""

    key: SearchKey
    metric: str
    rows: np.ndarray  # provider rows (into Evaluation.providers) that are sources
    labels: NodeLabels
    n_providers: int  # distinct provider ids among the sources

    @property
    def complete(self) -> bool:
        """Whether every provider fits in the labels (nothing can be hidden)."""
        return self.labels.k >= self.n_providers


@dataclass
class Evaluation:
    """Everything one evaluation produced; see the module docstring."""

    members: pd.DataFrame
    providers: pd.DataFrame
    standards: StandardsSet
    member_results: pd.DataFrame
    county_summary: pd.DataFrame
    service_area_summary: pd.DataFrame
    language_summary: pd.DataFrame
    prevalent_languages: pd.DataFrame
    panel_findings: pd.DataFrame
    plan_summary: pd.DataFrame
    high_volume_specialists: pd.DataFrame
    outside_service_area: pd.DataFrame
    regions: Any
    graph: RoadGraph
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    searches: dict[tuple[SearchKey, str], Search] = field(default_factory=dict, repr=False)
    member_snap: Snap | None = field(default=None, repr=False)
    provider_snap: Snap | None = field(default=None, repr=False)
    #: (rule id, language or "") -> (first row in member_results, member rows)
    blocks: dict[tuple[str, str], tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)
    #: member-side arrays of the search engine, reused by what-if updates
    member_state: dict = field(default_factory=dict, repr=False)
    #: the standards as loaded, before rules were expanded per specialty and period
    standards_source: StandardsSet | None = field(default=None, repr=False)

    @property
    def synthetic(self) -> bool:
        """Whether any input row is synthetic (marked on every output)."""
        return bool(self.members["synthetic"].any() or self.providers["synthetic"].any())


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
    quarter: int | None = None,
    count_cap: int | None = None,
    min_language_members: int = 50,
    min_census_speakers: int = 10_000,
    max_report_miles: float = 100.0,
    max_report_minutes: float = 120.0,
    max_snap_meters: float = DEFAULT_MAX_SNAP_METERS,
    snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate members' access to providers against a standards set.

    Parameters
    ----------
    members, providers
        Paths (CSV, Parquet, GeoParquet, GeoPackage) or DataFrames; see
        :func:`adequacy.schemas.read_members` and ``read_providers``.
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
    quarter
        Report period quarter (1-4): quarterly rules always, annual rules in
        the set's ``annual_quarter``. None evaluates every rule.
    count_cap
        Providers counted per member and rule (``n_qualifying`` stops there;
        at least the rule's count). Default: the rule's count plus one, which
        tells whether a member who meets a rule has a provider to spare. Each
        extra provider counted makes the searches slower.
    max_report_miles, max_report_minutes
        Search horizon for reporting distances and times beyond a limit.
    max_snap_meters, snap_speed_mph
        Snapping: flag points farther from a road; speed of the leg.
    workers
        Threads for the searches (default: the number of CPUs).
    progress
        Called as ``progress(step, done, total)``.
    """
    tick = progress or (lambda step, done, total: None)
    standards = load_standards(standards)
    tick("reading inputs", 0, 1)
    members = read_members(members)
    providers = read_providers(providers, extra_types=standards.provider_types)
    claims_table = read_claims(claims) if claims is not None else None
    census = read_census_languages(census_languages) if census_languages is not None else None
    if not isinstance(graph, RoadGraph):
        tick("loading road graph", 0, 1)
        graph = load_road_graph(graph)
    notes: list[str] = []

    # ---- regions: county and class of every member and provider
    region_table = read_regions(regions) if regions is not None else None
    members, providers, _ = _place(members, providers, region_table, standards)
    if (members["county_fips"] == OUTSIDE).all():
        raise InputError(
            "no member is inside the service area: give regions (county polygons) "
            "or a county_fips column on the members"
        )

    # ---- which rules: high-volume specialists from claims, period filter
    in_network = providers[providers["in_network"]]
    specialties = in_network.loc[in_network["provider_type"] == "specialist", "specialty"]
    hv_table = _high_volume_table(claims_table, specialties, standards)
    hv_list = hv_table.loc[hv_table["selected"], "specialty"].tolist()
    if claims_table is None and any(r.specialty == "high_volume" for r in standards.rules):
        notes.append("High-volume specialist rules were not evaluated: no claims were given.")
    expanded = standards.expand(hv_list, specialties[specialties != ""].unique())
    expanded = expanded.for_period(quarter)

    # ---- snapping, once for everyone
    tick("snapping to roads", 0, 1)
    member_snap = snap_points(
        graph,
        members[["lon", "lat"]].to_numpy(),
        what="members",
        ids=members["member_id"].to_numpy(),
        max_snap_meters=max_snap_meters,
    )
    provider_snap = snap_points(
        graph,
        providers[["lon", "lat"]].to_numpy(),
        what="providers",
        ids=providers["provider_id"].to_numpy(),
        max_snap_meters=max_snap_meters,
    )
    members["snap_meters"] = member_snap.meters
    members["off_road"] = member_snap.off_road
    providers["snap_meters"] = provider_snap.meters
    providers["off_road"] = provider_snap.off_road
    n_off = int(member_snap.off_road.sum())
    if n_off:
        notes.append(
            f"{n_off} member(s) are more than {max_snap_meters:g} m from any road "
            "(likely bad geocodes or outside the road extract); they are flagged "
            "off_road and routed from the nearest road."
        )
    n_off_p = int(provider_snap.off_road[providers["in_network"].to_numpy()].sum())
    if n_off_p:
        notes.append(
            f"{n_off_p} in-network provider location(s) are more than "
            f"{max_snap_meters:g} m from any road."
        )

    # ---- languages
    prevalent = prevalent_languages(
        members,
        census=census,
        counties=list(region_table["fips"]) if region_table is not None else None,
        min_speakers=min_census_speakers,
        min_members=min_language_members,
    )
    languages = sorted(prevalent["language"].unique())

    settings = {
        "count_cap": count_cap,
        "max_report_miles": max_report_miles,
        "max_report_minutes": max_report_minutes,
        "max_snap_meters": max_snap_meters,
        "snap_speed_mph": snap_speed_mph,
        "quarter": quarter,
        "min_language_members": min_language_members,
        "min_census_speakers": min_census_speakers,
        "language_basis": "census" if census is not None else "members",
    }
    engine = _Engine(
        graph,
        members,
        providers,
        member_snap,
        provider_snap,
        settings,
        workers or os.cpu_count() or 1,
        tick,
    )
    variants = rule_variants(expanded, languages)
    blocks = engine.evaluate_variants(variants)
    tick("summarising", 0, 1)
    results = _member_results(blocks, members, providers)
    block_index, start = {}, 0
    for b in blocks:
        block_index[(b.rule.id, b.language or "")] = (start, b.member_rows)
        start += len(b.member_rows)
    county, area, outside, language_summary = summarise(
        results, members, providers, expanded, region_table, prevalent, blocks=block_index
    )
    panel = panel_findings(providers, members)
    plans = plan_summary(results, members, expanded, block_index)
    tick("done", 1, 1)
    return Evaluation(
        members=members,
        providers=providers,
        standards=expanded,
        member_results=results,
        county_summary=county,
        service_area_summary=area,
        language_summary=language_summary,
        prevalent_languages=prevalent,
        panel_findings=panel,
        plan_summary=plans,
        high_volume_specialists=hv_table,
        outside_service_area=outside,
        regions=region_table,
        graph=graph,
        settings=settings,
        notes=notes,
        searches=engine.searches,
        member_snap=member_snap,
        provider_snap=provider_snap,
        blocks=block_index,
        member_state=engine.member_state,
        standards_source=standards,
    )


def plan_summary(results, members, standards, blocks) -> pd.DataFrame:
    """Per plan (the members' ``plan`` column) and rule: members in the service area,
    how many meet the rule, the share and pass/fail against the rule's threshold."""
    plan_code, plans = pd.factorize(members["plan"].astype(str))
    inside = members["in_service_area"].to_numpy()
    meets = results["meets"].to_numpy()
    rows_out = []
    for rule in standards.rules:
        if (rule.id, "") not in blocks:
            continue
        start, rows = blocks[(rule.id, "")]
        keep = inside[rows]
        codes = plan_code[rows][keep]
        met = meets[start : start + len(rows)][keep]
        n = np.bincount(codes, minlength=len(plans))
        m = np.bincount(codes, weights=met, minlength=len(plans))
        for i, plan in enumerate(plans):
            if n[i]:
                rows_out.append(
                    {
                        "plan": plan,
                        "rule": rule.id,
                        "label": rule.label,
                        "members": int(n[i]),
                        "meeting": int(m[i]),
                        "share_meeting": float(m[i] / n[i]),
                        "threshold": rule.threshold,
                        "passes": bool(m[i] / n[i] >= rule.threshold - 1e-12),
                    }
                )
    columns = ["plan", "rule", "label", "members", "meeting", "share_meeting", "threshold"]
    return pd.DataFrame(rows_out, columns=[*columns, "passes"])


def rule_variants(standards: StandardsSet, languages: list[str]) -> list[tuple[Rule, str | None]]:
    """(rule, language) pairs evaluated: every rule, then language rules per language."""
    variants: list[tuple[Rule, str | None]] = [(rule, None) for rule in standards.rules]
    variants += [(rule, lang) for rule in standards.rules if rule.languages for lang in languages]
    return variants


def summarise(results, members, providers, standards, regions, prevalent, blocks=None):
    """County, service-area, outside-area and language summaries of member results.

    ``blocks`` (``Evaluation.blocks``) locates each rule's rows as a slice,
    which is much faster than finding them by comparing codes.
    """
    county, area, outside = _summaries(
        results, members, providers, standards, regions, language=None, blocks=blocks
    )
    language_summary, _, _ = _summaries(
        results, members, providers, standards, regions, language="all", blocks=blocks
    )
    if len(language_summary):
        language_summary = language_summary.merge(
            prevalent[["county_fips", "language", "speakers_5plus", "basis"]],
            on=["county_fips", "language"],
            how="left",
        )
        language_summary["prevalent"] = language_summary["basis"].notna()
    return county, area, outside, language_summary


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
        return members, providers, {}
    fips = regions["fips"].to_numpy()
    classes = classify_regions(regions, standards.urban_density_per_sq_mi)
    class_of = dict(zip(fips, classes, strict=True))
    missing = members["county_fips"].to_numpy() == OUTSIDE
    if missing.any():
        where = locate(
            members.loc[missing, "lon"].to_numpy(), members.loc[missing, "lat"].to_numpy(), regions
        )
        found = np.where(where >= 0, fips[np.maximum(where, 0)], OUTSIDE)
        members.loc[missing, "county_fips"] = found
    inside = members["county_fips"].isin(set(fips)).to_numpy()
    members.loc[~inside, "county_fips"] = OUTSIDE
    members["in_service_area"] = inside
    members["region_class"] = members["county_fips"].map(class_of).fillna("unknown").to_numpy()
    where = locate(providers["lon"].to_numpy(), providers["lat"].to_numpy(), regions)
    providers["county_fips"] = np.where(where >= 0, fips[np.maximum(where, 0)], OUTSIDE)
    return members, providers, class_of


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


# ---------------------------------------------------------------------------
# searches and per-member rule results
# ---------------------------------------------------------------------------
def provider_rows(providers: pd.DataFrame, key: SearchKey) -> np.ndarray:
    """Rows of in-network providers that a search with this key starts from."""
    mask = (
        providers["in_network"].to_numpy()
        & (providers["provider_type"] == key.provider_type).to_numpy()
    )
    if key.specialty is not None:
        mask &= (providers["specialty"] == key.specialty).to_numpy()
    if key.language is not None:
        mask &= speaks(providers["languages"], key.language)
    return np.flatnonzero(mask)


# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
@dataclass
class _Block:
    rule: Rule
    language: str | None
    member_rows: np.ndarray
    miles: np.ndarray
    minutes: np.ndarray
    n_qualifying: np.ndarray
    meets: np.ndarray
    nearest: np.ndarray  # (m, count) provider-id codes, -1 none


class _Engine:
    def __init__(
        self,
        graph,
        members,
        providers,
        member_snap,
        provider_snap,
        settings,
        workers,
        tick,
        member_state: dict | None = None,
    ):
        self.graph = graph
        self.members = members
        self.providers = providers
        self.member_snap = member_snap
        self.provider_snap = provider_snap
        self.settings = settings
        self.workers = max(1, int(workers))
        self.tick = tick
        self.pid_codes, self.pid_uniques = pd.factorize(providers["provider_id"])
        self.searches: dict[tuple[SearchKey, str], Search] = {}
        self._job_rules: dict[tuple[SearchKey, str], list[Rule]] = {}
        # member-side arrays: made once, shared with what-if engines of the same members
        state = member_state if member_state is not None else {}
        if "language" not in state:
            state["language"] = pd.factorize(members["language"])
            codes, names = pd.factorize(members["region_class"])
            state["class"] = (codes, list(names))
            state["legs"] = {}
            state["nodes"] = {}
        self.member_state = state
        self._language_code, self._language_names = state["language"]
        self._class_code, self._class_names = state["class"]
        self._legs: dict[str, np.ndarray] = state["legs"]
        self._nodes_cache: dict[str, tuple[np.ndarray, np.ndarray]] = state["nodes"]

    @staticmethod
    def key_of(rule: Rule, language: str | None) -> SearchKey:
        return SearchKey(rule.provider_type, rule.specialty, language)

    # -- searches
    def _cutoff(self, rules: list[Rule], metric: str) -> float:
        s = self.settings
        if metric == "distance":
            limit = max([r.max_miles or 0 for r in rules] + [s["max_report_miles"]])
            return limit * METERS_PER_MILE
        limit = max([r.max_minutes or 0 for r in rules] + [s["max_report_minutes"]])
        return limit * SECONDS_PER_MINUTE

    def jobs(self, variants) -> dict[tuple[SearchKey, str], list[Rule]]:
        """The searches that the variants need, with the rules that use each."""
        jobs: dict[tuple[SearchKey, str], list[Rule]] = {}
        for rule, language in variants:
            key = self.key_of(rule, language)
            for metric, used in (("distance", rule.max_miles), ("time", rule.max_minutes)):
                if used is not None:
                    jobs.setdefault((key, metric), []).append(rule)
        self._job_rules.update(jobs)  # a wider search later keeps every rule's cutoff
        return jobs

    def counted(self, count: int) -> int:
        """Providers counted for a rule needing ``count``: one spare, or the count cap."""
        cap = self.settings["count_cap"]
        return count + 1 if cap is None else max(count, cap)

    def width(self, rules: list[Rule], n_groups: int) -> int:
        """Labels kept per node: the providers counted, at most the providers there are."""
        need = max(r.count for r in rules)
        return max(min(self.counted(need), max(n_groups, 1)), need)

    def evaluate_variants(self, variants) -> list[_Block]:
        """Search and judge every variant: one task per provider key, on the worker threads.

        A task runs its key's searches (distance, time) and then judges the rules
        that use them, so that reading labels at members' nodes overlaps other
        keys' searches. The compiled parts release the GIL.
        """
        jobs = self.jobs(variants)
        keys = list(dict.fromkeys(key for key, _ in jobs))
        # shared data, made once before the threads start
        chains_of(self.graph)
        for metric in ("distance", "time"):
            self._leg(metric)
        for lang in dict.fromkeys(lang or "" for _, lang in variants):
            self._distinct_nodes(self._rows_of(lang or None), lang)

        def task(key):
            for item in jobs.items():
                if item[0][0] == key:
                    job, search = self._search_one(item)
                    self.searches[job] = search
            return [
                (i, self.rule_block(rule, lang))
                for i, (rule, lang) in enumerate(variants)
                if self.key_of(rule, lang) == key
            ]

        blocks: list = [None] * len(variants)
        self.tick("searching roads", 0, len(keys))
        with ThreadPoolExecutor(self.workers) as pool:
            for done, found in enumerate(pool.map(task, keys), start=1):
                for i, block in found:
                    blocks[i] = block
                self.tick("searching roads", done, len(keys))
        return blocks

    def _search_one(self, item, k: int | None = None):
        (key, metric), rules = item
        rows = provider_rows(self.providers, key)
        n_groups = len(np.unique(self.pid_codes[rows])) if len(rows) else 0
        width = self.width(rules, n_groups)
        if k:  # a wider search asked for ('and' rules)
            width = max(min(k, max(n_groups, 1)), width)
        labels = k_nearest_labels(
            self.graph,
            self.provider_snap.node[rows],
            k=width,
            metric=metric,
            source_cost=self.provider_snap.leg_cost(metric, self.settings["snap_speed_mph"])[rows],
            groups=self.pid_codes[rows],
            cutoff=self._cutoff(rules, metric),
        )
        return (key, metric), Search(key, metric, rows, labels, n_groups)

    def _run(self, jobs: dict[tuple[SearchKey, str], list[Rule]], k: int | None = None) -> None:
        total = len(jobs)
        done = 0
        self.tick("searching roads", done, total)
        if self.workers > 1 and total > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                for job, search in pool.map(lambda item: self._search_one(item, k), jobs.items()):
                    self.searches[job] = search
                    done += 1
                    self.tick("searching roads", done, total)
        else:
            for item in jobs.items():
                job, search = self._search_one(item, k)
                self.searches[job] = search
                done += 1
                self.tick("searching roads", done, total)

    def _leg(self, metric: str) -> np.ndarray:
        if metric not in self._legs:
            self._legs[metric] = self.member_snap.leg_cost(metric, self.settings["snap_speed_mph"])
        return self._legs[metric]

    def _rows_of(self, language: str | None) -> np.ndarray:
        """Member rows of a language's block (every member for None)."""
        if language is None:
            return np.arange(len(self.members))
        names = list(self._language_names)
        code = names.index(language) if language in names else -2
        return np.flatnonzero(self._language_code == code)

    def _labels(
        self, key: SearchKey, metric: str, member_rows: np.ndarray, cache_key: str | None = None
    ):
        """(cost, provider-id code) per member, or None when the metric is not used."""
        search = self.searches.get((key, metric))
        if search is None:
            return None
        # labels are read once per distinct node (many members share a node)
        nodes, inverse = self._distinct_nodes(member_rows, cache_key)
        cost_u, source_u = search.labels.at_nodes(nodes)
        code_of_source = self.pid_codes[search.rows].astype(np.int64)
        return _member_labels(
            cost_u,
            source_u.astype(np.int64, copy=False),
            inverse.astype(np.int64, copy=False),
            self._leg(metric)[member_rows],
            code_of_source,
            search.labels.cutoff,
        )

    def _distinct_nodes(self, member_rows: np.ndarray, cache_key: str | None):
        found = self._nodes_cache.get(cache_key) if cache_key is not None else None
        if found is None:
            found = np.unique(self.member_snap.node[member_rows], return_inverse=True)
            if cache_key is not None:
                self._nodes_cache[cache_key] = found
        return found

    # -- rule evaluation
    def rule_block(
        self, rule: Rule, language: str | None, member_rows: np.ndarray | None = None
    ) -> _Block:
        cache_key = None if member_rows is not None else (language or "")
        if member_rows is None:
            member_rows = self._rows_of(language)
        key = self.key_of(rule, language)
        while True:
            dist = self._labels(key, "distance", member_rows, cache_key)
            time = self._labels(key, "time", member_rows, cache_key)
            block, ambiguous = self._judge(rule, language, member_rows, dist, time)
            searches = [
                self.searches[(key, m)] for m in ("distance", "time") if (key, m) in self.searches
            ]
            if not ambiguous or all(s.complete for s in searches):
                return block
            # 'and' rules: a full label list may hide a provider within both limits
            # further down; search again with twice the labels until none is in doubt.
            width = max(s.labels.k for s in searches)
            rerun = {
                (key, m): self._job_rules.get((key, m), [rule])
                for m in ("distance", "time")
                if (key, m) in self.searches
            }
            self._run(rerun, k=2 * width)

    def _judge(self, rule, language, member_rows, dist, time):
        m = len(member_rows)
        class_code = self._class_code[member_rows]
        miles_lim = np.full(m, np.nan)
        minutes_lim = np.full(m, np.nan)
        both = np.zeros(m, dtype=bool)  # members whose class says 'and'
        for code, cls in enumerate(self._class_names):
            limits = rule.limits_for(cls)
            sel = class_code == code
            miles_lim[sel] = np.nan if limits.miles is None else limits.miles
            minutes_lim[sel] = np.nan if limits.minutes is None else limits.minutes
            both[sel] = limits.combine == "and"
        k = rule.count
        qualifying = []
        saturated = np.zeros(m, dtype=bool)
        for labels, limit, scale in (
            (dist, miles_lim, METERS_PER_MILE),
            (time, minutes_lim, SECONDS_PER_MINUTE),
        ):
            if labels is None:
                qualifying.append(None)
                continue
            cost, code = labels
            with np.errstate(invalid="ignore"):  # a provider exactly at the limit is within it
                ok = cost <= (limit * scale * (1 + LIMIT_TOLERANCE))[:, None]
            qualifying.append(np.where(ok, code, -1))
            saturated |= ok.all(axis=1)
        present = [q for q in qualifying if q is not None]
        count = _count_distinct(np.concatenate(present, axis=1))  # 'or': either limit
        ambiguous = False
        if both.any() and len(present) == 2:  # 'and': within both limits, per provider
            qd, qt = present
            hit = (qd[:, :, None] == qt[:, None, :]).any(axis=2) & (qd >= 0)
            count = np.where(both, hit.sum(axis=1), count)
            ambiguous = bool((both & saturated & (count < k)).any())
        cap = self.counted(k)
        width_codes = dist[1] if dist is not None else time[1]
        nearest = width_codes[:, :k]
        miles = (dist[0][:, k - 1] / METERS_PER_MILE) if dist is not None else np.full(m, np.nan)
        minutes = (
            (time[0][:, k - 1] / SECONDS_PER_MINUTE) if time is not None else np.full(m, np.nan)
        )
        block = _Block(
            rule,
            language,
            member_rows,
            miles,
            minutes,
            np.minimum(count, cap).astype(np.int16),
            count >= k,
            nearest,
        )
        return block, ambiguous


@njit(cache=True, nogil=True)
def _member_labels(cost_u, source_u, inverse, legs, code_of_source, cutoff):
    """Each member's labels: its node's labels plus its leg; provider-id codes, -1 none."""
    m = inverse.shape[0]
    k = cost_u.shape[1]
    cost = np.empty((m, k))
    code = np.empty((m, k), dtype=np.int64)
    for i in range(m):
        r = inverse[i]
        for j in range(k):
            c = cost_u[r, j] + legs[i]
            s = source_u[r, j]
            if s < 0 or c > cutoff:
                cost[i, j] = np.inf
                code[i, j] = -1
            else:
                cost[i, j] = c
                code[i, j] = code_of_source[s]
    return cost, code


@njit(cache=True, nogil=True)
def _count_distinct(codes: np.ndarray) -> np.ndarray:
    """Distinct non-negative values per row (provider ids qualifying by either limit)."""
    m, w = codes.shape
    out = np.zeros(m, dtype=np.int64)
    for i in range(m):
        for j in range(w):
            c = codes[i, j]
            if c < 0:
                continue
            seen = False
            for t in range(j):
                if codes[i, t] == c:
                    seen = True
                    break
            if not seen:
                out[i] += 1
    return out


def _member_results(
    blocks: list[_Block], members: pd.DataFrame, providers: pd.DataFrame
) -> pd.DataFrame:
    width = max([b.rule.count for b in blocks], default=1)
    rows = np.concatenate([b.member_rows for b in blocks]) if blocks else np.zeros(0, int)
    rule_ids = [b.rule.id for b in blocks]
    rule_cats = list(dict.fromkeys(rule_ids))
    rule_code = (
        np.concatenate(
            [np.full(len(b.member_rows), rule_cats.index(b.rule.id), np.int16) for b in blocks]
        )
        if blocks
        else np.zeros(0, np.int16)
    )
    lang_cats = [""] + sorted({b.language for b in blocks if b.language})
    lang_code = (
        np.concatenate(
            [
                np.full(len(b.member_rows), lang_cats.index(b.language or ""), np.int16)
                for b in blocks
            ]
        )
        if blocks
        else np.zeros(0, np.int16)
    )
    _, pid_uniques = pd.factorize(providers["provider_id"])
    member_ids = pd.Index(members["member_id"])  # no round trip through Python strings
    county_codes, county_uniques = pd.factorize(members["county_fips"])
    out = {
        "member_id": pd.Categorical.from_codes(rows.astype(np.int32), categories=member_ids),
        "rule": pd.Categorical.from_codes(rule_code, categories=rule_cats),
        "language": pd.Categorical.from_codes(lang_code, categories=lang_cats),
        "county_fips": pd.Categorical.from_codes(county_codes[rows], categories=county_uniques),
        "region_class": pd.Categorical(members["region_class"])[rows],
        "in_service_area": members["in_service_area"].to_numpy()[rows],
        "count_required": np.concatenate(
            [np.full(len(b.member_rows), b.rule.count, np.int16) for b in blocks]
        ),
        "miles": np.concatenate([b.miles for b in blocks]),
        "minutes": np.concatenate([b.minutes for b in blocks]),
        "n_qualifying": np.concatenate([b.n_qualifying for b in blocks]),
        "meets": np.concatenate([b.meets for b in blocks]),
    }
    for j in range(width):
        codes = np.concatenate(
            [
                b.nearest[:, j] if j < b.nearest.shape[1] else np.full(len(b.member_rows), -1)
                for b in blocks
            ]
        )
        out[f"nearest_{j + 1}"] = pd.Categorical.from_codes(codes, categories=pid_uniques)
    out["snap_meters"] = members["snap_meters"].to_numpy()[rows].astype(np.float32)
    out["off_road"] = members["off_road"].to_numpy()[rows]
    out["synthetic"] = members["synthetic"].to_numpy()[rows]
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------
def _provider_count(
    providers: pd.DataFrame, rows: np.ndarray, rule: Rule
) -> tuple[float, pd.Series]:
    """Providers for the ratio: whole network and per county (headcount or FTE).

    Headcount counts distinct provider ids (one provider at two sites once in
    the network, once in each county where it has a site).
    """
    if rule.ratio is not None and rule.ratio.closed_panels == "exclude":
        rows = rows[providers["panel_open"].to_numpy()[rows]]
    county_code, counties = pd.factorize(providers["county_fips"].to_numpy()[rows])
    if rule.ratio is not None and rule.ratio.basis == "fte":
        fte = providers["fte"].to_numpy(dtype=float)[rows]
        by = np.bincount(county_code, weights=fte, minlength=len(counties))
        return float(fte.sum()), pd.Series(by, index=counties)
    pid_code, pids = pd.factorize(providers["provider_id"].to_numpy()[rows])
    pairs = np.unique(county_code.astype(np.int64) * max(len(pids), 1) + pid_code)
    by = np.bincount(pairs // max(len(pids), 1), minlength=len(counties)).astype(float)
    return float(len(pids)), pd.Series(by, index=counties)


def _summaries(results, members, providers, standards, regions, *, language, blocks=None):
    """County, service-area and outside-area tables for base rules or all languages."""
    county_rows, area_rows, outside_rows = [], [], []
    # compare category codes, never strings: results can hold tens of millions of rows
    rule_cats = list(results["rule"].cat.categories)
    lang_cats = list(results["language"].cat.categories)
    res_rule = results["rule"].cat.codes.to_numpy()
    res_lang = results["language"].cat.codes.to_numpy()
    names = dict(zip(regions["fips"], regions["name"], strict=True)) if regions is not None else {}
    for rule in standards.rules:
        if rule.id not in rule_cats:
            continue
        if language is None:
            langs = [""]
        elif not rule.languages:
            continue
        elif blocks is not None:
            langs = sorted(lang for rule_id, lang in blocks if rule_id == rule.id and lang)
        else:
            present = np.unique(res_lang[res_rule == rule_cats.index(rule.id)])
            langs = sorted(lang_cats[c] for c in present if lang_cats[c])
        for lang in langs:
            if lang not in lang_cats:
                continue
            columns = ["county_fips", "in_service_area", "meets", "off_road", "miles", "minutes"]
            if blocks is not None and (rule.id, lang) in blocks:
                start, rows = blocks[(rule.id, lang)]
                if not len(rows):
                    continue
                part = results[columns].iloc[start : start + len(rows)]
            else:
                sel = (res_rule == rule_cats.index(rule.id)) & (res_lang == lang_cats.index(lang))
                if not sel.any():
                    continue
                part = results.loc[sel, columns]
            key = SearchKey(rule.provider_type, rule.specialty, lang or None)
            rows = provider_rows(providers, key)
            total_providers, by_county = _provider_count(providers, rows, rule)
            inside = part[part["in_service_area"]]
            grouped = inside.groupby("county_fips", observed=True).agg(
                members=("meets", "size"),
                meeting=("meets", "sum"),
                off_road=("off_road", "sum"),
                median_miles=("miles", "median"),
                median_minutes=("minutes", "median"),
            )
            base = {
                "rule": rule.id,
                "label": rule.label,
                "language": lang,
                "provider_type": rule.provider_type,
                "specialty": rule.specialty or "",
                "standard": rule.describe(),
                "cadence": rule.cadence,
                "threshold": rule.threshold,
            }
            for fips, g in grouped.iterrows():
                if g["members"] == 0:
                    continue
                county_rows.append(
                    {
                        **base,
                        "county_fips": fips,
                        "county": names.get(fips, ""),
                        **_row_figures(g["members"], g["meeting"], rule, by_county.get(fips, 0.0)),
                        "off_road_members": int(g["off_road"]),
                        "median_miles": g["median_miles"],
                        "median_minutes": g["median_minutes"],
                    }
                )
            n_in = len(inside)
            if n_in:
                area_rows.append(
                    {
                        **base,
                        **_row_figures(n_in, inside["meets"].sum(), rule, total_providers),
                        "counties": int(grouped.shape[0]),
                        "counties_failing": int(
                            sum(
                                1
                                for r in county_rows
                                if r["rule"] == rule.id
                                and r["language"] == lang
                                and not r["passes"]
                            )
                        ),
                        "off_road_members": int(inside["off_road"].sum()),
                    }
                )
            out = part[~part["in_service_area"]]
            if len(out):
                outside_rows.append(
                    {
                        **base,
                        "members": len(out),
                        "meeting": int(out["meets"].sum()),
                        "share_meeting": float(out["meets"].mean()),
                        "median_miles": float(out["miles"].median()),
                        "median_minutes": float(out["minutes"].median()),
                    }
                )
    county = pd.DataFrame(county_rows, columns=_COUNTY_COLUMNS)
    area = pd.DataFrame(area_rows)
    outside = pd.DataFrame(outside_rows)
    if regions is not None and language is None and len(county):
        county = _add_region_columns(county, regions)
    return county, area, outside


_COUNTY_COLUMNS = [
    "rule",
    "label",
    "language",
    "provider_type",
    "specialty",
    "standard",
    "cadence",
    "threshold",
    "county_fips",
    "county",
    "members",
    "meeting",
    "share_meeting",
    "passes",
    "providers",
    "members_per_provider",
    "ratio_limit",
    "ratio_passes",
    "off_road_members",
    "median_miles",
    "median_minutes",
]


def _row_figures(n_members, n_meeting, rule: Rule, providers: float) -> dict[str, Any]:
    share = float(n_meeting) / float(n_members) if n_members else float("nan")
    with np.errstate(divide="ignore"):
        per = float(n_members) / providers if providers else float("inf")
    limit = rule.ratio.members_per_provider if rule.ratio else float("nan")
    return {
        "members": int(n_members),
        "meeting": int(n_meeting),
        "share_meeting": share,
        "passes": bool(share >= rule.threshold - 1e-12),
        "providers": float(providers),
        "members_per_provider": per,
        "ratio_limit": limit,
        "ratio_passes": (bool(per <= limit) if rule.ratio else None),
    }


def _add_region_columns(county: pd.DataFrame, regions) -> pd.DataFrame:
    extra = regions[["fips", "population", "density_per_sq_mi"]].rename(
        columns={"fips": "county_fips"}
    )
    return county.merge(extra, on="county_fips", how="left")


# ---------------------------------------------------------------------------
# panels
# ---------------------------------------------------------------------------
PANEL_CAP = 1500
MIN_OPEN_SHARE = 0.5


def panel_findings(
    providers: pd.DataFrame,
    members: pd.DataFrame | None = None,
    *,
    panel_cap: int = PANEL_CAP,
    min_open_share: float = MIN_OPEN_SHARE,
) -> pd.DataFrame:
    """PCP panels over the cap, and practices with under half their PCP panels open.

    The panel size is the larger of the roster's ``panel_size`` and the number
    of members whose ``pcp_id`` is the provider. A PCP listed at several sites
    is one panel.
    """
    pcps = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    per_pcp = pcps.groupby("provider_id").agg(
        practice_id=("practice_id", "first"),
        panel_size=("panel_size", "max"),
        panel_open=("panel_open", "all"),
    )
    if members is not None and "pcp_id" in members.columns:
        assigned = members.loc[members["pcp_id"] != "", "pcp_id"].value_counts()
    else:
        assigned = pd.Series(dtype=int)
    per_pcp["assigned_members"] = per_pcp.index.map(assigned).fillna(0).astype(int)
    per_pcp["panel"] = np.maximum(per_pcp["panel_size"], per_pcp["assigned_members"])
    rows = []
    for pid, r in per_pcp[per_pcp["panel"] > panel_cap].iterrows():
        rows.append(
            {
                "finding": f"PCP panel over {panel_cap:,}",
                "provider_id": pid,
                "practice_id": r["practice_id"],
                "panel_size": int(r["panel_size"]),
                "assigned_members": int(r["assigned_members"]),
                "panel_open": bool(r["panel_open"]),
                "pcps_in_practice": np.nan,
                "open_panels": np.nan,
                "share_open": np.nan,
            }
        )
    practices = per_pcp.groupby("practice_id").agg(
        pcps=("panel_open", "size"), open_panels=("panel_open", "sum")
    )
    practices["share_open"] = practices["open_panels"] / practices["pcps"]
    for practice, r in practices[practices["share_open"] < min_open_share].iterrows():
        rows.append(
            {
                "finding": f"practice with under {min_open_share:.0%} of PCP panels open",
                "provider_id": "",
                "practice_id": practice,
                "panel_size": np.nan,
                "assigned_members": np.nan,
                "panel_open": None,
                "pcps_in_practice": int(r["pcps"]),
                "open_panels": int(r["open_panels"]),
                "share_open": float(r["share_open"]),
            }
        )
    columns = [
        "finding",
        "provider_id",
        "practice_id",
        "panel_size",
        "assigned_members",
        "panel_open",
        "pcps_in_practice",
        "open_panels",
        "share_open",
    ]
    return pd.DataFrame(rows, columns=columns)
