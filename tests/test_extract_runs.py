"""Partitioned runs in which no process loads the whole road graph (``graphs="extract"``).

Each worker cuts its partition's graph out of the OpenStreetMap file and snaps its
own points to it. The references are independent of that path: snapping on the
whole file's graph, and the single-process evaluation of the whole graph.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import REISTERSTOWN_PBF, run_cli

from adequacy import InputError, RoadGraph, evaluate, load_road_graph
from adequacy.distributed import Cluster, make_partitions
from adequacy.distributed.clip_snap import partition_graph
from adequacy.distributed.findings import partitioned_findings
from adequacy.findings import deficiencies, outside_candidates
from adequacy.network.clip import region_mask
from adequacy.network.extracts import file_box
from adequacy.routing import snap_points

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the tiler and synthetic inputs of the benchmarks
    sys.path.insert(0, str(ROOT))

from test_distributed import SHORT, _sorted, assert_same_run  # noqa: E402

from benchmarks._tiles import tile_osm_file  # noqa: E402
from benchmarks.evaluate import synthetic_inputs  # noqa: E402


# ---------------------------------------------------------------------------
# snapping ties
# ---------------------------------------------------------------------------
def test_points_snap_to_the_lowest_numbered_of_nodes_at_one_place():
    """Nodes sharing a position: the lowest-numbered answers, on any graph that holds
    them (so a clip, numbered in the same order, snaps as the whole graph does)."""
    rng = np.random.default_rng(4)
    n = 300
    lon, lat = rng.uniform(-77.0, -76.9, n), rng.uniform(39.4, 39.5, n)
    order = rng.permutation(2 * n)  # each position twice, in shuffled node order
    node_lon, node_lat = np.tile(lon, 2)[order], np.tile(lat, 2)[order]
    u = np.arange(2 * n)
    graph = RoadGraph.from_edges(u, np.roll(u, 1), np.ones(2 * n), np.ones(2 * n), node_lon,
                                 node_lat, largest_component=False)  # fmt: skip
    points = np.column_stack([lon + 1e-5, lat])
    got = snap_points(graph, points).node
    for i in range(n):
        pair = np.flatnonzero((node_lon == lon[i]) & (node_lat == lat[i]))
        assert got[i] == pair.min()
    # a graph without the lower of each pair's first 100: those answer with the other
    drop = np.array([np.flatnonzero((node_lon == lon[i]) & (node_lat == lat[i])).min()
                     for i in range(100)])  # fmt: skip
    keep = np.setdiff1d(np.arange(2 * n), drop)
    index = np.full(2 * n, -1)
    index[keep] = np.arange(len(keep))
    sub = RoadGraph.from_edges(np.arange(len(keep)), np.roll(np.arange(len(keep)), 1),
                               np.ones(len(keep)), np.ones(len(keep)), node_lon[keep],
                               node_lat[keep], largest_component=False)  # fmt: skip
    on_sub = keep[snap_points(sub, points).node]
    assert np.array_equal(on_sub[100:], got[100:])
    assert not np.isin(on_sub[:100], drop).any()


# ---------------------------------------------------------------------------
# a partition's graph and snaps
# ---------------------------------------------------------------------------
def test_a_partition_snaps_its_points_as_the_whole_graph_does(reisterstown, tmp_path):
    g = reisterstown
    rng = np.random.default_rng(3)
    west, east = np.quantile(g.lon, [0.4, 0.5])
    south, north = np.quantile(g.lat, [0.4, 0.5])
    members = np.column_stack([rng.uniform(west, east, 300), rng.uniform(south, north, 300)])
    # sites near roads anywhere (a few hundred meters off at most), and a few far off
    at = rng.choice(g.n_nodes, 480, replace=False)
    roster = np.column_stack([g.lon[at], g.lat[at]]) + rng.normal(0, 0.002, (480, 2))
    west, east = np.quantile(g.lon, [0.1, 0.9])
    south, north = np.quantile(g.lat, [0.1, 0.9])
    far = np.column_stack([rng.uniform(west, east, 20), rng.uniform(south, north, 20)])
    roster = np.vstack([roster, far])
    reach = 800.0
    part = partition_graph(REISTERSTOWN_PBF, members, roster, reach=lambda speed: reach,
                           max_snap_meters=100.0, cache_dir=tmp_path)  # fmt: skip
    assert part.graph.n_nodes < 0.8 * g.n_nodes  # a real clip
    whole = snap_points(g, members)
    assert np.array_equal(part.graph.node_ids[part.member_snap.node], g.node_ids[whole.node])
    assert np.array_equal(part.member_snap.meters, whole.meters)
    # the first cut (reach + 100 m) was too narrow for members farther from the roads
    assert whole.meters.max() > 100 and part.cuts > 1
    sites = snap_points(g, roster)
    rows = part.provider_rows
    assert 0 < len(rows) < len(roster)
    assert np.array_equal(part.graph.node_ids[part.provider_snap.node],
                          g.node_ids[sites.node[rows]])  # fmt: skip
    assert np.array_equal(part.provider_snap.meters, sites.meters[rows])
    # every site left out is out of every member's reach on the whole graph
    bbox = (members[:, 0].min(), members[:, 1].min(), members[:, 0].max(), members[:, 1].max())
    out = np.setdiff1d(np.arange(len(roster)), rows)
    near = region_mask(g, bbox, reach + whole.meters.max())
    assert not near[sites.node[out]].any()


def test_a_member_far_from_every_road_fails_its_partition_by_id(reisterstown, tmp_path):
    g = reisterstown
    members = np.array([[np.median(g.lon), np.median(g.lat)],
                        [g.lon.min() - 1.0, np.median(g.lat)]])  # fmt: skip
    with pytest.raises(InputError) as info:
        partition_graph(REISTERSTOWN_PBF, members, members, reach=lambda speed: 500.0,
                        max_snap_meters=100.0, cache_dir=tmp_path,
                        member_ids=np.array(["M-NEAR", "M-AT-SEA"]))  # fmt: skip
    message = str(info.value)
    assert "1 member(s) lie more than 50 km from every road" in message
    assert "M-AT-SEA" in message and "M-NEAR" not in message and "\n" not in message


def test_extract_runs_refuse_what_they_cannot_do(reisterstown, tmp_path):
    lon, lat = [np.median(reisterstown.lon)], [np.median(reisterstown.lat)]
    members = pd.DataFrame({"member_id": ["a"], "lon": lon, "lat": lat, "county_fips": ["24005"]})
    providers = pd.DataFrame({"provider_id": ["p"], "provider_type": ["pcp"],
                              "lon": members["lon"], "lat": members["lat"]})  # fmt: skip
    cluster = Cluster(workers=1, graphs="extract")
    cases = [
        (reisterstown, "need the path of the OpenStreetMap file"),
        (tmp_path / "roads.parquet", "cuts graphs from an OpenStreetMap file"),
        (tmp_path / "missing.osm.pbf", "OpenStreetMap file not found"),
    ]
    for source, expected in cases:
        with pytest.raises(InputError, match=expected):
            evaluate(members, providers, source, cluster=cluster)
    with pytest.raises(InputError, match="straight_line"):
        evaluate(members, providers, REISTERSTOWN_PBF, cluster=cluster,
                 distance_basis="straight_line")  # fmt: skip


def test_a_clip_marked_exact_snaps_only_what_it_can_prove(reisterstown, tmp_path):
    """On a clip that records its width, a point whose snap cannot be proved the whole
    graph's answers node -1; every other point snaps as on the whole graph."""
    g = reisterstown
    rng = np.random.default_rng(8)
    west, east = np.quantile(g.lon, [0.45, 0.55])
    south, north = np.quantile(g.lat, [0.45, 0.55])
    members = np.column_stack([rng.uniform(west, east, 50), rng.uniform(south, north, 50)])
    part = partition_graph(REISTERSTOWN_PBF, members, members, reach=lambda speed: 300.0,
                           max_snap_meters=100.0, cache_dir=tmp_path)  # fmt: skip
    clip = part.graph
    clip.meta["exact_snaps"] = {"bbox": list(part.bbox), "meters": part.width_meters}
    points = np.column_stack([rng.uniform(g.lon.min(), g.lon.max(), 400),
                              rng.uniform(g.lat.min(), g.lat.max(), 400)])  # fmt: skip
    got, whole = snap_points(clip, points), snap_points(g, points)
    placed = got.node >= 0
    assert 0 < placed.sum() < len(points)
    assert np.array_equal(clip.node_ids[got.node[placed]], g.node_ids[whole.node[placed]])
    assert np.isnan(got.meters[~placed]).all()
    # unmarked, the same clip snaps far points to its own edge: not the whole graph's
    del clip.meta["exact_snaps"]
    bare = snap_points(clip, points)
    assert not np.array_equal(clip.node_ids[bare.node], g.node_ids[whole.node])


