"""The search-and-judge engine: one k-nearest search per provider key and metric.

For every (rule, language) the engine finds the providers the rule is about
(:func:`provider_rows`), runs one k-nearest search per (provider type,
specialty, language) and metric from all of them at once, never one per
member, reads each member's labels at its road node plus its snapping leg,
and asks the judge (:mod:`adequacy.engine.judge`) which providers qualify.
The searches are kept (:class:`Search`) so that what-if can update them.

Owns: ``Engine``, ``SearchKey``, ``Search``, ``Block`` and ``MemberState`` (the
member-side arrays an evaluation and its what-if updates share). Uses:
:mod:`adequacy.routing`, :mod:`adequacy.network` (chain contraction),
:mod:`adequacy.inputs.languages`, the judge and the member-side kernels
(:mod:`adequacy.engine.kernels`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from adequacy.engine.judge import (
    LIMIT_TOLERANCE,
    member_limits,
    qualifying_counts,
    search_cutoff,
    within,
)
from adequacy.engine.kernels import (
    distinct_nodes,
    member_labels,
    member_route_meters,
)
from adequacy.engine.search import Search
from adequacy.engine.settings import Settings
from adequacy.engine.standards import Rule, StandardsSet
from adequacy.inputs.languages import speaks
from adequacy.network import RoadGraph
from adequacy.network.chain_labels import ChainPlaces, places_of
from adequacy.network.chains import chains_of
from adequacy.routing import NodeLabels, Snap, fastest_route_counts, k_nearest_labels, label_ids
from adequacy.routing.labels import contracted
from adequacy.routing.routes import StraightLabels, route_at, route_meters
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE

if TYPE_CHECKING:  # ahead imports this module
    from adequacy.engine.ahead import SearchesAhead

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SearchKey:
    """Which providers a search starts from."""

    provider_type: str
    specialty: str | None = None
    language: str | None = None


@dataclass
class MemberState:
    """Member-side arrays made once per evaluation and shared with its what-if updates.

    ``language_code``/``language_names`` and ``class_code``/``class_names``
    factorise the members' language and county class; ``legs`` holds each
    member's snapping leg per metric (meters, seconds); ``nodes`` the distinct
    road nodes of a language's members with the inverse index; ``by_node`` the
    members sorted by node with CSR offsets (what-if); ``delta_base`` the
    'before' half of what-if's delta table.
    """

    language_code: np.ndarray
    language_names: list[str]
    class_code: np.ndarray
    class_names: list[str]
    county_code: np.ndarray | None = None
    county_names: list[str] = field(default_factory=list)
    legs: dict[str, np.ndarray] = field(default_factory=dict)
    nodes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: where those nodes sit on the contracted graph (``network.chain_labels.places_of``)
    places: dict[str, ChainPlaces] = field(default_factory=dict)
    by_node: tuple[np.ndarray, np.ndarray] | None = None
    delta_base: pd.DataFrame | None = None
    site_reach: Any = None  # the searches from candidate sites (engine.reach.SiteReach)

    @classmethod
    def of(cls, members: pd.DataFrame) -> MemberState:
        language_code, language_names = pd.factorize(members["language"])
        class_code, class_names = pd.factorize(members["region_class"])
        county_code, county_names = pd.factorize(members["county_fips"].astype(str))
        return cls(
            language_code,
            list(language_names),
            class_code,
            list(class_names),
            county_code,
            list(county_names),
        )

    def rows_of(self, language: str | None, n: int) -> np.ndarray:
        """Rows of the ``n`` members speaking ``language`` (every member for None/"")."""
        if not language:
            return np.arange(n)
        names = list(self.language_names)
        code = names.index(language) if language in names else -2
        return np.flatnonzero(self.language_code == code)

    def limits(self, rule: Rule, rows: np.ndarray):
        """:func:`~adequacy.engine.judge.member_limits` for some member rows: their
        county class, or their county where the rule sets terms per county."""
        return member_limits(
            rule,
            self.class_code[rows],
            self.class_names,
            self.county_code[rows] if self.county_code is not None else None,
            self.county_names,
        )

    def members_at(
        self, member_node: np.ndarray, n_nodes: int, nodes: np.ndarray, *, sort: bool = True
    ) -> np.ndarray:
        """The (sorted, distinct) member rows living at the given graph nodes; with
        ``sort=False``, for distinct ``nodes``, the same rows in node order."""
        if self.by_node is None:
            order = np.argsort(member_node, kind="stable")
            ptr = np.zeros(n_nodes + 1, dtype=np.int64)
            np.cumsum(np.bincount(member_node, minlength=n_nodes), out=ptr[1:])
            self.by_node = (order, ptr)
        order, ptr = self.by_node
        nodes = np.asarray(nodes, dtype=np.int64)
        counts = ptr[nodes + 1] - ptr[nodes]
        if not counts.sum():
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(ptr[nodes], counts)
        within_node = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = order[starts + within_node]
        return np.unique(rows) if sort else rows


def rule_variants(standards: StandardsSet, languages: list[str]) -> list[tuple[Rule, str | None]]:
    """(rule, language) pairs evaluated: every rule, then language rules per language."""
    variants: list[tuple[Rule, str | None]] = [(rule, None) for rule in standards.rules]
    variants += [(rule, lang) for rule in standards.rules if rule.languages for lang in languages]
    return variants


def group_counts(providers: pd.DataFrame, keys) -> dict[SearchKey, int]:
    """Distinct provider ids among each search key's sources (what sets label widths)."""
    return {
        key: int(providers["provider_id"].iloc[provider_rows(providers, key)].nunique())
        for key in keys
    }


