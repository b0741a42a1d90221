"""Property tests: whatever a user hands the readers, the answer is a table or an InputError.

Random bytes written to a file, random column sets and random values (as DataFrames and
as CSV files) given to the table readers, and random or mutated YAML given to the
standards, scenario and appointment-standards loaders end in success or in
:class:`adequacy.errors.InputError`, never in any other exception.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adequacy.engine import appointments as appointments_module
from adequacy.engine import standards as standards_module
from adequacy.engine.appointments import load_appointment_standards
from adequacy.engine.standards import load_standards
from adequacy.errors import InputError
from adequacy.inputs.scenario import read_scenario
from adequacy.inputs.schemas import (
    read_census_languages,
    read_claims,
    read_members,
    read_providers,
)
from adequacy.inputs.surveys import SURVEY_COLUMNS, read_survey

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(SETTINGS, max_examples=50)

# ---------------------------------------------------------------------------
# the readers and their columns
# ---------------------------------------------------------------------------
READERS = {
    "members": (
        read_members,
        [
            "member_id",
            "lat",
            "lon",
            "county_fips",
            "language",
            "age",
            "plan",
            "pcp_id",
            "in_treatment",
            "synthetic",
            "first_name",
        ],
    ),
    "providers": (
        read_providers,
        [
            "provider_id",
            "provider_type",
            "lat",
            "lon",
            "name",
            "specialty",
            "languages",
            "accepting_new_patients",
            "panel_size",
            "panel_open",
            "practice_id",
            "fte",
            "in_network",
            "synthetic",
        ],
    ),
    "claims": (read_claims, ["specialty", "claim_count", "claims"]),
    "census": (read_census_languages, ["county_fips", "language", "speakers_5plus"]),
    "survey": (read_survey, [*SURVEY_COLUMNS, "compliant"]),
}
REQUIRED = {
    "members": ["member_id", "lat", "lon"],
    "providers": ["provider_id", "provider_type", "lat", "lon"],
    "claims": ["specialty"],
    "census": ["county_fips", "language", "speakers_5plus"],
    "survey": ["provider_id", "service", "days_to_appointment"],
}
#: Values a user's file might hold in any column.
WORDS = [
    "",
    " ",
    "nan",
    "NA",
    "None",
    "null",
    "true",
    "False",
    "yes",
    "n",
    "0",
    "1",
    "-1",
    "42.5",
    "-112.3",
    "43.49",
    "1e400",
    "-0",
    "0x1F",
    "1,000",
    "inf",
    "-inf",
    "pcp",
    "Primary Care",
    "OB/GYN",
    "hospital",
    "dentist",
    "cardiology",
    "English;Spanish",
    "Español",
    "es",
    "English, Spanish",
    "123",
    "urgent",
    "after hours",
    "Routine - symptomatic",
    "clinical",
    "administrative",
    "16019",
    "ID",
    "1931-02-29",
    '"quoted, text"',
    "é",
    "\u200b",
    "中文",
]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
CELL = st.one_of(
    st.sampled_from(WORDS),
    TEXT,
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def frames(draw, kind: str) -> pd.DataFrame:
    """A DataFrame with a random column set (mostly the reader's own names, sometimes
    repeated) and random values, per column of one type or mixed."""
    known = READERS[kind][1]
    names = draw(
        st.lists(st.one_of(st.sampled_from(known), TEXT), max_size=8)
        | st.lists(st.sampled_from(known), max_size=8, unique=True).map(
            lambda cols: [*REQUIRED[kind], *cols]
        )
    )
    n = draw(st.integers(0, 6))
    columns = []
    for _ in names:
        kind_of = draw(st.sampled_from(["mixed", "float", "int", "bool", "text", "words"]))
        if kind_of == "float":
            values = draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n))
            columns.append(np.array(values, dtype=float))
        elif kind_of == "int":
            values = draw(st.lists(st.integers(-(10**9), 10**9), min_size=n, max_size=n))
            columns.append(np.array(values, dtype=np.int64))
        elif kind_of == "bool":
            columns.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))
        elif kind_of == "text":
            columns.append(np.array(draw(st.lists(TEXT, min_size=n, max_size=n)), dtype=object))
        elif kind_of == "words":
            values = draw(st.lists(st.sampled_from(WORDS), min_size=n, max_size=n))
            columns.append(np.array(values, dtype=object))
        else:
            values = draw(st.lists(CELL, min_size=n, max_size=n))
            columns.append(np.array(values, dtype=object))
    if not names:
        return pd.DataFrame(index=range(n))
    frame = pd.concat([pd.Series(c) for c in columns], axis=1, ignore_index=True)
    frame.columns = names
    return frame


def ends_well(reader, source) -> None:
    """The reader returns a DataFrame or raises InputError; anything else fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = reader(source)
        except InputError as exc:
            assert str(exc).strip(), "an InputError without a message"
            return
    assert isinstance(result, pd.DataFrame)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