def test_members_outside_every_county_can_be_split_in_cells():
    rng = np.random.default_rng(2)
    n = 400
    county = np.where(rng.random(n) < 0.3, "", rng.choice(["01001", "01003"], n))
    members = pd.DataFrame({"county_fips": county})
    lon, lat = rng.uniform(-120, -70, n), rng.uniform(25, 48, n)
    whole = make_partitions(members, lon, lat, by="county", n_partitions=2)
    assert "outside" in [p.name for p in whole]
    split = make_partitions(members, lon, lat, by="county", n_partitions=2, outside_cells=6)
    names = [p.name for p in split]
    cells = [p for p in split if p.name.startswith("outside-cell-")]
    assert "outside" not in names and len(cells) >= 4
    assert np.array_equal(np.sort(np.concatenate([p.member_rows for p in cells])),
                          np.flatnonzero(county == ""))  # fmt: skip
    inside = [p for p in split if not p.name.startswith("outside")]
    assert [p.name for p in inside] == [p.name for p in whole if p.name != "outside"]
    spread = max(p.bbox[2] - p.bbox[0] for p in cells)
    assert spread < 0.6 * (lon[county == ""].max() - lon[county == ""].min())


def test_a_site_whose_leg_alone_reaches_no_one_is_left_out_unproved(reisterstown, tmp_path):
    """A provider at 0, 0 snaps to some node of the cut; proving it would take a cut
    of the whole file, but its leg alone is longer than any search reaches."""
    g = reisterstown
    # members at the node of the file nearest to 0, 0 and its neighbours: that site's
    # nearest node in their cut is within their reach
    corner = snap_points(g, np.array([[0.0, 0.0]])).node[0]
    near = np.argsort((g.lon - g.lon[corner]) ** 2 + (g.lat - g.lat[corner]) ** 2)[:8]
    members = np.column_stack([g.lon[near[:3]], g.lat[near[:3]]])
    roster = np.vstack([np.column_stack([g.lon[near[3:]], g.lat[near[3:]]]), [[0.0, 0.0]]])
    kw = dict(reach=lambda speed: 800.0, max_snap_meters=100.0, cache_dir=tmp_path)
    part = partition_graph(REISTERSTOWN_PBF, members, roster, leg_reach_meters=50_000.0, **kw)
    assert part.cuts == 1 and list(part.provider_rows) == [0, 1, 2, 3, 4]
    # without that bound the site is in doubt, and the cut grows to thousands of
    # kilometres: the whole file
    wide = partition_graph(REISTERSTOWN_PBF, members, roster, **kw)
    assert wide.cuts == 2 and wide.width_meters > 5e6 and wide.graph.n_nodes == g.n_nodes