def _search_labels(graph, nodes, source_cost, groups, *, k, metric, cutoff, keep_order):
    """One search's labels (:func:`~adequacy.routing.k_nearest_labels`); the settled
    order is kept only when routes will be read off them."""
    labels = k_nearest_labels(
        graph, nodes, k=k, metric=metric, source_cost=source_cost, groups=groups, cutoff=cutoff
    )
    if not keep_order:
        labels.forget_order()
    return labels


def provider_rows(providers: pd.DataFrame, key: SearchKey) -> np.ndarray:
    """Rows of in-network providers that a search with this key starts from."""
    if key.provider_type == "cms":  # CMS specialty codes (Medicare Advantage, cms-ma)
        codes = providers["cms_code"].astype(str) if "cms_code" in providers else None
        if codes is None:
            mask = np.zeros(len(providers), dtype=bool)
        elif key.specialty == "S03":  # primary care: the codes 001-006 together
            mask = codes.isin(["001", "002", "003", "004", "005", "006", "S03"]).to_numpy()
        else:
            mask = (codes == key.specialty).to_numpy()
        mask = mask & providers["in_network"].to_numpy()
    else:
        mask = (
            providers["in_network"].to_numpy()
            & (providers["provider_type"] == key.provider_type).to_numpy()
        )
        if key.specialty is not None:
            mask &= (providers["specialty"] == key.specialty).to_numpy()
    if key.language is not None:
        mask &= speaks(providers["languages"], key.language)
    return np.flatnonzero(mask)


@dataclass
class Block:
    """One (rule, language)'s results for a set of member rows."""

    rule: Rule
    language: str | None
    member_rows: np.ndarray
    miles: np.ndarray
    minutes: np.ndarray
    n_qualifying: np.ndarray
    meets: np.ndarray
    nearest: np.ndarray  # (m, count) provider-id codes, -1 none
    #: labels per node of the key's searches (distance, time) the block was judged on
    widths: tuple = ()


