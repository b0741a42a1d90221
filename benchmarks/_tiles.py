"""Large test graphs made by tiling a real extract.

``tile_road_graph(graph, nx, ny)`` lays ``nx`` × ``ny`` copies of a real road
graph side by side (shifted in longitude/latitude so they do not overlap) and
joins neighbouring copies with two-way links between their border nodes, so the
result is one strongly connected road network with real street structure. Used
by the benchmarks to reach 1M+ nodes from the bundled extracts.
"""

from __future__ import annotations

import numpy as np

from adequacy import RoadGraph
from adequacy.network.osm import haversine_meters

LINK_MPH = 35.0


def border_nodes(graph: RoadGraph, links_per_side: int) -> list[np.ndarray]:
    """East, west, north and south border nodes: per band of the other coordinate,
    the node farthest out on that side (where neighbouring copies are joined)."""

    def extremes(coord_sort, coord_band, pick_max):
        bands = np.linspace(coord_band.min(), coord_band.max(), links_per_side + 1)
        which = np.clip(np.searchsorted(bands, coord_band) - 1, 0, links_per_side - 1)
        out = []
        for b in range(links_per_side):
            members = np.flatnonzero(which == b)
            if len(members):
                pick = members[
                    np.argmax(coord_sort[members]) if pick_max else np.argmin(coord_sort[members])
                ]
                out.append(pick)
        return np.array(out)

    return [
        extremes(graph.lon, graph.lat, True),
        extremes(graph.lon, graph.lat, False),
        extremes(graph.lat, graph.lon, True),
        extremes(graph.lat, graph.lon, False),
    ]


def tile_road_graph(graph: RoadGraph, nx: int, ny: int, *, links_per_side: int = 12) -> RoadGraph:
    n = graph.n_nodes
    u0 = graph.edge_sources()
    v0 = graph.targets.astype(np.int64)
    width = (graph.lon.max() - graph.lon.min()) * 1.02
    height = (graph.lat.max() - graph.lat.min()) * 1.02
    tiles = [(i, j) for j in range(ny) for i in range(nx)]
    lon = np.concatenate([graph.lon + i * width for i, j in tiles])
    lat = np.concatenate([graph.lat + j * height for i, j in tiles])
    offset = np.arange(len(tiles), dtype=np.int64) * n
    u = (u0[None, :] + offset[:, None]).ravel()
    v = (v0[None, :] + offset[:, None]).ravel()
    meters = np.tile(graph.meters, len(tiles))
    seconds = np.tile(graph.seconds, len(tiles))
    edge_class = np.tile(graph.edge_class, len(tiles))

    east, west, north, south = border_nodes(graph, links_per_side)
    link_u, link_v = [], []
    for t, (i, j) in enumerate(tiles):
        if i + 1 < nx:
            t2 = tiles.index((i + 1, j))
            m = min(len(east), len(west))
            link_u.append(east[:m] + t * n)
            link_v.append(west[:m] + t2 * n)
        if j + 1 < ny:
            t2 = tiles.index((i, j + 1))
            m = min(len(north), len(south))
            link_u.append(north[:m] + t * n)
            link_v.append(south[:m] + t2 * n)
    lu, lv = np.concatenate(link_u), np.concatenate(link_v)
    lm = haversine_meters(lon[lu], lat[lu], lon[lv], lat[lv]) + 1.0
    ls = lm / (LINK_MPH * 0.44704)
    link_class = len(graph.class_names)
    return RoadGraph.from_edges(
        np.concatenate([u, lu, lv]),
        np.concatenate([v, lv, lu]),
        np.concatenate([meters, lm, lm]),
        np.concatenate([seconds, ls, ls]),
        lon,
        lat,
        edge_class=np.concatenate([edge_class, np.full(2 * len(lu), link_class)]),
        class_names=[*graph.class_names, "tile_link"],
        meta={
            "source": f"{graph.meta.get('source')} tiled {nx}x{ny}",
            "profile": graph.meta.get("profile", {}),
        },
    )


def tile_osm_file(source, dest, nx: int, ny: int, *, links_per_side: int = 12) -> None:
    """Write ``nx`` × ``ny`` copies of an OpenStreetMap file's highways (nodes with their
    tags, highway ways) as one sorted ``.osm.pbf``, shifted as :func:`tile_road_graph`
    shifts them, neighbouring copies joined by two-way residential ways between
    border nodes of the drive graph: a file that loads into one connected network."""
    import osmium

    from adequacy import load_road_graph

    graph = load_road_graph(source, cache=False)
    nodes, ways = [], []
    for obj in osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node():
            if obj.location.valid():
                nodes.append((obj.id, obj.location.lon, obj.location.lat, dict(obj.tags)))
        elif "highway" in obj.tags:
            ways.append((obj.id, [n.ref for n in obj.nodes], dict(obj.tags)))
    # ids renumbered densely, copy after copy (a real file's ids spread over ~1.3e10:
    # see the extract benchmark for what that costs the cut's id sets)
    node_rank = {node_id: r + 1 for r, node_id in enumerate(sorted(n[0] for n in nodes))}
    nodes = [(node_rank[i], lon, lat, tags) for i, lon, lat, tags in sorted(nodes)]
    ways = [(r + 1, [node_rank[x] for x in refs if x in node_rank], tags)
            for r, (_, refs, tags) in enumerate(sorted(ways, key=lambda w: w[0]))]  # fmt: skip
    step = max(len(nodes), len(ways)) + 1
    node_ids = np.array([node_rank.get(int(i), -1) for i in graph.node_ids])
    width = (graph.lon.max() - graph.lon.min()) * 1.02
    height = (graph.lat.max() - graph.lat.min()) * 1.02
    tiles = [(i, j) for j in range(ny) for i in range(nx)]

    east, west, north, south = (
        [int(node_ids[x]) for x in side] for side in border_nodes(graph, links_per_side)
    )
    writer = osmium.SimpleWriter(str(dest), overwrite=True)
    try:
        for t, (i, j) in enumerate(tiles):
            for node_id, lon, lat, tags in nodes:
                writer.add_node(osmium.osm.mutable.Node(
                    id=node_id + t * step, location=(lon + i * width, lat + j * height),
                    tags=tags,
                ))  # fmt: skip
        for t in range(len(tiles)):
            for way_id, refs, tags in ways:
                writer.add_way(osmium.osm.mutable.Way(
                    id=way_id + t * step, nodes=[r + t * step for r in refs], tags=tags,
                ))  # fmt: skip
        link = len(tiles) * step
        for t, (i, j) in enumerate(tiles):
            pairs = []
            if i + 1 < nx:
                across = zip(east, west, strict=False)  # as many links as the shorter side
                pairs += [(a, b, tiles.index((i + 1, j))) for a, b in across]
            if j + 1 < ny:
                up = zip(north, south, strict=False)
                pairs += [(a, b, tiles.index((i, j + 1))) for a, b in up]
            for a, b, t2 in pairs:
                link += 1
                writer.add_way(osmium.osm.mutable.Way(
                    id=link, nodes=[a + t * step, b + t2 * step],
                    tags={"highway": "residential"},
                ))  # fmt: skip
    finally:
        writer.close()
