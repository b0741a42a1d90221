"""Applying a scenario to a base evaluation, incrementally.

:func:`run_whatif` updates a base :class:`~adequacy.engine.Evaluation`: an
added provider runs one bounded search from its site whose labels merge into
the stored k-nearest labels (:meth:`adequacy.routing.NodeLabels.merge`); a
terminated provider re-runs only the searches of its type (and languages).
Only members whose nodes' labels changed are judged again
(:mod:`adequacy.whatif.rejudge`); a merged time search keeps the miles along
its fastest routes, updated where they changed (:mod:`adequacy.whatif.fastest`).
The result equals a full re-evaluation, which the tests check. Terminated
providers stay in the provider table with ``in_network = False`` (they are
candidates again), added ones are appended.

What depends on the base alone (the roster with its ``status`` column, the
member results as arrays, the delta's 'before' half) is made on the first
scenario and kept for the next (:mod:`adequacy.whatif.cache`), so that adding a
provider costs what changed, not the size of the roster or of the results.

Owns: ``run_whatif`` and ``WhatIf`` (changes, delta, the updated evaluation).
Uses: the public engine, the judge, :mod:`adequacy.routing` and the
scenario reader of :mod:`adequacy.inputs`.
"""

from __future__ import annotations

import difflib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from adequacy.engine.cms_ma import PRIMARY_CARE
from adequacy.engine.engine import Block, Engine, SearchKey, provider_rows, rule_variants
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import OUTSIDE, county_of
from adequacy.engine.panels import panel_findings
from adequacy.engine.reach import served_counties, served_counts
from adequacy.engine.search import Search
from adequacy.engine.summaries import (
    plan_summary,
    summarise,
)
from adequacy.errors import InputError
from adequacy.inputs.cms_specialties import cms_codes
from adequacy.inputs.scenario import Scenario, read_scenario
from adequacy.inputs.schemas import read_providers
from adequacy.inputs.tables import row_names
from adequacy.routing import Snap, snap_points
from adequacy.routing.routes import StraightLabels
from adequacy.routing.snap import check_extent
from adequacy.whatif.cache import base_cache
from adequacy.whatif.delta import delta_table
from adequacy.whatif.fastest import merged_route
from adequacy.whatif.rejudge import COMPARED, judge_again


# ---------------------------------------------------------------------------
# the incremental update
# ---------------------------------------------------------------------------
@dataclass
class WhatIf:
    """A scenario applied to a base evaluation."""

    scenario: Scenario
    base: Evaluation
    providers: pd.DataFrame  # updated roster: status column added/joined/terminated
    changes: pd.DataFrame  # member rows whose result changed, before and after
    delta: pd.DataFrame  # per rule, language and county (and "ALL"), before and after
    pending: pd.DataFrame  # terminations effective after as_of, not applied
    timings: dict[str, float]
    #: the scenario's engine (its searches and provider snapping)
    engine: Engine = field(repr=False)
    #: (member_results positions, their new block) per re-judged (rule, language)
    patches: list[tuple[np.ndarray, Block]] = field(repr=False, default_factory=list)
    #: rules with terms per county: provider sites x counties served, after the scenario
    served: pd.DataFrame | None = field(repr=False, default=None)
    _evaluation: Evaluation | None = field(repr=False, default=None)

    @property
    def evaluation(self) -> Evaluation:
        """The updated evaluation, in full (member results patched, summaries redone)."""
        if self._evaluation is None:
            self._evaluation = _materialise(self)
        return self._evaluation

    @property
    def terminated_ids(self) -> list[str]:
        p = self.providers
        return sorted(set(p.loc[p["status"] == "terminated", "provider_id"]))