_counter = itertools.count()


def _file(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------
# table readers
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(READERS))
@FEW
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from([".csv", ".tsv", ".txt", ".parquet", ".gpkg", ".xlsx", ""]),
)
def test_random_bytes_as_a_table_file(scratch, kind, data, suffix):
    ends_well(READERS[kind][0], _file(scratch, suffix, data))


@pytest.mark.parametrize("kind", list(READERS))
@FEW
@given(data=st.data())
def test_random_frames(kind, data):
    frame = data.draw(frames(kind))
    ends_well(READERS[kind][0], frame)


@pytest.mark.parametrize("kind", list(READERS))
@FEW
@given(data=st.data(), bom=st.booleans(), crlf=st.booleans())
def test_random_frames_as_csv_files(scratch, kind, data, bom, crlf):
    frame = data.draw(frames(kind))
    text = frame.to_csv(index=False, lineterminator="\r\n" if crlf else "\n")
    ends_well(
        READERS[kind][0], _file(scratch, ".csv", (b"\xef\xbb\xbf" if bom else b"") + text.encode())
    )


@pytest.mark.parametrize("kind", list(READERS))
@FEW
@given(
    header=st.lists(st.sampled_from(READERS["providers"][1] + READERS["survey"][1]), max_size=6),
    rows=st.lists(st.lists(st.sampled_from(WORDS) | TEXT, max_size=7), max_size=5),
    sep=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_random_csv_text(scratch, kind, header, rows, sep, encoding):
    names = [*REQUIRED[kind], *header]
    lines = [sep.join(names), *(sep.join(r) for r in rows)]
    text = "\n".join(lines) + "\n"
    data = text.encode(encoding, errors="replace")
    ends_well(READERS[kind][0], _file(scratch, ".csv", data))


# ---------------------------------------------------------------------------
# YAML loaders
# ---------------------------------------------------------------------------
def _keys(*groups) -> list[str]:
    return sorted({str(k) for g in groups for k in g})


STANDARDS_KEYS = _keys(
    standards_module.SET_KEYS,
    standards_module.RULE_KEYS,
    standards_module.RATIO_KEYS,
    standards_module.BINDING_KEYS,
    standards_module.LIMIT_KEYS,
    ["urban", "rural"],
)
APPOINTMENT_KEYS = _keys(
    appointments_module.SET_KEYS,
    appointments_module.CALLBACK_KEYS,
    appointments_module.CLINICAL_KEYS,
    appointments_module.ADMINISTRATIVE_KEYS,
    appointments_module.SERVICE_KEYS,
    ["emergency", "urgent", "routine_symptomatic", "routine_nonsymptomatic", "after_hours"],
)
SCENARIO_KEYS = _keys(
    ["name", "description", "as_of", "add", "join", "terminate"],
    ["provider_id", "effective", "reason", "provider_type", "lat", "lon", "languages"],
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(WORDS + ["or", "and", "each", "high_volume", "headcount", "fte", "2026-12-31"]),
    TEXT,
)


def values(keys: list[str]):
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.sampled_from(keys) | TEXT, children, max_size=5),
        ),
        max_leaves=25,
    )


