"""Benchmark: a whole evaluation of 1M members over a 1M+ node road graph.

Run from the project root::

    python benchmarks/evaluate.py            # 1M members, Reisterstown tiled 7x7 (1.12M nodes)
    python benchmarks/evaluate.py --quick    # 100k members, tiled 3x3 (< 1 minute)

What is timed
    ``adequacy.evaluate`` with the default standards (seed manual: primary
    care, OB/GYN, the five high-volume specialties, acute care,
    rehabilitation, urgent care; every language prevalent in a county), from
    DataFrames already in memory to the finished member results and county,
    service-area, language and panel summaries. The road graph is the
    Reisterstown OpenStreetMap extract tiled into a 1M+ node network
    (``benchmarks/_tiles.py``), saved once to an ``.npz`` file and loaded from
    it, as the graph cache does; its load time is printed on its own and is
    included in "end to end".

Synthetic inputs (seeded)
    Members on residential streets, one "county" per tile, a language mix of
    English, Spanish, Chinese and Vietnamese; practices near members as in the
    demo (PCPs 1 per 125 members, OB/GYNs 1 per 450, specialists 1 per 150 in
    twelve specialties, urgent care, hospitals and rehabilitation facilities).

The peer
    A per-member evaluation with networkx, as a script would do it without a
    multi-source search: for each member, one Dijkstra by distance and one by
    time (``single_source_dijkstra_path_length`` on the forward graph, cut off
    at the largest limit of the standards) and then each rule and language
    read from those two dictionaries. It is timed on a random sample of members
    and scaled to all of them; the ratio printed is peer time / ours.

Memory
    Peak resident set size of the process (``ru_maxrss``), which includes the
    interpreter, the graph and the inputs; target under 4 GB.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import RoadGraph, evaluate, load_road_graph, load_standards  # noqa: E402
from adequacy.demo import SPECIALTIES, _claims, _points_on_roads  # noqa: E402
from adequacy.routing import snap_points  # noqa: E402
from adequacy.routing.snap import off_the_map  # noqa: E402
from benchmarks._tiles import tile_road_graph  # noqa: E402

BASE = ROOT / "data" / "osm" / "reisterstown_md.osm.pbf"
LANGUAGES = {"English": 0.80, "Spanish": 0.12, "Chinese": 0.05, "Vietnamese": 0.03}
PROVIDER_LANGUAGES = {"Spanish": 0.20, "Chinese": 0.06, "Vietnamese": 0.02}
TARGET_SECONDS = 10.0  # issue 15: 1M members on the 1.12M-node tiling
TARGET_GB = 4.0
CMS_TARGET_SECONDS = 30.0
CMS_TARGET_GB = 6.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def reset_peak() -> bool:
    """Start a new peak (Linux: ``clear_refs`` 5 resets VmHWM); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_since_reset_gb() -> float:
    """Peak resident set size since :func:`reset_peak` (VmHWM), in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return peak_gb()


def synthetic_inputs(graph: RoadGraph, n_members: int, tiles: tuple[int, int], rng):
    """Members, providers and claims on a tiled graph; one county per tile."""
    pts = _points_on_roads(graph, ("residential", "living_street", "unclassified"), n_members, rng)
    lon0, lat0 = graph.lon.min(), graph.lat.min()
    width = (graph.lon.max() - lon0) / tiles[0] + 1e-9
    height = (graph.lat.max() - lat0) / tiles[1] + 1e-9
    tile = np.clip(((pts[:, 1] - lat0) / height).astype(int), 0, tiles[1] - 1) * tiles[0] + np.clip(
        ((pts[:, 0] - lon0) / width).astype(int), 0, tiles[0] - 1
    )
    p = np.array(list(LANGUAGES.values()))
    members = pd.DataFrame(
        {
            "member_id": [f"SYN-M{i:07d}" for i in range(n_members)],
            "lon": pts[:, 0],
            "lat": pts[:, 1],
            "county_fips": [f"T{t:04d}" for t in tile],
            "language": rng.choice(list(LANGUAGES), n_members, p=p / p.sum()),
        }
    )

    def sites(n: int) -> np.ndarray:
        pick = rng.choice(n_members, n)
        node = snap_points(graph, pts[pick]).node
        return np.column_stack([graph.lon[node], graph.lat[node]])

    def langs(n: int) -> list[str]:
        out = []
        for _ in range(n):
            extra = [lang for lang, q in PROVIDER_LANGUAGES.items() if rng.random() < q]
            out.append(";".join(["English", *extra]))
        return out

    groups = [
        ("pcp", n_members // 125),
        ("obgyn", n_members // 450),
        ("specialist", n_members // 150),
        ("urgent_care", n_members // 20_000 + 2),
        ("acute_care", n_members // 8_000 + 2),
        ("rehabilitation", n_members // 40_000 + 1),
    ]
    names = list(SPECIALTIES)
    shares = np.array([SPECIALTIES[s][0] for s in names])

    def specialty(kind: str, n: int):
        return rng.choice(names, n, p=shares / shares.sum()) if kind == "specialist" else ""

    frames = []
    for kind, n in groups:
        xy = sites(n)
        frames.append(
            pd.DataFrame(
                {
                    "provider_id": [f"SYN-{kind}-{i:06d}" for i in range(n)],
                    "provider_type": kind,
                    "specialty": specialty(kind, n),
                    "lon": xy[:, 0],
                    "lat": xy[:, 1],
                    "languages": langs(n),
                    "panel_size": rng.integers(300, 1800, n) if kind == "pcp" else 0,
                    "panel_open": rng.random(n) > 0.1,
                    "practice_id": [f"SYN-PR-{kind}-{i // 3:06d}" for i in range(n)],
                }
            )
        )
    providers = pd.concat(frames, ignore_index=True)
    return members, providers, _claims(n_members, rng)


def per_member_networkx(graph, evaluation, members, sample: int, rng) -> tuple[float, int]:
    """Seconds for ``sample`` members evaluated one by one with networkx."""
    import networkx as nx

    rules = evaluation.standards.rules
    max_m = max(r.max_miles or 0 for r in rules) * 1609.344
    max_s = max(r.max_minutes or 0 for r in rules) * 60.0
    g_m = graph.to_networkx("meters")
    g_s = graph.to_networkx("seconds")
    providers = evaluation.providers[evaluation.providers["in_network"]]
    p_node = snap_points(graph, providers[["lon", "lat"]].to_numpy()).node
    groups = {}
    for rule in rules:
        mask = (providers["provider_type"] == rule.provider_type).to_numpy().copy()
        if rule.specialty:
            mask &= (providers["specialty"] == rule.specialty).to_numpy()
        groups[rule.id] = (rule, p_node[mask], providers["languages"].to_numpy()[mask])
    rows = rng.choice(len(members), sample, replace=False)
    m_node = snap_points(graph, members[["lon", "lat"]].to_numpy()[rows]).node
    m_lang = members["language"].to_numpy()[rows]
    start = time.perf_counter()
    met = 0
    for node, lang in zip(m_node, m_lang, strict=True):
        dist = nx.single_source_dijkstra_path_length(g_m, int(node), cutoff=max_m, weight="meters")
        secs = nx.single_source_dijkstra_path_length(g_s, int(node), cutoff=max_s, weight="seconds")
        for rule, nodes, plangs in groups.values():
            for concordant in (False, True):
                if concordant:
                    keep = np.array([lang in str(x).split(";") for x in plangs], dtype=bool)
                    cand = nodes[keep]
                else:
                    cand = nodes
                d = np.sort([dist.get(int(n), np.inf) for n in cand])
                s = np.sort([secs.get(int(n), np.inf) for n in cand])
                k = rule.count
                ok = (len(d) >= k and d[k - 1] <= (rule.max_miles or 0) * 1609.344) or (
                    len(s) >= k and s[k - 1] <= (rule.max_minutes or 0) * 60.0
                )
                met += bool(ok)
    return time.perf_counter() - start, met


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k members on a 3x3 tiling")
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--sample", type=int, default=20, help="members timed with networkx")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--distance-basis",
        choices=["shortest", "fastest_route", "straight_line"],
        default=None,
        help="how miles are measured (default: the standards set's own)",
    )
    parser.add_argument(
        "--cms-ma",
        action="store_true",
        help="also evaluate Medicare Advantage (cms-ma, 43 rules; one county per tile) on "
        "the same inputs, and print its ratio to the seed-manual run",
    )
    args = parser.parse_args(argv)
    tiles = (3, 3) if args.quick else (7, 7)
    n_members = args.members or (100_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(args.seed)

    with tempfile.TemporaryDirectory(prefix="adequacy-bench-") as tmp:
        base = load_road_graph(BASE, cache_dir=Path(tmp) / "cache")
        tiled = tile_road_graph(base, *tiles)
        cached = Path(tmp) / "tiled.npz"
        tiled.save(cached)
        del tiled
        log("building synthetic inputs")
        graph = RoadGraph.load(cached)
        members, providers, claims = synthetic_inputs(graph, n_members, tiles, rng)
        standards = load_standards()
        # numba warm-up on the small graph (compiled code is cached on disk anyway)
        on_base_m = ~off_the_map(base, members["lon"], members["lat"])
        on_base_p = ~off_the_map(base, providers["lon"], providers["lat"])
        evaluate(
            members[on_base_m].iloc[:500], providers[on_base_p], base, standards, claims=claims
        )
        del graph

        log(f"evaluating {n_members:,} members")
        steps: dict[str, float] = {}
        last = [time.perf_counter(), "start"]

        def progress(step: str, done: int, total: int) -> None:
            now = time.perf_counter()
            if step != last[1]:
                steps[last[1]] = steps.get(last[1], 0.0) + now - last[0]
                last[0], last[1] = now, step

        start = time.perf_counter()
        graph = RoadGraph.load(cached)
        t_load = time.perf_counter() - start
        evaluation = evaluate(
            members,
            providers,
            graph,
            standards,
            claims=claims,
            progress=progress,
            distance_basis=args.distance_basis,
        )
        total = time.perf_counter() - start
        steps.pop("start", None)
        peak = peak_gb()
        n_searches = len(evaluation.searches)
        languages = sorted(evaluation.prevalent_languages["language"].unique())
        basis = evaluation.settings.distance_basis
        evaluation = SimpleNamespace(standards=evaluation.standards, providers=evaluation.providers)
        gc.collect()  # the seed-manual results are gone before the cms-ma run starts
        cms = None
        if args.cms_ma:
            log("evaluating the same members against cms-ma")
            regions = tile_regions(graph, members, tiles)
            reset = reset_peak()
            start = time.perf_counter()
            cms_ev = evaluate(members, providers, graph, "cms-ma", claims=claims, regions=regions)
            cms_s = time.perf_counter() - start
            cms = (cms_s, len(cms_ev.standards.rules), peak_since_reset_gb() if reset else None)
            del cms_ev

    log(f"networkx per member on a sample of {args.sample}")
    t_nx, _ = per_member_networkx(graph, evaluation, members, args.sample, rng)
    nx_scaled = t_nx / args.sample * n_members

    print()
    print(f"adequacy evaluate benchmark ({'quick' if args.quick else 'full'})")
    print(
        f"graph: Reisterstown MD OSM tiled {tiles[0]}x{tiles[1]}: "
        f"{graph.n_nodes:,} nodes, {graph.n_edges:,} edges"
    )
    print(
        f"inputs: {n_members:,} members, {int(providers.shape[0]):,} providers, "
        f"{len(evaluation.standards.rules)} rules, prevalent languages {', '.join(languages)}; "
        f"{n_searches} k-nearest searches; miles: {basis}"
    )
    print(f"{'step':<28}{'seconds':>10}")
    print(f"{'load cached graph':<28}{t_load:>10.2f}")
    for step, secs in steps.items():
        print(f"{step:<28}{secs:>10.2f}")
    print(f"{'end to end':<28}{total:>10.2f}   (target < {TARGET_SECONDS:g} s)")
    print(f"{'peak RSS (GB)':<28}{peak:>10.2f}   (target < {TARGET_GB:g} GB)")
    print(
        f"networkx per member: {t_nx / args.sample * 1000:.0f} ms/member on {args.sample}, "
        f"scaled to {n_members:,}: {nx_scaled:,.0f} s; ratio networkx / ours = "
        f"{nx_scaled / total:,.0f}x"
    )
    ok = total < TARGET_SECONDS and peak < TARGET_GB
    print("targets:", "met" if ok else "NOT met")
    if cms is not None:
        cms_peak = f"{cms[2]:.2f} GB" if cms[2] is not None else "not measurable here"
        print(
            f"cms-ma ({cms[1]} rules, same members and providers, regions, no claims): "
            f"{cms[0]:.2f} s end to end = {cms[0] / total:.2f}x the seed-manual run; "
            f"peak RSS during it {cms_peak} (graph and inputs included; target: "
            f"{CMS_TARGET_SECONDS:g} s, {CMS_TARGET_GB:g} GB)"
        )
        ok = cms[0] <= CMS_TARGET_SECONDS and cms[2] is not None and cms[2] <= CMS_TARGET_GB
        print("cms-ma targets:", "met" if ok else "NOT met")


def tile_regions(graph: RoadGraph, members: pd.DataFrame, tiles: tuple[int, int]):
    """One county polygon per tile (``T0000``...), with its members x 10 as population."""
    import geopandas as gpd
    from shapely.geometry import box

    lon0, lat0 = graph.lon.min(), graph.lat.min()
    width = (graph.lon.max() - lon0) / tiles[0] + 1e-9
    height = (graph.lat.max() - lat0) / tiles[1] + 1e-9
    counts = members["county_fips"].value_counts()
    rows, shapes = [], []
    for ty in range(tiles[1]):
        for tx in range(tiles[0]):
            fips = f"T{ty * tiles[0] + tx:04d}"
            shape = box(lon0 + tx * width, lat0 + ty * height, lon0 + (tx + 1) * width,
                        lat0 + (ty + 1) * height)  # fmt: skip
            area = shape.area * 69.0 * 69.0 * np.cos(np.radians(lat0))  # square miles
            rows.append(
                {"fips": fips, "name": f"Tile {fips}", "state": "MD",
                 "population": int(counts.get(fips, 0)) * 10, "area_sq_mi": area}
            )  # fmt: skip
            shapes.append(shape)
    return gpd.GeoDataFrame(rows, geometry=shapes, crs=4326)


if __name__ == "__main__":
    main()
