"""Which counties each provider serves: within a county's limits of at least one member.

CMS counts a provider toward a county's minimum number only if it lies within
the county's time and distance standard of at least one beneficiary there
(42 CFR 422.116(a)(2)(i)), wherever the provider itself is located.

First, one forward search per county from all its members at once gives every
site the county's fastest member and that route's miles: where that member
meets the limits the site serves the county, and where even the fastest misses
the minutes no member does. A site left in doubt (the fastest member is too far
by miles, another may not be) gets one exact bounded search from the site
(member→provider direction, like every search here) out to the largest limit in
use; each member it reaches checks its own county's limits, on the run's
distance basis (the time labels' route for ``fastest_route``, the road distance
for ``shortest``, the great-circle distance for ``straight_line``, which always
takes this path). The counties of the members it reaches are the counties it
serves.

Excluded kinds (children's and long-term-care hospitals, providers available
only in a residential facility: the roster's ``cms_exclusion``) serve no county.

Owns: ``SiteReach``, ``served_counties`` and ``served_counts``. Uses: the engine's member
state and searches (:mod:`adequacy.routing`), and the judge's ``within``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from adequacy.engine.engine import Engine, provider_rows
from adequacy.engine.judge import OUTSIDE, search_cutoff, within
from adequacy.engine.standards import Rule
from adequacy.network.osm import haversine_meters
from adequacy.routing import reach_within
from adequacy.routing.routes import FastestFrom, tree_route_meters
from adequacy.units import METERS_PER_MILE, MPH_TO_METERS_PER_SECOND, SECONDS_PER_MINUTE

SERVED_COLUMNS = ["rule", "provider_row", "provider_id", "county_fips"]


class SiteReach:
    """Drive times and distances from members to a provider site, on a run's distance
    basis, by bounded searches from the site (member→provider direction).

    One time search per site gives the minutes and, for ``fastest_route``, the
    miles of the same routes; ``shortest`` adds a distance search and
    ``straight_line`` measures from the points. Searches are kept for the
    largest cutoff asked so far (up to ``keep`` nodes' worth of results, about
    24 bytes a node), so that rules and counties asking about the same sites
    again cost nothing.
    """

    def __init__(
        self, graph, members, member_snap, settings, state, *, keep: int = 8_000_000
    ) -> None:
        self.graph = graph
        self.basis = settings.distance_basis or "shortest"
        self.speed = settings.snap_speed_mph
        self.member_node = member_snap.node
        self.member_leg_m = member_snap.meters
        self.member_leg_s = member_snap.leg_cost("time", self.speed)
        self.member_lon = members["lon"].to_numpy()
        self.member_lat = members["lat"].to_numpy()
        self.keep = keep
        self._cache: dict = {}
        self._kept = 0  # nodes held in the cache
        self._at = np.full(graph.n_nodes, np.inf)  # scratch: one search's costs by node
        n = graph.n_nodes
        self._tree = (  # scratch of tree_route_meters
            np.full((n, 1), np.inf),
            np.full((n, 1), -1, dtype=np.int64),
            np.full((n, 1), np.nan),
        )
        self.state = state  # the evaluation's MemberState (members by node)

    def _search(self, metric, node, start, cutoff):
        key = (metric, node, start)
        found = self._cache.get(key)
        if found is None or found[0] < cutoff:
            nodes, cost = reach_within(
                self.graph, node, metric=metric, cutoff=cutoff, start_cost=start
            )
            other = None  # meters along the fastest routes / seconds along the shortest
            if self.basis == "fastest_route":
                factor = self.speed * MPH_TO_METERS_PER_SECOND
                leg = start * factor if metric == "time" else start / factor
                other = tree_route_meters(
                    self.graph, nodes, cost, node, start, leg, metric=metric, scratch=self._tree
                )
            if key in self._cache:
                self._kept -= len(self._cache.pop(key)[1])
            found = (cutoff, nodes, cost, other)
            while self._cache and self._kept + len(nodes) > self.keep:
                self._kept -= len(self._cache.pop(next(iter(self._cache)))[1])
            if len(nodes) <= self.keep:
                self._cache[key] = found
                self._kept += len(nodes)
        return found

    def costs(self, node, leg_meters, lon, lat, cutoff_seconds, cutoff_meters, members, *,
              miles_alone: bool = False):  # fmt: skip
        """(seconds, meters) from each of ``members`` (rows) to a site at ``node``
        (its leg ``leg_meters``; ``lon``/``lat`` its point); infinity beyond the cutoffs.
        Returns (members, seconds, meters); ``members=None`` takes the members the
        searches reach, so that a site costs its reach, not the number of members.

        ``miles_alone``: some member qualifies on miles alone (``or``), so with
        ``fastest_route`` a route within ``cutoff_meters`` must be found however long
        it takes. Its time is at most the time along the shortest road route (a
        route that short exists), so the time search reaches that far and no
        farther.
        """
        leg_s = float(leg_meters) / (self.speed * MPH_TO_METERS_PER_SECOND)
        at = self._at
        reach_s = cutoff_seconds
        if self.basis == "fastest_route" and miles_alone:
            found = self._search("distance", int(node), float(leg_meters), cutoff_meters)
            _, near, _, along = found
            if len(near):
                near_members = self.members_at(near) if members is None else members
                at[near] = along
                slowest = at[self.member_node[near_members]] + self.member_leg_s[near_members]
                at[near] = np.inf
                slowest = slowest[np.isfinite(slowest)]
                if len(slowest):
                    reach_s = max(reach_s, search_cutoff(float(slowest.max())))
        _, nodes, cost, route = self._search("time", int(node), leg_s, reach_s)
        if members is None:  # the members the time search reaches (and only those)
            members = self.members_at(nodes)
        where = self.member_node[members]
        at[nodes] = cost
        seconds = at[where] + self.member_leg_s[members]
        if self.basis == "fastest_route":
            at[nodes] = route
            meters = at[where] + self.member_leg_m[members]
            meters[~np.isfinite(seconds) | (seconds > reach_s)] = np.inf
        at[nodes] = np.inf
        seconds[seconds > reach_s] = np.inf
        if self.basis == "straight_line":
            meters = haversine_meters(self.member_lon[members], self.member_lat[members], lon, lat)
        elif self.basis == "shortest":
            _, near, dist, _ = self._search("distance", int(node), float(leg_meters), cutoff_meters)
            at[near] = dist
            meters = at[where] + self.member_leg_m[members]
            at[near] = np.inf
        meters = np.where(meters > cutoff_meters, np.inf, meters)
        return members, seconds, meters

    def members_at(self, nodes: np.ndarray) -> np.ndarray:
        """Member rows living at these graph nodes."""
        return self.state.members_at(self.member_node, self.graph.n_nodes, nodes, sort=False)


def time_cutoff(lim_s, lim_m, both, horizon_seconds: float) -> tuple[float, bool]:
    """How far (seconds) a time search from a site must reach for members with these
    limits (their largest minute limit; the report horizon for a rule without one),
    and whether some member can qualify on miles alone (``or``, miles-only rules):
    see :meth:`SiteReach.costs`."""
    has_s = not np.all(np.isnan(lim_s))
    miles_alone = not np.all(np.isnan(lim_m)) and (not has_s or not np.all(both))
    limit = np.nanmax(lim_s) if has_s else horizon_seconds
    return search_cutoff(limit), bool(miles_alone)


def served_counties(engine: Engine, rules: list[Rule], *, exhaustive: bool = False) -> pd.DataFrame:
    """One row per rule × provider site × county it serves (see the module docstring).

    Only rules with terms per county are considered, and only in-network sites
    that are not of an excluded kind. Most answers come from one forward search
    per county from all its members at once (:func:`_witnessed`); the sites it
    leaves in doubt get their own exact search. ``exhaustive=True`` searches from
    every site instead: the same answer, many times slower (the reference the
    county pass is tested against). The searches release the GIL and run on the
    engine's worker threads.
    """
    providers = engine.providers
    excluded = (
        providers["cms_exclusion"].astype(str).to_numpy() != ""
        if "cms_exclusion" in providers.columns
        else np.zeros(len(providers), dtype=bool)
    )
    state = engine.state
    is_inside = engine.members["county_fips"].astype(str).to_numpy() != OUTSIDE
    inside = np.flatnonzero(is_inside)
    county_rules = [rule for rule in rules if rule.counties]
    sites = {}
    for rule in county_rules:
        rows = provider_rows(providers, engine.key_of(rule, None))
        sites[rule.id] = rows[~excluded[rows]].astype(np.int64)
    if exhaustive or (engine.settings.distance_basis or "shortest") == "straight_line":
        found, doubtful = [], {(rule.id, int(r)) for rule in county_rules for r in sites[rule.id]}
    else:
        found, doubtful = _witnessed(engine, county_rules, sites, inside)
    tasks = []
    horizon = engine.settings.max_report_minutes * SECONDS_PER_MINUTE
    for rule in county_rules:
        pending = [int(r) for r in sites[rule.id] if (rule.id, int(r)) in doubtful]
        if not pending:
            continue
        lim_m, lim_s, both = state.limits(rule, inside)
        cutoff_s, miles_alone = time_cutoff(lim_s, lim_m, both, horizon)
        cutoff_m = search_cutoff((rule.max_miles or 0.0) * METERS_PER_MILE)
        tasks += [(rule.id, r, cutoff_s, cutoff_m, miles_alone) for r in pending]
    found += _searched(engine, {r.id: r for r in county_rules}, tasks, is_inside)
    table = pd.DataFrame(found, columns=SERVED_COLUMNS)
    return table.sort_values(["rule", "provider_row", "county_fips"], ignore_index=True)


def _witnessed(engine: Engine, rules: list[Rule], sites: dict, inside: np.ndarray):
    """The served rows that one forward search per county settles, and the (rule id,
    site row) pairs it leaves in doubt.

    From all of a county's members at once (each with its leg), the search gives
    every site the fastest time from the county's nearest member and the meters
    of that route, which are at least that member's miles on either road basis.
    If that member meets the county's limits, the site serves the county. If the
    fastest time misses the minute limit and the rule needs minutes (``and``, or
    no mile limit), no member of the county meets it. Otherwise another member
    might (nearer by miles, farther by minutes): the site is searched exactly.
    """
    state, settings = engine.state, engine.settings
    snap = engine.member_snap
    factor = settings.snap_speed_mph * MPH_TO_METERS_PER_SECOND
    m_node, m_leg_m = snap.node, snap.meters
    m_leg_s = snap.leg_cost("time", settings.snap_speed_mph)
    p_node = engine.provider_snap.node
    p_leg_m = engine.provider_snap.meters
    p_leg_s = p_leg_m / factor
    ids = engine.providers["provider_id"].astype(str).to_numpy()
    codes = state.county_code[inside]
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(inside[order], bounds) if len(inside) else []

    def run(chunk):
        search = FastestFrom(engine.graph)
        found, doubtful = [], []
        for rows in chunk:
            fips = state.county_names[int(state.county_code[rows[0]])]
            terms = {rule.id: state.limits(rule, rows[:1]) for rule in rules}
            limits = [float(lim_s[0]) for _, lim_s, _ in terms.values() if np.isfinite(lim_s[0])]
            if limits:
                first = np.lexsort((m_leg_m[rows], m_leg_s[rows], m_node[rows]))
                src = rows[first]
                keep = np.r_[True, np.diff(m_node[src]) != 0]  # each node's fastest leg
                src = src[keep]
                cutoff = search_cutoff(max(limits))
                seconds, meters = search.search(
                    m_node[src], m_leg_s[src], m_leg_m[src], cutoff_seconds=cutoff
                )
            for rule in rules:
                r = sites[rule.id]
                lim_m, lim_s, both = (float(v[0]) for v in terms[rule.id])
                if limits:
                    t = seconds[p_node[r]] + p_leg_s[r]
                    d = meters[p_node[r]] + p_leg_m[r]
                else:
                    t = d = np.full(len(r), np.inf)
                ok_t, ok_d = within(t, lim_s), within(d, lim_m)
                served = ok_t & ok_d if both else ok_t | ok_d
                none = ~ok_t & (bool(both) or np.isnan(lim_m))
                found += [(rule.id, int(x), ids[x], fips) for x in r[served]]
                doubtful += [(rule.id, int(x)) for x in r[~served & ~none]]
        return found, doubtful

    workers = max(1, min(engine.workers, len(groups)))
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(run, [groups[i::workers] for i in range(workers)]))
    doubtful = {pair for _, part in parts for pair in part}
    # a site in doubt in one county is searched exactly, for all of them
    found = [row for part, _ in parts for row in part if (row[0], row[1]) not in doubtful]
    return found, doubtful


def _searched(engine: Engine, rules_by_id: dict, tasks: list, is_inside: np.ndarray) -> list:
    """Served rows from one exact bounded search per (rule id, site row, time cutoff,
    mile cutoff, miles alone) task: the members it reaches, each judged on its own
    county's limits."""
    state = engine.state
    county_code, county_names = state.county_code, state.county_names
    n_counties = len(county_names)
    snap = engine.provider_snap
    providers = engine.providers
    lon, lat = providers["lon"].to_numpy(), providers["lat"].to_numpy()
    ids = providers["provider_id"].astype(str).to_numpy()

    def run(chunk):  # each site is searched once here: no cache
        reach = SiteReach(
            engine.graph, engine.members, engine.member_snap, engine.settings, state, keep=0
        )
        found = []
        for rule_id, r, cutoff_s, cutoff_m, alone in chunk:
            rows, seconds, meters = reach.costs(
                snap.node[r], snap.meters[r], lon[r], lat[r], cutoff_s, cutoff_m, None,
                miles_alone=alone,
            )  # fmt: skip
            keep = is_inside[rows]
            rows, seconds, meters = rows[keep], seconds[keep], meters[keep]
            lim_m, lim_s, both = state.limits(rules_by_id[rule_id], rows)
            ok_t = within(seconds, lim_s)
            ok_d = within(meters, lim_m)
            ok = np.where(both, ok_t & ok_d, ok_t | ok_d)
            if ok.any():
                codes = np.flatnonzero(np.bincount(county_code[rows[ok]], minlength=n_counties))
                found += [(rule_id, r, ids[r], county_names[c]) for c in codes]
        return found

    if not tasks:
        return []
    workers = max(1, min(engine.workers, len(tasks)))
    chunks = [tasks[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        return [row for part in pool.map(run, chunks) for row in part]


def served_union(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The union of served tables of disjoint sets of members (chunks, partitions): a
    site serves a county when it serves it for some of its members."""
    if not tables:
        return pd.DataFrame(columns=SERVED_COLUMNS)
    table = pd.concat(tables, ignore_index=True)[SERVED_COLUMNS]
    table = table.drop_duplicates(["rule", "provider_row", "county_fips"])
    table = table.sort_values(["rule", "provider_row", "county_fips"], ignore_index=True)
    return pd.DataFrame({c: table[c].tolist() for c in SERVED_COLUMNS}, columns=SERVED_COLUMNS)


def served_counts(served: pd.DataFrame, providers: pd.DataFrame, rules: list[Rule]) -> dict:
    """Per rule id: a Series county_fips -> distinct providers serving it, or their
    Medicare-certified beds where the rule's minimum counts beds."""
    counts = {}
    beds = (
        pd.to_numeric(providers["beds"], errors="coerce").fillna(0).to_numpy()
        if "beds" in providers.columns
        else np.zeros(len(providers))
    )
    for rule in rules:
        if not rule.counties:
            continue
        part = served[served["rule"] == rule.id].astype({"provider_row": np.int64})
        units = {t.min_unit for t in rule.counties.values()}
        if "beds" in units:
            # beds of each site serving the county (a site listed twice counts once)
            sites = part.drop_duplicates(["provider_row", "county_fips"])
            by = pd.Series(beds[sites["provider_row"].to_numpy()], index=sites.index)
            counts[rule.id] = by.groupby(sites["county_fips"].to_numpy()).sum().astype(float)
        else:
            distinct = part.drop_duplicates(["provider_id", "county_fips"])
            counts[rule.id] = distinct.groupby("county_fips").size().astype(float)
    return counts
