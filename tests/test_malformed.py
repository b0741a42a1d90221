"""Bad input, every time: a clean answer, nothing lost, nothing leaked.

Every case runs the command line in a subprocess on one malformed input and checks
that the run

- exits with status 2 (an :class:`~adequacy.errors.InputError`), without a traceback;
- prints one message: a head line ``error: ...`` on stderr, with any further problems
  of the same file as indented lines under it, naming the file, the line or entry
  and the fix (each case lists the words it expects);
- writes nothing: the case's folder (inputs, a fresh ``--out``, an ``--out`` that held a
  previous run, the folder beside it where temporary files go) is byte for byte as
  before, and a fresh ``--out`` does not exist;
- leaks no member field but the ID: the members file carries fake PHI columns
  (first_name, last_name, date_of_birth, street_address) whose values, and the
  members' coordinates, must appear in no output, and the fake PHI in no file
  written outside ``--out`` (the graph cache included).

One small demo input set (eastern Idaho, 300 members) and one good run folder are
built per module; each case edits copies. A few cases must succeed: UTF-8 with a BOM
and CRLF line endings, an ``--out`` that held a previous run (replaced whole, no stale
file) and ``--force`` over a folder of other files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point
from support import BOSTON_PBF, IDAHO_ROADS, run_cli

from adequacy.demo import build_demo

pytestmark = pytest.mark.slow

CLASS_COLUMN = "prisec_fl"
#: Fake PHI given to every member: none of it may appear in any output.
PHI = {
    "first_name": "Zebulon",
    "last_name": "Quaxley",
    "date_of_birth": "1931-02-29",
    "street_address": "742 Evergreen Terrace",
}
FORBIDDEN = ("Zebulon", "Quaxl", "1931-02-29", "Evergreen")
#: Words any encoding hint would use.
ENCODING_HINT = ("latin-1", "latin1", "iso-8859", "cp1252", "windows-1252")
#: Words saying points lie off the road network.
OFF_MAP = ("road network", "extent", "outside", "off the map", "far from", "beyond")
NON_NEGATIVE = ("0 or more", "zero or more", "negative", "not be below 0", ">= 0")


# ---------------------------------------------------------------------------
# module fixtures: one good input set, one good run
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Good:
    folder: Path
    files: dict[str, Path]  # members, providers, claims, regions, survey, census
    extent: tuple[float, float, float, float]  # the road network's lon/lat box
    run: Path | None = None
    member_coords: tuple[str, ...] = ()


@pytest.fixture(scope="module")
def good_inputs(tmp_path_factory, graph_cache) -> Good:
    folder = tmp_path_factory.mktemp("good-inputs")
    scenario = build_demo("eastern-idaho", n_members=300, cache_dir=graph_cache)
    files = scenario.write_inputs(folder)
    members = pd.read_csv(files["members"], dtype=str, keep_default_na=False)
    for column, value in PHI.items():
        members[column] = value
    members.to_csv(files["members"], index=False)
    regions = gpd.read_file(files["regions"])
    census = pd.DataFrame(
        {
            "county_fips": regions["fips"].astype(str).str.zfill(5),
            "language": "Spanish",
            "speakers_5plus": 12000,
        }
    )
    files["census"] = folder / "census.csv"
    census.to_csv(files["census"], index=False)
    graph = scenario.graph
    extent = (
        float(graph.lon.min()),
        float(graph.lat.min()),
        float(graph.lon.max()),
        float(graph.lat.max()),
    )
    coords = tuple(members["lat"]) + tuple(members["lon"])
    return Good(folder, dict(files), extent, member_coords=coords)


@pytest.fixture(scope="module")
def good(good_inputs, tmp_path_factory, graph_cache) -> Good:
    run = tmp_path_factory.mktemp("good-run") / "run"
    proc = run_cli(*evaluate_args(good_inputs.files, run), env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Good(
        good_inputs.folder, good_inputs.files, good_inputs.extent, run, good_inputs.member_coords
    )


def evaluate_args(files: dict[str, Path], out: Path, **given) -> list:
    """``adequacy evaluate`` on the good files, some replaced (a value None leaves one out)."""
    chosen = {
        "members": files["members"],
        "providers": files["providers"],
        "claims": files["claims"],
        "regions": files["regions"],
        "survey": files["survey"],
        "network": IDAHO_ROADS,
        "class-column": CLASS_COLUMN,
    }
    chosen.update({k.replace("_", "-"): v for k, v in given.items()})
    args = ["evaluate"]
    for key, value in chosen.items():
        if value is not None:
            args += [f"--{key}", value]
    return [*args, "--out", out]


# ---------------------------------------------------------------------------
# a case: its files, its command and the words its message must hold
# ---------------------------------------------------------------------------
@dataclass
class Case:
    args: list
    expect: list  # each a word, or a tuple of words of which one must appear
    out: Path | None = None
    once: tuple[str, ...] = ()  # words that must appear exactly once: one line per problem


@dataclass
class Ctx:
    tmp: Path
    good: Good
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def inputs(self) -> Path:
        folder = self.tmp / "in"
        folder.mkdir(exist_ok=True)
        return folder

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def frame(self, kind: str) -> pd.DataFrame:
        return pd.read_csv(self.good.files[kind], dtype=str, keep_default_na=False)

    def save(self, frame: pd.DataFrame, name: str, encoding: str = "utf-8") -> Path:
        path = self.inputs / name
        frame.to_csv(path, index=False, encoding=encoding)
        return path

    def write(self, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    def evaluate(self, out: Path | None = None, **given) -> list:
        return evaluate_args(self.good.files, out or self.out, **given)

    def copy_run(self, name: str = "previous-run") -> Path:
        target = self.tmp / name
        shutil.copytree(self.good.run, target)
        return target

    def line_of(self, kind: str, column: str, value: str) -> int:
        """The CSV line (header = 1) of the first row whose column holds value."""
        frame = self.frame(kind)
        return int(np.flatnonzero(frame[column].to_numpy() == value)[0]) + 2


CASES: dict[str, Callable[[Ctx], Case]] = {}  # refused: status 2, one message
KEPT: dict[str, Callable[[Ctx], Case]] = {}  # a few points off the map: listed, run goes on


def case(name: str, registry: dict | None = None):
    registry = CASES if registry is None else registry

    def register(func):
        assert name not in CASES and name not in KEPT, name
        registry[name] = func
        return func

    return register


def kept(name: str):
    return case(name, KEPT)


def _off_lon(c: Ctx) -> float:
    """A longitude about 100 km west of the road network."""
    return c.good.extent[0] - 1.3


def _latin1_row(frame: pd.DataFrame, column: str, row: int, value: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


def _duplicate_lat(frame: pd.DataFrame) -> str:
    """CSV text with a second ``lat`` column (the header names lat twice)."""
    header = ",".join([*frame.columns, "lat"])
    rows = [",".join([*map(str, r), "0.5"]) for r in frame.itertuples(index=False)]
    return "\n".join([header, *rows]) + "\n"


# ---------------------------------------------------------------------------
# members
# ---------------------------------------------------------------------------
@case("members-missing-file")
def _(c):
    return Case(
        c.evaluate(members=c.inputs / "members_nowhere.csv"), ["members_nowhere.csv", "not found"]
    )


@case("members-is-a-folder")
def _(c):
    (c.inputs / "members_dir").mkdir()
    return Case(c.evaluate(members=c.inputs / "members_dir"), ["members_dir", "folder"])


@case("members-empty-file")
def _(c):
    return Case(c.evaluate(members=c.write("members.csv", "")), ["members.csv", "empty"])


@case("members-header-only")
def _(c):
    path = c.write("members.csv", ",".join(c.frame("members").columns) + "\n")
    return Case(c.evaluate(members=path), ["members.csv", ("no rows", "header only", "no members")])


@case("members-missing-lat-column")
def _(c):
    path = c.save(c.frame("members").drop(columns=["lat"]), "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "missing column", "lat"])


@case("members-missing-member-id-column")
def _(c):
    path = c.save(c.frame("members").drop(columns=["member_id"]), "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "missing column", "member_id"])


@case("members-duplicate-id")
def _(c):
    frame = c.frame("members")
    frame.loc[4, "member_id"] = frame.loc[3, "member_id"]
    path = c.save(frame, "members.csv")
    return Case(
        c.evaluate(members=path),
        ["members.csv", "duplicate member_id", frame.loc[3, "member_id"], "line 5", "line 6"],
    )


@case("members-lat-not-a-number")
def _(c):
    frame = c.frame("members")
    frame.loc[1, "lat"] = "forty-three"
    path = c.save(frame, "members.csv")
    return Case(
        c.evaluate(members=path),
        ["members.csv", "line 3", "lat", "not a number", ("decimal degrees", "e.g.")],
        once=("line 3",),
    )


@case("members-lat-out-of-range")
def _(c):
    frame = c.frame("members")
    frame.loc[2, "lat"] = "95.5"
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "line 4", "lat", "90"])


@case("members-lon-out-of-range")
def _(c):
    frame = c.frame("members")
    frame.loc[2, "lon"] = "-212.5"
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "line 4", "lon", "180"])


@case("members-lat-lon-swapped")
def _(c):
    frame = c.frame("members")
    frame[["lat", "lon"]] = frame[["lon", "lat"]].to_numpy()
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "swapped"])


@kept("members-few-at-zero-zero")
def _(c):
    frame = c.frame("members")
    frame.loc[[3, 4, 5], ["lat", "lon"]] = "0"
    path = c.save(frame, "members.csv")
    ids = list(frame.loc[[3, 4, 5], "member_id"])
    return Case(c.evaluate(members=path), ["members.csv", "line 5", "line 7", *ids, OFF_MAP])


@case("members-all-at-zero-zero")
def _(c):
    frame = c.frame("members")
    frame[["lat", "lon"]] = "0"
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", OFF_MAP, ("0,0", "0, 0")])


def _boston(c: Ctx, swap: str) -> list:
    """A small Boston input set (the Boston extract: lat 42.36-42.44, lon -71.11 to -71.01)
    with the lat and lon of one table swapped: both stay within [-90, 90] and [-180, 180]."""
    rng = np.random.default_rng(7)

    def points(n):
        lat = (42.37 + rng.uniform(0, 0.06, n)).round(6)
        lon = (-71.09 + rng.uniform(0, 0.07, n)).round(6)
        return lat, lon

    lat, lon = points(60)
    members = pd.DataFrame(
        {"member_id": [f"B-M{i:04d}" for i in range(60)], "lat": lat, "lon": lon}
    )
    for column, value in PHI.items():
        members[column] = value
    lat, lon = points(8)
    providers = pd.DataFrame(
        {
            "provider_id": [f"B-P{i}" for i in range(8)],
            "provider_type": ["pcp"] * 4 + ["obgyn"] * 2 + ["acute_care", "urgent_care"],
            "lat": lat,
            "lon": lon,
        }
    )
    table = members if swap == "members" else providers
    table[["lat", "lon"]] = table[["lon", "lat"]].to_numpy()
    m, p = c.save(members, "boston_members.csv"), c.save(providers, "boston_providers.csv")
    return ["evaluate", "--members", m, "--providers", p, "--network", BOSTON_PBF, "--out", c.out]


@case("members-lat-lon-swapped-in-range")
def _(c):
    return Case(_boston(c, "members"), ["boston_members.csv", "swapped"])


@case("providers-lat-lon-swapped-in-range")
def _(c):
    return Case(_boston(c, "providers"), ["boston_providers.csv", "swapped"])


@case("members-all-off-the-map")
def _(c):
    frame = c.frame("members")  # every member in Boston, the network in Idaho
    rng = np.random.default_rng(1)
    frame["lat"] = (42.36 + rng.uniform(-0.05, 0.05, len(frame))).round(6).astype(str)
    frame["lon"] = (-71.06 + rng.uniform(-0.05, 0.05, len(frame))).round(6).astype(str)
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", OFF_MAP])


@case("members-second-lat-column")
def _(c):
    path = c.write("members.csv", _duplicate_lat(c.frame("members")))
    return Case(
        c.evaluate(members=path),
        ["members.csv", "lat", ("duplicate", "twice", "more than once", "repeated")],
    )


@case("members-latin-1")
def _(c):
    frame = _latin1_row(c.frame("members"), "last_name", 5, "Quaxléy")
    path = c.save(frame, "members.csv", encoding="latin-1")
    return Case(c.evaluate(members=path), ["members.csv", "line 7", ENCODING_HINT])


@case("members-two-problems")
def _(c):
    frame = c.frame("members")
    frame.loc[1, "lat"] = "n/a?"
    frame.loc[7, "member_id"] = frame.loc[6, "member_id"]
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(members=path), ["members.csv", "line 3", "duplicate member_id"])


@case("members-unknown-file-type")
def _(c):
    path = c.write("members.xlsx", b"PK\x03\x04 not really a workbook")
    return Case(c.evaluate(members=path), ["members.xlsx", "csv"])


# ---------------------------------------------------------------------------
# providers
# ---------------------------------------------------------------------------
@case("providers-missing-file")
def _(c):
    return Case(
        c.evaluate(providers=c.inputs / "roster_nowhere.csv"), ["roster_nowhere.csv", "not found"]
    )


@case("providers-empty-file")
def _(c):
    return Case(c.evaluate(providers=c.write("providers.csv", "")), ["providers.csv", "empty"])


@case("providers-header-only")
def _(c):
    path = c.write("providers.csv", ",".join(c.frame("providers").columns) + "\n")
    return Case(c.evaluate(providers=path), ["providers.csv", ("no rows", "header only")])


@case("providers-missing-type-column")
def _(c):
    path = c.save(c.frame("providers").drop(columns=["provider_type"]), "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", "missing column", "provider_type"])


@case("providers-lon-not-a-number")
def _(c):
    frame = c.frame("providers")
    frame.loc[4, "lon"] = "west"
    path = c.save(frame, "providers.csv")
    return Case(
        c.evaluate(providers=path),
        ["providers.csv", "line 6", "lon", "not a number"],
        once=("line 6",),
    )


@case("providers-unknown-type")
def _(c):
    frame = c.frame("providers")
    frame.loc[4, "provider_type"] = "dentist"
    path = c.save(frame, "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", "line 6", "dentist", "pcp"])


@case("providers-empty-and-unknown-type")
def _(c):
    frame = c.frame("providers")
    frame.loc[4, "provider_type"] = ""
    frame.loc[5, "provider_type"] = "dentist"
    path = c.save(frame, "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", "provider_type", "line 6", "line 7"])


@case("providers-negative-panel")
def _(c):
    frame = c.frame("providers")
    frame.loc[6, "panel_size"] = "-40"
    path = c.save(frame, "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", "line 8", "panel_size", NON_NEGATIVE])


@kept("providers-few-offshore")
def _(c):
    frame = c.frame("providers")
    rows = [5, 20]
    frame.loc[rows, "lat"] = "43.5"
    frame.loc[rows, "lon"] = f"{_off_lon(c):.4f}"
    path = c.save(frame, "providers.csv")
    ids = list(frame.loc[rows, "provider_id"])
    return Case(c.evaluate(providers=path), ["providers.csv", "line 7", "line 22", *ids, OFF_MAP])


@case("providers-most-offshore")
def _(c):
    frame = c.frame("providers")
    frame["lon"] = (frame["lon"].astype(float) - 6.0).round(6).astype(str)
    path = c.save(frame, "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", OFF_MAP])


@case("providers-lat-lon-swapped")
def _(c):
    frame = c.frame("providers")
    frame[["lat", "lon"]] = frame[["lon", "lat"]].to_numpy()
    path = c.save(frame, "providers.csv")
    return Case(c.evaluate(providers=path), ["providers.csv", "swapped"])


@case("providers-second-lat-column")
def _(c):
    path = c.write("providers.csv", _duplicate_lat(c.frame("providers")))
    return Case(
        c.evaluate(providers=path),
        ["providers.csv", "lat", ("duplicate", "twice", "more than once", "repeated")],
    )


@case("providers-latin-1")
def _(c):
    frame = _latin1_row(c.frame("providers"), "name", 8, "Clínica del Río")
    path = c.save(frame, "providers.csv", encoding="latin-1")
    return Case(c.evaluate(providers=path), ["providers.csv", "line 10", ENCODING_HINT])


@case("providers-two-problems")
def _(c):
    frame = c.frame("providers")
    frame.loc[4, "provider_type"] = "dentist"
    frame.loc[9, "lat"] = "north"
    path = c.save(frame, "providers.csv")
    return Case(
        c.evaluate(providers=path), ["providers.csv", "line 6", "dentist", "line 11", "lat"]
    )


@case("supply-missing-lat-column")
def _(c):
    path = c.save(c.frame("providers").drop(columns=["lat"]), "market.csv")
    return Case(c.evaluate(supply=path), ["market.csv", "missing column", "lat"])


# ---------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------
@case("claims-negative-count")
def _(c):
    frame = c.frame("claims")
    frame.loc[2, "claim_count"] = "-40"
    path = c.save(frame, "claims.csv")
    return Case(c.evaluate(claims=path), ["claims.csv", "line 4", "claim_count", NON_NEGATIVE])


@case("claims-count-not-a-number")
def _(c):
    frame = c.frame("claims")
    frame.loc[0, "claim_count"] = "lots"
    path = c.save(frame, "claims.csv")
    return Case(c.evaluate(claims=path), ["claims.csv", "line 2", "claim_count", "not a number"])


@case("claims-missing-specialty-column")
def _(c):
    path = c.save(c.frame("claims").drop(columns=["specialty"]), "claims.csv")
    return Case(c.evaluate(claims=path), ["claims.csv", "missing column", "specialty"])


@case("claims-empty-file")
def _(c):
    return Case(c.evaluate(claims=c.write("claims.csv", "")), ["claims.csv", "empty"])


# ---------------------------------------------------------------------------
# regions
# ---------------------------------------------------------------------------
@case("regions-plain-csv")
def _(c):
    path = c.write("regions.csv", "fips,name\n16019,Bonneville\n16011,Bingham\n")
    return Case(c.evaluate(regions=path), ["regions.csv", ("polygon", "geopackage")])


@case("regions-without-fips")
def _(c):
    regions = gpd.read_file(c.good.files["regions"]).rename(columns={"fips": "code"})
    path = c.inputs / "counties_nofips.gpkg"
    regions.to_file(path, driver="GPKG")
    return Case(c.evaluate(regions=path), ["counties_nofips.gpkg", "fips"])


@case("regions-points")
def _(c):
    points = gpd.GeoDataFrame({"fips": ["16019"]}, geometry=[Point(-112.0, 43.5)], crs=4326)
    path = c.inputs / "county_points.gpkg"
    points.to_file(path, driver="GPKG")
    return Case(c.evaluate(regions=path), ["county_points.gpkg", "polygon"])


@case("regions-missing-file")
def _(c):
    return Case(
        c.evaluate(regions=c.inputs / "counties_nowhere.gpkg"),
        ["counties_nowhere.gpkg", "not found"],
    )


@case("regions-empty-file")
def _(c):
    path = c.write("regions.gpkg", b"")
    return Case(c.evaluate(regions=path), ["regions.gpkg", ("empty", "could not be read", "not a")])


# ---------------------------------------------------------------------------
# Census languages
# ---------------------------------------------------------------------------
@case("census-missing-column")
def _(c):
    path = c.save(c.frame("census").drop(columns=["speakers_5plus"]), "census.csv")
    return Case(c.evaluate(languages=path), ["census.csv", "missing column", "speakers_5plus"])


@case("census-speakers-not-a-number")
def _(c):
    frame = c.frame("census")
    frame.loc[1, "speakers_5plus"] = "many"
    path = c.save(frame, "census.csv")
    return Case(c.evaluate(languages=path), ["census.csv", "line 3", "speakers_5plus"])


@case("census-negative-speakers")
def _(c):
    frame = c.frame("census")
    frame.loc[0, "speakers_5plus"] = "-12"
    path = c.save(frame, "census.csv")
    return Case(
        c.evaluate(languages=path), ["census.csv", "line 2", "speakers_5plus", NON_NEGATIVE]
    )


@case("census-bad-fips")
def _(c):
    frame = c.frame("census")
    frame.loc[0, "county_fips"] = "Bonneville"
    path = c.save(frame, "census.csv")
    return Case(c.evaluate(languages=path), ["census.csv", "line 2", "county_fips", "5-digit"])


# ---------------------------------------------------------------------------
# standards and appointment standards (YAML)
# ---------------------------------------------------------------------------
GOOD_RULE = "  - id: pcp\n    provider_type: pcp\n    count: 2\n    miles: 15\n    minutes: 30\n"


@case("standards-invalid-yaml")
def _(c):
    text = "name: mine\nrules:\n  - id: pcp\n    provider_type: pcp: x\n    miles: 15\n"
    return Case(c.evaluate(standards=c.write("mine.yaml", text)), ["mine.yaml", "line 4", "yaml"])


@case("standards-unknown-key")
def _(c):
    text = "name: mine\nrules:\n  - id: pcp\n    provider_type: pcp\n    mile: 15\n"
    return Case(
        c.evaluate(standards=c.write("mine.yaml", text)), ["mine.yaml", "rules[0]", "mile", "miles"]
    )


@case("standards-bad-count")
def _(c):
    text = "name: mine\nrules:\n" + GOOD_RULE.replace("count: 2", "count: 0")
    return Case(
        c.evaluate(standards=c.write("mine.yaml", text)),
        ["mine.yaml", "rules[0].count", "at least 1"],
    )


@case("standards-count-not-a-number")
def _(c):
    text = "name: mine\nrules:\n" + GOOD_RULE.replace("count: 2", "count: two")
    return Case(
        c.evaluate(standards=c.write("mine.yaml", text)),
        ["mine.yaml", "rules[0].count", "whole number"],
    )


@case("standards-unknown-provider-type")
def _(c):
    text = "name: mine\nrules:\n" + GOOD_RULE.replace(
        "provider_type: pcp", "provider_type: dentist"
    )
    return Case(
        c.evaluate(standards=c.write("mine.yaml", text)),
        ["mine.yaml", "provider_type", "dentist", "provider_types"],
    )


@case("standards-missing-file")
def _(c):
    return Case(
        c.evaluate(standards=c.inputs / "nowhere.yaml"),
        ["nowhere.yaml", "not found", "seed-manual"],
    )


@case("standards-latin-1")
def _(c):
    text = "name: mine\n# plan de santé\nrules:\n" + GOOD_RULE
    path = c.write("mine.yaml", text, encoding="latin-1")
    return Case(c.evaluate(standards=path), ["mine.yaml", "line 2", ENCODING_HINT])


@case("appointment-standards-unknown-key")
def _(c):
    text = "name: mine\nversion: '1'\nofice_wait_minutes: 30\n"
    return Case(
        c.evaluate(appointment_standards=c.write("waits.yaml", text)),
        ["waits.yaml", "ofice_wait_minutes", "office_wait_minutes"],
    )


@case("appointment-standards-invalid-yaml")
def _(c):
    text = "name: mine\nservices:\n  urgent: {days: 1\n  routine_symptomatic: {days: 7}\n"
    return Case(
        c.evaluate(appointment_standards=c.write("waits.yaml", text)), ["waits.yaml", "line 4"]
    )


# ---------------------------------------------------------------------------
# survey
# ---------------------------------------------------------------------------
@case("survey-negative-wait")
def _(c):
    frame = c.frame("survey")
    frame.loc[3, "office_wait_minutes"] = "-5"
    path = c.save(frame, "survey.csv")
    return Case(
        c.evaluate(survey=path), ["survey.csv", "line 5", "office_wait_minutes", NON_NEGATIVE]
    )


@case("survey-unknown-service")
def _(c):
    frame = c.frame("survey")
    frame.loc[2, "service"] = "dental"
    path = c.save(frame, "survey.csv")
    return Case(c.evaluate(survey=path), ["survey.csv", "line 4", "dental", "routine_symptomatic"])


@case("survey-missing-service-column")
def _(c):
    path = c.save(c.frame("survey").drop(columns=["service"]), "survey.csv")
    return Case(c.evaluate(survey=path), ["survey.csv", "missing column", "service"])


# ---------------------------------------------------------------------------
# road files (evaluate and graph)
# ---------------------------------------------------------------------------
def _corrupt_pbf(c: Ctx) -> Path:
    data = BOSTON_PBF.read_bytes()
    return c.write("corrupt.osm.pbf", data[:64] + bytes(range(256)) * 40 + data[-2000:])


@case("network-corrupt-pbf")
def _(c):
    return Case(
        c.evaluate(network=_corrupt_pbf(c), class_column=None),
        [
            "corrupt.osm.pbf",
            ("corrupt", "damaged", "could not be read", "not a valid", "cannot be read"),
        ],
    )


@case("network-not-a-road-network")
def _(c):
    path = c.inputs / "members.parquet"  # members' points (with the PHI) as the road file
    pd.read_csv(c.good.files["members"]).to_parquet(path)
    return Case(c.evaluate(network=path, class_column=None), ["members.parquet", "road"])


@case("graph-missing-file")
def _(c):
    return Case(["graph", c.inputs / "nowhere.osm.pbf"], ["nowhere.osm.pbf", "not found"])


@case("graph-folder")
def _(c):
    (c.inputs / "roads_dir").mkdir()
    return Case(["graph", c.inputs / "roads_dir"], ["roads_dir", "folder"])


@case("graph-empty-pbf")
def _(c):
    return Case(
        ["graph", c.write("empty.osm.pbf", b"")],
        ["empty.osm.pbf", ("empty", "no drivable", "could not be read")],
    )


@case("graph-corrupt-pbf")
def _(c):
    return Case(
        ["graph", _corrupt_pbf(c)],
        [
            "corrupt.osm.pbf",
            ("corrupt", "damaged", "could not be read", "not a valid", "cannot be read"),
        ],
    )


@case("graph-members-csv-as-roads")
def _(c):
    path = c.inputs / "members.csv"
    shutil.copy(c.good.files["members"], path)
    return Case(["graph", path], ["members.csv", "road"])


@case("graph-points-geoparquet")
def _(c):
    frame = pd.read_csv(c.good.files["providers"])
    points = gpd.GeoDataFrame(
        frame[["provider_id"]], geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
    path = c.inputs / "sites.parquet"
    points.to_parquet(path)
    return Case(
        ["graph", path, "--class-column", "provider_id"], ["sites.parquet", ("line", "road")]
    )


@case("graph-missing-class-column")
def _(c):
    return Case(
        ["graph", IDAHO_ROADS, "--class-column", "road_kind"],
        ["road_kind", "eastern_idaho_tiger2023"],
    )


@case("graph-unknown-profile")
def _(c):
    return Case(["graph", BOSTON_PBF, "--profile", "autobahn"], ["autobahn", "us-osm-calibrated"])


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
@case("demo-unknown-region")
def _(c):
    return Case(["demo", "--region", "atlantis", "--out", c.out], ["atlantis", "eastern-idaho"])


@case("demo-bad-period")
def _(c):
    return Case(
        ["demo", "--region", "eastern-idaho", "--period", "2026Q5", "--out", c.out],
        ["--period", "2026q5", "2026q3"],
    )


@case("demo-missing-standards")
def _(c):
    args = ["demo", "--region", "eastern-idaho", "--standards", c.inputs / "nowhere.yaml"]
    return Case([*args, "--out", c.out], ["nowhere.yaml", "not found"])


@case("demo-unknown-profile")
def _(c):
    return Case(
        ["demo", "--region", "eastern-idaho", "--profile", "autobahn", "--out", c.out],
        ["autobahn", "profile"],
    )


# ---------------------------------------------------------------------------
# what-if scenarios and their base run
# ---------------------------------------------------------------------------
def _whatif(c: Ctx, scenario: Path, base: Path | None = None, out: Path | None = None) -> list:
    return ["whatif", "--base", base or c.good.run, "--scenario", scenario, "--out", out or c.out]


ADD_ROW = "  - {provider_id: NEW-PCP-1, provider_type: pcp, lat: 43.49, lon: -112.03}\n"


@case("scenario-missing-file")
def _(c):
    return Case(_whatif(c, c.inputs / "plan_nowhere.yaml"), ["plan_nowhere.yaml", "not found"])


@case("scenario-invalid-yaml")
def _(c):
    text = (
        "name: broken\nterminate:\n  - provider_id: SYN-PCP-0005\n    reason: retirement: early\n"
    )
    return Case(_whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "line 4"])


@case("scenario-invalid-json")
def _(c):
    text = '{\n "name": "x",\n "join": ["SYN-OON-PCP-0001",],\n "add": []\n}\n'
    return Case(_whatif(c, c.write("scenario.json", text)), ["scenario.json", "line 3"])


@case("scenario-unknown-key")
def _(c):
    text = "name: x\nremove: [SYN-PCP-0005]\n"
    return Case(
        _whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "remove", "terminate"]
    )


@case("scenario-add-missing-lat")
def _(c):
    text = "name: x\nadd:\n  - {provider_id: NEW-PCP-1, provider_type: pcp, lon: -112.03}\n"
    return Case(_whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "add[0]", "lat"])


@case("scenario-add-unknown-type")
def _(c):
    text = "name: x\nadd:\n" + ADD_ROW + ADD_ROW.replace("PCP-1", "DEN-1").replace("pcp", "dentist")
    return Case(_whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "add[1]", "dentist"])


@case("scenario-two-errors")
def _(c):
    text = (
        "name: x\nterminate:\n  - {provider_id: SYN-PCP-0005, effective: next week}\n"
        "add:\n  - {provider_id: NEW-PCP-1, provider_type: pcp, lon: -112.03}\n"
    )
    return Case(
        _whatif(c, c.write("scenario.yaml", text)),
        ["scenario.yaml", "terminate[0]", "next week", "add[0]", "lat"],
    )


@case("scenario-terminate-unknown-id")
def _(c):
    text = "name: x\nterminate: [NOPE-123]\n"
    return Case(
        _whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "terminate[0]", "NOPE-123"]
    )


@case("scenario-join-unknown-id")
def _(c):
    text = "name: x\njoin: [NOPE-456]\n"
    return Case(
        _whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "join[0]", "NOPE-456"]
    )


@case("scenario-add-offshore")
def _(c):
    far = f"  - {{provider_id: NEW-OFF-1, provider_type: pcp, lat: 43.5, lon: {_off_lon(c):.4f}}}\n"
    text = f"name: x\nadd:\n{ADD_ROW}{far}"
    return Case(_whatif(c, c.write("scenario.yaml", text)), ["scenario.yaml", "NEW-OFF-1", OFF_MAP])


@case("scenario-latin-1")
def _(c):
    text = (
        "name: retirement\ndescription: one PCP leaves\nterminate:\n"
        "  - {provider_id: SYN-PCP-0005, reason: retraité}\n"
    )
    path = c.write("scenario.yaml", text, encoding="latin-1")
    return Case(_whatif(c, path), ["scenario.yaml", "line 4", ENCODING_HINT])


@case("scenario-bad-input-keeps-previous-out")
def _(c):
    out = c.tmp / "previous-out"  # an earlier what-if output, which a new what-if may replace
    out.mkdir()
    (out / "delta.csv").write_text("rule,language\npcp,\n")
    (out / "manifest.json").write_text(
        '{"adequacy_version": "0.1.0", "base_run": "run", "scenario": {"name": "old"}}\n'
    )
    text = "name: x\nterminate: [NOPE-123]\n"
    return Case(
        _whatif(c, c.write("scenario.yaml", text), out=out), ["scenario.yaml", "NOPE-123"], out
    )


@case("whatif-missing-base")
def _(c):
    path = c.write("scenario.yaml", "name: x\nadd:\n" + ADD_ROW)
    return Case(_whatif(c, path, base=c.tmp / "run_nowhere"), ["run_nowhere", "not found"])


@case("whatif-base-not-a-run")
def _(c):
    base = c.tmp / "just_a_folder"
    base.mkdir()
    (base / "notes.txt").write_text("hello\n")
    path = c.write("scenario.yaml", "name: x\nadd:\n" + ADD_ROW)
    return Case(_whatif(c, path, base=base), ["just_a_folder", "manifest.json"])


@case("whatif-base-input-changed")
def _(c):
    base = c.copy_run("base-run")
    frame = c.frame("members")
    frame.loc[0, "age"] = "99"
    members = c.save(frame, "members_v2.csv")
    manifest = json.loads((base / "manifest.json").read_text())
    manifest["inputs"]["members"]["path"] = str(members)
    (base / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    path = c.write("scenario.yaml", "name: x\nadd:\n" + ADD_ROW)
    return Case(_whatif(c, path, base=base), ["members_v2.csv", "changed", "evaluate again"])


@case("whatif-base-damaged-manifest")
def _(c):
    base = c.copy_run("base-run")
    (base / "manifest.json").write_text('{"inputs": {"members": ')
    path = c.write("scenario.yaml", "name: x\nadd:\n" + ADD_ROW)
    return Case(_whatif(c, path, base=base), ["manifest.json", "damaged"])


# ---------------------------------------------------------------------------
# recruit
# ---------------------------------------------------------------------------
def _recruit(c: Ctx, *extra) -> list:
    return ["recruit", "--base", c.good.run, "--out", c.out, *extra]


@case("recruit-top-zero")
def _(c):
    return Case(_recruit(c, "--rule", "primary_care", "--top", "0"), ["--top", "at least 1"])


@case("recruit-top-negative")
def _(c):
    return Case(_recruit(c, "--rule", "primary_care", "--top", "-3"), ["--top", "-3", "at least 1"])


@case("recruit-unknown-rule")
def _(c):
    return Case(_recruit(c, "--rule", "dental_care"), ["dental_care", "primary_care"])


@case("recruit-unknown-language")
def _(c):
    return Case(
        _recruit(c, "--rule", "primary_care", "--language", "Klingon"),
        ["--language", "klingon", ("use one of", "languages are", "prevalent", "leave out")],
    )


@case("recruit-candidates-missing-lat")
def _(c):
    path = c.save(c.frame("providers").drop(columns=["lat"]), "candidates.csv")
    return Case(
        _recruit(c, "--rule", "primary_care", "--candidates", path),
        ["candidates.csv", "missing column", "lat"],
    )


@case("recruit-missing-base")
def _(c):
    return Case(
        ["recruit", "--base", c.tmp / "run_nowhere", "--rule", "primary_care", "--out", c.out],
        ["run_nowhere", "not found"],
    )


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _report(c: Ctx, run: Path | None = None, *extra, out: Path | None = None) -> list:
    return ["report", "--run", run or c.good.run, "--out", out or c.out, *extra]


@case("report-missing-run")
def _(c):
    return Case(_report(c, c.tmp / "run_nowhere"), ["run_nowhere", "not found"])


@case("report-run-is-a-file")
def _(c):
    path = c.write("run.zip", b"PK\x03\x04")
    return Case(_report(c, path), ["run.zip", ("not found", "folder", "run folder")])


@case("report-damaged-csv")
def _(c):
    run = c.copy_run("damaged-run")
    with open(run / "county_summary.csv", "a") as fh:
        fh.write('garbage,"unclosed\n')
    return Case(_report(c, run), ["county_summary.csv", ("damaged", "changed")])


@case("report-missing-manifest")
def _(c):
    run = c.copy_run("no-manifest-run")
    (run / "manifest.json").unlink()
    return Case(_report(c, run), ["manifest.json", "missing"])


@case("report-missing-members-parquet")
def _(c):
    run = c.copy_run("partial-run")
    (run / "members.parquet").unlink()
    return Case(_report(c, run), ["members.parquet", "missing"])


@case("report-bad-period")
def _(c):
    return Case(_report(c, None, "--period", "Q3-2026"), ["--period", "q3-2026", "2026q3"])


@case("report-missing-previous")
def _(c):
    return Case(
        _report(c, None, "--previous", c.tmp / "last_quarter"), ["last_quarter", "not found"]
    )


# ---------------------------------------------------------------------------
# --out: a file, a path inside a file, an unwritable folder, a folder of other files
# ---------------------------------------------------------------------------
def _command(c: Ctx, command: str, out: Path) -> list:
    if command == "evaluate":
        return c.evaluate(out=out)
    if command == "demo":
        return ["demo", "--region", "eastern-idaho", "--out", out]
    if command == "whatif":
        return _whatif(c, c.write("scenario.yaml", "name: x\nadd:\n" + ADD_ROW), out=out)
    if command == "recruit":
        return ["recruit", "--base", c.good.run, "--rule", "primary_care", "--out", out]
    return _report(c, None, "--period", "2026Q4", out=out)


def _out_case(command: str, kind: str):
    def build(c: Ctx) -> Case:
        if kind == "existing-file":
            out = c.tmp / "results.txt"
            out.write_text("my notes\n")
            return Case(_command(c, command, out), ["--out", "results.txt"], out)
        if kind == "inside-a-file":
            (c.tmp / "results.txt").write_text("my notes\n")
            out = c.tmp / "results.txt" / "run"
            return Case(_command(c, command, out), ["--out", "results.txt"], out)
        if kind == "unwritable-proc":
            out = Path("/proc/self/adequacy-out")
            return Case(_command(c, command, out), ["--out", "/proc/self/adequacy-out"], out)
        assert kind == "other-files"
        out = c.tmp / "my-folder"
        out.mkdir()
        (out / "notes.txt").write_text("my notes\n")
        (out / "budget.csv").write_text("line,amount\nrent,100\n")
        return Case(_command(c, command, out), ["--out", "my-folder", "--force"], out)

    return build


for _command_name in ("evaluate", "demo", "whatif", "recruit", "report"):
    for _kind in ("existing-file", "inside-a-file", "other-files"):
        case(f"{_command_name}-out-{_kind}")(_out_case(_command_name, _kind))
for _command_name in ("evaluate", "report"):
    for _kind in ("unwritable-proc",):  # as root (CI) chmod stops nothing: /proc does
        case(f"{_command_name}-out-{_kind}")(_out_case(_command_name, _kind))


@case("evaluate-bad-input-keeps-previous-out")
def _(c):
    out = c.copy_run("previous-out")
    frame = c.frame("members")
    frame.loc[1, "lat"] = "forty-three"
    path = c.save(frame, "members.csv")
    return Case(c.evaluate(out=out, members=path), ["members.csv", "line 3", "lat"], out)


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def tree(folder: Path) -> dict[str, str]:
    """Every file (its SHA-256) and folder under ``folder``."""
    found = {}
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for d in dirs:
            found[str(rel / d) + "/"] = "dir"
        for f in files:
            path = Path(root) / f
            found[str(rel / f)] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "special"
            )
    return found


def cache_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def assert_no_phi_in_files(paths) -> None:
    for path in paths:
        data = Path(path).read_bytes()
        for word in FORBIDDEN:
            for encoding in ("utf-8", "utf-16-le"):
                assert word.encode(encoding) not in data, f"member field {word!r} written to {path}"


def assert_no_member_data(proc, good: Good) -> None:
    text = proc.stdout + proc.stderr
    for word in FORBIDDEN:
        assert word not in text, f"member field {word!r} printed:\n{text[-3000:]}"
    printed = [v for v in good.member_coords if v and v in text]
    assert not printed, f"member coordinates printed ({printed[:3]}):\n{text[-3000:]}"


def flat(text: str) -> str:
    """Lower case, every run of white space one space (rich wraps long lines)."""
    return " ".join(text.split()).lower()


def assert_says(text: str, expect: list, tail: str) -> None:
    low = flat(text)
    for item in expect:
        words = (item,) if isinstance(item, str) else tuple(item)
        assert any(flat(w) in low for w in words), f"the message does not say {words}" + tail


def assert_one_message(proc, expect: list, once: tuple = ()) -> None:
    text = proc.stdout + proc.stderr
    tail = f"\n--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}"
    assert "Traceback" not in text, "a traceback was printed" + tail
    assert proc.returncode == 2, f"exit status {proc.returncode}, expected 2" + tail
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "no message on stderr" + tail
    assert lines[0].startswith("error: "), "stderr does not start with 'error: '" + tail
    stray = [line for line in lines[1:] if not line.startswith((" ", "\t"))]
    assert not stray, f"more than one message (lines {stray[:3]})" + tail
    assert_says(proc.stderr, expect, tail)
    for word in once:
        n = flat(proc.stderr).count(flat(word))
        assert n == 1, f"{word!r} is named {n} times: one line per problem" + tail


@pytest.fixture
def ctx(tmp_path, good, monkeypatch):
    """The case's folder; the command's temporary files go to its ``tmp`` folder, so one
    left behind is found like any other stale file."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    c = Ctx(tmp_path, good)
    yield c
    for undo in c.cleanup:
        undo()


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_input(name, ctx, graph_cache):
    spec = CASES[name](ctx)
    before = tree(ctx.tmp)
    cache_before = cache_state(graph_cache)
    proc = run_cli(*spec.args, env_cache=graph_cache)
    assert_one_message(proc, spec.expect, spec.once)
    # nothing written, nothing stale: inputs, a previous --out and the folders beside it
    after = tree(ctx.tmp)
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not added and not changed, f"files written or changed: {added[:10]} {changed[:10]}"
    if spec.out is not None and not spec.out.is_relative_to(ctx.tmp):
        assert not spec.out.exists(), f"{spec.out} was created"
    # no member field but the id, printed or written (the graph cache included)
    assert_no_member_data(proc, ctx.good)
    cache_after = cache_state(graph_cache)
    assert_no_phi_in_files(p for p, s in cache_after.items() if cache_before.get(p) != s)


