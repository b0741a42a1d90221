"""What-if analysis: add and terminate providers, continuity of care, recruitment.

A :class:`Scenario` is the base network plus providers added (full roster
rows, or out-of-network providers who join) and providers terminated (by id,
optionally from an effective date). Scenarios are plain YAML or JSON files::

    name: Dr Lee retires, Eastside Clinic joins
    as_of: 2026-12-31            # terminations effective later are listed, not applied
    join: [SYN-OON-PCP-0003]     # out-of-network providers in the base roster
    terminate:
      - {provider_id: SYN-PCP-0042, effective: 2026-12-01, reason: retirement}
    add:                         # full provider rows, as in a roster file
      - {provider_id: NEW-1, provider_type: pcp, lat: 42.35, lon: -71.06,
         languages: English;Spanish}

:func:`run_whatif` updates a base :class:`~adequacy.evaluate.Evaluation`
incrementally: an added provider runs one bounded search from its site whose
labels merge into the stored k-nearest labels
(:func:`adequacy.routing.merge_source`); a terminated provider re-runs only the
searches of its type (and languages). Only members whose nodes' labels changed
are judged again. The result equals a full re-evaluation, which the tests
check. Terminated providers stay in the provider table with
``in_network = False`` (they are candidates again), added ones are appended.

:func:`continuity_of_care` re-homes a terminated PCP's panel under the 1,500
cap, nearest first; :func:`recruit` ranks candidate sites by the failing
members they would bring within a rule (greedy maximum coverage).
"""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .evaluate import (
    PANEL_CAP,
    SECONDS_PER_MINUTE,
    Evaluation,
    Search,
    SearchKey,
    _Engine,
    panel_findings,
    plan_summary,
    provider_rows,
    rule_variants,
    summarise,
)
from .network import METERS_PER_MILE
from .regions import locate
from .routing import (
    NodeLabels,
    Snap,
    changed_nodes,
    k_nearest_labels,
    label_ids,
    merge_source,
    reach_within,
    snap_points,
)
from .schemas import read_providers

#: Days of continued care after a termination (seed manual, "Provider Terminations").
PCP_TRANSITION_DAYS = 30
ACTIVE_TREATMENT_DAYS = 90
#: Open-panel PCPs listed per displaced member.
CONTINUITY_OPTIONS = 25


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
@dataclass
class Termination:
    provider_id: str
    effective: date | None = None
    reason: str = ""


@dataclass
class Scenario:
    """Providers added, joining and terminated; see the module docstring."""

    name: str = "scenario"
    description: str = ""
    add: pd.DataFrame = field(default_factory=pd.DataFrame)
    join: list[str] = field(default_factory=list)
    terminate: list[Termination] = field(default_factory=list)
    as_of: date | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "join": list(self.join),
            "terminate": [
                {
                    "provider_id": t.provider_id,
                    "effective": t.effective.isoformat() if t.effective else None,
                    "reason": t.reason,
                }
                for t in self.terminate
            ],
            "add": json.loads(self.add.to_json(orient="records")) if len(self.add) else [],
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the scenario as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(data, indent=2) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date; write it as 2026-12-31") from None


