"""The judge: the one place that decides.

Every decision the product reports is made here, with one tolerance each:

- whether a provider **qualifies** for a member: within the mile limit and/or
  the minute limit of the member's county class (:func:`within`,
  :func:`qualifies`, :func:`member_limits`; :func:`qualifying_counts` counts a
  block's members' qualifying providers in one compiled pass);
- whether a **share passes** its threshold (:func:`share_passes`), and how many
  more members a county needs to pass (:func:`members_short`);
- whether an **access ratio** passes (:func:`ratio_passes`);
- which **county** a point lies in (:func:`county_of`);
- a PCP's **panel size** (:func:`panel_sizes`);
- the **verdict** of a rule in a county, the service area, a plan or a
  language: its components (access share, ratio, minimum providers,
  language results), which of them bind, and why it fails (:func:`verdict`).

The engine, the summaries, what-if, continuity of care and recruitment all
call these; none of them compares a cost with a limit on its own.

Owns: the decisions and their tolerances. Uses: :mod:`adequacy.units` and
the rule model of :mod:`adequacy.engine.standards`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from adequacy.engine.standards import Rule
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE

#: Relative tolerance of "within the limit": sums of edge costs that land exactly
#: on a limit must not fail it by a floating-point rounding.
LIMIT_TOLERANCE = 1e-9
#: Absolute tolerance of "the share reaches the threshold" (9 of 10 is 90%).
SHARE_TOLERANCE = 1e-12
#: County code of points outside every region.
OUTSIDE = ""


# ---------------------------------------------------------------------------
# does a provider qualify?
# ---------------------------------------------------------------------------
def within(cost, limit):
    """Whether a cost (meters or seconds) is within a limit in the same unit.

    Vectorised; a NaN limit (the rule sets none for that metric) is never met.
    A provider exactly at the limit is within it.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(cost) <= np.asarray(limit) * (1 + LIMIT_TOLERANCE)


