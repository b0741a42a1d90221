"""Clip a road graph to a bounding box plus a buffer, keeping every search cost inside exact.

A partitioned evaluation gives each partition (a county group, a grid cell)
the road graph clipped to the partition's bounding box plus a buffer at least
as large as any search can reach (the cutoff in meters, or the cutoff in
seconds times the fastest speed on the graph). :func:`clip_graph` cuts so that
the k-nearest search (:func:`adequacy.routing.k_nearest_labels`) computes,
at every node of the bbox, exactly the same float costs (bitwise) as on the
whole graph (more generally at every node whose paths within the cutoff stay
in the region R below).

The region R
    Every node whose distance to the bbox is at most ``buffer_meters``, taken
    as a box in degrees that provably contains them (:func:`buffered_bbox`):
    on the sphere the graph's lengths use (radius 6,371,009 m) and on the
    WGS84 ellipsoid alike, a path of length ``d`` changes latitude by at most
    ``d / M`` and longitude by at most ``d / (N cos(lat))``, and the
    meridional radius ``M`` and the prime-vertical radius ``N`` are never
    below ``b**2 / a`` = 6,335,439 m, the radius used here. A point within
    ``d`` of the bbox therefore lies within ``d / 6,335,439`` radians of
    latitude of it, and within ``d / (6,335,439 cos(lat_max))`` radians of
    longitude, where ``lat_max`` is the largest absolute latitude of the band
    so widened (the whole path stays in that band). The box is 0.56% wider
    than an exact one, which also absorbs float rounding.

The keep rule
    1. every node of R;
    2. every chain of shape points (:func:`adequacy.network.chains.chains_of`)
       with any node in R, whole, with both of its end (core) nodes;
    3. every core node kept by 1 or 2 with all its edges, in and out, and the
       nodes at their far ends;
    and the clipped graph is the subgraph induced by the kept nodes, in the
    source's node order (built without ``largest_component``: no node of R
    is ever dropped).

Why costs in the bbox are bitwise equal
    Every node kept by 1 or 2 has all its edges (a shape point's two
    neighbours are on its kept chain; a core node keeps all by 3), so its
    distinct in- and out-neighbours, hence whether it is core, are unchanged;
    a shape point's chain is walked through such nodes only, so it has the
    same nodes in the same order. Its *orientation* (which end is ``A``) is
    chosen by ``chains._walk``: the chain is found from its lowest-numbered
    shape point, walking first towards that point's lower-numbered neighbour
    (``_fill_neighbours`` fills neighbours in ascending order). Both depend
    only on the relative order of node numbers, which the clip keeps (clipped
    node ``i`` is source node ``full_node[i]``, increasing). So the prefix
    sums ``from_a``/``to_a``/``from_b``/``to_b`` are the same float sums in
    the same order (the cheapest parallel edge of each step, the same set of
    edges), and so are the chains' core edges, the seeds of sources on
    chains, and the walks from chain ends to shape points.

    A search label is the float minimum, over paths, of the path's costs
    added in path order (float addition is monotone, so a cycle never helps).
    A path of cost at most the cutoff that ends at a node of the bbox has
    every node within ``buffer_meters`` of that node (edge meters are at least
    the great-circle distance of their ends, and meters <= seconds times the
    top speed), so every node of it is in R, every chain it runs along is
    kept whole, and it is a path of both core graphs over the same core edges
    (its core nodes are core in both; its direct edges keep all their
    parallel edges). A path of the clipped graph that leaves R costs more
    than the cutoff from the bbox, as in the source graph: outside R the clip
    may change the core (a far node kept by 3 loses edges and may become a
    shape point or a dead end), which only changes costs beyond the cutoff.
    Likewise, of the labels of a chain end or core node in R outside the bbox,
    those a bbox node can use (cost at most the cutoff less the way there)
    come from paths inside R. Equal paths within the cutoff, summed in the
    same order, give equal labels.

    Conditions the caller keeps: the search is run contracted (or not) on
    both graphs (``routing.labels.CONTRACT_BELOW``: the core's share of the
    nodes decides, and a float sum along a chain differs from the same edges
    added one at a time); the buffer covers the cutoff (meters) or the cutoff
    times the top speed, including the snapping leg's speed (seconds);
    providers are snapped on the source graph and mapped with ``full_node``,
    those whose node the clip dropped left out (snapped on the clipped graph,
    a provider whose nearest node lies beyond the buffer would take a kept
    node instead and could come within reach); tied costs may name different
    sources, never different costs. Members in the bbox may be snapped on the
    clipped graph: every node within the buffer of them is kept.

Owns: ``clip_graph``, ``buffered_bbox``, ``region_mask``. Uses: ``graph`` (``RoadGraph``) and
``chains`` (``chains_of``). Coordinates are WGS84 (EPSG:4326) degrees,
distances meters.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from adequacy.errors import InputError
from adequacy.network.chains import chains_of
from adequacy.network.graph import RoadGraph

#: The smallest radius of curvature of the WGS84 ellipsoid, b**2 / a (meridional, at the
#: equator), rounded down; below the sphere's 6,371,009 m as well.
MIN_RADIUS_METERS = 6_335_439.0
#: Degrees added to each side of the buffered box, against rounding of coordinates.
_SLACK_DEGREES = 1e-9


def _check_bbox(bbox) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(x) for x in bbox)
    except (TypeError, ValueError):
        raise InputError(
            f"bbox {bbox!r}: expected four numbers (west, south, east, north) in WGS84 degrees"
        ) from None
    ok = all(math.isfinite(x) for x in (west, south, east, north))
    ok = ok and -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    if not ok:
        raise InputError(
            f"bbox {bbox!r}: expected (west, south, east, north) in WGS84 degrees with "
            "west <= east and south <= north (split a box across the antimeridian in two)"
        )
    return west, south, east, north


def buffered_bbox(
    bbox: tuple[float, float, float, float], buffer_meters: float
) -> tuple[float, float, float, float]:
    """A box of degrees holding every point within ``buffer_meters`` of ``bbox``.

    Parameters
    ----------
    bbox
        (west, south, east, north), WGS84 (EPSG:4326) degrees, west <= east.
    buffer_meters
        The buffer, meters (great-circle on the sphere of radius 6,371,009 m,
        or geodesic on the WGS84 ellipsoid: the box holds both).

    Returns
    -------
    tuple
        (west, south, east, north) in degrees. Latitudes are clamped to
        [-90, 90]; longitudes may pass -180 or 180 (the box then wraps across
        the antimeridian), and are (-180, 180) exactly when it spans every
        longitude. See the module docstring for why it is a superset.
    """
    west, south, east, north = _check_bbox(bbox)
    buffer_meters = float(buffer_meters)
    if not (math.isfinite(buffer_meters) and buffer_meters >= 0):
        raise InputError(f"buffer_meters must be a finite number >= 0, not {buffer_meters!r}")
    dlat = math.degrees(buffer_meters / MIN_RADIUS_METERS) + _SLACK_DEGREES
    south_b, north_b = max(south - dlat, -90.0), min(north + dlat, 90.0)
    lat_max = max(abs(south - dlat), abs(north + dlat))
    if lat_max >= 89.9:
        return -180.0, south_b, 180.0, north_b
    dlon = math.degrees(buffer_meters / (MIN_RADIUS_METERS * math.cos(math.radians(lat_max))))
    dlon += _SLACK_DEGREES
    if (east - west) + 2 * dlon >= 360:
        return -180.0, south_b, 180.0, north_b
    return west - dlon, south_b, east + dlon, north_b


def region_mask(
    graph: RoadGraph, bbox: tuple[float, float, float, float], buffer_meters: float
) -> np.ndarray:
    """Whether each node lies in :func:`buffered_bbox` (the region R), as a bool array."""
    west, south, east, north = buffered_bbox(bbox, buffer_meters)
    lon, lat = graph.lon, graph.lat
    inside = (lat >= south) & (lat <= north)
    if west >= -180 and east <= 180:
        inside &= (lon >= west) & (lon <= east)
    else:  # wraps across the antimeridian
        inside &= np.mod(lon - west, 360.0) <= east - west
    return inside


def clip_graph(
    graph: RoadGraph, bbox: tuple[float, float, float, float], *, buffer_meters: float
) -> tuple[RoadGraph, np.ndarray]:
    """Clip ``graph`` to ``bbox`` plus ``buffer_meters``, keeping every cost inside exact.

    The nodes within ``buffer_meters`` of ``bbox`` (the region R), the whole
    chains of shape points that touch R, and every edge and neighbour of the
    core nodes so kept (see the module docstring for the rule and why the
    k-nearest search then computes bitwise the same costs at every node of the
    bbox). Built like ``RoadGraph.from_edges(..., largest_component=False)``
    (the same arrays, without sorting again): no node of R is dropped.

    Parameters
    ----------
    graph
        The source road graph (meters, seconds; WGS84 lon/lat).
    bbox
        (west, south, east, north), WGS84 (EPSG:4326) degrees, west <= east.
    buffer_meters
        Meters around the bbox that must stay exact: at least the search's
        reach (its cutoff in meters, or its cutoff in seconds times the top
        speed in m/s).

    Returns
    -------
    clipped : RoadGraph
        The subgraph induced by the kept nodes, in the source's node order,
        with the source's edge costs, node ids, edge classes and class names.
        ``meta`` is the source's, plus ``clip``: the bbox, ``buffer_meters``,
        the buffered box in degrees, the counts and the source's meta.
    full_node : numpy.ndarray
        int64, strictly increasing: clipped node ``i`` is source node
        ``full_node[i]``.

    Raises
    ------
    InputError
        A malformed bbox or buffer, or a bbox with no node of the graph
        within ``buffer_meters``: an empty graph is never returned.
    """
    region = region_mask(graph, bbox, buffer_meters)
    if not region.any():
        lo = (float(graph.lon.min()), float(graph.lat.min())) if graph.n_nodes else None
        hi = (float(graph.lon.max()), float(graph.lat.max())) if graph.n_nodes else None
        raise InputError(
            f"bbox {_check_bbox(bbox)}: no node of the road graph "
            f"({graph.meta.get('source', 'graph')}, nodes from {lo} to {hi}) lies within "
            f"{buffer_meters:g} m of it; check that it is (west, south, east, north) in WGS84 "
            "degrees and that the road graph covers it"
        )
    chains = chains_of(graph)
    keep = region.copy()
    ptr, entries = chains.chain_ptr, chains.chain_nodes
    if len(ptr) > 1:  # rule 2: chains with a node in R, whole with their ends
        touched = np.logical_or.reduceat(region[entries], ptr[:-1])
        keep[entries[np.repeat(touched, np.diff(ptr))]] = True
    hub = keep & (chains.core_of >= 0)  # rule 3: kept core nodes keep every edge
    u = graph.edge_sources()
    v = graph.targets
    keep[v[hub[u]]] = True
    keep[u[hub[v]]] = True

    full_node = np.flatnonzero(keep).astype(np.int64)
    new_index = np.cumsum(keep, dtype=np.int64) - 1
    fwd = keep[u] & keep[v]
    rev_u = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(graph.rev_offsets))
    rev = keep[rev_u] & keep[graph.rev_targets]
    meta = copy.deepcopy(graph.meta)
    meta["clip"] = {
        "bbox": [float(x) for x in _check_bbox(bbox)],
        "buffer_meters": float(buffer_meters),
        "buffered_bbox": list(buffered_bbox(bbox, buffer_meters)),
        "region_nodes": int(region.sum()),
        "source_nodes": graph.n_nodes,
        "source_edges": graph.n_edges,
        "source_meta": copy.deepcopy(graph.meta),
    }
    # Filtering the CSR arrays keeps their order, which is what RoadGraph.from_edges
    # would make of the kept edges (rows by node, then target, parallel edges in the
    # source's order), without sorting again.
    clipped = RoadGraph(
        offsets=_offsets(u[fwd], new_index, len(full_node)),
        targets=new_index[v[fwd]].astype(np.int32),
        meters=graph.meters[fwd],
        seconds=graph.seconds[fwd],
        rev_offsets=_offsets(rev_u[rev], new_index, len(full_node)),
        rev_targets=new_index[graph.rev_targets[rev]].astype(np.int32),
        rev_meters=graph.rev_meters[rev],
        rev_seconds=graph.rev_seconds[rev],
        lon=graph.lon[full_node],
        lat=graph.lat[full_node],
        node_ids=graph.node_ids[full_node],
        edge_class=graph.edge_class[fwd],
        class_names=list(graph.class_names),
        meta=meta,
    )
    clipped.meta.update(nodes=clipped.n_nodes, edges=clipped.n_edges)
    return clipped, full_node


def _offsets(rows: np.ndarray, new_index: np.ndarray, n: int) -> np.ndarray:
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(new_index[rows], minlength=n), out=offsets[1:])
    return offsets
