"""Bounded memory and partitioned runs: chunked and partitioned evaluations equal one pass.

The reference is always the single-process, single-chunk evaluation of the same
inputs; a partitioned run happens on a real Dask ``LocalCluster`` (worker
processes), with graphs and members reaching the workers as files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from support import IDAHO_ROADS, run_cli

from adequacy import evaluate
from adequacy.demo import build_demo
from adequacy.distributed import Cluster, PartitionFailed, make_partitions
from adequacy.distributed.partitions import buffer_meters, top_speed_mps
from adequacy.engine.engine import Block
from adequacy.engine.result_table import ResultColumns
from adequacy.engine.settings import Settings
from adequacy.engine.standards import load_standards
from adequacy.units import METERS_PER_MILE

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the tiling and synthetic inputs of benchmarks/evaluate.py
    sys.path.insert(0, str(ROOT))

from benchmarks._tiles import tile_road_graph  # noqa: E402
from benchmarks.evaluate import synthetic_inputs  # noqa: E402

SUMMARIES = ["county_summary", "service_area_summary", "language_summary", "plan_summary",
             "outside_service_area"]  # fmt: skip


def _sorted(results: pd.DataFrame) -> pd.DataFrame:
    """Member results as plain values, sorted by rule, language and member."""
    out = results.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype) or out[column].dtype == object:
            out[column] = out[column].astype(str)
    return out.sort_values(["rule", "language", "member_id"], ignore_index=True)


def assert_same_run(a, b, b_results: pd.DataFrame | None = None) -> None:
    """Every member row and every summary equal, exactly (floats bit for bit)."""
    left = _sorted(a.member_results)
    right = _sorted(b.member_results if b_results is None else b_results)
    pd.testing.assert_frame_equal(left, right, check_exact=True, check_dtype=False)
    for name in SUMMARIES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    if a.served is not None:
        pd.testing.assert_frame_equal(a.served, b.served, check_exact=True)


@pytest.fixture(scope="module")
def idaho_demo(graph_cache):
    return build_demo("eastern-idaho", cache_dir=graph_cache)


def _inputs(sc):
    return dict(claims=sc.claims, regions=sc.regions, survey=sc.survey)


def _within_both(rule):
    """The rule with its limits combined by 'and' (as Medicare Advantage's are)."""
    classes = {name: replace(lim, combine="and") for name, lim in rule.by_region_class.items()}
    return replace(rule, limits=replace(rule.limits, combine="and"), by_region_class=classes)


# ---------------------------------------------------------------------------
# chunks
# ---------------------------------------------------------------------------
def test_chunked_runs_equal_one_pass(idaho_demo, tmp_path):
    sc = idaho_demo
    one = evaluate(sc.members, sc.providers, sc.graph, **_inputs(sc))
    assert Settings().chunk_members is None  # held in memory, no chunk size: one pass
    chunked = evaluate(sc.members, sc.providers, sc.graph, chunk_members=997, **_inputs(sc))
    assert_same_run(one, chunked)
    # every rule within both limits ('and'): a member whose labels are all within
    # both, yet too few providers are within both, asks for wider searches
    both = load_standards()
    both = replace(both, rules=tuple(_within_both(rule) for rule in both.rules))
    one = evaluate(sc.members, sc.providers, sc.graph, both, **_inputs(sc))
    streamed = evaluate(
        sc.members, sc.providers, sc.graph, both, chunk_members=1500,
        results_path=tmp_path / "members.parquet", **_inputs(sc),
    )  # fmt: skip
    assert streamed.member_results is None
    back = pd.read_parquet(tmp_path / "members.parquet")
    assert_same_run(one, streamed, back)
    # the file reads back as the table held in memory: the same columns, categories
    # where it has them, the same types elsewhere, and its missing values missing
    held_types = one.member_results.dtypes
    assert list(back.columns) == list(held_types.index)
    for column, dtype in held_types.items():
        if isinstance(dtype, pd.CategoricalDtype):
            assert isinstance(back[column].dtype, pd.CategoricalDtype), column
        else:
            assert back[column].dtype == dtype, column
    assert back["nearest_2"].isna().sum() == one.member_results["nearest_2"].isna().sum() > 0
    file = pq.read_table(tmp_path / "members.parquet")
    for column in ("miles", "minutes", "nearest_1", "nearest_2", "county_fips"):
        assert file.column(column).null_count == one.member_results[column].isna().sum(), column
    # held in memory: a later chunk's blocks judged again replace their rows in the table
    held = evaluate(sc.members, sc.providers, sc.graph, both, chunk_members=1500, **_inputs(sc))
    assert_same_run(one, held)
    # blocks written before a search widened were judged again, and rewritten where
    # they changed (the file compacted): the path the equality above covers
    assert streamed.results_file.judged_again["replaced"] > 0
    # a rule's rows read back alone, in the order of its member rows
    rows = streamed.blocks[("obgyn", "")][1]
    back = streamed.block_results("obgyn", "", ["member_id", "miles"])
    assert list(back["member_id"].astype(str)) == list(sc.members["member_id"].iloc[rows])


def test_member_columns_are_shared_only_by_blocks_of_the_same_members(idaho_demo):
    # a results file's blocks of one language in a chunk reuse their member columns;
    # a block of other members of that language must get its own
    sc = idaho_demo
    ev = evaluate(sc.members, sc.providers, sc.graph, **_inputs(sc))
    columns = ResultColumns(ev.members, ev.providers, 2)
    rule = ev.standards.rules[0]

    def block(rows):
        n = len(rows)
        return Block(rule, None, rows, np.zeros(n), np.zeros(n), np.zeros(n, np.int16),
                     np.ones(n, bool), np.full((n, 2), -1))  # fmt: skip

    def members_of(table):
        return [str(x) for x in table.column("member_id").to_pylist()]

    first = columns.rows(block(np.arange(10)))
    again = columns.rows(block(np.arange(10)))
    other = columns.rows(block(np.arange(5, 15)))
    ids = ev.members["member_id"].astype(str).tolist()
    counties = ev.members["county_fips"].astype(str).tolist()
    assert members_of(first) == members_of(again) == ids[:10]
    assert members_of(other) == ids[5:15]
    assert [str(x) for x in other.column("county_fips").to_pylist()] == counties[5:15]
    snap = ev.members["snap_meters"].to_numpy()[5:15].astype(np.float32)
    assert np.allclose(other.column("snap_meters").to_numpy(zero_copy_only=False), snap)


def test_a_failed_streamed_run_leaves_the_results_path_as_it_was(idaho_demo, tmp_path):
    sc = idaho_demo
    path = tmp_path / "members.parquet"
    path.write_bytes(b"the previous run's results")

    def cancel(step, done, total):  # as a front end's cancel button would
        if step == "judging members" and done == 2:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        evaluate(sc.members, sc.providers, sc.graph, chunk_members=1000, results_path=path,
                 progress=cancel, **_inputs(sc))  # fmt: skip
    # two chunks were written when it failed: neither they nor any hidden file remain
    assert path.read_bytes() == b"the previous run's results"
    assert [p.name for p in tmp_path.iterdir()] == ["members.parquet"]
    done = evaluate(sc.members, sc.providers, sc.graph, chunk_members=1000, results_path=path,
                    **_inputs(sc))  # fmt: skip
    assert pq.read_metadata(path).num_rows == done.results_file.rows > 0
    assert [p.name for p in tmp_path.iterdir()] == ["members.parquet"]


def test_searches_begun_ahead_are_the_engines_own(idaho_demo):
    """The searches a run begins while members are placed (on a background thread)
    equal, label for label, those an engine runs when the members are judged; a
    search not begun by then is handed back for the engine to run."""
    from adequacy.engine.ahead import SearchesAhead
    from adequacy.engine.engine import Engine, SearchKey, rule_variants
    from adequacy.engine.standards import DEFAULT_STANDARDS

    sc = idaho_demo
    ev = evaluate(sc.members, sc.providers, sc.graph, **_inputs(sc))
    ahead = SearchesAhead(sc.graph, ev.providers, ev.provider_snap, ev.settings, ev.standards)
    engine = Engine(sc.graph, ev.members, ev.providers, ev.member_snap, ev.provider_snap,
                    ev.settings)  # fmt: skip
    jobs = engine.jobs(rule_variants(ev.standards, []))
    assert len(jobs) >= 2 * len(load_standards(DEFAULT_STANDARDS).rules) - 2
    taken = 0
    for item in reversed(list(jobs.items())):  # the last ones may not have begun
        search = ahead.take(item[0])
        if search is None:
            continue
        taken += 1
        own = engine.search_one(item)[1]
        assert np.array_equal(search.rows, own.rows)
        assert search.labels.k == own.labels.k and search.labels.cutoff == own.labels.cutoff
        assert np.array_equal(search.labels.cost, own.labels.cost)
        assert np.array_equal(search.labels.source, own.labels.source)
    assert taken >= 1  # the first job is waited for: it has begun
    assert ahead.take((SearchKey("pcp", None, "Spanish"), "time")) is None  # not ahead
    ahead.close()
    # a run on one thread begins nothing ahead; it equals the run that does, row for row
    one_thread = evaluate(sc.members, sc.providers, sc.graph, workers=1, **_inputs(sc))
    assert_same_run(ev, one_thread)
    # and the run itself: its searches are those of the engine
    for job, search in ev.searches.items():
        if job in jobs:
            own = engine.search_one((job, jobs[job]))[1]
            assert np.array_equal(search.labels.cost, own.labels.cost)


@pytest.mark.slow
def test_chunked_cms_ma_run_equals_one_pass(graph_cache, tmp_path):
    """Medicare Advantage: the counties each provider serves are a union over chunks."""
    sc = build_demo("eastern-idaho", cms=True, cache_dir=graph_cache)
    one = evaluate(sc.members, sc.providers, sc.graph, "cms-ma", regions=sc.regions)
    chunked = evaluate(
        sc.members, sc.providers, sc.graph, "cms-ma", regions=sc.regions, chunk_members=700,
        results_path=tmp_path / "m.parquet",
    )  # fmt: skip
    assert one.served is not None and len(one.served)
    assert_same_run(one, chunked, pd.read_parquet(tmp_path / "m.parquet"))
    # blocks judged again over wider searches came out the same, and were kept as
    # written (not rewritten): the path the equality above covers
    assert chunked.results_file.judged_again["same"] > 0


# ---------------------------------------------------------------------------
# partitions and buffers
# ---------------------------------------------------------------------------
def test_partitions_cover_every_member_once(idaho_demo):
    ev = evaluate(idaho_demo.members, idaho_demo.providers, idaho_demo.graph,
                  **_inputs(idaho_demo))  # fmt: skip
    g, node = ev.graph, ev.member_snap.node
    county = ev.members["county_fips"].astype(str).to_numpy()
    for by, n in (("county", 3), ("state", 1), ("grid", 6)):
        parts = make_partitions(ev.members, g.lon[node], g.lat[node], by=by, n_partitions=n)
        rows = np.concatenate([p.member_rows for p in parts])
        assert sorted(rows.tolist()) == list(range(len(ev.members))), by
        for p in parts:
            west, south, east, north = p.bbox
            assert (g.lon[node[p.member_rows]] >= west).all()
            assert (g.lat[node[p.member_rows]] <= north).all()
            if by == "county":  # whole counties: no county in two partitions
                others = np.setdiff1d(rows, p.member_rows)
                assert not set(county[p.member_rows]) & set(county[others]) - {""}
    assert len(make_partitions(ev.members, g.lon[node], g.lat[node], by="grid",
                               n_partitions=6)) > 1  # fmt: skip


def test_buffer_is_the_farthest_any_search_reaches(idaho_demo):
    """By hand from the seed manual: the largest limits are 60 minutes (rehabilitation)
    and 30 miles, the report horizon 100 miles and 120 minutes."""
    standards = load_standards("seed-manual")
    graph = idaho_demo.graph
    speed = top_speed_mps(graph)
    assert speed == pytest.approx(np.max(graph.meters / graph.seconds))
    settings = Settings()
    expected = max(100 * METERS_PER_MILE, 120 * 60 * speed)
    got = buffer_meters(standards, settings, graph)
    assert expected < got < expected * 1.02 + 200
    small = settings.replace(max_report_miles=1.0, max_report_minutes=1.0)
    expected = max(30 * METERS_PER_MILE, 60 * 60 * speed)  # the rules' own limits now
    assert expected < buffer_meters(standards, small, graph) < expected * 1.02 + 200
    # straight-line miles: a provider's point lies its snapping leg from its node
    line = small.replace(distance_basis="straight_line")
    assert buffer_meters(standards, line, graph, provider_leg_meters=5000) > (
        buffer_meters(standards, small, graph) + 5000
    )


# ---------------------------------------------------------------------------
# partitioned runs on a LocalCluster
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_two_workers_by_county_equal_the_single_run(idaho_demo, tmp_path, graph_cache):
    """``adequacy evaluate --workers 2`` on eastern Idaho split by county writes the same
    run folder as one process: every table byte for byte, members row for row."""
    inputs = idaho_demo.write_inputs(tmp_path / "inputs")
    common = [
        "evaluate", "--members", inputs["members"], "--providers", inputs["providers"],
        "--network", IDAHO_ROADS, "--class-column", "prisec_fl",
        "--regions", inputs["regions"], "--claims", inputs["claims"],
        "--survey", inputs["survey"], "--quiet",
    ]  # fmt: skip
    single = run_cli(*common, "--out", tmp_path / "one", env_cache=graph_cache)
    assert single.returncode == 0, single.stderr
    split = run_cli(
        *common, "--out", tmp_path / "two", "--workers", 2, "--partition-by", "county",
        "--partitions", 4, env_cache=graph_cache,
    )  # fmt: skip
    assert split.returncode == 0, split.stderr
    one, two = tmp_path / "one", tmp_path / "two"
    tables = sorted(p.name for p in one.glob("*.csv"))
    assert "county_summary.csv" in tables and "deficient_members.csv" in tables
    assert tables == sorted(p.name for p in two.glob("*.csv"))
    for name in tables:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    left = _sorted(pd.read_parquet(one / "members.parquet"))
    right = _sorted(pd.read_parquet(two / "members.parquet"))
    pd.testing.assert_frame_equal(left, right, check_exact=True, check_dtype=False)
    parts = json.loads((two / "manifest.json").read_text())["partitions"]
    # four groups of whole counties, and the members outside every county on their own
    assert [p["name"] for p in parts] == [*(f"counties-{i}" for i in range(1, 5)), "outside"]
    assert sum(p["members"] for p in parts) == len(idaho_demo.members)


@pytest.fixture(scope="module")
def tiling(reisterstown):
    """Reisterstown tiled 4 x 4 (about 365,000 nodes, 75 x 52 km), 20,000 members."""
    graph = tile_road_graph(reisterstown, 4, 4)
    members, providers, claims = synthetic_inputs(graph, 20_000, (4, 4),
                                                  np.random.default_rng(5))  # fmt: skip
    return graph, members, providers, claims


SHORT = """\
name: short-limits
threshold: 0.9
distance_basis: fastest_route
rules:
  - {id: primary_care, label: Primary care, provider_type: pcp, count: 2, miles: 2,
     minutes: 5, combine: or, languages: true,
     ratio: {members_per_provider: 200, basis: headcount}}
  - {id: obgyn, label: OB/GYN, provider_type: obgyn, count: 1, miles: 3, minutes: 6,
     combine: and}
  - {id: urgent_care, label: Urgent care, provider_type: urgent_care, count: 1, miles: 3,
     minutes: 6}
"""


@pytest.mark.slow
def test_grid_partitions_reaching_across_borders_equal_the_single_run(tiling, tmp_path):
    graph, members, providers, claims = tiling
    standards = tmp_path / "short.yaml"
    standards.write_text(SHORT)
    kw = dict(claims=claims, max_report_miles=3.0, max_report_minutes=6.0)
    one = evaluate(members, providers, graph, standards, **kw)
    work = tmp_path / "work"
    cluster = Cluster(workers=2, partition_by="grid", partitions=9, work_dir=str(work))
    split = evaluate(members, providers, graph, standards, cluster=cluster, **kw)
    assert len(split.partitions) >= 9
    assert_same_run(one, split)
    # the partitions' graphs are real clips, smaller than the source graph
    nodes = [p.nodes for p in split.partitions]
    assert max(nodes) < graph.n_nodes
    # members reach providers across partition borders: the nearest PCP of some
    # members of a partition lies outside that partition's members' box
    res = one.member_results
    pcp = res[(res["rule"] == "primary_care") & (res["language"] == "")]
    site = one.providers.set_index("provider_id")
    crossing = 0
    node = one.member_snap.node
    parts = make_partitions(one.members, graph.lon[node], graph.lat[node], by="grid",
                            n_partitions=9)  # fmt: skip
    by_member = pd.Series(pcp["nearest_1"].astype(object).to_numpy(),
                          index=pcp["member_id"].astype(str).to_numpy()).dropna()  # fmt: skip
    for part in parts:
        west, south, east, north = part.bbox
        ids = one.members["member_id"].iloc[part.member_rows].astype(str)
        near = by_member.reindex(ids.to_numpy()).dropna()
        lon, lat = site.loc[near, "lon"].to_numpy(), site.loc[near, "lat"].to_numpy()
        crossing += int(((lon < west) | (lon > east) | (lat < south) | (lat > north)).sum())
    assert crossing > 50


def test_a_failing_partition_is_retried_then_named(idaho_demo, tmp_path):
    sc = idaho_demo
    one = evaluate(sc.members, sc.providers, sc.graph, **_inputs(sc))
    marker = tmp_path / "first-attempt-failed"

    def flaky(task):  # the first attempt of one partition fails, as a lost worker would
        from adequacy.distributed.worker import run_partition

        if task.name == "counties-2" and not marker.exists():
            marker.write_text("failed once")
            raise OSError("worker lost its connection")
        return run_partition(task)

    out = tmp_path / "m.parquet"
    cluster = Cluster(workers=2, partitions=3, task=flaky)
    retried = evaluate(sc.members, sc.providers, sc.graph, cluster=cluster, results_path=out,
                       **_inputs(sc))  # fmt: skip
    assert marker.exists()  # it did fail once
    assert_same_run(one, retried, pd.read_parquet(out))

    def broken(task):
        from adequacy.distributed.worker import run_partition

        if task.name == "counties-3":
            raise ValueError("the partition's graph file is damaged")
        return run_partition(task)

    out = tmp_path / "never.parquet"
    with pytest.raises(PartitionFailed) as info:
        evaluate(sc.members, sc.providers, sc.graph, cluster=Cluster(workers=2, partitions=3,
                 task=broken), results_path=out, **_inputs(sc))  # fmt: skip
    message = str(info.value)
    assert "partition counties-3 failed twice" in message
    assert "the partition's graph file is damaged" in message and "\n" not in message
    assert not out.exists()
    assert not list(tmp_path.glob(".adequacy-partitions-*"))  # the work folder is gone


def test_cli_refuses_partition_options_without_workers(tmp_path, graph_cache):
    proc = run_cli(
        "evaluate", "--members", "m.csv", "--providers", "p.csv", "--network", IDAHO_ROADS,
        "--out", tmp_path / "o", "--partitions", 3, env_cache=graph_cache,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--workers" in proc.stderr and "Traceback" not in proc.stderr
