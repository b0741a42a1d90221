"""Benchmark: a partition's road graph from a cut of the file, against the whole file's.

Run from the project root::

    python benchmarks/extracts.py           # Reisterstown tiled 7 x 7 as one .osm.pbf
    python benchmarks/extracts.py --quick   # tiled 3 x 3

What is measured (each side in a fresh process, so that its peak memory is its own)
    The partition is the middle tile (about 20 x 13 km) with a 5 km buffer; the
    cut reaches 5 km further (``margin_meters``; doubled while the proof fails).

    - the peer: ``load_road_graph`` of the whole file (no cache), then
      ``clip_graph`` to the box and buffer: what a partitioned run's coordinator
      does today;
    - ours: ``clip_from_extract`` of the file, box and buffer (the cut, its graph,
      the proof), with an empty cut cache.

    Both clipped graphs are compared array for array (they must be equal), and
    the ratios of time and peak memory printed. The file is
    ``benchmarks/_tiles.tile_osm_file``'s: copies of the Reisterstown extract
    joined by links, written as one sorted ``.osm.pbf``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adequacy import load_road_graph  # noqa: E402
from adequacy.distributed.worker import _peak_gb, _reset_peak  # noqa: E402
from adequacy.network.clip import clip_graph  # noqa: E402
from adequacy.network.extract_clip import clip_from_extract  # noqa: E402
from benchmarks._child import in_child, options  # noqa: E402
from benchmarks._tiles import tile_osm_file  # noqa: E402

BASE = ROOT / "data" / "osm" / "reisterstown_md.osm.pbf"
BUFFER_METERS = 5_000.0
MARGIN_METERS = 5_000.0  # the cut reaches 10 km past the tile (doubled if unproved)
ARRAYS = ("node_ids", "lon", "lat", "offsets", "targets", "meters", "seconds")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def middle_tile(tiles: int) -> tuple[float, float, float, float]:
    """The bbox of the middle copy, as the tiler shifts it."""
    base = load_road_graph(BASE, cache=False)
    width = (base.lon.max() - base.lon.min()) * 1.02
    height = (base.lat.max() - base.lat.min()) * 1.02
    k = tiles // 2
    return (float(base.lon.min() + k * width), float(base.lat.min() + k * height),
            float(base.lon.max() + k * width), float(base.lat.max() + k * height))  # fmt: skip


def one_side(side: str, pbf: Path, tiles: int, folder: Path) -> dict:
    """One measured side in this process (called in a child process)."""
    bbox = middle_tile(tiles)
    reset = _reset_peak()
    start = time.perf_counter()
    if side == "whole":
        whole = load_road_graph(pbf, cache=False)
        clipped, _ = clip_graph(whole, bbox, buffer_meters=BUFFER_METERS)
        nodes, margin = whole.n_nodes, None
    else:
        clipped = clip_from_extract(pbf, bbox, buffer_meters=BUFFER_METERS,
                                    margin_meters=MARGIN_METERS,
                                    cache_dir=folder / f"cuts-{side}")  # fmt: skip
        margin = clipped.meta["extract"]["margin_meters"]
        nodes = None
    seconds = time.perf_counter() - start
    np.savez(folder / f"{side}.npz", **{name: getattr(clipped, name) for name in ARRAYS})
    return {"seconds": seconds, "peak_gb": _peak_gb() if reset else None,
            "graph_nodes": nodes, "clip_nodes": clipped.n_nodes, "margin": margin}  # fmt: skip


def child(side: str, pbf: Path, tiles: int, folder: Path) -> dict:
    return in_child(__file__, side, pbf, tiles, folder)


def main(argv: list[str] | None = None) -> None:
    args = options(__doc__, "tile 3 x 3, not 7 x 7", 4, argv)
    if args.child:
        side, pbf, tiles, folder = args.child
        print(json.dumps(one_side(side, Path(pbf), int(tiles), Path(folder))))
        return
    tiles = 3 if args.quick else 7
    with tempfile.TemporaryDirectory(prefix="adequacy-bench-") as tmp:
        folder = Path(tmp)
        pbf = folder / f"tiled-{tiles}x{tiles}.osm.pbf"
        log(f"writing the {tiles}x{tiles} tiled file")
        tile_osm_file(BASE, pbf, tiles, tiles)
        log("the whole file's graph, clipped (the peer)")
        whole = child("whole", pbf, tiles, folder)
        log("clip_from_extract")
        cut = child("cut", pbf, tiles, folder)
        a, b = np.load(folder / "whole.npz"), np.load(folder / "cut.npz")
        equal = all(np.array_equal(a[name], b[name]) for name in ARRAYS)
        size_mb = pbf.stat().st_size / 2**20
    print(f"\nadequacy extract benchmark ({'quick' if args.quick else 'full'})")
    print(f"file: Reisterstown tiled {tiles}x{tiles}, {size_mb:.1f} MB, "
          f"{whole['graph_nodes']:,} graph nodes; partition: the middle tile, "
          f"{BUFFER_METERS / 1000:g} km buffer, {whole['clip_nodes']:,} clipped nodes")  # fmt: skip
    print(f"{'side':<34}{'seconds':>9}{'peak GB':>9}")
    print(f"{'whole graph, then clip_graph':<34}{whole['seconds']:>9.2f}{whole['peak_gb']:>9.2f}")
    print(f"{'clip_from_extract (cut, proof)':<34}{cut['seconds']:>9.2f}{cut['peak_gb']:>9.2f}")
    print(f"clipped graphs equal array for array: {'yes' if equal else 'NO'}; "
          f"the cut's margin: {cut['margin'] / 1000:g} km")  # fmt: skip
    print(f"ratio whole / cut: time {whole['seconds'] / cut['seconds']:.2f}x, "
          f"peak memory {whole['peak_gb'] / cut['peak_gb']:.2f}x")  # fmt: skip
    if not equal:
        sys.exit(1)


if __name__ == "__main__":
    main()