def _scenario_providers(base: Evaluation, scenario: Scenario):
    """The updated roster, its provider snapping, the pending terminations, and the
    roster rows the scenario touched (added, joined or terminated).

    Every problem of the scenario against the base roster is reported at once: ids to
    join or terminate that are not there (with the nearest ids), added rows that are
    not valid roster rows (named ``add[i]``), and added or joined providers far off the
    road network (refused when most are, as for any roster). The touched rows come as
    (rows, their columns that decide which searches they are sources of)."""
    roster = base.providers
    n = len(roster)
    status = np.full(n, "", dtype=object)
    in_net = roster["in_network"].to_numpy().copy()  # checks see the changes made before
    label = scenario.path or scenario.name
    ids = _roster_ids(base) if (scenario.join or scenario.terminate) else None
    problems: list[str] = []
    # joins
    for i, pid in enumerate(scenario.join):
        rows = np.flatnonzero(ids == pid)
        if not len(rows):
            problems.append(
                f"join[{i}] {pid!r}: no such provider in the base roster{_near(pid, ids)}"
            )
        elif in_net[rows].all():
            problems.append(f"join[{i}] {pid!r}: already in the network; remove it from join")
        else:
            in_net[rows] = True
            status[rows] = "joined"
    # terminations (effective by as_of)
    pending = []
    for i, t in enumerate(scenario.terminate):
        rows = np.flatnonzero((ids == t.provider_id) & in_net)
        if not len(rows):
            hint = _near(t.provider_id, ids[in_net])
            problems.append(
                f"terminate[{i}] {t.provider_id!r}: no in-network provider with that id{hint}"
            )
            continue
        if scenario.as_of and t.effective and t.effective > scenario.as_of:
            pending.append(
                {"provider_id": t.provider_id, "effective": t.effective, "reason": t.reason}
            )
            continue
        in_net[rows] = False
        status[rows] = "terminated"
    # added rows
    added = None
    if len(scenario.add):
        try:
            added = read_providers(scenario.add, extra_types=base.standards.provider_types)
        except InputError as exc:  # the rows' problems, named add[i], beside the others
            problems.extend(exc.problems or [str(exc).removeprefix(f"{label}: ")])
    joined = np.flatnonzero(status == "joined")
    listed = [f"{pid} (joined)" for pid in ids[joined]] if len(joined) else []
    listed += row_names(added, "provider_id") if added is not None else []

    def names(rows):
        return [listed[i] for i in rows]

    if listed:  # the providers added or joined: on the map?
        lon = [roster["lon"].to_numpy()[joined]]
        lat = [roster["lat"].to_numpy()[joined]]
        if added is not None:
            lon.append(added["lon"].to_numpy())
            lat.append(added["lat"].to_numpy())
        try:
            note = check_extent(
                _extent(base),
                np.concatenate(lon),
                np.concatenate(lat),
                what="providers added or joined",
                label=label,
                names=names,
            )
        except InputError as exc:
            problems.append(str(exc).removeprefix(f"{label}: "))
        else:
            if note:  # a scenario is small and deliberate: a provider off the map is refused
                text = note[1].removeprefix(f"{label}: ").split("; they are kept")[0]
                problems.append(f"{text}; check their coordinates")
    if problems:
        if len(problems) == 1:
            raise InputError(f"{label}: {problems[0]}")
        raise InputError(f"{label}: {len(problems)} problems in the scenario", problems)
    touched = np.flatnonzero(status != "")
    providers = _roster_with_status(base).copy()
    if len(touched):
        providers["in_network"] = in_net
        providers["status"] = status
    if added is not None:
        lon, lat = added["lon"].to_numpy(), added["lat"].to_numpy()
        snap = snap_points(
            base.graph,
            np.column_stack([lon, lat]),
            what=f"{label}: added providers",
            ids=added["provider_id"].to_numpy(),
            max_snap_meters=base.settings.max_snap_meters,
        )
        extra = {
            "in_network": True,
            "status": "added",
            "county_fips": (
                county_of(lon, lat, base.regions) if base.regions is not None else OUTSIDE
            ),
            "snap_meters": snap.meters,
            "off_road": snap.off_road,
        }
        if "cms_code" in providers.columns:  # Medicare Advantage runs: the rows' CMS codes
            extra["cms_code"] = cms_codes(added)[0].to_numpy()
        added = added.assign(**extra)
        providers = pd.concat([providers, added[providers.columns]], ignore_index=True)
        touched = np.concatenate([touched, np.arange(n, n + len(added))])
        provider_snap = Snap(
            np.concatenate([base.provider_snap.node, snap.node]),
            np.concatenate([base.provider_snap.meters, snap.meters]),
            np.concatenate([base.provider_snap.off_road, snap.off_road]),
            base.provider_snap.max_snap_meters,
        )
    else:
        provider_snap = base.provider_snap
    providers = providers.infer_objects()
    pending_frame = pd.DataFrame(pending, columns=["provider_id", "effective", "reason"])
    # the touched rows' columns that decide which searches they are sources of
    cols = [c for c in _SOURCE_COLUMNS if c in providers.columns]
    parts = [providers[cols].take(touched[touched < n])] if (touched < n).any() else []
    parts += [added[cols]] if added is not None else []
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts or [None])[0]
    return providers, provider_snap, pending_frame, (touched, frame)


#: the roster columns that decide which searches a provider row is a source of
_SOURCE_COLUMNS = ["provider_type", "specialty", "languages", "in_network", "cms_code"]