@pytest.mark.parametrize("name", list(KEPT))
def test_a_few_points_off_the_map_are_listed_and_kept(name, ctx, graph_cache):
    """A few points far off the road network are listed by ID and line; the run goes on."""
    spec = KEPT[name](ctx)
    before = tree(ctx.tmp)
    proc = run_cli(*spec.args, env_cache=graph_cache)
    tail = f"\n--- stderr ---\n{proc.stderr[-3000:]}\n--- stdout ---\n{proc.stdout[-3000:]}"
    assert proc.returncode == 0, tail
    assert "Traceback" not in proc.stdout + proc.stderr
    assert_says(proc.stdout + proc.stderr, spec.expect, tail)
    after = {k: v for k, v in tree(ctx.tmp).items() if not k.startswith("out")}
    assert after == before, "files written beside --out"
    assert (ctx.out / "manifest.json").is_file()
    assert_no_member_data(proc, ctx.good)


def test_there_are_enough_cases():
    assert len(CASES) + len(KEPT) >= 60
    prefixes = {name.split("-")[0] for name in CASES}
    commands = {"evaluate", "demo", "whatif", "recruit", "report", "graph"}
    kinds = {"members", "providers", "claims", "regions", "census", "standards", "scenario"}
    assert commands | kinds | {"survey", "network"} <= prefixes


