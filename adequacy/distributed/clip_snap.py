"""A partition's road graph and snapped points, cut from the OpenStreetMap file itself.

In a run partitioned with ``Cluster(graphs="extract")`` no process loads the
whole road graph: each worker cuts its partition's graph out of the ``.osm.pbf``
(:func:`adequacy.network.extract_clip.clip_from_extract`, proved equal to the
whole file's graph clipped) and snaps its own members and the roster to it.
:func:`partition_graph` chooses how wide the clip must be, and proves that every
point it keeps snaps to the node the whole graph would give it.

The width ``W`` (meters past the box of the partition's member points)
    Every label a member reads is a road path from its node no longer than the
    reach ``B`` (:func:`~adequacy.distributed.partitions.reach_meters`, at the
    top speed of the clip's own edges), and a member's node lies its snapping leg
    ``s`` from its point. So the clip must hold every node within ``B + s_max``
    of the box: ``W >= B + s_max``. The first cut takes ``B`` at the profile's
    top class speed plus ``max_snap_meters``; a cut that proves too narrow (a
    faster tagged road, a member farther from the roads) is cut again, wider.

Why a snap on the clip is the whole graph's
    The clip holds every node of the whole graph within ``W`` of the box (the
    region R). A point ``p`` lying ``c`` from the box (0 for a member) whose
    nearest clip node is ``d`` away, with ``d + c <= W``: every node within ``d``
    of ``p`` is within ``W`` of the box, so it is in the clip, and the whole
    graph has no nearer node. Nodes at one position are one point of the
    snapping tree, answered by the lowest-numbered node, and the clip keeps the
    whole graph's node order, so a tie goes the same way.

Providers the clip cannot place
    A provider not so proved (far from the roads, or near the clip's edge) is
    left out when its clip node lies outside the reach of every member (more
    than ``B + s_max`` from the box): its true node is then either that node or
    one outside R, and either way no label reaches a member from it. So is one
    whose leg to its clip node alone costs more than any search reaches (a site at
    sea, or at 0, 0): if that node is its own it counts for no one, and if its own
    lies outside R, neither. Otherwise the clip is cut again, wide enough to prove it.

Members farther than ``max_member_meters`` (50 km) from every road of the file
fail the partition, named by ID: a wrong coordinate, which would otherwise
make the partition's clip as wide as the file.

Owns: ``PartitionGraph``, ``partition_graph``. Uses: the extract clip, snapping,
the partitions' reach. Coordinates are WGS84 (EPSG:4326) degrees, distances meters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from adequacy.distributed.partitions import top_speed_mps
from adequacy.errors import InputError
from adequacy.network import RoadGraph
from adequacy.network.clip import region_mask
from adequacy.network.extract_clip import clip_from_extract
from adequacy.network.speeds import (
    DEFAULT_OSM_PROFILE,
    MAX_POSTED_MPH,
    SpeedProfile,
    get_profile,
)
from adequacy.routing import Snap, snap_points
from adequacy.routing.snap import snap_width_needed, some_ids, within_width
from adequacy.units import MPH_TO_METERS_PER_SECOND

#: Members farther than this from every road fail their partition (meters).
MAX_MEMBER_SNAP_METERS = 50_000.0


@dataclass
class PartitionGraph:
    """A partition's clip, its members' snap, and the roster rows on it with theirs."""

    graph: RoadGraph
    bbox: tuple[float, float, float, float]  # of the members' points
    member_snap: Snap
    provider_rows: np.ndarray  # rows of the roster kept, ascending
    provider_snap: Snap  # of those rows
    width_meters: float  # the clip's width past the members' box
    cuts: int  # how many cuts it took


def partition_graph(
    source: str | os.PathLike,
    member_lonlat: np.ndarray,
    roster_lonlat: np.ndarray,
    *,
    reach: Callable[[float], float],
    max_snap_meters: float,
    profile: SpeedProfile | str | None = None,
    cache_dir: str | os.PathLike | None = None,
    leg_reach_meters: float = np.inf,
    member_ids=None,
    max_member_meters: float = MAX_MEMBER_SNAP_METERS,
    tries: int = 4,
    source_sha256: str | None = None,
) -> PartitionGraph:
    """Cut, clip and snap one partition (see the module docstring).

    Parameters
    ----------
    source
        The sorted OpenStreetMap file (``.osm.pbf``) the run's graph is built from.
    member_lonlat, roster_lonlat
        (n, 2) WGS84 lon/lat of the partition's members and of the whole roster.
    reach
        Meters any search reaches from a member's node at a top speed (m/s):
        :func:`~adequacy.distributed.partitions.reach_meters` of the run's rules.
    max_snap_meters
        The run's off-road limit (``Settings.max_snap_meters``).
    profile, cache_dir
        The speed profile and the cache folder of the cuts.
    leg_reach_meters
        The longest snapping leg that could still count (the searches' distance
        cutoff, or their time cutoff at the snapping speed, whichever is longer):
        a site not proved whose leg to its cut node is longer is left out.
    member_ids
        The members' IDs, to name members too far from every road.
    max_member_meters
        A member farther than this from every road fails the partition.
    tries
        Cuts tried before the partition fails.
    source_sha256
        The file's SHA-256, as the coordinator found it (no worker hashes it again).
    """
    member_lonlat = np.asarray(member_lonlat, dtype=np.float64)
    roster_lonlat = np.asarray(roster_lonlat, dtype=np.float64)
    lon, lat = member_lonlat[:, 0], member_lonlat[:, 1]
    bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    profile = get_profile(profile) if profile is not None else DEFAULT_OSM_PROFILE
    width = reach(_profile_top_speed(profile)) + float(max_snap_meters)
    why = ""
    for cut in range(1, max(1, int(tries)) + 1):
        graph = clip_from_extract(source, bbox, buffer_meters=width, profile=profile,
                                  cache_dir=cache_dir, source_sha256=source_sha256)  # fmt: skip
        members = snap_points(graph, member_lonlat, max_snap_meters=max_snap_meters,
                              what="members", ids=member_ids)  # fmt: skip
        farthest = float(members.meters.max()) if len(members) else 0.0
        if farthest > max_member_meters and width >= max_member_meters * 1.01 + 1.0:
            # the cut holds every node within that of the box: none is nearer
            _refuse_far(members.meters, max_member_meters, member_ids, "member(s)")
        # a member's labels come from within the reach of its node, its leg away
        reach_here = reach(top_speed_mps(graph))
        member_need = snap_width_needed(member_lonlat, members.meters + reach_here, bbox)
        roster = snap_points(graph, roster_lonlat, max_snap_meters=max_snap_meters,
                             what="providers")  # fmt: skip
        site_need = snap_width_needed(roster_lonlat, roster.meters, bbox)
        proved = within_width(site_need, width)
        unsure = ~proved & region_mask(graph, bbox, reach_here + farthest)[roster.node]
        # a site whose leg to its cut node alone costs more than any search reaches
        # counts for no one, whether that node is its own or its own lies outside
        unsure &= roster.meters <= leg_reach_meters
        if within_width(member_need, width).all() and not unsure.any():
            rows = np.flatnonzero(proved)
            kept = Snap(roster.node[rows], roster.meters[rows], roster.off_road[rows],
                        roster.max_snap_meters)  # fmt: skip
            graph.meta["contracted"] = True  # searched as a whole OpenStreetMap graph is
            return PartitionGraph(graph, bbox, members, rows, kept, width, cut)
        wider = max([float(member_need.max(initial=0.0)), *site_need[unsure]])
        if farthest > max_member_meters:  # first make sure none is nearer than that
            wider = min(wider, max_member_meters * 1.01 + 1.0)
        why = (
            f"{int(unsure.sum())} provider(s) could not be placed"
            if unsure.any()
            else f"the rules reach {wider:,.0f} m"
        )
        width = max(1.1 * width, (wider + 1.0) * 1.01)
    raise InputError(
        f"a partition around {tuple(round(x, 5) for x in bbox)}: {max(1, int(tries))} cuts of "
        f"{source} were not wide enough ({why}); run with --partition-graphs clip"
    )


def _profile_top_speed(profile: SpeedProfile) -> float:
    """The fastest the profile drives, m/s: its fastest class, or the highest posted
    limit it believes (a first guess: the clip's own edges are what is checked)."""
    mph = max([*profile.class_mph.values(), profile.fallback_mph])
    if profile.use_maxspeed:
        mph = max(mph, MAX_POSTED_MPH * profile.maxspeed_factor)
    return float(mph) * MPH_TO_METERS_PER_SECOND


def _refuse_far(meters: np.ndarray, limit: float, ids, what: str) -> None:
    rows = np.flatnonzero(meters > limit)
    raise InputError(
        f"{len(rows)} {what} lie more than {limit / 1000:g} km from every road of the "
        f"network ({some_ids(rows, ids)}): check their coordinates, or run with "
        "--partition-graphs clip, which routes them from the nearest road"
    )
