"""Partitions of a service area, and how far each partition's road graph must reach.

A partitioned run (:mod:`adequacy.distributed.run`) gives each partition (a
set of members) to a worker, with the road graph clipped to the bounding box of
the partition's members' road nodes plus a buffer (:func:`buffer_meters`). The
members are grouped

- ``by="county"``: whole counties, grouped in a compact order (counties sorted
  along a Z-order curve of their members' mean position) into about
  ``n_partitions`` groups of similar member counts;
- ``by="state"``: by the first two digits of the county FIPS code (one
  partition per state);
- ``by="grid"``: by cells of a grid over the members' bounding box, about
  ``n_partitions`` cells (members of one county may then fall in several
  partitions: every count is additive, so the summaries are still exact).

Members outside every county go to a partition of their own under ``county``
and ``state``. Without ``n_partitions``, :func:`auto_partitions` takes one
partition per million members, at least one per worker.

Owns: ``Partition``, ``make_partitions``, ``auto_partitions``, ``buffer_meters``,
``reach_meters``, ``leg_reach_meters``.
Uses: the rule model and settings of the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adequacy.engine.judge import OUTSIDE, search_cutoff
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.errors import InputError
from adequacy.network import RoadGraph
from adequacy.units import METERS_PER_MILE, MPH_TO_METERS_PER_SECOND, SECONDS_PER_MINUTE

PARTITION_SCHEMES = ("county", "state", "grid")
#: members per partition when the number of partitions is not given
MEMBERS_PER_PARTITION = 1_000_000


@dataclass(frozen=True)
class Partition:
    """One partition: its name, its members (rows of the members table, sorted) and
    the bounding box (west, south, east, north; WGS84 degrees) of their road nodes."""

    name: str
    member_rows: np.ndarray
    bbox: tuple[float, float, float, float]

    def __len__(self) -> int:
        return len(self.member_rows)


def auto_partitions(n_members: int, workers: int) -> int:
    """Partitions for a run: one per million members, at least one per worker."""
    return max(int(workers), math.ceil(n_members / MEMBERS_PER_PARTITION), 1)


def make_partitions(
    members: pd.DataFrame,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    *,
    by: str = "county",
    n_partitions: int = 2,
    outside_cells: int | None = None,
) -> list[Partition]:
    """Split the members into partitions (see the module docstring).

    ``members`` is placed (``county_fips``); ``node_lon``/``node_lat`` are the
    WGS84 coordinates of each member's road node (what the bounding boxes are
    made of, so that the clipped graph holds every member's node). Empty
    partitions are dropped; names are stable for equal inputs. ``outside_cells``:
    under ``county`` and ``state``, split the members outside every county (who may
    live anywhere) into about that many cells of a grid over their own box
    (``outside-cell-...``), so that no partition's graph spans their whole spread.
    """
    if by not in PARTITION_SCHEMES:
        raise InputError(f"partition by {by!r}: use one of {', '.join(PARTITION_SCHEMES)}")
    n_partitions = max(1, int(n_partitions))
    county = members["county_fips"].astype(str).to_numpy()
    if by == "grid":
        labels = _grid_labels(node_lon, node_lat, n_partitions)
    elif by == "state":
        labels = np.where(county == OUTSIDE, "outside", np.char.add("state-", _state(county)))
    else:
        labels = _county_groups(county, node_lon, node_lat, n_partitions)
    outside = county == OUTSIDE
    if by != "grid" and outside_cells and outside.any():
        cells = _grid_labels(node_lon[outside], node_lat[outside], int(outside_cells))
        labels = labels.astype(object)
        labels[outside] = np.char.add("outside-", cells)
        labels = labels.astype(str)
    codes, names = pd.factorize(labels, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    out = []
    for i, name in enumerate(names):
        rows = np.sort(order[bounds[i] : bounds[i + 1]])
        if not len(rows):
            continue
        lon, lat = node_lon[rows], node_lat[rows]
        bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        out.append(Partition(str(name), rows, bbox))
    return out


def _state(county: np.ndarray) -> np.ndarray:
    return np.array([c[:2] for c in county], dtype=object).astype(str)


def _grid_labels(lon: np.ndarray, lat: np.ndarray, n: int) -> np.ndarray:
    """Cells of an nx x ny grid (nx * ny >= n, cells near square in degrees)."""
    west, east = float(lon.min()), float(lon.max())
    south, north = float(lat.min()), float(lat.max())
    width, height = max(east - west, 1e-9), max(north - south, 1e-9)
    nx = max(1, round(math.sqrt(n * width / height)))
    ny = max(1, math.ceil(n / nx))
    ix = np.minimum(((lon - west) / width * nx).astype(int), nx - 1)
    iy = np.minimum(((lat - south) / height * ny).astype(int), ny - 1)
    return np.char.add(np.char.add("cell-", np.char.zfill(iy.astype(str), 3)),
                       np.char.add("-", np.char.zfill(ix.astype(str), 3)))  # fmt: skip


def _county_groups(county: np.ndarray, lon: np.ndarray, lat: np.ndarray, n: int) -> np.ndarray:
    """Whole counties in about ``n`` groups of similar member counts, each group a run
    of counties along a Z-order curve (neighbouring counties together)."""
    frame = pd.DataFrame({"county": county, "lon": lon, "lat": lat})
    inside = frame[frame["county"] != OUTSIDE]
    stats = inside.groupby("county", sort=True).agg(
        n=("lon", "size"), lon=("lon", "mean"), lat=("lat", "mean")
    )
    labels = np.full(len(county), "outside", dtype=object)
    if len(stats):
        key = _zorder(stats["lon"].to_numpy(), stats["lat"].to_numpy())
        stats = stats.iloc[np.lexsort((stats.index.to_numpy(), key))]
        target = stats["n"].sum() / min(n, len(stats))
        group = np.minimum((np.cumsum(stats["n"].to_numpy()) - 1) // target, n - 1).astype(int)
        width = len(str(n))
        names = {c: f"counties-{g + 1:0{width}d}" for c, g in zip(stats.index, group, strict=True)}
        here = county != OUTSIDE
        labels[here] = pd.Series(county[here]).map(names).to_numpy()
    return labels.astype(str)


def _zorder(lon: np.ndarray, lat: np.ndarray, bits: int = 16) -> np.ndarray:
    """Morton (Z-order) keys of points scaled to their bounding box."""

    def scaled(v):
        lo, hi = float(v.min()), float(v.max())
        return ((v - lo) / max(hi - lo, 1e-12) * ((1 << bits) - 1)).astype(np.uint64)

    x, y = scaled(lon), scaled(lat)
    key = np.zeros(len(lon), dtype=np.uint64)
    for b in range(bits):
        key |= ((x >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
        key |= ((y >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
    return key


def buffer_meters(
    standards: StandardsSet, settings: Settings, graph: RoadGraph, *, provider_leg_meters=0.0
) -> float:
    """How far past its members' road nodes a partition's graph must reach (meters).

    Every label a member reads is a road path from a provider's node to the
    member's node no costlier than the search's cutoff: the largest mile limit
    of any rule (in any county class or county) or the report horizon
    (``max_report_miles``) by distance, the largest minute limit or
    ``max_report_minutes`` by time, each with the search's tolerance. A path of at most
    ``M`` meters stays within ``M`` meters of the member's node (great circle);
    one of at most ``T`` seconds within ``T`` x the graph's top speed. So the
    buffer is the larger of the two, plus ``provider_leg_meters`` on the
    ``straight_line`` basis (where a provider counts by its own point, which lies
    its snapping leg away from its node), plus 1% and 100 m for rounding.
    """
    leg = 0.0
    if (settings.distance_basis or standards.distance_basis) == "straight_line":
        leg = float(provider_leg_meters)
    return _padded(_road_reach(standards, settings, top_speed_mps(graph)) + leg)


def reach_meters(standards: StandardsSet, settings: Settings, top_speed: float) -> float:
    """:func:`buffer_meters` of a graph whose fastest edge drives ``top_speed`` m/s,
    on a road basis (``shortest`` or ``fastest_route``)."""
    return _padded(_road_reach(standards, settings, float(top_speed)))


def leg_reach_meters(standards: StandardsSet, settings: Settings) -> float:
    """The longest snapping leg that could still count for anyone (meters): a source's
    leg is its first cost, so it must be within the distance cutoff, or within the time
    cutoff at the snapping speed (``snap_speed_mph``); plus 1% and 100 m."""
    miles, minutes = _horizon(standards, settings)
    speed = settings.snap_speed_mph * MPH_TO_METERS_PER_SECOND
    return _padded(max(search_cutoff(miles * METERS_PER_MILE),
                       search_cutoff(minutes * SECONDS_PER_MINUTE) * speed))  # fmt: skip


def _horizon(standards: StandardsSet, settings: Settings) -> tuple[float, float]:
    """The largest mile and minute limits any search has (rules or report horizon)."""
    miles = max([r.max_miles or 0.0 for r in standards.rules] + [settings.max_report_miles])
    minutes = max([r.max_minutes or 0.0 for r in standards.rules] + [settings.max_report_minutes])
    return miles, minutes


def _road_reach(standards: StandardsSet, settings: Settings, top_speed: float) -> float:
    miles, minutes = _horizon(standards, settings)
    return max(
        search_cutoff(miles * METERS_PER_MILE),
        search_cutoff(minutes * SECONDS_PER_MINUTE) * top_speed,
    )


def _padded(meters: float) -> float:
    return meters * 1.01 + 100.0


def top_speed_mps(graph: RoadGraph) -> float:
    """The fastest edge of the graph, meters per second (an upper bound on any speed)."""
    seconds = graph.seconds
    ok = seconds > 0
    return float((graph.meters[ok] / seconds[ok]).max()) if ok.any() else 0.0
