"""Benchmark: a partitioned run whose workers cut their own graphs, against one whose
coordinator loads the whole graph and clips it.

Run from the project root::

    python benchmarks/partition_graphs.py           # Reisterstown tiled 7 x 7, 300,000 members
    python benchmarks/partition_graphs.py --quick   # tiled 3 x 3, 20,000 members

What is measured (each run in a fresh process, with an empty graph cache, so that
its time and peak memory are its own)
    The tiled file (``benchmarks/_tiles.tile_osm_file``: copies of the Reisterstown
    extract as one sorted ``.osm.pbf``), synthetic members and providers on it (one
    county per tile), the default standards, a LocalCluster of 2 workers, 4
    partitions by county; ``evaluate`` from the file's path to its summaries (not
    the deficiency workpaper):

    - the peer: ``Cluster(graphs="clip")``: the coordinator builds the whole
      graph, snaps every point and writes each partition's clip;
    - ours: ``Cluster(graphs="extract")``: each worker cuts, proves and snaps its
      own partition (``clip_from_extract``); the coordinator never builds the graph.

    Printed: seconds, the coordinator's peak, the largest worker peak and the
    partitions' graph nodes, their ratios, and whether the two runs' member results
    and summaries are equal (they must be).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import evaluate, load_road_graph  # noqa: E402
from adequacy.distributed import Cluster  # noqa: E402
from adequacy.distributed.worker import _peak_gb, _reset_peak  # noqa: E402
from benchmarks._child import in_child, options  # noqa: E402
from benchmarks._tiles import tile_osm_file  # noqa: E402
from benchmarks.evaluate import synthetic_inputs  # noqa: E402

BASE = ROOT / "data" / "osm" / "reisterstown_md.osm.pbf"
SUMMARIES = ("county_summary", "service_area_summary", "language_summary", "plan_summary")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def inputs(pbf: Path, tiles: int, n_members: int, folder: Path) -> None:
    """Members, providers and claims on the tiled file, as Parquet (made once)."""
    graph = load_road_graph(pbf, cache=False)
    members, providers, claims = synthetic_inputs(graph, n_members, (tiles, tiles),
                                                  np.random.default_rng(11))  # fmt: skip
    members.to_parquet(folder / "members.parquet", index=False)
    providers.to_parquet(folder / "providers.parquet", index=False)
    claims.to_parquet(folder / "claims.parquet", index=False)


def one_run(graphs: str, pbf: Path, folder: Path) -> dict:
    """One measured run in this process (called in a child process)."""
    os.environ["ADEQUACY_CACHE_DIR"] = str(folder / f"cache-{graphs}")  # empty: nothing cached
    members = pd.read_parquet(folder / "members.parquet")
    providers = pd.read_parquet(folder / "providers.parquet")
    claims = pd.read_parquet(folder / "claims.parquet")
    cluster = Cluster(workers=2, partition_by="county", partitions=4, graphs=graphs)
    reset = _reset_peak()
    start = time.perf_counter()
    ev = evaluate(members, providers, str(pbf), claims=claims, cluster=cluster,
                  results_path=folder / f"members-{graphs}.parquet")  # fmt: skip
    seconds = time.perf_counter() - start
    peak = _peak_gb() if reset else None
    for name in SUMMARIES:
        getattr(ev, name).to_pickle(folder / f"{name}-{graphs}.pkl")
    return {
        "seconds": seconds,
        "peak_gb": peak,
        "worker_peak_gb": max((p.peak_gb or 0.0) for p in ev.partitions),
        "nodes": [p.nodes for p in ev.partitions],
        "members": [p.members for p in ev.partitions],
    }


def child(graphs: str, pbf: Path, folder: Path) -> dict:
    log(f"  graphs={graphs}")
    return in_child(__file__, graphs, pbf, folder)


def same(folder: Path) -> bool:
    """Whether the two runs' member results and summaries are equal."""

    def rows(graphs: str) -> pd.DataFrame:
        table = pd.read_parquet(folder / f"members-{graphs}.parquet")
        for column in table.columns:
            if table[column].dtype == object or isinstance(
                table[column].dtype, pd.CategoricalDtype
            ):
                table[column] = table[column].astype(str)
        return table.sort_values(["rule", "language", "member_id"], ignore_index=True)

    if not rows("clip").equals(rows("extract")):
        return False
    return all(pd.read_pickle(folder / f"{name}-clip.pkl").equals(
        pd.read_pickle(folder / f"{name}-extract.pkl")) for name in SUMMARIES)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = options(__doc__, "tile 3 x 3, 20,000 members", 3, argv)
    if args.child:
        graphs, pbf, folder = args.child
        print(json.dumps(one_run(graphs, Path(pbf), Path(folder))))
        return
    tiles, n_members = (3, 20_000) if args.quick else (7, 300_000)
    with tempfile.TemporaryDirectory(prefix="adequacy-bench-") as tmp:
        folder = Path(tmp)
        pbf = folder / f"tiled-{tiles}x{tiles}.osm.pbf"
        log(f"writing the {tiles}x{tiles} tiled file and {n_members:,} members")
        tile_osm_file(BASE, pbf, tiles, tiles)
        inputs(pbf, tiles, n_members, folder)
        clip = child("clip", pbf, folder)
        cut = child("extract", pbf, folder)
        equal = same(folder)
    print(f"\nadequacy partition-graphs benchmark ({'quick' if args.quick else 'full'})")
    print(f"Reisterstown tiled {tiles}x{tiles}, {n_members:,} members, default standards, "
          "2 workers, 4 partitions by county")  # fmt: skip
    print(f"{'graphs':<36}{'seconds':>9}{'coord. GB':>11}{'worker GB':>11}  partition nodes")
    for name, r in (("clip (coordinator loads the graph)", clip),
                    ("extract (workers cut their own)", cut)):  # fmt: skip
        nodes = ", ".join(f"{n:,}" for n in r["nodes"])
        print(f"{name:<36}{r['seconds']:>9.1f}{r['peak_gb']:>11.2f}"
              f"{r['worker_peak_gb']:>11.2f}  {nodes}")  # fmt: skip
    print(f"ratio extract / clip: time {cut['seconds'] / clip['seconds']:.2f}x, coordinator "
          f"peak {cut['peak_gb'] / clip['peak_gb']:.2f}x, worker peak "
          f"{cut['worker_peak_gb'] / clip['worker_peak_gb']:.2f}x")  # fmt: skip
    print(f"member results and summaries equal: {'yes' if equal else 'NO'}")
    if not equal:
        sys.exit(1)


if __name__ == "__main__":
    main()