def documents(keys: list[str]):
    return st.dictionaries(st.sampled_from(keys), values(keys), max_size=8)


def _builtin(folder: str, name: str = "seed-manual") -> dict:
    path = Path(standards_module.__file__).parent / folder / f"{name}.yaml"
    return yaml.safe_load(path.read_text())


GOOD_SCENARIO = {
    "name": "s",
    "as_of": date(2026, 12, 31),
    "join": ["SYN-OON-PCP-0001"],
    "terminate": [{"provider_id": "SYN-PCP-0005", "effective": date(2026, 12, 1)}],
    "add": [{"provider_id": "NEW-1", "provider_type": "pcp", "lat": 43.49, "lon": -112.03}],
}


@st.composite
def mutated(draw, document: dict, keys: list[str]):
    """A valid document with one to three places replaced by random values or removed."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        node = doc
        while True:
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node, key=str)))
                child = node[key]
                if isinstance(child, (dict, list)) and child and draw(st.booleans()):
                    node = child
                    continue
                action = draw(st.sampled_from(["replace", "delete", "rename"]))
                if action == "delete":
                    del node[key]
                elif action == "rename":
                    node[draw(st.sampled_from(keys) | TEXT)] = node.pop(key)
                else:
                    node[key] = draw(values(keys))
            elif isinstance(node, list) and node:
                i = draw(st.integers(0, len(node) - 1))
                if isinstance(node[i], (dict, list)) and node[i] and draw(st.booleans()):
                    node = node[i]
                    continue
                node[i] = draw(values(keys))
            break
    return doc


def _dump(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def loads_well(loader, source) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loader(source)
        except InputError as exc:
            assert str(exc).strip(), "an InputError without a message"


LOADERS = {
    "standards": (load_standards, STANDARDS_KEYS, lambda: _builtin("standards")),
    "appointments": (
        load_appointment_standards,
        APPOINTMENT_KEYS,
        lambda: _builtin("appointment_standards"),
    ),
    "scenario": (read_scenario, SCENARIO_KEYS, lambda: GOOD_SCENARIO),
}


def test_the_unmutated_documents_load(scratch):
    for loader, _, good in LOADERS.values():
        loader(_file(scratch, ".yaml", _dump(good())))


@pytest.mark.parametrize("what", list(LOADERS))
@FEW
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".yml", ".json"]))
def test_random_bytes_as_a_yaml_file(scratch, what, data, suffix):
    loads_well(LOADERS[what][0], _file(scratch, suffix, data))


@pytest.mark.parametrize("what", list(LOADERS))
@FEW
@given(data=st.data())
def test_random_yaml_documents(scratch, what, data):
    loader, keys, _ = LOADERS[what]
    doc = data.draw(documents(keys) | values(keys))
    loads_well(loader, _file(scratch, ".yaml", _dump(doc)))
    if isinstance(doc, dict):
        loads_well(loader, copy.deepcopy(doc))  # the same as a mapping


@pytest.mark.parametrize("what", list(LOADERS))
@SETTINGS
@given(data=st.data())
def test_mutated_yaml_documents(scratch, what, data):
    loader, keys, good = LOADERS[what]
    doc = data.draw(mutated(good(), keys))
    loads_well(loader, _file(scratch, ".yaml", _dump(doc)))
    loads_well(loader, copy.deepcopy(doc))


@pytest.mark.parametrize("what", list(LOADERS))
@FEW
@given(data=st.data(), encoding=st.sampled_from(["latin-1", "utf-16", "utf-8-sig"]))
def test_yaml_in_other_encodings(scratch, what, data, encoding):
    loader, keys, good = LOADERS[what]
    doc = data.draw(mutated(good(), keys))
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    loads_well(loader, _file(scratch, ".yaml", text.encode(encoding, errors="replace")))
