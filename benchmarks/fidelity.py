"""Fidelity: our drive minutes and miles against OSRM's car profile on the same roads.

Run from the project root with the project's venv::

    .venv/bin/python benchmarks/fidelity.py                       # 500 trips per bundled extract
    .venv/bin/python benchmarks/fidelity.py --quick               # 100 trips per extract
    .venv/bin/python benchmarks/fidelity.py --profile NAME ...    # other speed profiles
    .venv/bin/python benchmarks/fidelity.py --extract a.osm.pbf   # other extracts
    .venv/bin/python benchmarks/fidelity.py --dump trips.csv      # raw per-trip data

The peer
    OSRM (osrm-backend, through its Python package ``osrm-bindings``) with its
    bundled standard ``car.lua``, MLD pipeline (extract, partition, customize),
    queried in-process with one ``Route`` per trip. It needs Python 3.12+, so
    it runs in a side virtual environment through ``benchmarks/_osrm_peer.py``
    (see that file for setup). The side Python is ``--osrm-python``, else
    ``$ADEQUACY_OSRM_PYTHON``, else ``/work/osrm-venv/bin/python`` or
    ``.osrm-venv/bin/python`` beside the project; when none of them has
    Python 3.12+ with ``osrm`` importable, one line says so and the script
    exits 0. OSRM data are built once per extract into
    ``~/.cache/adequacy/osrm/<sha256 of the pbf>/`` (or ``$ADEQUACY_CACHE_DIR``).

Trips (how they are sampled)
    Per extract, from the road graph ``load_road_graph`` makes with the first
    profile (its nodes are the largest strongly connected component of the
    drive graph, so every trip is routable on our side): ordered pairs of
    distinct nodes drawn uniformly at random with replacement
    (``numpy.random.default_rng`` seeded with ``--seed`` plus a CRC32 of the
    extract's file name, so each extract's trips do not depend on which other
    extracts are run), kept when their great-circle distance is between 1 and
    40 miles (the span of real access trips; the bundled extracts are smaller
    than 40 miles, so in practice the lower bound binds), until ``--trips``
    are kept. The first node is the member (source), the second the provider
    (target). Trips start and end exactly on our graph nodes, so our snapping
    legs are 0; OSRM snaps the same coordinates to its own nearest road
    segment (the snap distances are in the dump and summarised in the output).
    Uniform over nodes means shape points weigh in, so curvy streets are
    slightly over-represented as ends.

Ours
    Per profile, ``load_road_graph(extract, profile=name)`` (default graph
    cache); each trip's coordinates are snapped with
    ``adequacy.routing.snap_points`` (0 m for the profile the trips came from),
    then trips are grouped by target and ``adequacy.routing.k_nearest_labels``
    runs with the target as the only source, k = 1, on the reversed graph (its
    member→provider direction), with the target's snapping leg as its start
    cost; the member reads its label plus its own leg (``NodeLabels.at``).
    This is exactly what ``nearest_providers(graph, [target], [source], k=1,
    metric=...)`` returns, batched per target: minutes are the fastest route
    (``metric="time"``), miles the shortest route (``metric="distance"``), as
    the standards use them. Independently, scipy's Dijkstra on the FORWARD
    graph from each member gives the same fastest-route time (checked to
    1e-6 relative, which also checks the direction) and, through its
    predecessor tree, the length of our fastest route (``our_fastest_miles``).

Comparisons
    minutes: ours (fastest route) / OSRM ``duration`` of its fastest route.
    miles: ours (shortest route) / OSRM ``distance`` of its fastest route, as
    the issue defines it, and (a second line) ours / OSRM's shortest route by
    distance (same car.lua with ``weight_name = 'distance'``), which compares
    the road networks alone. Flips at 10/20/30 minutes and 5/10/15 miles: the
    share of all trips within the limit by our number and not by OSRM's (the
    plan's favour), and the reverse. Quantiles are numpy's default (linear).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import load_road_graph  # noqa: E402
from adequacy.network.speeds import PROFILES  # noqa: E402
from adequacy.routing import k_nearest_labels  # noqa: E402
from adequacy.routing.routes import route_at, route_meters  # noqa: E402
from adequacy.routing.snap import snap_points  # noqa: E402
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE  # noqa: E402

DEFAULT_EXTRACTS = [ROOT / "data/osm/boston_ma.osm.pbf", ROOT / "data/osm/reisterstown_md.osm.pbf"]
DEFAULT_PROFILE = "us-osm-default"
PEER = Path(__file__).resolve().parent / "_osrm_peer.py"
EARTH_RADIUS_METERS = 6_371_008.8
MIN_MILES, MAX_MILES = 1.0, 40.0
MINUTE_LIMITS = (10, 20, 30)
MILE_LIMITS = (5, 10, 15)


# --------------------------------------------------------------------- OSRM side
def find_osrm_python(explicit: str | None) -> str | None:
    """A Python 3.12+ that imports ``osrm``, or None."""
    candidates = [
        explicit,
        os.environ.get("ADEQUACY_OSRM_PYTHON"),
        "/work/osrm-venv/bin/python",
        str(ROOT / ".osrm-venv/bin/python"),
    ]
    for c in candidates:
        if not c or not Path(c).exists():
            continue
        probe = subprocess.run(
            [c, "-c", "import sys, osrm; sys.exit(0 if sys.version_info >= (3, 12) else 1)"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return c
    return None


def osrm_answers(python: str, extract: Path, trips: np.ndarray, cache_dir: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        tin, tout = Path(tmp) / "trips.json", Path(tmp) / "osrm.json"
        tin.write_text(json.dumps({"trips": trips.tolist()}))
        cmd = [python, str(PEER), str(extract), str(tin), str(tout), "--shortest"]
        if cache_dir:
            cmd += ["--cache-dir", cache_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"OSRM peer failed on {extract}:\n{proc.stdout}{proc.stderr}")
        return json.loads(tout.read_text())


# ---------------------------------------------------------------------- our side
def haversine_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_METERS * np.arcsin(np.sqrt(a))


def sample_trips(graph, n: int, seed: int, name: str) -> np.ndarray:
    """(n, 4) src_lon, src_lat, dst_lon, dst_lat of random node pairs 1-40 miles apart."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    picked_s, picked_t = [], []
    got = 0
    for _ in range(1000):
        s = rng.integers(0, graph.n_nodes, 4 * n)
        t = rng.integers(0, graph.n_nodes, 4 * n)
        miles = (
            haversine_m(graph.lon[s], graph.lat[s], graph.lon[t], graph.lat[t]) / METERS_PER_MILE
        )
        ok = (s != t) & (miles >= MIN_MILES) & (miles <= MAX_MILES)
        picked_s.append(s[ok])
        picked_t.append(t[ok])
        got += int(ok.sum())
        if got >= n:
            break
    s = np.concatenate(picked_s)[:n]
    t = np.concatenate(picked_t)[:n]
    if len(s) < n:
        raise SystemExit(
            f"{name}: only {len(s)} node pairs {MIN_MILES}-{MAX_MILES} miles apart found"
        )
    return np.column_stack([graph.lon[s], graph.lat[s], graph.lon[t], graph.lat[t]])