class Engine:
    """Searches and judges rules for one set of members and one provider roster.

    ``state`` holds the member-side arrays; pass the base evaluation's
    ``member_state`` to share them (what-if builds an engine per scenario over
    the same members). Searches are kept in ``searches`` by (key, metric); pass
    another engine's to reuse them (an evaluation judges its members in chunks,
    each with its own engine, over one set of searches).
    """

    def __init__(
        self,
        graph: RoadGraph,
        members: pd.DataFrame,
        providers: pd.DataFrame,
        member_snap: Snap,
        provider_snap: Snap,
        settings: Settings,
        *,
        workers: int = 1,
        progress: Progress | None = None,
        state: MemberState | None = None,
        searches: dict | None = None,
        n_groups: dict[SearchKey, int] | None = None,
        min_width: dict[tuple[SearchKey, str], int] | None = None,
        ahead: SearchesAhead | None = None,
    ):
        self.graph = graph
        self.members = members
        self.providers = providers
        self.member_snap = member_snap
        self.provider_snap = provider_snap
        self.settings = settings
        self.workers = max(1, int(workers))
        self.tick = progress or (lambda step, done, total: None)
        self.pid_codes, self.pid_uniques = pd.factorize(providers["provider_id"])
        #: shared with other engines over the same graph and roster (chunks of members)
        self.searches: dict[tuple[SearchKey, str], Search] = {} if searches is None else searches
        self._job_rules: dict[tuple[SearchKey, str], list[Rule]] = {}
        self.state = state if state is not None else MemberState.of(members)
        self.basis = settings.distance_basis or "shortest"
        #: labels whose fastest route was not found (ties at the k-th place): never within
        self.unrouted = 0
        #: providers per search key, and labels per search at least, when this engine
        #: judges a partition of a larger run (the whole roster's counts and the widths
        #: the other partitions' searches reached; :mod:`adequacy.distributed`)
        self.n_groups = n_groups or {}
        self.min_width = min_width or {}
        #: each engine thread's scratch for searches from members (made once per thread)
        self._counts_scratch = threading.local()
        #: searches begun before the members were placed (:mod:`adequacy.engine.ahead`)
        self.ahead = ahead

    @staticmethod
    def key_of(rule: Rule, language: str | None) -> SearchKey:
        return SearchKey(rule.provider_type, rule.specialty, language)

    # -- searches
    def _cutoff(self, rules: list[Rule], metric: str) -> float:
        """How far a search of ``metric`` reaches: the rules' largest limit and the
        report horizon (meters or seconds). Under ``fastest_route`` the miles are
        the time search's routes' and the shortest road distances only bound which
        providers may be within a mile limit (:meth:`_route_doubt`, and the lower
        bounds of :meth:`_fastest_counts`): that search stops at the limit."""
        if metric == "distance":
            limit = max([r.max_miles or 0 for r in rules])
            if self.basis != "fastest_route":  # shortest miles reported to the horizon
                limit = max(limit, self.settings.max_report_miles)
            return search_cutoff(limit * METERS_PER_MILE)
        limit = max([r.max_minutes or 0 for r in rules] + [self.settings.max_report_minutes])
        return search_cutoff(limit * SECONDS_PER_MINUTE)

    def jobs(self, variants) -> dict[tuple[SearchKey, str], list[Rule]]:
        """The searches that the variants need, with the rules that use each."""
        jobs: dict[tuple[SearchKey, str], list[Rule]] = {}
        for rule, language in variants:
            key = self.key_of(rule, language)
            # miles along the fastest route come from the time search's routes
            timed = rule.max_minutes is not None or (
                self.basis == "fastest_route" and rule.max_miles is not None
            )
            for metric, used in (("distance", rule.max_miles is not None), ("time", timed)):
                if used:
                    jobs.setdefault((key, metric), []).append(rule)
        self._job_rules.update(jobs)  # a wider search later keeps every rule's cutoff
        return jobs

    def widths_of(self, key: SearchKey) -> tuple:
        """Labels per node of the key's searches now (distance, time; 0 where none)."""
        return tuple(
            self.searches[(key, m)].k if (key, m) in self.searches else 0
            for m in ("distance", "time")
        )

    def counted(self, count: int) -> int:
        """Providers counted for a rule needing ``count``: one spare, or the count cap."""
        cap = self.settings.count_cap
        return count + 1 if cap is None else max(count, cap)

    def width(self, rules: list[Rule], n_groups: int) -> int:
        """Labels kept per node: the providers counted, at most the providers there are."""
        need = max(r.count for r in rules)
        return max(min(self.counted(need), max(n_groups, 1)), need)

    def evaluate_variants(self, variants, on_block: Callable | None = None) -> list[Block]:
        """Search and judge every variant: one task per provider key, on the worker threads.

        A task runs its key's searches (distance, time) and then judges the rules
        that use them, so that reading labels at members' nodes overlaps other
        keys' searches. The compiled parts release the GIL. ``on_block(i, block)``
        is called on the task's thread as variant ``i``'s block is judged.
        """
        jobs = self.jobs(variants)
        keys = list(dict.fromkeys(key for key, _ in jobs))
        # shared data, made once before the threads start
        chains_of(self.graph)
        for metric in ("distance", "time"):
            self.leg(metric)
        for lang in dict.fromkeys(lang or "" for _, lang in variants):
            self._places(self._distinct_nodes(self.rows_of(lang or None), lang)[0], lang)

        def task(key):
            for item in jobs.items():
                if item[0][0] == key and item[0] not in self.searches:
                    search = self.ahead.take(item[0]) if self.ahead is not None else None
                    if search is None:  # not begun ahead: run here
                        search = self.search_one(item)[1]
                    self.searches[item[0]] = search
            found = []
            for i, (rule, lang) in enumerate(variants):
                if self.key_of(rule, lang) == key:
                    found.append((i, self.rule_block(rule, lang)))
                    if on_block is not None:
                        on_block(*found[-1])
            return found

        blocks: list = [None] * len(variants)
        self.tick("searching roads", 0, len(keys))
        with ThreadPoolExecutor(self.workers) as pool:
            for done, found in enumerate(pool.map(task, keys), start=1):
                for i, block in found:
                    blocks[i] = block
                self.tick("searching roads", done, len(keys))
        return blocks

    def search_one(self, item, k: int | None = None):
        (key, metric), rules = item
        rows = provider_rows(self.providers, key)
        n_groups = self.n_groups.get(key)
        if n_groups is None:
            n_groups = len(np.unique(self.pid_codes[rows])) if len(rows) else 0
        width = self.width(rules, n_groups)
        k = max(k or 0, self.min_width.get((key, metric), 0)) or None
        if k:  # a wider search asked for ('and' rules)
            width = max(min(k, max(n_groups, 1)), width)
        if metric == "distance" and self.basis == "straight_line":
            labels = StraightLabels(
                self.providers["lon"].to_numpy()[rows],
                self.providers["lat"].to_numpy()[rows],
                self.pid_codes[rows],
                k=width,
                cutoff=self._cutoff(rules, metric),
            )
            return (key, metric), Search(key, metric, rows, labels, n_groups)
        fastest = self.basis == "fastest_route"
        make = partial(
            _search_labels,
            self.graph,
            self.provider_snap.node[rows],
            self.provider_snap.leg_cost(metric, self.settings.snap_speed_mph)[rows],
            self.pid_codes[rows],
            k=width,
            metric=metric,
            cutoff=self._cutoff(rules, metric),
            keep_order=metric == "time" and fastest,  # routes are read off the time labels
        )  # the arrays it needs taken now (not the engine: it holds members)
        if metric == "distance" and fastest:  # read only for members short of providers
            return (key, metric), Search(key, metric, rows, None, n_groups, make=make, k=width)
        return (key, metric), Search(key, metric, rows, make(), n_groups)

    def run(
        self, jobs: dict[tuple[SearchKey, str], list[Rule]], k: int | None = None, *,
        made: bool = False,
    ) -> None:  # fmt: skip
        """Run ``jobs`` into :attr:`searches` (on the worker threads). ``made``: make
        the deferred ones too (engine/search.py), when their labels will be read."""

        def one(item):
            job, search = self.search_one(item, k)
            return job, search.make() if made else search

        self.tick("searching roads", 0, len(jobs))
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 and len(jobs) > 1 else None
        try:
            found = pool.map(one, jobs.items()) if pool is not None else map(one, jobs.items())
            for done, (job, search) in enumerate(found, start=1):
                self.searches[job] = search
                self.tick("searching roads", done, len(jobs))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def leg(self, metric: str) -> np.ndarray:
        if metric not in self.state.legs:
            self.state.legs[metric] = self.member_snap.leg_cost(
                metric, self.settings.snap_speed_mph
            )
        return self.state.legs[metric]

    def rows_of(self, language: str | None) -> np.ndarray:
        """Member rows of a language's block (every member for None)."""
        return self.state.rows_of(language, len(self.members))

    def _labels(
        self, key: SearchKey, metric: str, member_rows: np.ndarray, cache_key: str | None = None
    ):
        """(cost, provider-id code) per member, or None when the metric is not used."""
        search = self.searches.get((key, metric))
        if search is None:
            return None
        if isinstance(search.labels, StraightLabels):  # point to point, no road
            cost, source = search.labels.at_points(
                self.members["lon"].to_numpy()[member_rows],
                self.members["lat"].to_numpy()[member_rows],
            )
            return cost, label_ids(source, self.pid_codes[search.rows]).astype(np.int64)
        # labels are read once per distinct node (many members share a node)
        nodes, inverse = self._distinct_nodes(member_rows, cache_key)
        cost_u, source_u = search.labels.at_nodes(nodes, self._places(nodes, cache_key))
        code_of_source = self.pid_codes[search.rows].astype(np.int64)
        return member_labels(
            cost_u,
            source_u.astype(np.int64, copy=False),
            inverse.astype(np.int64, copy=False),
            self.leg(metric)[member_rows],
            code_of_source,
            search.labels.cutoff,
        )

    def _time_and_route(self, key: SearchKey, member_rows: np.ndarray, cache_key):
        """Time labels per member (as :meth:`_labels`) and the meters of each one's
        route (with both snapping legs), from one reading of the labels."""
        search = self.searches[(key, "time")]
        rows = search.rows
        snap = self.provider_snap
        if search.route is None:
            search.route, unrouted = route_meters(
                self.graph,
                search.labels,
                self.pid_codes[rows],
                snap.leg_cost("distance")[rows],
                snap.leg_cost("time", self.settings.snap_speed_mph)[rows],
                snap.node[rows],
            )
            self.unrouted += unrouted
            search.labels.forget_order()  # read: the settled order is no longer needed
        nodes, inverse = self._distinct_nodes(member_rows, cache_key)
        places = self._places(nodes, cache_key)
        cost_u, source_u, route_u = route_at(
            search.labels, search.route, nodes, snap.meters[rows], places
        )
        time = member_labels(
            cost_u,
            source_u.astype(np.int64, copy=False),
            inverse.astype(np.int64, copy=False),
            self.leg("time")[member_rows],
            self.pid_codes[rows].astype(np.int64),
            search.labels.cutoff,
        )
        meters = member_route_meters(
            route_u, inverse.astype(np.int64, copy=False), self.leg("distance"),
            np.asarray(member_rows, dtype=np.int64), time[1],
        )  # fmt: skip
        return time, (meters, time[1])

    def _distinct_nodes(self, member_rows: np.ndarray, cache_key: str | None):
        found = self.state.nodes.get(cache_key) if cache_key is not None else None
        if found is None:
            found = distinct_nodes(self.member_snap.node[member_rows], self.graph.n_nodes)
            if cache_key is not None:
                self.state.nodes[cache_key] = found
        return found

    def _places(self, nodes: np.ndarray, cache_key: str | None):
        """Where a block's distinct nodes sit on the chains, found once for every
        search read there (None: not kept, or the searches are not contracted)."""
        if cache_key is None or not contracted(self.graph):
            return None
        if cache_key not in self.state.places:
            self.state.places[cache_key] = places_of(chains_of(self.graph), nodes)
        return self.state.places[cache_key]

    # -- rule evaluation
    def rule_block(
        self, rule: Rule, language: str | None, member_rows: np.ndarray | None = None
    ) -> Block:
        cache_key = None if member_rows is not None else (language or "")
        if member_rows is None:
            member_rows = self.rows_of(language)
        key = self.key_of(rule, language)
        while True:
            route = None
            if self.basis == "fastest_route" and (key, "distance") in self.searches:
                # miles along the time search's routes; the shortest road distances
                # only bound the doubt of members short of providers: read for them alone
                time, route = self._time_and_route(key, member_rows, cache_key)
                dist = lambda rows, key=key: self._labels(key, "distance", rows)  # noqa: E731
            else:
                dist = self._labels(key, "distance", member_rows, cache_key)
                time = self._labels(key, "time", member_rows, cache_key)
            block, ambiguous = self._judge(rule, language, member_rows, dist, time, route)
            searches = [
                self.searches[(key, m)] for m in ("distance", "time") if (key, m) in self.searches
            ]
            if not ambiguous or all(s.complete for s in searches):
                block.widths = self.widths_of(key)
                return block
            # a full label list may hide a qualifying provider further down ('and'
            # rules: all labels within both limits, too few providers within both):
            # search again with twice the labels until none is in doubt.
            width = max(s.k for s in searches)
            rerun = {
                (key, m): self._job_rules.get((key, m), [rule])
                for m in ("distance", "time")
                if (key, m) in self.searches
            }
            self.run(rerun, k=2 * width)

    def _judge(self, rule, language, member_rows, dist, time, route=None):
        """Judge one (rule, language) for some members; also whether a wider search
        is needed (a provider that may qualify could lie beyond full label lists).

        ``dist``/``time`` are (cost, provider code) per member and label, ``route``
        the meters of each time label's route (``fastest_route`` basis): miles are
        then judged on ``route``, and ``dist`` is a function giving the shortest
        road distances' labels of some member rows, which only bound which
        providers could still be within the mile limit of a member short of them;
        a short member for whom one may lie beyond the labels is counted by a
        search from the member (:meth:`_fastest_counts`), never by a wider search.
        """
        m = len(member_rows)
        limit_meters, limit_seconds, both = self.state.limits(rule, member_rows)
        k = rule.count
        miles_labels = route if route is not None else dist
        # 'or': within either limit
        count, saturated = qualifying_counts(miles_labels, limit_meters, time, limit_seconds)
        ambiguous = False
        if both.any() and miles_labels is not None and time is not None:
            # 'and': within both limits, per provider
            qd = np.where(within(miles_labels[0], limit_meters[:, None]), miles_labels[1], -1)
            qt = np.where(within(time[0], limit_seconds[:, None]), time[1], -1)
            hit = (qd[:, :, None] == qt[:, None, :]).any(axis=2) & (qd >= 0)
            count = np.where(both, hit.sum(axis=1), count)
            if route is not None:  # every qualifying provider is within the time limit
                saturated = within(time[0], limit_seconds[:, None]).all(axis=1)
            ambiguous = bool((both & saturated & (count < k)).any())
        cap = self.counted(k)
        if route is not None:  # a short member's verdict in doubt: searched from the member
            doubt = self._route_doubt(dist, member_rows, time, limit_meters, ~both & (count < k))
            if doubt.any():
                count[doubt] = self._fastest_counts(
                    self.key_of(rule, language), member_rows[doubt],
                    limit_meters[doubt], limit_seconds[doubt],
                )  # fmt: skip
        width_codes = time[1] if route is not None or dist is None else dist[1]
        nearest = width_codes[:, :k]
        if route is not None:  # the k-th nearest by time: its minutes and its route's miles
            miles = route[0][:, k - 1] / METERS_PER_MILE
        elif dist is not None:
            miles = dist[0][:, k - 1] / METERS_PER_MILE
        else:
            miles = np.full(m, np.nan)
        minutes = (
            (time[0][:, k - 1] / SECONDS_PER_MINUTE) if time is not None else np.full(m, np.nan)
        )
        block = Block(
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

    def _fastest_counts(self, key: SearchKey, rows, limit_meters, limit_seconds) -> np.ndarray:
        """Exact providers qualifying ('or') for members whose labels leave it in doubt:
        one forward search from each (:func:`~adequacy.routing.fastest_route_counts`),
        not every search again with more labels for a handful of members."""
        search = self.searches[(key, "time")]
        snap, src = self.provider_snap, search.rows
        bounds = {"lower_seconds": search.labels.nearest_bound()}
        dist = self.searches.get((key, "distance"))
        on_roads = dist is not None and isinstance(dist.labels, NodeLabels)
        if on_roads and np.array_equal(dist.rows, src):  # the same providers
            bounds["lower_meters"] = dist.labels.nearest_bound()
        return fastest_route_counts(
            self.graph, self.member_snap.node[rows], self.leg("time")[rows],
            self.leg("distance")[rows], snap.node[src],
            snap.leg_cost("time", self.settings.snap_speed_mph)[src], snap.meters[src],
            self.pid_codes[src], max_seconds=limit_seconds * (1 + LIMIT_TOLERANCE),
            max_meters=limit_meters * (1 + LIMIT_TOLERANCE), cutoff_seconds=search.labels.cutoff,
            scratch=self._counts_scratch, **bounds,
        )  # fmt: skip

    @staticmethod
    def _route_doubt(dist, member_rows, time, limit_meters, short) -> np.ndarray:
        """Which members short of providers (``short``) may have one within the mile
        limit along its fastest route that the time labels do not hold.

        Such a provider is within the limit by the shortest road distance, so it is
        in the distance labels, unless they are all within the limit (more may
        follow); and it is missing from the time labels only if they are full.
        ``dist(rows)`` reads the distance labels of some of ``member_rows``: only
        the short members' are read.
        """
        at = np.flatnonzero(short)
        if not len(at):
            return short
        dcost, dcode = dist(member_rows[at])
        tcode = time[1][at]
        near = within(dcost, limit_meters[at, None]) & (dcode >= 0)
        more = near.all(axis=1)
        missing = near & ~(dcode[:, :, None] == tcode[:, None, :]).any(axis=2)
        full = tcode[:, -1] >= 0
        doubt = np.zeros_like(short)
        doubt[at] = more | (missing.any(axis=1) & full)
        return doubt