# ---------------------------------------------------------------------------
# what must work
# ---------------------------------------------------------------------------
def _bom_crlf(src: Path, dst: Path) -> Path:
    text = src.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
    dst.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return dst


def test_bom_and_crlf_inputs_work(tmp_path, good, graph_cache):
    folder = tmp_path / "in"
    folder.mkdir()
    files = dict(good.files)
    for kind in ("members", "providers", "claims", "survey", "census"):
        files[kind] = _bom_crlf(good.files[kind], folder / good.files[kind].name)
    assert files["members"].read_bytes().startswith(b"\xef\xbb\xbfmember_id,")
    out = tmp_path / "out"
    before = tree(tmp_path)
    proc = run_cli(*evaluate_args(files, out, languages=files["census"]), env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    results = pd.read_parquet(out / "members.parquet")
    expected = pd.read_csv(good.files["members"], dtype=str)["member_id"]
    assert set(results["member_id"]) == set(expected)
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("out")}
    assert after == before  # nothing written beside --out
    assert_no_member_data(proc, good)
    assert_no_phi_in_files(p for p in out.rglob("*") if p.is_file())


def test_out_holding_a_previous_run_is_replaced_whole(tmp_path, good, graph_cache):
    out = tmp_path / "run"
    shutil.copytree(good.run, out)
    (out / "old_extra.csv").write_text("county_fips,share\n16019,0.5\n")
    before = tree(tmp_path)
    proc = run_cli(*evaluate_args(good.files, out), env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "old_extra.csv").exists(), "a stale file was left in --out"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in good.run.iterdir())
    manifest = json.loads((out / "manifest.json").read_text())
    assert "old_extra.csv" not in json.dumps(manifest)
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("run")}
    assert after == {k: v for k, v in before.items() if not k.startswith("run")}
    assert_no_member_data(proc, good)


def test_report_out_holding_a_previous_report_is_replaced_whole(tmp_path, good, graph_cache):
    out = tmp_path / "report"
    args = ["report", "--run", good.run, "--period", "2026Q4", "--out", out]
    first = run_cli(*args, env_cache=graph_cache)
    assert first.returncode == 0, first.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    (out / "old_extra.csv").write_text("stale\n")
    proc = run_cli(*args, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "old_extra.csv").exists(), "a stale file was left in --out"
    assert sorted(p.name for p in out.iterdir()) == names
    assert not list(tmp_path.glob(".adequacy-*"))


def test_force_replaces_a_folder_of_other_files(tmp_path, good, graph_cache):
    out = tmp_path / "my-folder"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    proc = run_cli(*evaluate_args(good.files, out), "--force", env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "manifest.json").is_file()
    assert not list(tmp_path.glob(".adequacy-*"))


def test_the_good_run_holds_member_ids_only(good):
    assert_no_phi_in_files(p for p in good.run.rglob("*") if p.is_file())
