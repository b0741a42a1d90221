"""Benchmark: what-if updates (add one provider, terminate one) against a full re-evaluation.

Run from the project root::

    python benchmarks/whatif.py            # eastern-idaho demo, then 1M members on 1.12M nodes
    python benchmarks/whatif.py --quick    # eastern-idaho demo only

For each case the base evaluation is made once; then, timed in the same run (with the
stages of the fastest run: roster, searches, members judged again, delta table):

add one provider
    ``run_whatif`` with one new primary-care site near a member: one bounded
    search per affected key (the base key and the new provider's languages)
    merged into the stored labels, the affected members judged again, the
    delta table. Best of five (different sites); the first is printed too, since
    it also builds the caches later scenarios reuse, and makes any search the
    base deferred that it touches (under ``fastest_route`` a distance search no
    member needed: ``engine/search.py``).
terminate one provider
    ``run_whatif`` terminating one in-network PCP: its searches re-run, the
    members whose labels changed judged again, the delta table. Best of three.
full re-evaluation
    ``evaluate`` from scratch with the terminated provider out of the roster
    (what a tool without incremental updates does), once.

Targets (1M-member case): add under 50 ms, terminate under 1 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import RoadGraph, evaluate, load_road_graph, load_standards  # noqa: E402
from adequacy.demo import build_demo  # noqa: E402
from adequacy.whatif import run_whatif  # noqa: E402
from benchmarks._tiles import tile_road_graph  # noqa: E402
from benchmarks.evaluate import BASE, synthetic_inputs  # noqa: E402

ADD_TARGET_MS = 50.0
TERMINATE_TARGET_S = 1.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def case(name, members, providers, graph, claims, regions, rng, basis=None) -> dict:
    standards = load_standards()
    if basis:  # how miles are measured (default: the standards set's own)
        standards = replace(standards, distance_basis=basis)
    log(f"{name}: base evaluation")
    t = time.perf_counter()
    base = evaluate(members, providers, graph, standards, claims=claims, regions=regions)
    t_base = time.perf_counter() - t
    m = base.members
    pcps = base.providers[(base.providers["provider_type"] == "pcp") & base.providers["in_network"]]
    adds, add_stages = [], []
    for i in range(5):
        row = int(rng.integers(len(m)))
        spec = {
            "add": [
                {
                    "provider_id": f"BENCH-NEW-{i}",
                    "provider_type": "pcp",
                    "lat": float(m["lat"].iat[row]),
                    "lon": float(m["lon"].iat[row]),
                    "languages": "English;Spanish",
                }
            ]
        }
        t = time.perf_counter()
        result = run_whatif(base, spec)
        adds.append(time.perf_counter() - t)
        add_stages.append(result.timings)
    add_changes = len(result.changes)
    terms, term_stages = [], []
    for i in range(3):
        pid = str(pcps["provider_id"].iloc[7 + i])
        t = time.perf_counter()
        result = run_whatif(base, {"terminate": [pid]})
        terms.append(time.perf_counter() - t)
        term_stages.append(result.timings)
    term_changes = len(result.changes)
    log(f"{name}: full re-evaluation")
    reduced = providers[providers["provider_id"] != str(pcps["provider_id"].iloc[9])]
    t = time.perf_counter()
    evaluate(members, reduced, graph, standards, claims=claims, regions=regions)
    t_full = time.perf_counter() - t
    return {
        "name": name,
        "members": len(m),
        "nodes": graph.n_nodes,
        "base": t_base,
        "add": min(adds),
        "first_add": adds[0],
        "add_stages": add_stages[int(np.argmin(adds))],
        "add_changes": add_changes,
        "terminate": min(terms),
        "terminate_stages": term_stages[int(np.argmin(terms))],
        "terminate_changes": term_changes,
        "full": t_full,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="eastern-idaho demo only")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--distance-basis",
        choices=["shortest", "fastest_route", "straight_line"],
        default=None,
        help="how miles are measured (default: the standards set's own)",
    )
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="adequacy-bench-") as tmp:
        demo = build_demo("eastern-idaho", cache_dir=Path(tmp) / "cache")
        rows.append(
            case(
                "eastern-idaho demo",
                demo.members,
                demo.providers,
                demo.graph,
                demo.claims,
                demo.regions,
                rng,
                args.distance_basis,
            )
        )
        if not args.quick:
            base = load_road_graph(BASE, cache_dir=Path(tmp) / "cache")
            tiled = tile_road_graph(base, 7, 7)
            tiled.save(Path(tmp) / "tiled.npz")
            graph = RoadGraph.load(Path(tmp) / "tiled.npz")
            members, providers, claims = synthetic_inputs(graph, 1_000_000, (7, 7), rng)
            rows.append(
                case(
                    "1M members, 1.12M nodes",
                    members,
                    providers,
                    graph,
                    claims,
                    None,
                    rng,
                    args.distance_basis,
                )
            )

    print()
    print("adequacy what-if benchmark")
    head = (
        f"{'case':<26}{'members':>10}{'nodes':>11}{'add (ms)':>10}{'terminate (s)':>15}"
        f"{'full re-eval (s)':>18}{'full/add':>10}{'full/term':>10}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['name']:<26}{r['members']:>10,}{r['nodes']:>11,}{r['add'] * 1000:>10.1f}"
            f"{r['terminate']:>15.3f}{r['full']:>18.2f}{r['full'] / r['add']:>10,.0f}"
            f"{r['full'] / r['terminate']:>10,.0f}"
        )
    for r in rows:
        print(
            f"{r['name']}: base evaluation {r['base']:.2f} s; the first add "
            f"{r['first_add'] * 1000:.1f} ms (it also builds the caches later scenarios "
            f"reuse, and makes any distance search the base deferred that it touches); "
            f"member rows changed: add {r['add_changes']:,}, terminate {r['terminate_changes']:,}"
        )
    for r in rows:
        stages = []
        for what in ("add", "terminate"):
            parts = [f"{k} {v * 1000:.1f}" for k, v in r[f"{what}_stages"].items() if k != "total"]
            stages.append(f"{what}: {', '.join(parts)}")
        print(f"{r['name']}: stages (ms) {'; '.join(stages)}")
    big = rows[-1]
    if big["members"] >= 1_000_000:
        ok_add = big["add"] * 1000 < ADD_TARGET_MS
        ok_term = big["terminate"] < TERMINATE_TARGET_S
        print(
            f"targets on the 1M case: add < {ADD_TARGET_MS:g} ms: {'met' if ok_add else 'NOT met'}"
            f"; terminate < {TERMINATE_TARGET_S:g} s: {'met' if ok_term else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