def _roster_with_status(base: Evaluation) -> pd.DataFrame:
    """The base roster with an empty ``status`` column (made once per base)."""
    cache = base_cache(base)
    if "roster" not in cache:
        roster = base.providers.copy()
        roster["status"] = ""
        cache["roster"] = roster
    return cache["roster"]


def _extent(base: Evaluation) -> tuple[float, float, float, float]:
    """The road network's (west, south, east, north) box, as ``check_extent`` takes it
    (made once per base: the graph's own would be worked out from every node)."""
    cache = base_cache(base)
    if "extent" not in cache:
        graph = base.graph
        cache["extent"] = (
            float(graph.lon.min()),
            float(graph.lat.min()),
            float(graph.lon.max()),
            float(graph.lat.max()),
        )
    return cache["extent"]


def _roster_ids(base: Evaluation) -> np.ndarray:
    """The base roster's provider ids, as an array (made once per base)."""
    cache = base_cache(base)
    if "roster_ids" not in cache:
        cache["roster_ids"] = base.providers["provider_id"].to_numpy()
    return cache["roster_ids"]


def _near(value: str, ids) -> str:
    """'; did you mean X?' for the closest roster ids, or where ids come from."""
    close = difflib.get_close_matches(str(value), [str(i) for i in set(ids)], n=2)
    if close:
        return f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return "; use a provider_id of the base run's providers file"


def _check_rule_set(base: Evaluation, providers: pd.DataFrame, scenario: Scenario) -> None:
    """Refuse a scenario that changes the rule set itself (``specialty: each`` rules).

    Rules written once per specialty in the network get a rule more or less
    when a scenario brings the first provider of a specialty or takes the last
    one away; that is a new evaluation, not an update.
    """
    source = base.standards_source
    if source is None or not any(r.specialty == "each" for r in source.rules):
        return
    in_net = providers[providers["in_network"]]
    specs = in_net.loc[in_net["provider_type"] == "specialist", "specialty"]
    hv = base.high_volume_specialists
    chosen = hv.loc[hv["selected"], "specialty"].tolist() if len(hv) else []
    new = source.expand(chosen, specs[specs != ""].unique()).for_period(base.settings.quarter)
    before = {r.id for r in base.standards.rules}
    after = {r.id for r in new.rules}
    if before != after:
        gained = ", ".join(sorted(after - before)) or "none"
        lost = ", ".join(sorted(before - after)) or "none"
        raise InputError(
            f"{scenario.path or scenario.name}: this scenario changes the rules themselves "
            f"(new: {gained}; gone: {lost}) because it adds or removes a whole specialty; "
            "evaluate the new roster with 'adequacy evaluate' instead"
        )