def qualifying_counts(
    miles: tuple[np.ndarray, np.ndarray] | None,
    limit_meters: np.ndarray,
    time: tuple[np.ndarray, np.ndarray] | None,
    limit_seconds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per member, the distinct providers within either limit ('or') among its labels,
    and whether all its labels of either metric are within that limit (the lists may
    hold no more than the qualifying: *saturated*).

    ``miles``/``time`` are (cost, provider code) per member and label (meters,
    seconds; code -1 for no provider), None for a metric the rule does not use;
    ``limit_meters``/``limit_seconds`` each member's limits (NaN: none). The same
    decision as :func:`within` per label, in one compiled pass: no arrays are made
    but the answers. Returns (count as int64, saturated as bool).
    """
    m = len(limit_meters)
    none = (np.zeros((m, 0)), np.zeros((m, 0), dtype=np.int64))
    return _qualifying_counts(
        *(miles if miles is not None else none), np.asarray(limit_meters, dtype=np.float64),
        *(time if time is not None else none), np.asarray(limit_seconds, dtype=np.float64),
        miles is not None, time is not None, 1 + LIMIT_TOLERANCE,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _qualifying_counts(
    miles_cost, miles_code, limit_meters, time_cost, time_code, limit_seconds,
    use_miles, use_time, scale,
):  # fmt: skip
    m = limit_meters.shape[0]
    count = np.zeros(m, dtype=np.int64)
    saturated = np.zeros(m, dtype=np.bool_)
    seen = np.empty(miles_cost.shape[1] + time_cost.shape[1], dtype=np.int64)
    for i in range(m):
        n, full_miles = _qualifying(miles_cost, miles_code, i, limit_meters[i] * scale, seen, 0)
        n, full_time = _qualifying(time_cost, time_code, i, limit_seconds[i] * scale, seen, n)
        count[i] = n
        saturated[i] = (use_miles and full_miles) or (use_time and full_time)
    return count, saturated


@njit(cache=True, nogil=True, inline="always")
def _qualifying(cost, code, i, limit, seen, n):
    """Add member ``i``'s providers within ``limit`` (NaN: none) to the ``n`` distinct
    ones in ``seen``; also whether every label is within it."""
    every = True
    for j in range(cost.shape[1]):
        if not cost[i, j] <= limit:
            every = False
            continue
        c = code[i, j]
        if c < 0:
            continue
        t = 0
        while t < n and seen[t] != c:
            t += 1
        if t == n:
            seen[n] = c
            n += 1
    return n, every


def search_cutoff(limit: float) -> float:
    """How far a search must reach to find every provider :func:`within` a limit."""
    return float(limit) * (1 + LIMIT_TOLERANCE)


def qualifies(ok_distance, ok_time, both):
    """Combine the two limits: ``or`` (either) unless ``both`` (``combine: and``).

    ``ok_distance``/``ok_time`` are None when the rule sets no such limit; then
    the other one decides alone.
    """
    if ok_distance is None:
        return ok_time
    if ok_time is None:
        return ok_distance
    return np.where(both, ok_distance & ok_time, ok_distance | ok_time)


def member_limits(
    rule: Rule,
    class_code: np.ndarray,
    class_names: list[str],
    county_code: np.ndarray | None = None,
    county_names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per member: the distance limit in meters, the time limit in seconds (NaN where
    the rule sets none) and whether both must be met, from each member's county class
    (``class_code`` indexes ``class_names``) or, where the rule sets terms per county,
    from the member's county (``county_code`` indexes ``county_names``)."""
    m = len(class_code)
    limit_meters = np.full(m, np.nan)
    limit_seconds = np.full(m, np.nan)
    both = np.zeros(m, dtype=bool)

    def put(sel, limits) -> None:
        limit_meters[sel] = np.nan if limits.miles is None else limits.miles * METERS_PER_MILE
        limit_seconds[sel] = (
            np.nan if limits.minutes is None else limits.minutes * SECONDS_PER_MINUTE
        )
        both[sel] = limits.combine == "and"

    for code, cls in enumerate(class_names):
        put(class_code == code, rule.limits_for(cls))
    if rule.counties and county_code is not None and county_names is not None:
        for code, fips in enumerate(county_names):
            if fips in rule.counties:
                put(county_code == code, rule.counties[fips].limits)
    return limit_meters, limit_seconds, both


# ---------------------------------------------------------------------------
# does a county pass?
# ---------------------------------------------------------------------------
def share_passes(meeting, members, threshold):
    """Whether ``meeting`` of ``members`` reaches the threshold share (vectorised).

    No members is no pass (the share is undefined).
    """
    meeting = np.asarray(meeting, dtype=float)
    members = np.asarray(members, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = meeting / members
        return share >= np.asarray(threshold, dtype=float) - SHARE_TOLERANCE


def members_short(members: int, meeting: int, threshold: float) -> int:
    """How many more members must meet a rule for ``share_passes`` to hold (0 if it does)."""
    need = math.ceil(int(members) * (float(threshold) - SHARE_TOLERANCE))
    return max(0, need - int(meeting))


def providers_needed(members: float, providers: float, limit: float) -> float:
    """More providers (or FTE, on an FTE basis) needed for ``members / providers`` to be
    at most ``limit``; 0 when the ratio passes or no ratio is set (NaN limit)."""
    if limit is None or not np.isfinite(limit) or limit <= 0:
        return 0.0
    needed = math.ceil(float(members) / float(limit) - SHARE_TOLERANCE)
    return float(max(0.0, needed - float(providers)))


def ratio_passes(members_per_provider, limit):
    """Whether members per provider is at most the limit; None where no ratio is set.

    Scalars give a bool or None; arrays give an object array of the same.
    """
    per = np.asarray(members_per_provider, dtype=float)
    lim = np.asarray(limit, dtype=float)
    if per.ndim == 0 and lim.ndim == 0:
        return None if np.isnan(lim) else bool(per <= lim)
    return np.where(np.isnan(lim), None, per <= lim)


# ---------------------------------------------------------------------------
# where is a point?
# ---------------------------------------------------------------------------
def county_of(lon, lat, regions) -> np.ndarray:
    """FIPS code of the region containing each WGS84 point, ``OUTSIDE`` ("") elsewhere.

    ``regions`` is a GeoDataFrame in EPSG:4326 with a ``fips`` column. A point
    on a border shared by two counties takes the first one in the table.
    """
    import shapely

    lon = np.asarray(lon, dtype=float)
    found = np.full(len(lon), -1, dtype=np.int64)
    if len(lon):
        points = shapely.points(lon, np.asarray(lat, dtype=float))
        point_idx, region_idx = regions.sindex.query(points, predicate="within")
        order = np.argsort(point_idx, kind="stable")
        point_idx, region_idx = point_idx[order], region_idx[order]
        first = np.r_[True, point_idx[1:] != point_idx[:-1]] if len(point_idx) else []
        found[point_idx[first]] = region_idx[first]
    fips = np.append(regions["fips"].to_numpy(dtype=object), OUTSIDE)
    return fips[found].astype(object)


# ---------------------------------------------------------------------------
# how large is a panel?
# ---------------------------------------------------------------------------
def panel_sizes(providers: pd.DataFrame, members: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per in-network PCP (indexed by ``provider_id``): its panel.

    ``panel`` is the larger of the roster's ``panel_size`` and the members whose
    ``pcp_id`` is the provider (``assigned_members``). A PCP listed at several
    sites is one panel: open only if open at every site, accepting only if
    accepting at every site.
    """
    pcps = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    if "accepting_new_patients" not in pcps.columns:  # a roster read elsewhere: accepting
        pcps = pcps.assign(accepting_new_patients=True)
    per_pcp = pcps.groupby("provider_id").agg(
        practice_id=("practice_id", "first"),
        panel_size=("panel_size", "max"),
        panel_open=("panel_open", "all"),
        accepting=("accepting_new_patients", "all"),
    )
    if members is not None and "pcp_id" in members.columns:
        assigned = members.loc[members["pcp_id"] != "", "pcp_id"].value_counts()
    else:
        assigned = pd.Series(dtype=int)
    per_pcp["assigned_members"] = per_pcp.index.map(assigned).fillna(0).astype(int)
    per_pcp["panel"] = np.maximum(per_pcp["panel_size"], per_pcp["assigned_members"])
    return per_pcp


# ---------------------------------------------------------------------------
# the verdict
# ---------------------------------------------------------------------------
PASS = "pass"
FAIL = "fail"


@dataclass(frozen=True)
class Component:
    """One part of a verdict: its status (True/False; None where it does not apply),
    whether it binds (a binding failure fails the rule) and a short reason."""

    name: str
    passes: bool | None
    binding: bool
    reason: str = ""


def verdict(components: list[Component]) -> tuple[str, str, str]:
    """The overall verdict of a rule in a county, service area, plan or language.

    Returns ``(verdict, reasons, findings)``: ``"fail"`` when any binding
    component fails, else ``"pass"``; the reasons of the failing binding
    components; and the reasons of failing components that do not bind
    (findings, reported beside a passing verdict, never hidden).
    """
    failing = [c for c in components if c.passes is False]
    reasons = "; ".join(c.reason for c in failing if c.binding)
    findings = "; ".join(c.reason for c in failing if not c.binding)
    return (FAIL if reasons else PASS), reasons, findings


def access_component(meeting: int, members: int, threshold: float, standard: str) -> Component:
    """The time/distance share against the threshold (always binding)."""
    ok = bool(share_passes(meeting, members, threshold))
    share = meeting / members if members else float("nan")
    reason = f"{share:.1%} of members have {standard}; {threshold:.0%} needed"
    return Component("access", ok, True, reason)


def ratio_component(members_per_provider: float, limit: float, binding: bool) -> Component:
    """Members per provider against the access ratio (None where no ratio is checked)."""
    ok = ratio_passes(members_per_provider, limit)
    if ok is None:
        return Component("ratio", None, binding)
    per = (
        "no provider"
        if not np.isfinite(members_per_provider)
        else f"{members_per_provider:,.0f} members per provider"
    )
    return Component("ratio", ok, binding, f"{per}; at most {limit:,.0f} allowed")


def min_providers_component(
    providers: float, minimum: int | None, binding: bool, unit: str = "providers"
) -> Component:
    """Providers of the type in the county against the rule's minimum (None: no minimum)."""
    if minimum is None:
        return Component("min_providers", None, binding)
    ok = bool(providers >= minimum)
    return Component(
        "min_providers", ok, binding, f"{providers:g} {unit} in the county; {minimum} required"
    )