def read_scenario(source: str | os.PathLike | dict) -> Scenario:
    """Read a scenario from a YAML or JSON file (or a dict of the same shape)."""
    if isinstance(source, dict):
        data, label = source, "scenario"
    else:
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise InputError(f"{path}: scenario file not found")
        text = path.read_text()
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error becomes one line
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{path}: not a readable YAML/JSON scenario ({first})") from None
    if not isinstance(data, dict):
        raise InputError(f"{label}: a scenario is a mapping with add, join and terminate")
    allowed = {"name", "description", "as_of", "add", "join", "terminate"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(
            f"{label}: unknown key {unknown[0]!r}; a scenario has {', '.join(sorted(allowed))}"
        )
    terminate = []
    for i, item in enumerate(data.get("terminate") or []):
        where = f"{label}: terminate[{i}]"
        if isinstance(item, str):
            item = {"provider_id": item}
        if not isinstance(item, dict) or not item.get("provider_id"):
            raise InputError(f"{where}: give provider_id (and optionally effective, reason)")
        extra = sorted(set(item) - {"provider_id", "effective", "reason"})
        if extra:
            raise InputError(f"{where}: unknown key {extra[0]!r}")
        terminate.append(
            Termination(
                str(item["provider_id"]),
                _date(item.get("effective"), where + ".effective"),
                str(item.get("reason") or ""),
            )
        )
    join = data.get("join") or []
    if not isinstance(join, list):
        raise InputError(f"{label}: join is a list of out-of-network provider ids")
    add = data.get("add") or []
    if not isinstance(add, list) or not all(isinstance(r, dict) for r in add):
        raise InputError(f"{label}: add is a list of provider rows (mappings)")
    return Scenario(
        name=str(data.get("name") or (Path(label).stem if label != "scenario" else "scenario")),
        description=str(data.get("description") or ""),
        add=pd.DataFrame(add),
        join=[str(x) for x in join],
        terminate=terminate,
        as_of=_date(data.get("as_of"), f"{label}: as_of"),
        path=None if label == "scenario" else label,
    )


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
    _engine: Any = field(repr=False, default=None)
    _patches: list = field(repr=False, default_factory=list)
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
        if base.regions is not None:
            fips = base.regions["fips"].to_numpy()
            where = locate(added["lon"].to_numpy(), added["lat"].to_numpy(), base.regions)
            added["county_fips"] = np.where(where >= 0, fips[np.maximum(where, 0)], "")
        else:
            added["county_fips"] = ""
        snap = snap_points(
            base.graph,
            added[["lon", "lat"]].to_numpy(),
            what=f"{label}: added providers",
            ids=added["provider_id"].to_numpy(),
            max_snap_meters=base.settings["max_snap_meters"],
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
    new = source.expand(chosen, specs[specs != ""].unique()).for_period(
        base.settings.get("quarter")
    )
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


def _update_searches(base: Evaluation, engine: _Engine, variants) -> dict:
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
            engine._run({job: rules})
            new = engine.searches[job]
            if old is None:
                changed[job] = np.arange(base.graph.n_nodes)
            else:
                changed[job] = changed_nodes(
                    old.labels,
                    new.labels,
                    engine.pid_codes[old.rows],
                    engine.pid_codes[new.rows],
                )
            continue
        labels = old.labels
        groups = (
            None
            if labels._lazy is not None
            else label_ids(old.labels.source, engine.pid_codes[old.rows]).astype(np.int32)
        )
        rows = old.rows
        n_groups = len(np.unique(engine.pid_codes[new_rows]))
        width = engine.width(rules, n_groups)
        if width > labels.k:  # the old labels held every provider: widen with empty slots
            labels, groups = _widen(labels, groups, width - labels.k)
        merges.append((job, rows, labels, groups, added, n_groups))

    def merge(task):
        (key, metric), rows, labels, groups, added, n_groups = task
        legs = engine.provider_snap.leg_cost(metric, engine.settings["snap_speed_mph"])
        touched = []
        for r in added:
            rows = np.append(rows, r)
            labels, groups, nodes = merge_source(
                engine.graph,
                labels,
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


def _widen(labels: NodeLabels, groups, pad: int):
    """Labels with ``pad`` more empty slots per node (full or core labels)."""
    if labels._lazy is not None:
        core = labels._lazy
        wider = replace(
            core,
            cost=np.hstack([core.cost, np.full((core.cost.shape[0], pad), np.inf)]),
            source=np.hstack([core.source, np.full((core.source.shape[0], pad), -1)]),
        )
        return NodeLabels(metric=labels.metric, cutoff=labels.cutoff, lazy=wider), None
    wider = NodeLabels(
        np.hstack([labels.cost, np.full((labels.cost.shape[0], pad), np.inf)]),
        np.hstack([labels.source, np.full((labels.source.shape[0], pad), -1)]),
        metric=labels.metric,
        cutoff=labels.cutoff,
    )
    return wider, np.hstack([groups, np.full((groups.shape[0], pad), -1, np.int32)])


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
    engine = _Engine(
        base.graph,
        base.members,
        providers,
        base.member_snap,
        provider_snap,
        base.settings,
        workers or os.cpu_count() or 1,
        lambda *a: None,
        member_state=base.member_state,
    )
    languages = sorted({lang for _, lang in base.blocks if lang})
    variants = rule_variants(base.standards, languages)
    changed = _update_searches(base, engine, variants)
    timings["searches"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    results = base.member_results
    at_node = _members_at_nodes(base)
    patches, frames = [], []
    for rule, lang in variants:
        key = engine.key_of(rule, lang)
        jobs = [(key, m) for m in ("distance", "time") if (key, m) in changed]
        if not jobs:
            continue
        start, block_rows = base.blocks[(rule.id, lang or "")]
        nodes = np.concatenate([changed[j] for j in jobs])
        members_hit = at_node(nodes)  # members living at the changed nodes, sorted
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
        _engine=engine,
        _patches=patches,
    )


def _members_at_nodes(base: Evaluation):
    """A function from graph nodes to the (sorted, distinct) member rows living there."""
    state = base.member_state
    if "by_node" not in state:
        node = base.member_snap.node
        order = np.argsort(node, kind="stable")
        ptr = np.zeros(base.graph.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(node, minlength=base.graph.n_nodes), out=ptr[1:])
        state["by_node"] = (order, ptr)
    order, ptr = state["by_node"]

    def at(nodes: np.ndarray) -> np.ndarray:
        nodes = np.asarray(nodes, dtype=np.int64)
        counts = ptr[nodes + 1] - ptr[nodes]
        if not counts.sum():
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(ptr[nodes], counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.unique(order[starts + within])

    return at


def _key_matches(key: SearchKey, rows: list[tuple[str, str, frozenset]]) -> bool:
    """Whether any (type, specialty, languages) row would be a source of this key."""
    return any(
        t == key.provider_type
        and (key.specialty is None or sp == key.specialty)
        and (key.language is None or key.language in langs)
        for t, sp, langs in rows
    )


def _provider_figures(providers: pd.DataFrame, rule, lang: str) -> tuple[float, pd.Series]:
    from .evaluate import _provider_count

    rows = provider_rows(providers, SearchKey(rule.provider_type, rule.specialty, lang or None))
    return _provider_count(providers, rows, rule)


def _delta(base: Evaluation, providers: pd.DataFrame, changes: pd.DataFrame, affected):
    """Per rule, language and county (and the service area, county ALL): before and after.

    Provider counts are worked out again only for the ``affected`` (rule,
    language) pairs, whose providers changed; the others keep theirs.
    """
    if "delta_base" not in base.member_state:  # the 'before' half depends on the base only
        cols = ["rule", "language", "county_fips", "members", "meeting", "threshold"]
        cols += ["ratio_limit", "providers"]
        county = pd.concat(
            [base.county_summary[cols], base.language_summary[cols]]
            if len(base.language_summary)
            else [base.county_summary[cols]],
            ignore_index=True,
        )
        area = base.service_area_summary.assign(county_fips="ALL")[cols]
        table = pd.concat([county, area], ignore_index=True)
        base.member_state["delta_base"] = table.rename(
            columns={"meeting": "meeting_before", "providers": "providers_before"}
        )
    table = base.member_state["delta_base"].copy()

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
    table["passes_before"] = table["share_before"] >= table["threshold"] - 1e-12
    table["passes_after"] = table["share_after"] >= table["threshold"] - 1e-12
    table["providers_after"] = prov_after
    with np.errstate(divide="ignore"):
        for when in ("before", "after"):
            p = table[f"providers_{when}"].to_numpy(dtype=float)
            per = np.where(p > 0, table["members"] / np.where(p > 0, p, 1), np.inf)
            table[f"members_per_provider_{when}"] = per
            limit = table["ratio_limit"].to_numpy(dtype=float)
            table[f"ratio_passes_{when}"] = np.where(np.isnan(limit), None, per <= limit)
    table["status_change"] = np.select(
        [
            table["passes_before"] & ~table["passes_after"],
            ~table["passes_before"] & table["passes_after"],
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
        "passes_before",
        "passes_after",
        "status_change",
        "gained",
        "lost",
        "providers_before",
        "providers_after",
        "members_per_provider_before",
        "members_per_provider_after",
        "ratio_limit",
        "ratio_passes_before",
        "ratio_passes_after",
    ]
    return table[order]


def _materialise(whatif: WhatIf) -> Evaluation:
    base, engine = whatif.base, whatif._engine
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
    for pos, block in whatif._patches:
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
        plan_summary=plan_summary(results, base.members, base.standards, base.blocks),
        notes=notes,
        searches=engine.searches,
        provider_snap=engine.provider_snap,
    )


# ---------------------------------------------------------------------------
# continuity of care
# ---------------------------------------------------------------------------
def continuity_of_care(
    whatif: WhatIf,
    *,
    rule_id: str | None = None,
    panel_cap: int = PANEL_CAP,
    options: int = CONTINUITY_OPTIONS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-home the panels of terminated PCPs: per member, and per terminated PCP.

    The displaced panel of a PCP is the members whose ``pcp_id`` is that
    provider. Candidates are the remaining in-network PCPs with an open panel
    that accept new patients, with room under ``panel_cap`` (room = cap minus
    the larger of the roster panel size and the members assigned to them).
    Each displaced member's candidates within the primary-care standard (the
    rule ``rule_id``, default the first ``pcp`` rule; up to ``options`` nearest
    by distance) are listed; then members are assigned nearest pair first,
    each candidate taking members only while it has room. ``absorbed`` says
    whether every displaced member got a place. Members in an active
    treatment window (``in_treatment``) keep their provider for
    ``ACTIVE_TREATMENT_DAYS``, the others for ``PCP_TRANSITION_DAYS``, from
    the termination's effective date.
    """
    base = whatif.base
    providers = whatif.providers
    terminated = [
        t
        for t in whatif.scenario.terminate
        if t.provider_id in whatif.terminated_ids
        and (
            providers.loc[providers["provider_id"] == t.provider_id, "provider_type"] == "pcp"
        ).any()
    ]
    member_cols = [
        "terminated_pcp",
        "member_id",
        "county_fips",
        "in_treatment",
        "continuity_until",
        "options_within_standard",
        "nearest_option",
        "nearest_option_miles",
        "assigned_pcp",
        "assigned_miles",
        "assigned_minutes",
    ]
    summary_cols = [
        "terminated_pcp",
        "effective",
        "displaced_members",
        "in_treatment",
        "with_an_option",
        "room_within_standard",
        "assigned",
        "unassigned",
        "absorbed",
    ]
    if not terminated:
        return pd.DataFrame(columns=member_cols), pd.DataFrame(columns=summary_cols)
    rules = [r for r in base.standards.rules if r.provider_type == "pcp"]
    if rule_id is not None:
        rules = [base.standards.rule(rule_id)]
    if not rules:
        raise InputError("continuity of care needs a primary care (pcp) rule in the standards")
    rule = rules[0]

    members = base.members
    # candidates: remaining open PCPs with room
    pcps = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    assigned = members.loc[members["pcp_id"] != "", "pcp_id"].value_counts()
    per_pcp = pcps.groupby("provider_id").agg(
        panel_size=("panel_size", "max"),
        panel_open=("panel_open", "all"),
        accepting=("accepting_new_patients", "all"),
    )
    per_pcp["panel"] = np.maximum(
        per_pcp["panel_size"], per_pcp.index.map(assigned).fillna(0).astype(int)
    )
    per_pcp["room"] = np.where(
        per_pcp["panel_open"] & per_pcp["accepting"],
        np.maximum(panel_cap - per_pcp["panel"], 0),
        0,
    ).astype(int)
    with_room = per_pcp.index[per_pcp["room"] > 0]
    cand_rows = np.flatnonzero(providers["provider_id"].isin(set(with_room)).to_numpy())
    cand_rows = cand_rows[providers["in_network"].to_numpy()[cand_rows]]
    pid = providers["provider_id"].to_numpy()

    displaced_rows = []
    for t in terminated:
        rows = np.flatnonzero(members["pcp_id"].to_numpy() == t.provider_id)
        displaced_rows.append((t, rows))
    all_rows = np.concatenate([r for _, r in displaced_rows])
    snap = base.member_snap
    sub = Snap(
        snap.node[all_rows], snap.meters[all_rows], snap.off_road[all_rows], snap.max_snap_meters
    )
    speed = base.settings["snap_speed_mph"]
    k = max(1, min(options, len(set(pid[cand_rows])))) if len(cand_rows) else 1
    costs = {}
    for metric in ("distance", "time"):
        if not len(cand_rows):
            costs[metric] = (np.full((len(all_rows), 1), np.inf), np.full((len(all_rows), 1), -1))
            continue
        labels = k_nearest_labels(
            base.graph,
            whatif._engine.provider_snap.node[cand_rows],
            k=k,
            metric=metric,
            source_cost=whatif._engine.provider_snap.leg_cost(metric, speed)[cand_rows],
            groups=pid[cand_rows],
        )
        c, s = labels.at(sub, speed)
        ids = np.where(s >= 0, pid[cand_rows[np.maximum(s, 0)]], "")
        costs[metric] = (c, ids)
    # pairs within the standard
    classes = members["region_class"].to_numpy()[all_rows]
    pairs = []
    d_cost, d_ids = costs["distance"]
    t_cost, t_ids = costs["time"]
    for i in range(len(all_rows)):
        lim = rule.limits_for(classes[i])
        by = {}
        for j in range(d_cost.shape[1]):
            if d_ids[i, j]:
                by.setdefault(d_ids[i, j], [np.inf, np.inf])[0] = d_cost[i, j]
        for j in range(t_cost.shape[1]):
            if t_ids[i, j]:
                by.setdefault(t_ids[i, j], [np.inf, np.inf])[1] = t_cost[i, j]
        for p, (dm, ts) in by.items():
            ok_d = lim.miles is not None and dm <= lim.miles * METERS_PER_MILE
            ok_t = lim.minutes is not None and ts <= lim.minutes * SECONDS_PER_MINUTE
            ok = (ok_d and ok_t) if lim.combine == "and" else (ok_d or ok_t)
            if ok:
                pairs.append((dm, ts, i, p))
    pairs.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
    room = per_pcp["room"].to_dict()
    options_of = np.zeros(len(all_rows), dtype=int)
    nearest = [("", np.inf)] * len(all_rows)
    for dm, _ts, i, p in pairs:
        options_of[i] += 1
        if dm < nearest[i][1]:
            nearest[i] = (p, dm)
    assigned_to = [("", np.inf, np.inf)] * len(all_rows)
    for dm, ts, i, p in pairs:  # nearest pair first, while the PCP has room
        if assigned_to[i][0] or room.get(p, 0) <= 0:
            continue
        room[p] -= 1
        assigned_to[i] = (p, dm, ts)
    member_rows_out, summary = [], []
    offset = 0
    room_within = {}
    for _, _, i, p in pairs:
        room_within.setdefault(i, set()).add(p)
    for t, rows in displaced_rows:
        effective = t.effective or whatif.scenario.as_of or date.today()
        idx = range(offset, offset + len(rows))
        offset += len(rows)
        reachable = set().union(*[room_within.get(i, set()) for i in idx]) if len(rows) else set()
        for i, r in zip(idx, rows, strict=True):
            treat = bool(members["in_treatment"].iat[r])
            days = ACTIVE_TREATMENT_DAYS if treat else PCP_TRANSITION_DAYS
            member_rows_out.append(
                {
                    "terminated_pcp": t.provider_id,
                    "member_id": members["member_id"].iat[r],
                    "county_fips": members["county_fips"].iat[r],
                    "in_treatment": treat,
                    "continuity_until": effective + timedelta(days=days),
                    "options_within_standard": int(options_of[i]),
                    "nearest_option": nearest[i][0],
                    "nearest_option_miles": nearest[i][1] / METERS_PER_MILE,
                    "assigned_pcp": assigned_to[i][0],
                    "assigned_miles": assigned_to[i][1] / METERS_PER_MILE,
                    "assigned_minutes": assigned_to[i][2] / SECONDS_PER_MINUTE,
                }
            )
        n_assigned = sum(1 for i in idx if assigned_to[i][0])
        summary.append(
            {
                "terminated_pcp": t.provider_id,
                "effective": effective,
                "displaced_members": len(rows),
                "in_treatment": int(members["in_treatment"].to_numpy()[rows].sum()),
                "with_an_option": int(sum(1 for i in idx if options_of[i])),
                "room_within_standard": int(sum(per_pcp["room"].get(p, 0) for p in reachable)),
                "assigned": n_assigned,
                "unassigned": len(rows) - n_assigned,
                "absorbed": n_assigned == len(rows),
            }
        )
    return pd.DataFrame(member_rows_out, columns=member_cols), pd.DataFrame(
        summary, columns=summary_cols
    )


# ---------------------------------------------------------------------------
# recruitment targets
# ---------------------------------------------------------------------------
@dataclass
class Recruitment:
    rule: str
    language: str
    picks: pd.DataFrame  # rank, candidate, newly meeting, running total
    counties: pd.DataFrame  # failing counties: picks needed to reach the threshold
    candidates_considered: int
    failing_members: int
    candidate_source: str = "file"


def recruit(
    base: Evaluation,
    rule_id: str,
    *,
    language: str | None = None,
    candidates: Any = None,
    top: int = 10,
    sample_sites: int = 300,
    seed: int = 0,
) -> Recruitment:
    """Rank candidate sites by the failing members each would bring within a rule.

    Greedy maximum coverage: each pick is the candidate that makes the most
    members who now fail the rule meet it, counting only members not already
    brought in by earlier picks (a member who needs two more providers counts
    when the second arrives; ties go to the candidate that moves the most such
    members closer). Candidates: provider rows (``candidates``: a file or
    DataFrame in roster format), else the base roster's out-of-network
    providers of the rule's type, else ``sample_sites`` road nodes sampled
    where failing members live.
    """
    try:
        rule = base.standards.rule(rule_id)
    except Exception:  # noqa: BLE001
        names = ", ".join(r.id for r in base.standards.rules)
        raise InputError(f"--rule {rule_id!r}: no such rule; the rules are {names}") from None
    lang = language or ""
    if (rule.id, lang) not in base.blocks:
        raise InputError(f"rule {rule_id!r} was not evaluated for language {lang or '(all)'}")
    start, block_rows = base.blocks[(rule.id, lang)]
    res = base.member_results.iloc[start : start + len(block_rows)]
    fail = ~res["meets"].to_numpy() & res["in_service_area"].to_numpy()
    f_rows = block_rows[fail]
    need = (rule.count - res["n_qualifying"].to_numpy()[fail]).astype(int)
    counties = res["county_fips"].astype(str).to_numpy()[fail]

    # candidate sites
    source = "file"
    if candidates is not None:
        cand = read_providers(candidates, extra_types=base.standards.provider_types)
    else:
        key = SearchKey(rule.provider_type, rule.specialty, language)
        oon = base.providers.copy()
        oon["in_network"] = ~oon["in_network"]
        rows = provider_rows(oon, key)
        cand = base.providers.iloc[rows]
        source = "out-of-network providers"
        if not len(cand) and len(f_rows):
            rng = np.random.default_rng(seed)
            nodes = np.unique(base.member_snap.node[f_rows])
            pick = rng.choice(nodes, size=min(sample_sites, len(nodes)), replace=False)
            pick.sort()
            cand = pd.DataFrame(
                {
                    "provider_id": [f"ROAD-{n}" for n in pick],
                    "provider_type": rule.provider_type,
                    "lon": base.graph.lon[pick],
                    "lat": base.graph.lat[pick],
                }
            )
            source = "road nodes where failing members live"
    cand = cand.reset_index(drop=True)
    picks_cols = [
        "rank",
        "candidate",
        "lon",
        "lat",
        "newly_meeting",
        "moved_closer",
        "total_newly_meeting",
        "share_meeting_after",
    ]
    if not len(cand) or not len(f_rows):
        return Recruitment(
            rule.id,
            lang,
            pd.DataFrame(columns=picks_cols),
            _county_targets(base, rule, lang, counties, []),
            len(cand),
            len(f_rows),
            source,
        )
    snap = snap_points(base.graph, cand[["lon", "lat"]].to_numpy(), what="candidates")
    speed = base.settings["snap_speed_mph"]
    classes = base.members["region_class"].to_numpy()[f_rows]
    lim_m = np.array([_or_nan(rule.limits_for(c).miles) for c in classes]) * METERS_PER_MILE
    lim_s = np.array([_or_nan(rule.limits_for(c).minutes) for c in classes]) * SECONDS_PER_MINUTE
    both = np.array([rule.limits_for(c).combine == "and" for c in classes], dtype=bool)
    member_node = base.member_snap.node[f_rows]
    leg_m = base.member_snap.meters[f_rows]
    leg_s = leg_m / (speed * 0.44704)
    scratch = np.full(base.graph.n_nodes, np.inf)
    cover = []
    for i in range(len(cand)):
        ok = []
        for metric, lim, leg, snap_leg in (
            ("distance", lim_m, leg_m, snap.meters[i]),
            ("time", lim_s, leg_s, snap.meters[i] / (speed * 0.44704)),
        ):
            if np.all(np.isnan(lim)):
                ok.append(None)
                continue
            nodes, cost = reach_within(
                base.graph,
                int(snap.node[i]),
                metric=metric,
                cutoff=np.nanmax(lim),
                start_cost=snap_leg,
            )
            scratch[nodes] = cost
            with np.errstate(invalid="ignore"):
                ok.append(scratch[member_node] + leg <= lim * (1 + 1e-9))
            scratch[nodes] = np.inf
        present = [o for o in ok if o is not None]
        hit = np.logical_or.reduce(present)
        if len(present) == 2:  # members whose region class says 'and' need both limits
            hit = np.where(both, present[0] & present[1], hit)
        cover.append(np.flatnonzero(hit))
    remaining = need.copy()
    taken = np.zeros(len(cand), dtype=bool)
    ids = cand["provider_id"].astype(str).to_numpy()
    picks, total = [], 0
    order_meeting = []
    base_meeting = int(res["meets"].to_numpy()[res["in_service_area"].to_numpy()].sum())
    n_inside = int(res["in_service_area"].sum())
    for rank in range(1, top + 1):
        best, best_score = -1, (0, 0)
        for i in range(len(cand)):
            if taken[i]:
                continue
            c = cover[i]
            r = remaining[c]
            score = (int((r == 1).sum()), int((r > 0).sum()))
            if score > best_score:
                best, best_score = i, score
        if best < 0:
            break
        taken |= ids == ids[best]  # the same provider at another site adds nothing more
        c = cover[best]
        newly = c[remaining[c] == 1]
        remaining[c] = np.maximum(remaining[c] - 1, 0)
        total += len(newly)
        order_meeting.append(newly)
        picks.append(
            {
                "rank": rank,
                "candidate": ids[best],
                "lon": float(cand["lon"].iat[best]),
                "lat": float(cand["lat"].iat[best]),
                "newly_meeting": len(newly),
                "moved_closer": best_score[1] - len(newly),
                "total_newly_meeting": total,
                "share_meeting_after": (base_meeting + total) / n_inside if n_inside else np.nan,
            }
        )
    return Recruitment(
        rule.id,
        lang,
        pd.DataFrame(picks, columns=picks_cols),
        _county_targets(base, rule, lang, counties, order_meeting),
        len(cand),
        len(f_rows),
        source,
    )


def _or_nan(x):
    return np.nan if x is None else float(x)


def _county_targets(base, rule, lang, counties, order_meeting) -> pd.DataFrame:
    """For each county failing the rule: members short of the threshold, picks to get there."""
    table = base.county_summary if not lang else base.language_summary
    rows = table[(table["rule"] == rule.id) & (table["language"] == lang) & ~table["passes"]]
    out = []
    for _, r in rows.iterrows():
        short = max(0, math.ceil(r["threshold"] * r["members"] - 1e-9) - int(r["meeting"]))
        got, reached = 0, None
        for rank, newly in enumerate(order_meeting, start=1):
            got += int((counties[newly] == r["county_fips"]).sum())
            if got >= short and reached is None:
                reached = rank
        out.append(
            {
                "county_fips": r["county_fips"],
                "county": r.get("county", ""),
                "members": int(r["members"]),
                "meeting": int(r["meeting"]),
                "share_meeting": float(r["share_meeting"]),
                "threshold": float(r["threshold"]),
                "members_short": short,
                "brought_in_by_picks": got,
                "picks_to_threshold": reached,
            }
        )
    table = pd.DataFrame(
        out,
        columns=[
            "county_fips",
            "county",
            "members",
            "meeting",
            "share_meeting",
            "threshold",
            "members_short",
            "brought_in_by_picks",
            "picks_to_threshold",
        ],
    )
    table["picks_to_threshold"] = table["picks_to_threshold"].astype("Int64")
    return table