def our_costs(graph, trips: np.ndarray, metric: str) -> np.ndarray:
    """Member(source)→provider(target) cost per trip, batched by target (k = 1).

    ``metric="route"``: meters of the fastest route (``distance_basis:
    fastest_route``), read off the time labels by ``adequacy.routing.routes``.
    """
    src = snap_points(graph, trips[:, 0:2], what="members")
    dst = snap_points(graph, trips[:, 2:4], what="providers")
    out = np.full(len(trips), np.nan)
    search = "time" if metric == "route" else metric
    for node in np.unique(dst.node):
        rows = np.flatnonzero(dst.node == node)
        j = rows[0]
        labels = k_nearest_labels(
            graph, [node], k=1, metric=search, source_cost=dst.leg_cost(search)[j : j + 1]
        )
        if metric == "route":
            leg_m = dst.meters[j : j + 1]
            route, _ = route_meters(graph, labels, [0], leg_m, dst.leg_cost("time")[j : j + 1],
                                    [node])  # fmt: skip
            _, _, meters = route_at(labels, route, src.node[rows], leg_m)
            out[rows] = meters[:, 0] + src.meters[rows]
            continue
        cost, _ = labels.at(_subset(src, rows))
        out[rows] = cost[:, 0]
    return out


def _subset(snap, rows):
    from dataclasses import replace

    return replace(
        snap, node=snap.node[rows], meters=snap.meters[rows], off_road=snap.off_road[rows]
    )