def test_an_extract_run_checks_points_against_the_files_box(reisterstown, tmp_path):
    import osmium

    g = reisterstown
    west, south = float(g.lon.min()), float(g.lat.min())
    east, north = float(g.lon.max()), float(g.lat.max())
    boxed = tmp_path / "boxed.osm.pbf"
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(west, south),
                                  osmium.osm.Location(east, north)))  # fmt: skip
    writer = osmium.SimpleWriter(str(boxed), header=header)
    try:
        for obj in osmium.FileProcessor(str(REISTERSTOWN_PBF)):
            writer.add(obj)
    finally:
        writer.close()
    assert file_box(REISTERSTOWN_PBF) is None
    assert file_box(boxed) == pytest.approx((west, south, east, north), abs=1e-6)
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(west, east, 20), rng.uniform(south, north, 20)
    members = pd.DataFrame({"member_id": [f"m{i}" for i in range(20)], "lon": lat, "lat": lon,
                            "county_fips": "24005"})  # fmt: skip
    providers = pd.DataFrame({"provider_id": ["p"], "provider_type": ["pcp"],
                              "lon": lon[:1], "lat": lat[:1]})  # fmt: skip
    with pytest.raises(InputError, match="look swapped"):  # before any worker starts
        evaluate(members, providers, boxed, cluster=Cluster(workers=1, graphs="extract"))


# ---------------------------------------------------------------------------
# whole runs
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiled_file(tmp_path_factory):
    """Reisterstown's highways tiled 3 x 3 (about 205,000 graph nodes, 56 x 39 km), as
    one .osm.pbf, and 5,000 members with providers on it: 3% of the members outside
    every county, a quarter of the PCPs and urgent care out of network (every OB/GYN
    in it: their recruitment samples road nodes), and 40 more sites in the market."""
    folder = tmp_path_factory.mktemp("tiled-file")
    path = folder / "tiled.osm.pbf"
    tile_osm_file(REISTERSTOWN_PBF, path, 3, 3)
    graph = load_road_graph(path, cache=False)
    rng = np.random.default_rng(5)
    members, providers, claims = synthetic_inputs(graph, 5_000, (3, 3), rng)
    members.loc[rng.random(len(members)) < 0.03, "county_fips"] = ""
    providers["in_network"] = (providers["provider_type"] == "obgyn") | (
        rng.random(len(providers)) > 0.25
    )
    at = rng.choice(graph.n_nodes, 40, replace=False)
    supply = pd.DataFrame({"provider_id": [f"MKT-{i}" for i in range(40)],
                           "provider_type": rng.choice(["pcp", "obgyn", "urgent_care"], 40),
                           "lon": graph.lon[at] + rng.normal(0, 0.001, 40),
                           "lat": graph.lat[at] + rng.normal(0, 0.001, 40)})  # fmt: skip
    return path, graph, members, providers, claims, supply


