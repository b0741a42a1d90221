"""A partition's clipped road graph, built from a cut of a large file, never the whole.

:func:`clip_from_extract` returns what :func:`~adequacy.network.clip.clip_graph`
would cut out of the graph of the whole OpenStreetMap file (the same nodes,
in the same relative order, with the same edges and bitwise the same meters
and seconds), while reading only a cut of the file
(:func:`~adequacy.network.extracts.cut_extract`) around the bbox: the buffer
plus a margin. It builds the cut's graph ``F`` with every drivable edge, and
its largest strongly connected component ``L``, and certifies the clip of
``L`` before returning it.

What a cut knows
    A node inside the cut's box (:func:`~adequacy.network.clip.buffered_bbox`
    of the buffer plus the margin) is *complete*: every way through it is in
    the cut, so its edges, their costs, its intersection delay (its degree)
    and its tags are those of the whole file. A node outside is on the cut's
    border: some of its ways may be missing.

    Whether a node is in the whole graph's largest component is known for the
    nodes of ``L`` (yes: see the assumption below), and for a complete node
    outside ``L`` that cannot reach ``L`` or the border, or cannot be reached
    from them (no: everything it reaches, or that reaches it, is complete, so
    the whole file adds no way out; a node of the whole graph's largest
    component would reach ``L`` within the cut). Any other node is *in
    doubt*.

The certificate
    1. every node of the clip is complete;
    2. every neighbour (in ``F``, in or out) of a node of the clip is known,
       in or out of the largest component;
    3. no node of the region R (the buffer's box) is in doubt.

    Then the whole graph's largest component and ``L`` agree on R and on every
    node the clip's keep rule looks at, and those nodes have the same edges in
    both, so the keep rule (R, whole chains of shape points, core nodes with
    all their edges) keeps the same nodes and edges, in the same relative
    order (both graphs number nodes by OpenStreetMap id). A cut that fails is
    cut again with twice the margin (``tries`` times in all), then the call
    fails naming the bbox.

The assumption
    ``L`` belongs to the whole file's largest strongly connected component:
    the partition's roads join the rest of the network inside the cut. It
    fails only where the partition's largest road network is an island of its
    own (Hawaii in a file of the United States), where the whole graph would
    leave those roads out and members there unroutable.

Owns: ``clip_from_extract``. Uses: ``extracts`` (the cut), ``osm`` and ``load``
(the graph of the cut), ``clip``. Coordinates are WGS84 (EPSG:4326) degrees,
distances meters.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order

from adequacy.errors import InputError
from adequacy.network.clip import clip_graph, region_mask
from adequacy.network.extracts import cut_extract
from adequacy.network.graph import RoadGraph
from adequacy.network.load import _default_profile, _graph_from_edgelist
from adequacy.network.osm import read_osm_file
from adequacy.network.speeds import SpeedProfile

#: Margin past the buffer when none is given: half the buffer, at least 20 km.
MIN_MARGIN_METERS = 20_000.0


def clip_from_extract(
    source: str | os.PathLike,
    bbox: tuple[float, float, float, float],
    *,
    buffer_meters: float,
    margin_meters: float | None = None,
    profile: SpeedProfile | str | None = None,
    cache_dir: str | os.PathLike | None = None,
    tries: int = 3,
    source_sha256: str | None = None,
) -> RoadGraph:
    """The whole file's road graph clipped to ``bbox`` plus ``buffer_meters``, from a cut.

    Parameters
    ----------
    source
        A sorted OpenStreetMap file (``.osm.pbf``, ...), as ``load_road_graph``
        takes it.
    bbox
        (west, south, east, north), WGS84 (EPSG:4326) degrees, west <= east.
    buffer_meters
        Meters around the bbox kept exact (as :func:`clip_graph` takes them).
    margin_meters
        Meters of cut past the buffer (default half the buffer, at least
        :data:`MIN_MARGIN_METERS`); doubled on each try that cannot certify.
    profile
        Speed profile, as ``load_road_graph`` takes it.
    cache_dir
        Cache folder of the cuts (:func:`cut_extract`).
    tries
        Cuts tried, each with twice the margin of the last.
    source_sha256
        The file's SHA-256, when the caller has it (:func:`cut_extract`).

    Returns
    -------
    RoadGraph
        Equal to ``clip_graph(load_road_graph(source), bbox, ...)[0]`` in its
        nodes (ids, coordinates, relative order), edges, meters and seconds
        (see the module docstring); its edge classes index its own
        ``class_names``. ``meta["extract"]`` records the cut.

    Raises
    ------
    InputError
        The file or bbox is unusable (:func:`cut_extract`), or no cut certified.
    """
    if margin_meters is None:
        margin_meters = max(MIN_MARGIN_METERS, 0.5 * float(buffer_meters))
    margin = float(margin_meters)
    if not margin > 0:
        raise InputError(f"margin_meters must be positive, not {margin_meters!r}")
    profile = _default_profile("osm", None, profile)
    failed = ""
    for _ in range(max(1, int(tries))):
        cut = cut_extract(source, bbox, buffer_meters=buffer_meters + margin, cache_dir=cache_dir,
                          source_sha256=source_sha256)  # fmt: skip
        edges = read_osm_file(cut, profile)
        meta = {"source": cut.name, "source_kind": "osm"}
        whole = _graph_from_edgelist(edges, profile, meta, largest_component=False)
        largest = _graph_from_edgelist(edges, profile, meta)
        try:
            clipped, full_node = clip_graph(largest, bbox, buffer_meters=buffer_meters)
        except InputError:  # the cut's largest component misses the buffer
            clipped, failed = None, "the cut's largest road network does not reach the buffer"
        else:
            failed = _uncertified(whole, largest.node_ids, largest.node_ids[full_node], bbox,
                                  buffer_meters, margin)  # fmt: skip
        if not failed:
            clipped.meta["extract"] = {
                "cut": cut.name,
                "bbox": list(bbox),
                "buffer_meters": float(buffer_meters),
                "margin_meters": margin,
            }
            return clipped
        margin *= 2
    raise InputError(
        f"bbox {tuple(bbox)}: a cut of {source} up to {margin / 2:g} m past the "
        f"{float(buffer_meters):g} m buffer could not be shown to equal the whole file's "
        f"graph there ({failed}); give a larger margin_meters or more tries"
    )


def _uncertified(whole: RoadGraph, largest_ids, clip_ids, bbox, buffer_meters, margin) -> str:
    """Why the clip (its nodes' OpenStreetMap ids) may differ from the whole file's,
    or "" when the certificate holds. ``whole`` is the cut's graph, every edge kept;
    ``largest_ids`` the ids of its largest strongly connected component (node ids are
    sorted in every graph built from a file)."""
    n = whole.n_nodes
    u, v = whole.edge_sources(), whole.targets.astype(np.int64)
    complete = region_mask(whole, bbox, buffer_meters + margin)
    in_largest = np.zeros(n, dtype=bool)
    in_largest[np.searchsorted(whole.node_ids, largest_ids)] = True
    anchor = in_largest | ~complete
    doubt = ~in_largest & _reached(u, v, anchor, n) & _reached(v, u, anchor, n)
    known = in_largest | (complete & ~doubt)
    nodes = np.searchsorted(whole.node_ids, clip_ids)
    if not complete[nodes].all():
        return f"{int((~complete[nodes]).sum())} clipped node(s) lie outside the cut's box"
    mine = np.zeros(n, dtype=bool)
    mine[nodes] = True
    touching = np.concatenate([v[mine[u]], u[mine[v]]])
    if not known[touching].all():
        return f"{len(np.unique(touching[~known[touching]]))} neighbour(s) of the clip are in doubt"
    in_doubt = doubt & region_mask(whole, bbox, buffer_meters)
    if in_doubt.any():
        return f"{int(in_doubt.sum())} node(s) of the buffer are in doubt"
    return ""


def _reached(u: np.ndarray, v: np.ndarray, start: np.ndarray, n: int) -> np.ndarray:
    """Nodes reached from any ``start`` node along edges ``u -> v`` (starts included)."""
    first = np.flatnonzero(start)
    rows = np.concatenate([u, np.full(len(first), n)])
    cols = np.concatenate([v, first])
    graph = sparse.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n + 1, n + 1))
    order = breadth_first_order(graph, n, directed=True, return_predecessors=False)
    out = np.zeros(n + 1, dtype=bool)
    out[order] = True
    return out[:n]