def _update_searches(base: Evaluation, engine: Engine, variants, touched):
    """Bring every search up to the new roster; returns changed-node masks per job and
    the source rows of each key whose providers changed (sorted, as ``provider_rows``).

    Only searches whose key matches a provider row that was added, joined or
    terminated (``touched``) are touched: added sites are merged in by one bounded
    search each; a departure re-runs that key's search. The other rows are the base
    roster's, unchanged, so a key's sources are its base sources (``Search.rows``)
    with the touched rows it now takes in or out.
    """
    touched, sub = touched  # the touched rows, and their source columns
    if sub is None:
        sub = pd.DataFrame({c: [] for c in _SOURCE_COLUMNS[:4]})
    cms = sub["cms_code"] if "cms_code" in sub.columns else [""] * len(sub)
    candidates = [
        (t, sp, frozenset(str(langs).split(";")), str(code))
        for t, sp, langs, code in zip(
            sub["provider_type"], sub["specialty"], sub["languages"], cms, strict=True
        )
    ]
    changed: dict[tuple[SearchKey, str], np.ndarray] = {}
    rows_of: dict[SearchKey, np.ndarray] = {}
    moves: dict[SearchKey, tuple] = {}  # key -> (rows in, rows out) among the touched
    merges, reruns = [], {}
    jobs = engine.jobs(variants)
    # the base's searches of the keys touched are read below: any it deferred (made
    # when first read, engine/search.py) are made first, together
    _make([base.searches[j] for j in jobs if j in base.searches and _key_matches(j[0], candidates)],
          engine.workers)  # fmt: skip
    for job, rules in jobs.items():
        key, metric = job
        old = base.searches.get(job)
        if old is not None and not _key_matches(key, candidates):
            engine.searches[job] = old  # no change of this key's providers
            continue
        if old is not None:
            if key not in moves:
                now = touched[provider_rows(sub, key)]
                moves[key] = (now, touched[~np.isin(touched, now)])
            rows_in, rows_out = moves[key]
            removed = bool(np.isin(rows_out, old.rows).any())
            added = rows_in[~np.isin(rows_in, old.rows)]  # in roster order
            if not removed and not len(added):
                engine.searches[job] = old
                continue
        straight = old is not None and isinstance(old.labels, StraightLabels)
        if old is None or removed or straight:
            # a provider left: search this key again from its remaining providers
            # (straight-line labels belong to members, not nodes: made again, cheaply)
            reruns[job] = (rules, old, straight)
            continue
        if key not in rows_of:
            rows_of[key] = _sorted_union(old.rows, added)
        labels = old.labels
        groups = labels.groups_of(engine.pid_codes[old.rows])
        # distinct providers: the base's, and added ones not among them
        fresh = np.unique(engine.pid_codes[added])
        n_groups = old.n_providers + int((~np.isin(fresh, engine.pid_codes[old.rows])).sum())
        width = engine.width(rules, n_groups)
        if width > labels.k:  # the old labels held every provider: widen with empty slots
            labels, groups = labels.widen(width - labels.k, groups)
        merges.append((job, old, labels, groups, added.tolist(), n_groups))

    if reruns:  # searched again together (on the engine's threads)
        engine.run({job: rules for job, (rules, _, _) in reruns.items()}, made=True)  # diffed
        for job, (_, old, straight) in reruns.items():
            new = engine.searches[job]
            rows_of[job[0]] = new.rows
            if old is None or straight:
                changed[job] = np.arange(base.graph.n_nodes)
            else:
                changed[job] = old.labels.diff(
                    new.labels, engine.pid_codes[old.rows], engine.pid_codes[new.rows]
                )

    snap, mph = engine.provider_snap, engine.settings.snap_speed_mph
    seed_cache = base_cache(base).setdefault("route_seeds", {})

    def merge(task):
        (key, metric), old, labels, groups, added, n_groups = task
        legs = snap.leg_cost(metric, mph)
        rows = old.rows
        touched = []
        for r in added:
            rows = np.append(rows, r)
            labels, groups, nodes = labels.merge(
                engine.graph,
                groups,
                int(snap.node[r]),
                start_cost=float(legs[r]),
                group=int(engine.pid_codes[r]),
                new_source=len(rows) - 1,
            )
            touched.append(nodes)
        if len(touched) == 1:
            nodes = touched[0]
        else:
            hit = np.zeros(engine.graph.n_nodes, dtype=bool)
            for found in touched:
                hit[found] = True
            nodes = np.flatnonzero(hit)
        route = None
        if metric == "time" and old.route is not None:  # miles along the fastest route
            route = merged_route(
                engine.graph,
                old.labels,
                old.route,
                labels,
                engine.pid_codes[rows],
                snap.leg_cost("distance")[rows],
                snap.leg_cost("time", mph)[rows],
                snap.node[rows],
                nodes,
                seed_cache,
            )
        return (key, metric), Search(key, metric, rows, labels, n_groups, route), nodes

    # the merge kernels release the GIL, but a few short merges are quicker in turn than
    # on threads that wait for it
    if len(merges) > 1 and engine.workers > 1 and sum(len(t[4]) for t in merges) >= 16:
        merged = list(_pool(engine.workers).map(merge, merges))
    else:
        merged = [merge(task) for task in merges]
    for job, search, nodes in merged:
        engine.searches[job] = search
        changed[job] = nodes
    return changed, rows_of


def _make(searches: list[Search], workers: int) -> None:
    """Make the labels of the deferred among ``searches``, on the what-if's threads."""
    todo = [s for s in searches if not s.made]
    list((_pool(workers).map if len(todo) > 1 and workers > 1 else map)(Search.make, todo))


def _sorted_union(rows: np.ndarray, added: np.ndarray) -> np.ndarray:
    """Sorted distinct rows of both (the base's are sorted, added ones usually after)."""
    if not len(added):
        return rows if _is_sorted(rows) else np.unique(rows)
    if _is_sorted(rows) and (not len(rows) or added[0] > rows[-1]) and _is_sorted(added):
        return np.concatenate([rows, added])
    return np.union1d(rows, added)


def _is_sorted(a: np.ndarray) -> bool:
    return bool(len(a) < 2 or (a[1:] > a[:-1]).all())


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool kept between scenarios (its threads wait for the next one)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="whatif")
    return _POOLS[workers]