@pytest.mark.slow
def test_partitions_cutting_their_own_graphs_equal_the_single_run(tiled_file, tmp_path,
                                                                  graph_cache):  # fmt: skip
    path, graph, members, providers, claims, supply = tiled_file
    standards = tmp_path / "short.yaml"
    standards.write_text(SHORT)
    kw = dict(claims=claims, max_report_miles=3.0, max_report_minutes=6.0)
    one = evaluate(members, providers, graph, standards, **kw)
    cluster = Cluster(workers=2, partition_by="county", partitions=3, graphs="extract")
    split = evaluate(members, providers, path, standards, cluster=cluster, **kw)
    assert split.graph is None
    names = [p.name for p in split.partitions]
    assert sum(n.startswith("outside-cell-") for n in names) >= 2  # outside members in cells
    assert min(p.nodes for p in split.partitions) < 0.8 * graph.n_nodes  # real clips
    assert_same_run(one, split)
    assert np.array_equal(one.members["snap_meters"], split.members["snap_meters"])
    assert np.array_equal(one.members["off_road"], split.members["off_road"])
    placed = ~np.isnan(split.providers["snap_meters"].to_numpy())
    assert placed.any()
    assert np.array_equal(split.providers["snap_meters"].to_numpy()[placed],
                          one.providers["snap_meters"].to_numpy()[placed])  # fmt: skip
    with pytest.raises(InputError, match="never loaded it"):
        deficiencies(split)
    # the workpaper, made on the workers, with the market's sites as candidates
    found, outside, where = partitioned_findings(split, cluster, supply=supply)
    expected = deficiencies(one, supply=supply)
    for name, table in expected.tables().items():
        pd.testing.assert_frame_equal(found.tables()[name], table, check_exact=True,
                                      obj=name)  # fmt: skip
    assert len(expected.members) > 1000 and len(expected.picks)
    assert expected.members["out_of_network_within_limits"].any()
    exp_outside, exp_where = outside_candidates(one, supply=supply)
    assert len(exp_outside) > 100
    pd.testing.assert_frame_equal(outside, exp_outside, check_exact=True)
    pd.testing.assert_frame_equal(where, exp_where, check_exact=True)

    # the command line writes the same run folder, byte for byte; no supply: the
    # out-of-network roster rows and road nodes are the recruitment candidates
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name, table in (("members", members), ("providers", providers), ("claims", claims)):
        table.to_csv(folder / f"{name}.csv", index=False)
    common = ["evaluate", "--members", folder / "members.csv", "--providers",
              folder / "providers.csv", "--claims", folder / "claims.csv", "--network", path,
              "--standards", standards, "--quiet"]  # fmt: skip
    single = run_cli(*common, "--out", tmp_path / "one", env_cache=graph_cache)
    assert single.returncode == 0, single.stderr
    cut = run_cli(*common, "--out", tmp_path / "two", "--workers", 2, "--partition-by", "grid",
                  "--partitions", 4, "--partition-graphs", "extract",
                  env_cache=graph_cache)  # fmt: skip
    assert cut.returncode == 0, cut.stderr
    one_dir, two_dir = tmp_path / "one", tmp_path / "two"
    written = sorted(p.name for p in one_dir.glob("*.csv"))
    assert written == sorted(p.name for p in two_dir.glob("*.csv"))
    assert "deficient_members.csv" in written and "outside_candidates.csv" in written
    for name in written:
        assert (one_dir / name).read_bytes() == (two_dir / name).read_bytes(), name
    picks = pd.read_csv(one_dir / "recruitment_picks.csv")
    assert picks["candidate"].str.startswith("ROAD-").any()  # road nodes, named alike
    left = _sorted(pd.read_parquet(one_dir / "members.parquet"))
    right = _sorted(pd.read_parquet(two_dir / "members.parquet"))
    pd.testing.assert_frame_equal(left, right, check_exact=True, check_dtype=False)
    manifest = json.loads((two_dir / "manifest.json").read_text())
    assert manifest["road_network"]["partition_graphs"] == "cut from the file by each partition"
    assert manifest["road_network"]["nodes"] is None
