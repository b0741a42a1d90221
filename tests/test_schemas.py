"""Input validation: every problem in a file at once, each naming file, row and fix."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from adequacy import InputError
from adequacy.inputs.schemas import (
    parse_languages,
    read_census_languages,
    read_claims,
    read_members,
    read_providers,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(InputError) as e:
        func(*args, **kwargs)
    return str(e.value)


# ---------------------------------------------------------------------------
def test_members_read_and_normalised(tmp_path):
    path = write(
        tmp_path,
        "members.csv",
        "member_id,lat,lon,language,county_fips,pcp_id\n"
        "A1,42.35,-71.06,spanish,25025,P1\n"
        "A2,42.36,-71.05,,25025.0,\n"
        "00017,42.37,-71.04,ht,25017,\n",
    )
    m = read_members(path)
    assert m["member_id"].tolist() == ["A1", "A2", "00017"]  # ids stay text, zeros kept
    assert m["language"].tolist() == ["Spanish", "English", "Haitian Creole"]
    assert m["county_fips"].tolist() == ["25025", "25025", "25017"]
    assert m["pcp_id"].tolist() == ["P1", "", ""]


def test_member_problems_all_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "members.csv",
        "member_id,lat,lon,language\n"
        "A1,42.35,-71.06,English\n"
        "A1,42.36,-71.05,English\n"  # duplicate id
        "A3,abc,-71.05,English\n"  # not a number
        "A4,,-71.05,English\n"  # missing coordinate
        "A5,142.3,-71.05,English\n"  # out of range
        "A6,42.3,-71.0,Spanish;English\n"  # two primary languages
        "A7,42.3,-71.0,3\n",
    )  # not a language
    msg = error_of(read_members, path)
    assert msg.startswith(f"{path}: ")
    assert "duplicate member_id A1" in msg and "line 2" in msg and "line 3" in msg
    assert "lat is not a number at line 4" in msg
    assert "missing coordinates at line 5 (id A4)" in msg  # A3 is reported once, above
    assert "line 4 (id A3)" not in msg
    assert "coordinates out of range at line 6 (id A5)" in msg and "swapped" in msg
    assert "language cannot be read at line 7, line 8" in msg
    # protected health information stays out: no coordinates or languages of rows are echoed
    assert "142.3" not in msg and "abc" not in msg


def test_missing_columns_named_with_the_fix(tmp_path):
    path = write(tmp_path, "members.csv", "id,latitude,longitude\n1,42,-71\n")
    msg = error_of(read_members, path)
    assert "missing columns member_id, lat, lon" in msg and "latitude" in msg


def test_empty_file(tmp_path):
    path = write(tmp_path, "members.csv", "")
    assert "is empty" in error_of(read_members, path)
    path = write(tmp_path, "members2.csv", "member_id,lat,lon\n")
    assert "has a header but no rows; add one row per member" in error_of(read_members, path)


def test_encodings_bom_crlf_and_a_repeated_column(tmp_path):
    # Latin-1 with an accented name on line 3: named, with the encoding to use
    path = tmp_path / "members.csv"
    path.write_bytes(
        "member_id,lat,lon,name\nm1,42.3,-71.0,Ann\nm2,42.3,-71.0,Ren\xe9e\n".encode("latin-1")
    )
    message = error_of(read_members, path)
    assert "line 3 is not UTF-8" in message and "Latin-1" in message and "CSV UTF-8" in message
    # a BOM and CRLF line endings keep working
    path.write_bytes(b"\xef\xbb\xbfmember_id,lat,lon\r\nm1,42.3,-71.0\r\n")
    assert read_members(path)["member_id"].tolist() == ["m1"]
    # a second lat column is refused, not silently ignored
    path.write_text("member_id,lat,lon,lat\nm1,42.3,-71.0,0\n")
    assert "column lat appears more than once in the header (columns 2, 4)" in error_of(
        read_members, path
    )


def test_negative_claim_counts(tmp_path):
    path = write(tmp_path, "claims.csv", "specialty,claim_count\ncardiology,10\ndermatology,-4\n")
    assert "claim_count is negative at line 3; give counts of 0 or more" in error_of(
        read_claims, path
    )


def test_missing_file_and_unknown_type(tmp_path):
    assert "not found" in error_of(read_members, tmp_path / "nope.csv")
    path = write(tmp_path, "members.xls", "x")
    assert "unknown members file type '.xls'" in error_of(read_members, path)


def test_parquet_and_geopackage_members(tmp_path):
    frame = pd.DataFrame({"member_id": [1, 2], "lat": [42.3, 42.4], "lon": [-71.0, -71.1]})
    frame.to_parquet(tmp_path / "m.parquet")
    assert read_members(tmp_path / "m.parquet")["member_id"].tolist() == ["1", "2"]
    gdf = gpd.GeoDataFrame(
        {"member_id": ["x", "y"]}, geometry=[Point(-71.0, 42.3), Point(-71.1, 42.4)], crs=4326
    )
    gdf.to_file(tmp_path / "m.gpkg", driver="GPKG")
    m = read_members(tmp_path / "m.gpkg")
    assert np.allclose(m["lon"], [-71.0, -71.1]) and np.allclose(m["lat"], [42.3, 42.4])
    gdf.to_crs(3857).to_parquet(tmp_path / "m_geo.parquet")  # projected GeoParquet
    m = read_members(tmp_path / "m_geo.parquet")
    assert np.allclose(m["lat"], [42.3, 42.4])


# ---------------------------------------------------------------------------
def test_providers_read_with_defaults(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon,languages,panel_open\n"
        "1234567890,Primary Care,42.35,-71.06,English; Spanish,no\n"
        "1234567890,PCP,42.40,-71.10,,yes\n"
        "H1,hospital,42.36,-71.07,,\n",
    )
    p = read_providers(path)
    assert p["provider_type"].tolist() == ["pcp", "pcp", "acute_care"]
    assert p["languages"].tolist() == ["English;Spanish", "English", "English"]
    assert p["panel_open"].tolist() == [False, True, True]
    assert p["fte"].tolist() == [1.0, 1.0, 1.0] and p["in_network"].all()
    assert p["practice_id"].tolist() == ["1234567890", "1234567890", "H1"]


def test_provider_problems(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon,languages,panel_open,fte\n"
        "P1,dentist,42.35,-71.06,English,yes,1\n"
        "P2,pcp,42.35,-71.06,English #2,maybe,1\n"
        "P3,pcp,42.35,-71.06,English,yes,half\n"
        ",pcp,42.35,-71.06,English,yes,1\n",
    )
    msg = error_of(read_providers, path)
    assert "unknown provider_type 'dentist' at line 2" in msg and "use one of: pcp" in msg
    assert "languages cannot be read at line 3" in msg
    assert "panel_open is not true/false at line 3" in msg
    assert "fte is not a number at line 4" in msg
    assert "provider_id is empty at line 5" in msg


def test_provider_types_from_a_standards_set(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon\nB1,Behavioral Health,42.3,-71.0\n",
    )
    assert "unknown provider_type" in error_of(read_providers, path)
    p = read_providers(path, extra_types=["behavioral_health"])
    assert p["provider_type"].tolist() == ["behavioral_health"]


def test_same_provider_twice_at_one_place(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon\nP1,pcp,42.3,-71.0\nP1,pcp,42.3,-71.0\n",
    )
    assert "listed twice at the same place at line 2, line 3" in error_of(read_providers, path)


# ---------------------------------------------------------------------------
def test_claims_by_specialty_or_per_claim(tmp_path):
    a = read_claims(
        write(
            tmp_path, "a.csv", "specialty,claim_count\nCardiology,10\nUrology,30\ncardiology,25\n"
        )
    )
    assert a["specialty"].tolist() == ["cardiology", "urology"]
    assert a["claim_count"].tolist() == [35, 30]
    b = read_claims(write(tmp_path, "b.csv", "specialty\nurology\nurology\nneurology\n"))
    assert b.iloc[0].tolist() == ["urology", 2]
    assert "claim_count is not a number at line 2" in error_of(
        read_claims, write(tmp_path, "c.csv", "specialty,claim_count\nx,lots\n")
    )


def test_census_languages(tmp_path):
    t = read_census_languages(
        write(
            tmp_path,
            "c.csv",
            "county_fips,language,speakers_5plus\n25025,Spanish,90000\n25025,spa,5\n",
        )
    )
    assert t["language"].tolist() == ["Spanish", "Spanish"]
    msg = error_of(
        read_census_languages,
        write(tmp_path, "d.csv", "county_fips,language,speakers_5plus\n2502X,Spanish,many\n"),
    )
    assert "speakers_5plus is not a number at line 2" in msg
    assert "county_fips is not a 5-digit code at line 2" in msg


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("English;Spanish", ("English", "Spanish")),
        ("english, spanish | Portuguese", ("English", "Spanish", "Portuguese")),
        ("zh/vi", ("Chinese", "Vietnamese")),
        ("Haitian Creole", ("Haitian Creole",)),
        ("", ()),
        ("Eng1ish", None),
        ("???", None),
    ],
)
def test_parse_languages(text, parsed):
    assert parse_languages(text) == parsed
