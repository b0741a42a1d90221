"""Cut a partition's extract out of a large OpenStreetMap file, without holding it whole.

A partitioned evaluation builds each partition's road graph from a small
``.osm.pbf`` cut out of the big one: :func:`cut_extract` keeps every way with
a ``highway`` tag (drivable or not: the drive filter is the graph builder's
job) that has at least one node within ``buffer_meters`` of the bbox, with
all of its nodes (complete ways, every node with its location and tags).
It streams the file twice with pyosmium (libosmium): the first pass marks
the nodes inside the buffered box (:func:`adequacy.network.clip.buffered_bbox`,
a provable superset of the points within ``buffer_meters``) and then the ways
that touch one of them, with their nodes, in compact id sets; the second
writes exactly those nodes and ways. Memory is the id sets, never the graph
or a node-location index. The file must be sorted (nodes before ways), as
every ``.osm.pbf`` from a planet or regional extract service is.

The cut is cached under the graph cache's folder (``extracts/``), keyed by
the source file's SHA-256, the bbox, the buffer and :data:`EXTRACT_VERSION`,
and written atomically (a temporary file, then renamed), so concurrent
workers never see half a file.

A graph built from the cut (``load_road_graph``) matches the source's graph
on edges whose ends both lie in the bbox (each such node keeps every way
through it). It is not the source graph clipped (:func:`clip_graph`): ways
beyond the buffer are gone, so chains of shape points that run out of it are
cut, intersection delays of nodes outside change with their degree, and the
loader keeps the extract's own largest strongly connected component. For
bitwise-exact partitions, cut with a wider buffer and clip the loaded graph:
:func:`adequacy.network.extract_clip.clip_from_extract` does, and proves the
clip equal to the whole file's before returning it.

Owns: ``cut_extract``, ``file_box`` (a file's header box) and the extract cache.
Uses: ``clip`` (the buffered box), ``load`` (the cache folder),
:mod:`adequacy.hashing`. Coordinates are WGS84 (EPSG:4326) degrees, distances meters.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.network.clip import _check_bbox, buffered_bbox
from adequacy.network.load import OSM_SUFFIXES, _cache_root

#: Bump when what a cut holds, or how it is written, changes.
EXTRACT_VERSION = "1"


def cut_extract(
    source: str | os.PathLike,
    bbox: tuple[float, float, float, float],
    *,
    buffer_meters: float,
    cache_dir: str | os.PathLike | None = None,
    source_sha256: str | None = None,
) -> Path:
    """Write (once) and return an ``.osm.pbf`` of the highways near ``bbox``.

    Parameters
    ----------
    source
        An OpenStreetMap file (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ...),
        sorted (nodes before ways).
    bbox
        (west, south, east, north), WGS84 (EPSG:4326) degrees, west <= east.
    buffer_meters
        Meters around the bbox: every way with a ``highway`` tag and a node
        within this distance of the bbox is kept, whole.
    cache_dir
        Cache folder; default ``$ADEQUACY_CACHE_DIR`` or ``~/.cache/adequacy``
        (as :func:`~adequacy.network.load.load_road_graph`). Cuts go to its
        ``extracts/`` subfolder.
    source_sha256
        The file's SHA-256 when the caller has it (the cache key; a country file
        takes a minute to hash): computed here otherwise.

    Returns
    -------
    pathlib.Path
        The cut ``.osm.pbf``; an earlier cut of the same file, bbox and
        buffer is returned as it is, not written again.

    Raises
    ------
    InputError
        The file is missing, unreadable or unsorted, the bbox or buffer is
        malformed, or no highway comes within ``buffer_meters`` of the bbox.
    """
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: OpenStreetMap file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give an OpenStreetMap file (.osm.pbf)")
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InputError(
            f"{path}: not an OpenStreetMap file name; give an .osm.pbf, .osm or .osm.bz2 extract"
        )
    box = buffered_bbox(bbox, buffer_meters)  # checks bbox and buffer
    parts = json.dumps(
        [
            source_sha256 or file_sha256(path),
            list(_check_bbox(bbox)),
            float(buffer_meters),
            EXTRACT_VERSION,
        ]
    )
    key = hashlib.sha256(parts.encode()).hexdigest()[:32]
    folder = _cache_root(cache_dir) / "extracts"
    out = folder / f"extract-{key}.osm.pbf"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    try:
        wanted, n_ways = _mark(path, box)
        if not n_ways:
            raise InputError(
                f"{path}: no highway comes within {float(buffer_meters):g} m of bbox "
                f"{_check_bbox(bbox)}; check that the bbox is (west, south, east, north) in WGS84 "
                "degrees and that the file covers it"
            )
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".osm.pbf")
        os.close(fd)
        try:
            _write(path, wanted, tmp)
            os.replace(tmp, out)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except InputError:
        raise
    except Exception as exc:  # libosmium raises RuntimeError with a terse text
        raise InputError(
            f"{path}: could not be read as OpenStreetMap data ({_first_line(exc)}); "
            "give an .osm.pbf, .osm or .osm.bz2 extract"
        ) from None
    return out


def file_box(source: str | os.PathLike) -> tuple[float, float, float, float] | None:
    """The (west, south, east, north) box an OpenStreetMap file's header declares
    (WGS84 degrees; planet and regional extracts carry one), or None without one."""
    import osmium

    try:
        reader = osmium.io.Reader(str(source), osmium.osm.osm_entity_bits.NOTHING)
    except Exception:  # an unreadable file fails where the partitions cut it, named
        return None
    try:
        box = reader.header().box()
        if not box.valid():
            return None
        low, high = box.bottom_left, box.top_right
        return (float(low.lon), float(low.lat), float(high.lon), float(high.lat))
    finally:
        reader.close()


def _mark(path: Path, box: tuple[float, float, float, float]):
    """First pass: the ids of the highways touching ``box`` and of all their nodes."""
    import osmium

    west, south, east, north = box
    width = east - west
    wraps = west < -180 or east > 180
    inside = osmium.IdTracker()
    wanted = osmium.IdTracker()
    highways = osmium.filter.KeyFilter("highway").enable_for(osmium.osm.WAY)
    reader = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
    n_ways = 0
    seen_way = False
    for obj in reader.with_filter(highways):
        if obj.is_node():
            if seen_way:
                raise InputError(
                    f"{path}: nodes come after ways (the file is not sorted); "
                    "sort it first: osmium sort IN -o OUT.osm.pbf"
                )
            loc = obj.location
            if not loc.valid():
                continue
            lon, lat = loc.lon, loc.lat
            if south <= lat <= north and (
                ((lon - west) % 360.0 <= width) if wraps else west <= lon <= east
            ):
                inside.add_node(obj.id)
        else:
            seen_way = True
            if inside.contains_any_references(obj):
                wanted.add_way(obj.id)
                wanted.add_references(obj)
                n_ways += 1
    return wanted, n_ways


def _write(path: Path, wanted, tmp: str) -> None:
    """Second pass: write the marked nodes (locations and tags) and ways to ``tmp``."""
    import osmium

    writer = osmium.SimpleWriter(tmp, overwrite=True)
    try:
        reader = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        for obj in reader.with_filter(wanted.id_filter()):
            writer.add(obj)
    finally:
        writer.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
