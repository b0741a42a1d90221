"""Applying a scenario to a base evaluation, incrementally.

:func:`run_whatif` updates a base :class:`~adequacy.engine.Evaluation`: an
added provider runs one bounded search from its site whose labels merge into
the stored k-nearest labels (:meth:`adequacy.routing.NodeLabels.merge`); a
terminated provider re-runs only the searches of its type (and languages).
Only members whose nodes' labels changed are judged again. The result equals
a full re-evaluation, which the tests check. Terminated providers stay in the
provider table with ``in_network = False`` (they are candidates again), added
ones are appended.

Owns: ``run_whatif`` and ``WhatIf`` (changes, delta, the updated evaluation).
Uses: the public engine, the judge, :mod:`adequacy.routing` and the
scenario reader of :mod:`adequacy.inputs`.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from adequacy.engine.engine import Block, Engine, Search, SearchKey, provider_rows, rule_variants
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import FAIL, OUTSIDE, PASS, county_of
from adequacy.engine.panels import panel_findings
from adequacy.engine.summaries import (
    judge_rows,
    plan_summary,
    provider_count,
    row_figures,
    summarise,
)
from adequacy.errors import InputError
from adequacy.inputs.scenario import Scenario, read_scenario
from adequacy.inputs.schemas import read_providers
from adequacy.routing import Snap, snap_points


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
    """The updated roster, and its new rows (added) and rows leaving the network."""
    providers = base.providers.copy()
    providers["status"] = ""
    label = scenario.path or scenario.name
    ids = providers["provider_id"].to_numpy()
    in_net = providers["in_network"].to_numpy()
    # joins
    for pid in scenario.join:
        rows = np.flatnonzero(ids == pid)
        if not len(rows):
            raise InputError(f"{label}: join {pid!r}: no such provider in the base roster")
        if in_net[rows].all():
            raise InputError(f"{label}: join {pid!r}: already in the network")
        providers.loc[providers.index[rows], "in_network"] = True
        providers.loc[providers.index[rows], "status"] = "joined"
    # terminations (effective by as_of)
    pending = []
    for t in scenario.terminate:
        rows = np.flatnonzero((ids == t.provider_id) & in_net)
        if not len(rows):
            raise InputError(
                f"{label}: terminate {t.provider_id!r}: no in-network provider with that id"
            )
        if scenario.as_of and t.effective and t.effective > scenario.as_of:
            pending.append(
                {"provider_id": t.provider_id, "effective": t.effective, "reason": t.reason}
            )
            continue
        providers.loc[providers.index[rows], "in_network"] = False
        providers.loc[providers.index[rows], "status"] = "terminated"
    # added rows
    if len(scenario.add):
        added = read_providers(scenario.add, extra_types=base.standards.provider_types)
        added["in_network"] = True
        added["status"] = "added"
        added["county_fips"] = (
            county_of(added["lon"].to_numpy(), added["lat"].to_numpy(), base.regions)
            if base.regions is not None
            else OUTSIDE
        )
        snap = snap_points(
            base.graph,
            added[["lon", "lat"]].to_numpy(),
            what=f"{label}: added providers",
            ids=added["provider_id"].to_numpy(),
            max_snap_meters=base.settings.max_snap_meters,
        )
        added["snap_meters"] = snap.meters
        added["off_road"] = snap.off_road
        providers = pd.concat([providers, added[providers.columns]], ignore_index=True)
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
    return providers, provider_snap, pending_frame


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


def _update_searches(base: Evaluation, engine: Engine, variants) -> dict:
    """Bring every search up to the new roster; returns changed-node masks per job.

    Only searches whose key matches a provider row that was added, joined or
    terminated are touched: added sites are merged in by one bounded search
    each; a departure re-runs that key's search.
    """
    providers = engine.providers
    touched_rows = np.flatnonzero(providers["status"].to_numpy() != "")
    touched = providers.iloc[touched_rows]
    candidates = [
        (t, sp, frozenset(str(langs).split(";")))
        for t, sp, langs in zip(
            touched["provider_type"], touched["specialty"], touched["languages"], strict=True
        )
    ]
    changed: dict[tuple[SearchKey, str], np.ndarray] = {}
    merges = []
    for job, rules in engine.jobs(variants).items():
        key, metric = job
        old = base.searches.get(job)
        if old is not None and not _key_matches(key, candidates):
            engine.searches[job] = old  # no change of this key's providers
            continue
        new_rows = provider_rows(providers, key)
        if old is not None:
            old_set = set(old.rows.tolist())
            removed = old_set - set(new_rows.tolist())
            added = [r for r in new_rows.tolist() if r not in old_set]
            if not removed and not added:
                engine.searches[job] = old
                continue
        if old is None or removed:
            # a provider left: search this key again from its remaining providers
            engine.run({job: rules})
            new = engine.searches[job]
            if old is None:
                changed[job] = np.arange(base.graph.n_nodes)
            else:
                changed[job] = old.labels.diff(
                    new.labels, engine.pid_codes[old.rows], engine.pid_codes[new.rows]
                )
            continue
        labels = old.labels
        groups = labels.groups_of(engine.pid_codes[old.rows])
        rows = old.rows
        n_groups = len(np.unique(engine.pid_codes[new_rows]))
        width = engine.width(rules, n_groups)
        if width > labels.k:  # the old labels held every provider: widen with empty slots
            labels, groups = labels.widen(width - labels.k, groups)
        merges.append((job, rows, labels, groups, added, n_groups))

    def merge(task):
        (key, metric), rows, labels, groups, added, n_groups = task
        legs = engine.provider_snap.leg_cost(metric, engine.settings.snap_speed_mph)
        touched = []
        for r in added:
            rows = np.append(rows, r)
            labels, groups, nodes = labels.merge(
                engine.graph,
                groups,
                int(engine.provider_snap.node[r]),
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
        return (key, metric), Search(key, metric, rows, labels, n_groups), nodes

    if len(merges) > 1 and engine.workers > 1:  # the merge kernels release the GIL
        with ThreadPoolExecutor(engine.workers) as pool:
            merged = list(pool.map(merge, merges))
    else:
        merged = [merge(task) for task in merges]
    for job, search, nodes in merged:
        engine.searches[job] = search
        changed[job] = nodes
    return changed


_COMPARED = ["miles", "minutes", "n_qualifying", "meets"]


def run_whatif(
    base: Evaluation, scenario: Scenario | str | os.PathLike | dict, *, workers: int | None = None
) -> WhatIf:
    """Apply a scenario to a base evaluation, incrementally; see the module docstring."""
    if not isinstance(scenario, Scenario):
        scenario = read_scenario(scenario)
    if not base.searches or base.member_snap is None:
        raise InputError("the base evaluation holds no search labels; evaluate it again")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    providers, provider_snap, pending = _scenario_providers(base, scenario)
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
    changed = _update_searches(base, engine, variants)
    timings["searches"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    results = base.member_results
    patches, frames = [], []
    for rule, lang in variants:
        key = engine.key_of(rule, lang)
        jobs = [(key, m) for m in ("distance", "time") if (key, m) in changed]
        if not jobs:
            continue
        start, block_rows = base.blocks[(rule.id, lang or "")]
        nodes = np.concatenate([changed[j] for j in jobs])
        # members living at the changed nodes, sorted
        members_hit = base.member_state.members_at(base.member_snap.node, base.graph.n_nodes, nodes)
        where = np.searchsorted(block_rows, members_hit)
        inside = where < len(block_rows)
        inside[inside] = block_rows[where[inside]] == members_hit[inside]
        sub, offset = members_hit[inside], where[inside]
        if not len(sub):
            continue
        block = engine.rule_block(rule, lang, member_rows=sub)
        pos = start + offset
        patches.append((pos, block))
        before = results.iloc[pos]
        frame = pd.DataFrame(
            {
                "member_id": before["member_id"].astype(str).to_numpy(),
                "rule": rule.id,
                "language": lang or "",
                "county_fips": before["county_fips"].astype(str).to_numpy(),
                "in_service_area": before["in_service_area"].to_numpy(),
                "meets_before": before["meets"].to_numpy(),
                "meets_after": block.meets,
                "miles_before": before["miles"].to_numpy(),
                "miles_after": block.miles,
                "minutes_before": before["minutes"].to_numpy(),
                "minutes_after": block.minutes,
                "n_qualifying_before": before["n_qualifying"].to_numpy(),
                "n_qualifying_after": block.n_qualifying,
                "_pos": pos,
            }
        )
        moved = (
            (frame["meets_before"] != frame["meets_after"])
            | ~np.isclose(
                frame["miles_before"], frame["miles_after"], rtol=0, atol=0, equal_nan=True
            )
            | ~np.isclose(
                frame["minutes_before"], frame["minutes_after"], rtol=0, atol=0, equal_nan=True
            )
            | (frame["n_qualifying_before"] != frame["n_qualifying_after"])
        )
        frames.append(frame[moved.to_numpy()])
    changes = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["member_id", "rule", "language", "county_fips", "_pos"])
    )
    changes["change"] = np.select(
        [
            changes.get("meets_after", pd.Series(dtype=bool)).astype(bool)
            & ~changes.get("meets_before", pd.Series(dtype=bool)).astype(bool),
            ~changes.get("meets_after", pd.Series(dtype=bool)).astype(bool)
            & changes.get("meets_before", pd.Series(dtype=bool)).astype(bool),
        ],
        ["gains access", "loses access"],
        "closer or farther",
    )
    timings["members"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    moved_keys = {key for key, _ in changed}
    affected = [(r, lang) for r, lang in variants if engine.key_of(r, lang) in moved_keys]
    delta = _delta(base, providers, changes, affected)
    timings["delta"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    return WhatIf(
        scenario=scenario,
        base=base,
        providers=providers,
        changes=changes.drop(columns="_pos"),
        delta=delta,
        pending=pending,
        timings=timings,
        engine=engine,
        patches=patches,
    )


def _key_matches(key: SearchKey, rows: list[tuple[str, str, frozenset]]) -> bool:
    """Whether any (type, specialty, languages) row would be a source of this key."""
    return any(
        t == key.provider_type
        and (key.specialty is None or sp == key.specialty)
        and (key.language is None or key.language in langs)
        for t, sp, langs in rows
    )


def _provider_figures(providers: pd.DataFrame, rule, lang: str) -> tuple[float, pd.Series]:
    rows = provider_rows(providers, SearchKey(rule.provider_type, rule.specialty, lang or None))
    return provider_count(providers, rows, rule)


def _delta(base: Evaluation, providers: pd.DataFrame, changes: pd.DataFrame, affected):
    """Per rule, language and county (and the service area, county ALL): before and after,
    with the verdict before and after judged the same way as the summaries.

    Provider counts are worked out again only for the ``affected`` (rule,
    language) pairs, whose providers changed; the others keep theirs.
    """
    state = base.member_state
    if state.delta_base is None:  # the 'before' half depends on the base only
        cols = ["rule", "language", "county_fips", "members", "meeting", "threshold"]
        cols += ["ratio_limit", "providers", "verdict"]
        language = base.language_summary[[*cols, "prevalent"]]
        county = pd.concat(
            [base.county_summary[cols].assign(prevalent=False), language], ignore_index=True
        )
        area = base.service_area_summary.assign(county_fips="ALL", prevalent=True)
        table = pd.concat([county, area[[*cols, "prevalent"]]], ignore_index=True)
        table = table.rename(
            columns={
                "meeting": "meeting_before",
                "providers": "providers_before",
                "verdict": "verdict_before",
            }
        )
        rules = {r.id: r for r in base.standards.rules}
        table["heads_before"] = _heads(base.providers, table, rules)
        state.delta_base = table
    table = state.delta_base.copy()
    rules = {r.id: r for r in base.standards.rules}

    inside = changes[changes["in_service_area"].astype(bool)] if len(changes) else changes
    gained = inside[inside["change"] == "gains access"] if len(inside) else inside
    lost = inside[inside["change"] == "loses access"] if len(inside) else inside

    def counts(frame, by_county: bool):
        if not len(frame):
            return {}
        keys = ["rule", "language", "county_fips"] if by_county else ["rule", "language"]
        return frame.groupby(keys).size().to_dict()

    g_c, l_c, g_a, l_a = (
        counts(gained, True),
        counts(lost, True),
        counts(gained, False),
        counts(lost, False),
    )
    after_providers = {}
    redone = set()
    for rule, lang in affected:
        total, by_county = _provider_figures(providers, rule, lang or "")
        redone.add((rule.id, lang or ""))
        after_providers[(rule.id, lang or "", "ALL")] = total
        for fips, v in by_county.items():
            after_providers[(rule.id, lang or "", fips)] = float(v)
    before = table["providers_before"].to_numpy()
    gains, losses, prov_after = [], [], []
    for i, (r, lang, fips) in enumerate(
        zip(table["rule"], table["language"], table["county_fips"], strict=True)
    ):
        if fips == "ALL":
            gains.append(g_a.get((r, lang), 0))
            losses.append(l_a.get((r, lang), 0))
        else:
            gains.append(g_c.get((r, lang, fips), 0))
            losses.append(l_c.get((r, lang, fips), 0))
        if (r, lang) in redone:
            prov_after.append(after_providers.get((r, lang, fips), 0.0))
        else:
            prov_after.append(float(before[i]))
    table["gained"] = gains
    table["lost"] = losses
    table["meeting_after"] = table["meeting_before"] + table["gained"] - table["lost"]
    table["share_before"] = table["meeting_before"] / table["members"]
    table["share_after"] = table["meeting_after"] / table["members"]
    table["providers_after"] = prov_after
    table["heads_after"] = _heads(providers, table, rules)
    with np.errstate(divide="ignore"):
        for when in ("before", "after"):
            p = table[f"providers_{when}"].to_numpy(dtype=float)
            per = np.where(p > 0, table["members"] / np.where(p > 0, p, 1), np.inf)
            table[f"members_per_provider_{when}"] = per
    judged = _verdicts(table, base.standards, "after")
    for col in ("share_passes", "ratio_passes", "verdict", "verdict_reasons", "findings"):
        table[f"{col}_after"] = judged[col]
    table["status_change"] = np.select(
        [
            (table["verdict_before"] == PASS) & (table["verdict_after"] == FAIL),
            (table["verdict_before"] == FAIL) & (table["verdict_after"] == PASS),
        ],
        ["now fails", "now passes"],
        "",
    )
    order = [
        "rule",
        "language",
        "county_fips",
        "members",
        "meeting_before",
        "meeting_after",
        "share_before",
        "share_after",
        "threshold",
        "share_passes_after",
        "verdict_before",
        "verdict_after",
        "status_change",
        "verdict_reasons_after",
        "findings_after",
        "gained",
        "lost",
        "providers_before",
        "providers_after",
        "members_per_provider_before",
        "members_per_provider_after",
        "ratio_limit",
        "ratio_passes_after",
    ]
    return table[order]


def _heads(providers: pd.DataFrame, table: pd.DataFrame, rules) -> list[float]:
    """Providers by headcount per delta row, for rules with a minimum number per county."""
    counts = {}
    for rule_id, lang in set(zip(table["rule"], table["language"], strict=True)):
        rule = rules[rule_id]
        if rule.min_providers is not None:
            _, by_county = _provider_figures(providers, replace(rule, ratio=None), lang)
            counts[(rule_id, lang)] = by_county
    return [
        float(counts[(r, lang)].get(f, 0.0)) if (r, lang) in counts else np.nan
        for r, lang, f in zip(table["rule"], table["language"], table["county_fips"], strict=True)
    ]


def _verdicts(table: pd.DataFrame, standards, when: str) -> pd.DataFrame:
    """The verdict columns of every delta row from its ``*_{when}`` figures, judged by
    :func:`adequacy.engine.summaries.judge_rows` as the summaries are."""
    rules = {r.id: r for r in standards.rules}
    frame = table[["rule", "language", "county_fips", "prevalent"]].copy()
    frame["_components"] = [
        row_figures(
            members,
            meeting,
            rules[r],
            providers,
            "service_area" if fips == "ALL" else "county",
            heads,
        )["_components"]
        for r, fips, members, meeting, providers, heads in zip(
            table["rule"],
            table["county_fips"],
            table["members"],
            table[f"meeting_{when}"],
            table[f"providers_{when}"],
            table[f"heads_{when}"],
            strict=True,
        )
    ]
    language = judge_rows(frame[frame["language"] != ""], standards)
    overall = judge_rows(frame[frame["language"] == ""], standards, language)
    judged = pd.concat([overall, language]).loc[table.index]
    judged["share_passes"] = [c[0].passes for c in frame["_components"]]
    judged["ratio_passes"] = [c[1].passes for c in frame["_components"]]
    return judged


def _materialise(whatif: WhatIf) -> Evaluation:
    base, engine = whatif.base, whatif.engine
    results = base.member_results.copy()
    uniques = list(engine.pid_uniques)
    arrays = {c: results[c].to_numpy().copy() for c in _COMPARED}
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
    for c in _COMPARED:
        results[c] = arrays[c]
    for j in range(1, width + 1):
        results[f"nearest_{j}"] = pd.Categorical.from_codes(codes[j], categories=uniques)
    providers = whatif.providers
    county, area, outside, language_summary = summarise(
        results,
        base.members,
        providers,
        base.standards,
        base.regions,
        base.prevalent_languages,
        blocks=base.blocks,
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
        plan_summary=plan_summary(results, base.members, providers, base.standards, base.blocks),
        notes=notes,
        searches=engine.searches,
        provider_snap=engine.provider_snap,
    )
