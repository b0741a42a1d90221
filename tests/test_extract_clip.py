"""A partition's graph from a cut of the file equals the clip of the whole file's graph."""

from __future__ import annotations

import numpy as np
import pytest
from support import REISTERSTOWN_PBF

from adequacy import InputError, load_road_graph
from adequacy.network.clip import clip_graph
from adequacy.network.extract_clip import clip_from_extract
from adequacy.network.extracts import cut_extract

ARRAYS = ("node_ids", "lon", "lat", "offsets", "targets", "meters", "seconds",
          "rev_offsets", "rev_targets", "rev_meters", "rev_seconds")  # fmt: skip


def differs(a, b) -> str:
    """The first array two graphs differ in (edge classes by name), or ""."""
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape or not np.array_equal(x, y):
            return name
    classes_a = np.asarray(a.class_names)[a.edge_class]
    classes_b = np.asarray(b.class_names)[b.edge_class]
    return "" if np.array_equal(classes_a, classes_b) else "edge classes"


@pytest.fixture(scope="module")
def whole():
    return load_road_graph(REISTERSTOWN_PBF, cache=False)


def boxes(whole, n, seed):
    rng = np.random.default_rng(seed)
    west, east = np.quantile(whole.lon, [0.2, 0.8])
    south, north = np.quantile(whole.lat, [0.2, 0.8])
    for _ in range(n):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        yield (float(lon), float(lat), float(lon + 0.008), float(lat + 0.006))


def test_certified_clips_equal_the_whole_files_clip(whole, tmp_path):
    retried = 0
    for bbox in boxes(whole, 6, seed=1):
        expected, _ = clip_graph(whole, bbox, buffer_meters=1000)
        got = clip_from_extract(REISTERSTOWN_PBF, bbox, buffer_meters=1000, margin_meters=1500,
                                cache_dir=tmp_path, tries=4)  # fmt: skip
        assert differs(got, expected) == ""
        assert got.n_nodes == expected.n_nodes > 100
        retried += got.meta["extract"]["margin_meters"] > 1500
    assert retried  # some first cuts were refused, and cut again wider


@pytest.mark.slow
def test_a_cut_is_certified_only_when_its_clip_is_the_whole_files(whole, tmp_path):
    """Over many boxes and narrow margins: every certified clip equals the whole file's,
    and the naive clip of a cut (its own largest component, clipped) often does not."""
    certified = naive_wrong = 0
    for bbox in boxes(whole, 10, seed=2):
        expected, _ = clip_graph(whole, bbox, buffer_meters=800)
        for margin in (10.0, 250.0, 1000.0, 3000.0, 6000.0):
            cut = cut_extract(REISTERSTOWN_PBF, bbox, buffer_meters=800 + margin,
                              cache_dir=tmp_path)  # fmt: skip
            try:
                naive, _ = clip_graph(load_road_graph(cut, cache=False), bbox, buffer_meters=800)
                naive_wrong += differs(naive, expected) != ""
            except InputError:  # the cut's largest network misses the box altogether
                naive_wrong += 1
            try:
                got = clip_from_extract(
                    REISTERSTOWN_PBF, bbox, buffer_meters=800, margin_meters=margin,
                    cache_dir=tmp_path, tries=1,
                )  # fmt: skip
            except InputError as error:
                assert "could not be shown to equal" in str(error)
                continue
            certified += 1
            assert differs(got, expected) == ""
    assert certified >= 10
    assert naive_wrong >= 10  # the certificate has something to refuse


def test_no_cut_certified_names_the_bbox_and_the_fix(whole, tmp_path):
    bbox = next(boxes(whole, 1, seed=3))
    with pytest.raises(InputError) as error:
        clip_from_extract(REISTERSTOWN_PBF, bbox, buffer_meters=2000, margin_meters=1,
                          cache_dir=tmp_path, tries=1)  # fmt: skip
    text = str(error.value)
    assert str(bbox[0])[:8] in text and "margin_meters" in text
    with pytest.raises(InputError, match="margin_meters must be positive"):
        clip_from_extract(REISTERSTOWN_PBF, bbox, buffer_meters=2000, margin_meters=0)


def loop_leaving_the_cut(path) -> tuple[float, float, float, float]:
    """A small two-way ladder of streets (the bbox), and a one-way loop that leaves it
    east, runs 5 km out and comes back: its far leg is outside a narrow cut, so its
    near ends, 300 m from the bbox (outside a 200 m buffer), look like dead ends
    there. Written as a sorted OSM XML file; returns the bbox."""
    nodes = {
        1: (-75.000, 40.000), 2: (-74.999, 40.000), 3: (-74.998, 40.000),
        4: (-75.000, 40.001), 5: (-74.999, 40.001), 6: (-74.998, 40.001),
        7: (-74.994, 40.000), 8: (-74.940, 40.000),  # out: 3 -> 7 -> 8
        9: (-74.940, 40.001), 10: (-74.994, 40.001),  # back: 9 -> 10 -> 6
    }  # fmt: skip
    ways = [
        (101, [1, 2, 3], ""), (102, [4, 5, 6], ""), (103, [1, 4], ""), (104, [2, 5], ""),
        (105, [3, 6], ""), (106, [3, 7, 8], "yes"), (107, [8, 9], "yes"), (108, [9, 10, 6], "yes"),
    ]  # fmt: skip
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    lines += [f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>'
              for i, (lon, lat) in nodes.items()]  # fmt: skip
    for way, refs, oneway in ways:
        lines.append(f'<way id="{way}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines.append('<tag k="highway" v="residential"/>')
        if oneway:
            lines.append(f'<tag k="oneway" v="{oneway}"/>')
        lines.append("</way>")
    path.write_text("\n".join([*lines, "</osm>"]))
    return (-75.0005, 39.9995, -74.9975, 40.0015)


def test_a_neighbour_in_doubt_outside_the_buffer_is_refused(tmp_path):
    """The loop's near ends lie outside the buffer, so no node of the buffer is in
    doubt; but they are neighbours of the clip, kept in the whole file's clip (they
    are on its largest network) and missing from the narrow cut's own largest."""
    source = tmp_path / "loop.osm"
    bbox = loop_leaving_the_cut(source)
    expected, _ = clip_graph(load_road_graph(source, cache=False), bbox, buffer_meters=200)
    assert {7, 10} <= set(expected.node_ids.tolist())
    cut = cut_extract(source, bbox, buffer_meters=700, cache_dir=tmp_path)
    naive, _ = clip_graph(load_road_graph(cut, cache=False), bbox, buffer_meters=200)
    assert differs(naive, expected) == "node_ids"
    with pytest.raises(InputError, match="neighbour"):
        clip_from_extract(source, bbox, buffer_meters=200, margin_meters=500,
                          cache_dir=tmp_path, tries=1)  # fmt: skip
    got = clip_from_extract(source, bbox, buffer_meters=200, margin_meters=500,
                            cache_dir=tmp_path, tries=6)  # fmt: skip
    assert differs(got, expected) == ""
    assert got.meta["extract"]["margin_meters"] >= 4000  # cut wide enough to hold the loop