def run_whatif(
    base: Evaluation, scenario: Scenario | str | os.PathLike | dict, *, workers: int | None = None
) -> WhatIf:
    """Apply a scenario to a base evaluation, incrementally; see the module docstring."""
    base.require_graph("a what-if")
    if not isinstance(scenario, Scenario):
        scenario = read_scenario(scenario)
    if not base.searches or base.member_snap is None:
        raise InputError("the base evaluation holds no search labels; evaluate it again")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    providers, provider_snap, pending, touched = _scenario_providers(base, scenario)
    _check_rule_set(base, providers, scenario)
    timings["roster"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    engine = Engine(
        base.graph,
        base.members,
        providers,
        base.member_snap,
        provider_snap,
        base.settings,
        workers=workers or os.cpu_count() or 1,
        state=base.member_state,
    )
    languages = sorted({lang for _, lang in base.blocks if lang})
    variants = rule_variants(base.standards, languages)
    changed, rows_of = _update_searches(base, engine, variants, touched)
    timings["searches"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    patches, changes = judge_again(base, engine, variants, changed)
    timings["members"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    moved_keys = {key for key, _ in changed}
    affected = [(r, lang) for r, lang in variants if engine.key_of(r, lang) in moved_keys]
    served = _served_after(base, engine, affected)
    delta = delta_table(base, providers, changes, affected, served, rows_of=rows_of)
    timings["delta"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    return WhatIf(
        scenario=scenario,
        base=base,
        providers=providers,
        changes=changes,
        delta=delta,
        pending=pending,
        timings=timings,
        engine=engine,
        patches=patches,
        served=served,
    )


def _served_after(base: Evaluation, engine: Engine, affected) -> pd.DataFrame | None:
    """The counties each provider serves after the scenario (rules with terms per
    county): searched again for the rules whose providers changed, kept otherwise."""
    if base.served is None:
        return None
    redo = list({r.id: r for r, _ in affected if r.counties}.values())
    if not redo:
        return base.served
    keep = base.served[~base.served["rule"].isin([r.id for r in redo])]
    return pd.concat([keep, served_counties(engine, redo)], ignore_index=True)


def _key_matches(key: SearchKey, rows: list[tuple[str, str, frozenset, str]]) -> bool:
    """Whether any (type, specialty, languages, CMS code) row would be a source of this
    key (a key over CMS specialty codes matches on the code; see ``provider_rows``)."""
    if key.provider_type == "cms":
        return any(
            (code == key.specialty or (key.specialty == "S03" and code in PRIMARY_CARE))
            and (key.language is None or key.language in langs)
            for _, _, langs, code in rows
        )
    return any(
        t == key.provider_type
        and (key.specialty is None or sp == key.specialty)
        and (key.language is None or key.language in langs)
        for t, sp, langs, _ in rows
    )


def _materialise(whatif: WhatIf) -> Evaluation:
    base, engine = whatif.base, whatif.engine
    results = base.member_results.copy()
    uniques = list(engine.pid_uniques)
    arrays = {c: results[c].to_numpy().copy() for c in COMPARED}
    width = sum(1 for c in results.columns if c.startswith("nearest_"))
    codes = {}
    for j in range(1, width + 1):
        col = results[f"nearest_{j}"]
        old_uniques = list(col.cat.categories)
        remap = np.array([uniques.index(u) for u in old_uniques] + [-1], dtype=np.int64)
        codes[j] = remap[col.cat.codes.to_numpy()]
    for pos, block in whatif.patches:
        arrays["miles"][pos] = block.miles
        arrays["minutes"][pos] = block.minutes
        arrays["n_qualifying"][pos] = block.n_qualifying
        arrays["meets"][pos] = block.meets
        for j in range(1, width + 1):
            codes[j][pos] = block.nearest[:, j - 1] if j <= block.nearest.shape[1] else -1
    for c in COMPARED:
        results[c] = arrays[c]
    for j in range(1, width + 1):
        results[f"nearest_{j}"] = pd.Categorical.from_codes(codes[j], categories=uniques)
    providers = whatif.providers
    county_rules = [r for r in base.standards.rules if r.counties]
    county, area, outside, language_summary = summarise(
        results,
        base.members,
        providers,
        base.standards,
        base.regions,
        base.prevalent_languages,
        blocks=base.blocks,
        served=(
            served_counts(whatif.served, providers, county_rules)
            if whatif.served is not None
            else None
        ),
    )
    notes = list(base.notes) + [f"What-if scenario {whatif.scenario.name!r} applied."]
    return replace(
        base,
        providers=providers,
        member_results=results,
        county_summary=county,
        service_area_summary=area,
        language_summary=language_summary,
        outside_service_area=outside,
        panel_findings=panel_findings(providers[providers["in_network"]], base.members),
        plan_summary=plan_summary(
            results, base.members, providers, base.standards, base.blocks, area
        ),
        notes=notes,
        searches=engine.searches,
        provider_snap=engine.provider_snap,
        served=whatif.served,
    )
