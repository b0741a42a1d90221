"""Fit the calibrated profile's delays on one extract's trips; check them on the other.

The calibrated profile (``us-osm-calibrated``) takes OSRM's car-profile speeds as
they are (``adequacy.network.speeds.CALIBRATED_KMH``, 0.8 of a tagged
``maxspeed``) and adds delays at nodes: traffic signals and every intersection
(stop and give-way signs keep OSRM's 2 s and 1 s). Those two delays stand in for
OSRM's turn and signal costs, which a node-based search cannot charge per turn.
This script grids them on the TRAINING extract's trips (OSRM's answers from
``benchmarks/fidelity.py --dump``) and prints the ratio of our minutes to
OSRM's, median and p10-p90, on both extracts: the held-out one was not used to
choose the values.

    python benchmarks/fidelity.py --dump trips.csv            # OSRM's answers (needs the peer)
    python benchmarks/calibrate.py trips.csv [--train boston_ma.osm.pbf]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fidelity import our_costs  # noqa: E402

from adequacy import load_road_graph  # noqa: E402
from adequacy.network.speeds import US_OSM_CALIBRATED  # noqa: E402

SIGNALS = (2.0, 2.6, 3.0, 4.0)
INTERSECTIONS = (0.0, 0.3, 0.5, 0.8, 1.0)


def ratios(trips: pd.DataFrame, extract: Path, profile) -> np.ndarray:
    graph = load_road_graph(extract, profile=profile, cache=False)
    points = trips[["src_lon", "src_lat", "dst_lon", "dst_lat"]].to_numpy()
    ours = our_costs(graph, points, "time") / 60.0
    return ours / (trips["osrm_duration_s"].to_numpy() / 60.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", type=Path, help="per-trip CSV written by fidelity.py --dump")
    ap.add_argument("--train", default="boston_ma.osm.pbf", help="extract to fit on")
    args = ap.parse_args(argv)
    dump = pd.read_csv(args.dump)
    dump = dump[dump["profile"] == dump["profile"].iloc[0]]  # one row per trip
    extracts = sorted(dump["extract"].unique())
    rows = []
    for signal in SIGNALS:
        for intersection in INTERSECTIONS:
            profile = replace(
                US_OSM_CALIBRATED,
                version=f"grid-{signal}-{intersection}",
                node_delay_seconds={**US_OSM_CALIBRATED.node_delay_seconds,
                                    "traffic_signals": signal},
                intersection_delay_seconds=intersection,
            )  # fmt: skip
            row = {"signal_s": signal, "intersection_s": intersection}
            for name in extracts:
                r = ratios(dump[dump["extract"] == name], ROOT / "data" / "osm" / name, profile)
                p10, med, p90 = np.percentile(r, [10, 50, 90])
                row[name] = f"{med:.3f} ({p10:.3f}-{p90:.3f})"
                if name == args.train:
                    row["_score"] = abs(med - 1) + (p90 - p10) / 4
            rows.append(row)
    table = pd.DataFrame(rows).sort_values("_score")
    print(f"fit on {args.train}; ratio of our minutes to OSRM's, median (p10-p90):")
    print(table.drop(columns="_score").to_string(index=False))
    best = table.iloc[0]
    print(
        f"\nbest on {args.train}: {best['signal_s']} s per signal, "
        f"{best['intersection_s']} s per intersection"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