def fastest_path_check(graph, trips: np.ndarray, our_seconds: np.ndarray) -> np.ndarray:
    """Check our times with scipy on the forward graph; return our fastest route's meters."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    u = graph.edge_sources()
    v = graph.targets.astype(np.int64)
    sec, met = np.asarray(graph.seconds), np.asarray(graph.meters)
    # keep the fastest of parallel edges (and its length)
    order = np.lexsort((sec, v, u))
    u, v, sec, met = u[order], v[order], sec[order], met[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, sec, met = u[first], v[first], sec[first], met[first]
    n = graph.n_nodes
    fwd = csr_matrix((np.maximum(sec, 1e-9), (u, v)), shape=(n, n))
    meters_of = dict(zip(zip(u.tolist(), v.tolist(), strict=True), met.tolist(), strict=True))

    src = snap_points(graph, trips[:, 0:2]).node
    dst = snap_points(graph, trips[:, 2:4]).node
    legs = np.zeros(len(trips))  # trips sit on nodes of the graph they were drawn from
    fastest_m = np.full(len(trips), np.nan)
    uniq = np.unique(src)
    for chunk in np.array_split(uniq, max(1, len(uniq) // 100)):
        dist, pred = dijkstra(fwd, directed=True, indices=chunk, return_predecessors=True)
        row_of = {int(s): i for i, s in enumerate(chunk)}
        for t in np.flatnonzero(np.isin(src, chunk)):
            i = row_of[int(src[t])]
            target = int(dst[t])
            scipy_s = dist[i, target] + legs[t]
            if not np.isclose(scipy_s, our_seconds[t], rtol=1e-6, atol=1e-3):
                raise SystemExit(
                    f"direction/time check failed on trip {t}: "
                    f"scipy {scipy_s:.3f} s, ours {our_seconds[t]:.3f} s"
                )
            m, node = 0.0, target
            while node != int(src[t]):
                p = int(pred[i, node])
                m += meters_of[(p, node)]
                node = p
            fastest_m[t] = m
    return fastest_m


# -------------------------------------------------------------------- reporting
def q(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    if not len(x):
        return "n/a"
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return f"median {p50:.3f}  p10 {p10:.3f}  p90 {p90:.3f}"


def flips(ours: np.ndarray, theirs: np.ndarray, limits) -> str:
    ok = np.isfinite(ours) & np.isfinite(theirs)
    n = int(ok.sum())
    parts = []
    for lim in limits:
        a, b = ours[ok] <= lim, theirs[ok] <= lim
        parts.append(
            f"{lim:>2}: {100 * np.mean(a & ~b):5.1f}% ours-only / "
            f"{100 * np.mean(~a & b):4.1f}% OSRM-only"
            f" (within: ours {100 * a.mean():4.0f}%, OSRM {100 * b.mean():4.0f}%)"
        )
    return f"(n={n})\n      " + "\n      ".join(parts)


def applicable_profiles() -> list[str]:
    """Known profiles with OSM highway classes (not the TIGER flag profile)."""
    return [
        name
        for name, p in PROFILES.items()
        if any(str(k).lower() in ("motorway", "residential", "primary") for k in p.class_mph)
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Our drive minutes/miles against OSRM's car profile.")
    ap.add_argument("--quick", action="store_true", help="100 trips per extract")
    ap.add_argument("--trips", type=int, default=None, help="trips per extract (default 500)")
    ap.add_argument("--profile", action="append", help="speed profile name (repeatable)")
    ap.add_argument("--extract", action="append", type=Path, help=".osm.pbf (repeatable)")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--dump", type=Path, help="write per-trip data to this CSV")
    ap.add_argument("--osrm-python", help="Python 3.12+ with osrm-bindings")
    ap.add_argument("--osrm-cache-dir", help="OSRM data cache (default ~/.cache/adequacy/osrm)")
    args = ap.parse_args(argv)

    python = find_osrm_python(args.osrm_python)
    if python is None:
        print(
            "fidelity: no Python 3.12+ with osrm-bindings found "
            "(see benchmarks/_osrm_peer.py); skipped"
        )
        return 0
    n_trips = args.trips or (100 if args.quick else 500)
    extracts = args.extract or DEFAULT_EXTRACTS
    profiles = args.profile or applicable_profiles()
    for name in profiles:
        if name not in PROFILES:
            raise SystemExit(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")

    rows = []
    for extract in extracts:
        extract = Path(extract)
        base = load_road_graph(extract, profile=profiles[0])
        trips = sample_trips(base, n_trips, args.seed, extract.name)
        crow = haversine_m(*trips.T) / METERS_PER_MILE
        t0 = time.perf_counter()
        peer = osrm_answers(python, extract, trips, args.osrm_cache_dir)
        t_osrm = time.perf_counter() - t0
        o = peer["trips"]
        o_min = (
            np.array([np.nan if r["duration_s"] is None else r["duration_s"] for r in o])
            / SECONDS_PER_MINUTE
        )
        o_mi = (
            np.array([np.nan if r["distance_m"] is None else r["distance_m"] for r in o])
            / METERS_PER_MILE
        )
        o_short = (
            np.array(
                [
                    np.nan if r.get("shortest_distance_m") is None else r["shortest_distance_m"]
                    for r in o
                ]
            )
            / METERS_PER_MILE
        )
        snaps = np.array(
            [[r.get("snap_source_m", np.nan), r.get("snap_target_m", np.nan)] for r in o], float
        )
        print(
            f"\n== {extract.name}: {n_trips} trips, {crow.min():.1f}-{crow.max():.1f} mi apart "
            f"(median {np.median(crow):.1f}), seed {args.seed}; OSRM {peer['osrm']} car.lua MLD "
            f"({t_osrm:.1f} s incl. build), unroutable by OSRM: {int(np.isnan(o_min).sum())}, "
            f"OSRM snap m median {np.nanmedian(snaps):.1f} / p90 {np.nanpercentile(snaps, 90):.1f} "
            f"/ max {np.nanmax(snaps):.1f}"
        )
        for name in profiles:
            graph = base if name == profiles[0] else load_road_graph(extract, profile=name)
            sec = our_costs(graph, trips, "time")
            met = our_costs(graph, trips, "distance")
            fast_m = fastest_path_check(graph, trips, sec)
            route_m = our_costs(graph, trips, "route")
            same = np.isclose(route_m, fast_m, rtol=1e-6, atol=0.01)
            mins, miles, fast_mi, route_mi = (
                sec / SECONDS_PER_MINUTE,
                met / METERS_PER_MILE,
                fast_m / METERS_PER_MILE,
                route_m / METERS_PER_MILE,
            )
            label = graph.meta.get("profile", {})
            print(f"  profile {name}@{label.get('version', '?')}")
            print(f"    minutes ours/OSRM                 {q(mins / o_min)}")
            print(f"    miles   shortest/OSRM fastest     {q(miles / o_mi)}")
            print(f"    miles   shortest/OSRM shortest    {q(miles / o_short)}")
            print(f"    miles   fastest_route/OSRM fastest {q(route_mi / o_mi)}")
            print(
                f"    fastest_route miles = scipy's predecessor tree on {int(same.sum())} of "
                f"{len(same)} trips"
            )
            print(f"    minute flips {flips(mins, o_min, MINUTE_LIMITS)}")
            print(f"    mile flips, shortest      {flips(miles, o_mi, MILE_LIMITS)}")
            print(f"    mile flips, fastest_route {flips(route_mi, o_mi, MILE_LIMITS)}")
            for i in range(len(trips)):
                rows.append(
                    {
                        "extract": extract.name,
                        "profile": f"{name}@{label.get('version', '?')}",
                        "trip": i,
                        "src_lon": f"{trips[i, 0]:.7f}",
                        "src_lat": f"{trips[i, 1]:.7f}",
                        "dst_lon": f"{trips[i, 2]:.7f}",
                        "dst_lat": f"{trips[i, 3]:.7f}",
                        "crow_miles": f"{crow[i]:.4f}",
                        "our_minutes": f"{mins[i]:.4f}",
                        "our_miles": f"{miles[i]:.4f}",
                        "our_fastest_miles": f"{fast_mi[i]:.4f}",
                        "our_route_miles": f"{route_mi[i]:.4f}",
                        "osrm_duration_s": o[i]["duration_s"],
                        "osrm_distance_m": o[i]["distance_m"],
                        "osrm_shortest_distance_m": o[i].get("shortest_distance_m"),
                        "osrm_snap_source_m": round(snaps[i, 0], 2),
                        "osrm_snap_target_m": round(snaps[i, 1], 2),
                    }
                )
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        with open(args.dump, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"\nwrote {len(rows)} trips to {args.dump}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
