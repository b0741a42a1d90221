"""Benchmark: how a run grows with graph nodes and members, on one process and on workers.

Run from the project root::

    python benchmarks/scale.py            # 3M members on 4.48M nodes (about 20 minutes)
    python benchmarks/scale.py --quick    # 300k members on 1.12M nodes (about 2 minutes)

What is measured (each run in a fresh process, so that its peak memory is its own)
    ``adequacy.evaluate`` with the default standards from inputs in memory to the
    finished summaries, member results streamed to a Parquet file chunk by chunk
    (what ``adequacy evaluate`` does), the cached road graph loaded inside the
    timing ("end to end after caching"); the files earlier runs wrote (graphs, results)
    are flushed to disk before the timing starts. Graphs are the Reisterstown extract
    tiled (``benchmarks/_tiles.py``); members and providers as in
    ``benchmarks/evaluate.py``, one county per tile.

    1. one process: (nodes, members) = (1.12M, 1M), (4.48M, 1M) and (4.48M, 3M)
       (``--quick``: (0.23M, 100k), (1.12M, 100k), (1.12M, 300k));
    2. the largest case again, partitioned over 2 workers of a ``LocalCluster``
       (``--workers``), by county: time, the coordinator's peak, and each
       partition's graph nodes, members, seconds and peak (its worker process).

The peer
    The single process is the peer of the partitioned run (same inputs, same
    machine, same run); the ratio printed is single-process time / partitioned
    time. On this 2-core machine the two workers share the cores the single
    process already uses, so the point is memory per worker, not speed.

The cost model
    From the three single-process runs: time = t0 + a·(million nodes) +
    b·(million members), and the same for peak memory, solved exactly. Then a
    national run (60M nodes with shape points, 10M members) is projected onto
    N workers of 16 GB: partitions as squares of the contiguous US (8.08M km²)
    whose graphs hold their own nodes plus a buffer ring (the search's reach,
    ``buffer_meters``) at the national node density, as many as it takes for a
    partition to fit in 80% of a worker.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import RoadGraph, evaluate, load_road_graph, load_standards  # noqa: E402
from adequacy.distributed import Cluster  # noqa: E402
from adequacy.distributed.partitions import buffer_meters  # noqa: E402
from adequacy.distributed.worker import _peak_gb, _reset_peak  # noqa: E402
from adequacy.engine.settings import Settings  # noqa: E402
from benchmarks._tiles import tile_road_graph  # noqa: E402
from benchmarks.evaluate import BASE, synthetic_inputs  # noqa: E402

TARGET_SECONDS = 30.0  # 3M members on 4.48M nodes, one process
TARGET_GB = 5.0
US_KM2 = 8.08e6
WORKER_GB = 16.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def graph_file(tiles: int, folder: Path) -> Path:
    path = folder / f"tiled-{tiles}x{tiles}.npz"
    if not path.exists():
        base = load_road_graph(BASE, cache_dir=folder / "cache")
        tile_road_graph(base, tiles, tiles).save(path)
    return path


def one_run(tiles: int, n_members: int, folder: Path, workers: int) -> dict:
    """One measured run in this process (called in a child process)."""
    rng = np.random.default_rng(11)
    path = graph_file(tiles, folder)
    graph = RoadGraph.load(path)
    members, providers, claims = synthetic_inputs(graph, n_members, (tiles, tiles), rng)
    evaluate(members.iloc[:300], providers, graph, claims=claims)  # compiled code warm
    del graph
    cluster = Cluster(workers=workers, partition_by="county") if workers else None
    # a run writes a new file, as a run folder's is: not over the last run's (on ext4,
    # a file renamed over another is written back at once, a pause no user's run has)
    results = folder / f"members-{tiles}-{n_members}-{workers}.parquet"
    results.unlink(missing_ok=True)
    os.sync()  # the files the runs before wrote are written back now, not during this one
    reset = _reset_peak()
    start = time.perf_counter()
    graph = RoadGraph.load(path)
    ev = evaluate(
        members, providers, graph, claims=claims, cluster=cluster,
        results_path=results,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return {
        "nodes": graph.n_nodes,
        "members": n_members,
        "seconds": seconds,
        "peak_gb": _peak_gb() if reset else None,
        "rows": ev.results_file.rows,
        "partitions": [
            {
                "name": p.name,
                "nodes": p.nodes,
                "members": p.members,
                "seconds": p.seconds,
                "peak_gb": p.peak_gb,
            }
            for p in ev.partitions
        ],  # fmt: skip
    }


def child(tiles: int, n_members: int, folder: Path, workers: int) -> dict:
    log(f"  {'partitioned over ' + str(workers) + ' workers' if workers else 'one process'}: "
        f"{tiles}x{tiles} tiling, {n_members:,} members")  # fmt: skip
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(tiles), str(n_members), str(folder),
         str(workers)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def fit(runs: list[dict], key: str) -> tuple[float, float, float]:
    """Exact (t0, per million nodes, per million members) through three runs."""
    a = np.array([[1.0, r["nodes"] / 1e6, r["members"] / 1e6] for r in runs])
    y = np.array([r[key] for r in runs])
    return tuple(float(v) for v in np.linalg.solve(a, y))


def project(mem, tim, buffer_km: float, nodes_m: float = 60.0, members_m: float = 10.0):
    """Partitions and time for a national run on 16 GB workers (see the module docstring)."""
    density = nodes_m / US_KM2  # million nodes per km²
    for p in range(1, 10_000):
        side = math.sqrt(US_KM2 / p)
        nodes = density * (side + 2 * buffer_km) ** 2
        members = members_m / p
        peak = mem[0] + mem[1] * nodes + mem[2] * members
        if peak <= 0.8 * WORKER_GB:
            seconds = tim[0] + tim[1] * nodes + tim[2] * members
            return p, nodes, members, peak, seconds
    raise ValueError("no partition size fits")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tiles, n, folder, workers = args.child
        print(json.dumps(one_run(int(tiles), int(n), Path(folder), int(workers))))
        return
    cases = [(3, 100_000), (7, 100_000), (7, 300_000)] if args.quick else [
        (7, 1_000_000), (14, 1_000_000), (14, 3_000_000)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="adequacy-scale-") as tmp:
        folder = Path(tmp)
        log("one process")
        single = [child(t, n, folder, 0) for t, n in cases]
        log("partitioned")
        split = child(*cases[-1], folder, args.workers)
        graph = RoadGraph.load(graph_file(cases[-1][0], folder))
        buffer_km = buffer_meters(load_standards(), Settings(), graph) / 1000

    print()
    print(f"adequacy scale benchmark ({'quick' if args.quick else 'full'}); default standards")
    print(f"{'case':<34}{'seconds':>9}{'peak GB':>9}")
    for r in single:
        name = f"one process {r['nodes'] / 1e6:.2f}M nodes, {r['members'] / 1e6:g}M members"
        print(f"{name:<34}{r['seconds']:>9.1f}{r['peak_gb']:>9.2f}")
    last = single[-1]
    print(
        f"{'partitioned, ' + str(args.workers) + ' workers (wall)':<34}{split['seconds']:>9.1f}"
        f"{split['peak_gb']:>9.2f}   (coordinator; ratio one process / partitioned = "
        f"{last['seconds'] / split['seconds']:.2f}x time)"
    )
    for p in split["partitions"]:
        peak = p["peak_gb"] or float("nan")
        print(f"  partition {p['name']:<14} {p['nodes'] / 1e6:5.2f}M nodes {p['members']:>9,} "
              f"members {p['seconds']:7.1f} s  peak {peak:.2f} GB")  # fmt: skip
    worst = max((p["peak_gb"] or 0) for p in split["partitions"])
    print(f"largest worker peak / one-process peak = {worst / last['peak_gb']:.2f}")
    if not args.quick:
        ok = last["seconds"] <= TARGET_SECONDS and last["peak_gb"] <= TARGET_GB
        print(f"targets (3M members, 4.48M nodes: {TARGET_SECONDS:g} s, {TARGET_GB:g} GB):",
              "met" if ok else "NOT met")  # fmt: skip
    mem, tim = fit(single, "peak_gb"), fit(single, "seconds")
    print()
    print("cost model (one process, exact through the three runs):")
    print(f"  peak GB  = {mem[0]:.2f} + {mem[1]:.3f} per million nodes + {mem[2]:.3f} per "
          "million members")  # fmt: skip
    print(f"  seconds  = {tim[0]:.1f} + {tim[1]:.2f} per million nodes + {tim[2]:.2f} per "
          "million members (this 2-core machine)")  # fmt: skip
    p, nodes, members, peak, seconds = project(mem, tim, buffer_km)
    print(
        f"national run (60M nodes, 10M members), buffer {buffer_km:.0f} km: {p} partitions of "
        f"about {nodes:.1f}M nodes and {members:.2f}M members, {peak:.1f} GB and {seconds:.0f} s "
        f"each; on N workers of {WORKER_GB:g} GB about {p * seconds / 60:.0f} worker-minutes: "
        + ", ".join(f"{n} workers {math.ceil(p / n) * seconds / 60:.0f} min" for n in (4, 16, 64))
    )


if __name__ == "__main__":
    main()
