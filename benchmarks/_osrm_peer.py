"""OSRM peer for ``benchmarks/fidelity.py``: OSRM's car-profile answer for given trips.

This script is run by a SIDE virtual environment with Python 3.12+ and the
``osrm-bindings`` package (OSRM's own Python bindings, which ship the
``osrm-extract``/``osrm-partition``/``osrm-customize`` executables and the
standard Lua profiles). It is never imported by the project. Set it up once::

    /root/.pyenv/versions/3.12.1/bin/python -m venv /work/osrm-venv
    /work/osrm-venv/bin/pip install osrm-bindings

and run it as::

    /work/osrm-venv/bin/python benchmarks/_osrm_peer.py EXTRACT.osm.pbf trips.json out.json \
        [--cache-dir DIR] [--shortest]

``trips.json`` is ``{"trips": [[src_lon, src_lat, dst_lon, dst_lat], ...]}``.
``out.json`` gets, per trip in the same order, OSRM's ``duration_s`` and
``distance_m`` of its fastest route (the route the bundled ``car.lua`` picks:
weight ``routability``, i.e. duration with penalties for service roads, narrow
roads etc.; ``distance_m`` is that route's length), the snapping distance of
each end, and with ``--shortest`` also ``shortest_distance_m``: the shortest
route by distance from a second build of the same ``car.lua`` with
``weight_name = 'distance'`` (same roads, same access rules, same one-way and
turn restrictions). Unroutable trips get ``null``.

Data preparation (built once per extract and profile, then reused): the pbf is
processed with ``osrm-extract -p car.lua``, then ``osrm-partition`` and
``osrm-customize`` (the multi-level Dijkstra pipeline, MLD; exact like CH),
into ``$ADEQUACY_CACHE_DIR/osrm/<sha256 of the pbf>/<profile>-<sha256 of the
profile's Lua files>/`` (default ``~/.cache/adequacy/osrm/...``). A build goes
to a temporary folder first and is renamed into place when complete, so an
interrupted build is never used. Everything is local: no server is started
and nothing is fetched.

Queries use the in-process engine (``osrm.OSRM(algorithm="MLD", ...)``), one
``Route`` call per trip (two coordinates, no geometry), which is the exact
fastest route between the two snapped points.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import osrm
except ImportError:  # pragma: no cover - reported to the caller
    print("osrm-bindings is not installed in this Python", file=sys.stderr)
    sys.exit(3)

PACKAGE_DIR = Path(osrm.__file__).parent
PROFILES_DIR = PACKAGE_DIR / "share" / "profiles"
BIN_DIR = PACKAGE_DIR / "bin"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def osrm_version() -> str:
    out = subprocess.run(
        [str(BIN_DIR / "osrm-extract"), "--version"], capture_output=True, text=True
    )
    return out.stdout.strip() or out.stderr.strip()


def cache_root(cache_dir: str | None) -> Path:
    if cache_dir:
        return Path(cache_dir)
    base = os.environ.get("ADEQUACY_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "adequacy"
    )
    return Path(base) / "osrm"


def profile_files(variant: str, workdir: Path) -> Path:
    """The Lua profile to build with: the bundled car.lua, or a copy weighted by distance."""
    if variant == "car":
        return PROFILES_DIR / "car.lua"
    # copy the whole profiles folder so car.lua still finds lib/*.lua
    dst = workdir / "profiles"
    shutil.copytree(PROFILES_DIR, dst)
    lua = (dst / "car.lua").read_text()
    old = "weight_name                     = 'routability',"
    if old not in lua:
        raise SystemExit(
            "car.lua: could not find its weight_name line to make the distance variant"
        )
    lua = lua.replace(old, "weight_name                     = 'distance',")
    (dst / "car.lua").write_text(lua)
    return dst / "car.lua"


def profile_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(PROFILES_DIR.rglob("*.lua")):
        h.update(p.relative_to(PROFILES_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def run(cmd: list[str], log) -> None:
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log.name}")


def build(extract: Path, variant: str, root: Path, threads: int) -> Path:
    """OSRM MLD data for ``extract`` and the profile variant; returns the .osrm base path."""
    folder = root / sha256_file(extract) / f"{variant}-{profile_digest()}"
    if ".osm" in str(folder):
        # osrm-extract derives its file names by cutting the path at ".osm"
        raise SystemExit(
            f"{folder}: OSRM cannot write under a path containing '.osm'; use --cache-dir"
        )
    base = folder / "extract.osrm"
    if (folder / "COMPLETE").exists():
        return base
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{variant}-build-", dir=folder.parent))
    try:
        t0 = time.perf_counter()
        lua = profile_files(variant, tmp)
        # osrm-extract writes next to its input: link the pbf into the build folder
        src = tmp / "extract.osm.pbf"
        try:
            os.symlink(extract.resolve(), src)
        except OSError:
            shutil.copy2(extract, src)
        tbase = tmp / "extract.osrm"
        with open(tmp / "build.log", "w") as log:
            run(
                [
                    str(BIN_DIR / "osrm-extract"),
                    "-p",
                    str(lua),
                    "-t",
                    str(threads),
                    str(src),
                    "-o",
                    str(tbase),
                ],
                log,
            )
            run([str(BIN_DIR / "osrm-partition"), "-t", str(threads), str(tbase)], log)
            run([str(BIN_DIR / "osrm-customize"), "-t", str(threads), str(tbase)], log)
        src.unlink()
        (tmp / "COMPLETE").write_text(
            json.dumps(
                {
                    "extract": str(extract),
                    "variant": variant,
                    "osrm": osrm_version(),
                    "algorithm": "MLD",
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
        )
        if folder.exists():  # a concurrent build finished first
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return base


def engine(base: Path):
    return osrm.OSRM(
        algorithm="MLD",
        storage_config=str(base),
        use_shared_memory=False,
        default_radius="unlimited",
    )


def route_all(eng, trips) -> list[dict]:
    out = []
    for slon, slat, tlon, tlat in trips:
        params = osrm.RouteParameters(
            coordinates=[(float(slon), float(slat)), (float(tlon), float(tlat))],
            overview="false",
            generate_hints=False,
        )
        try:
            res = eng.Route(params)
        except RuntimeError as exc:  # NoRoute / NoSegment
            out.append({"duration_s": None, "distance_m": None, "error": str(exc)})
            continue
        r = res["routes"][0]
        wp = res["waypoints"]
        out.append(
            {
                "duration_s": float(r["duration"]),
                "distance_m": float(r["distance"]),
                "snap_source_m": float(wp[0]["distance"]),
                "snap_target_m": float(wp[1]["distance"]),
            }
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("extract", type=Path, help=".osm.pbf extract")
    ap.add_argument(
        "trips", type=Path, help='JSON {"trips": [[src_lon, src_lat, dst_lon, dst_lat], ...]}'
    )
    ap.add_argument("out", type=Path, help="JSON to write")
    ap.add_argument(
        "--cache-dir",
        help="OSRM data folder (default $ADEQUACY_CACHE_DIR/osrm or ~/.cache/adequacy/osrm)",
    )
    ap.add_argument(
        "--shortest", action="store_true", help="also the shortest-distance route (second build)"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    trips = json.loads(args.trips.read_text())["trips"]
    root = cache_root(args.cache_dir)
    t0 = time.perf_counter()
    base = build(args.extract, "car", root, args.threads)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = route_all(engine(base), trips)
    t_query = time.perf_counter() - t0
    if args.shortest:
        sbase = build(args.extract, "car-distance", root, args.threads)
        for row, s in zip(rows, route_all(engine(sbase), trips), strict=True):
            row["shortest_distance_m"] = s["distance_m"]
    args.out.write_text(
        json.dumps(
            {
                "osrm": osrm_version(),
                "bindings": "osrm-bindings",
                "python": sys.version.split()[0],
                "profile": str(PROFILES_DIR / "car.lua"),
                "profile_digest": profile_digest(),
                "algorithm": "MLD",
                "data": str(base),
                "build_seconds": round(t_build, 2),
                "query_seconds": round(t_query, 3),
                "trips": rows,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
