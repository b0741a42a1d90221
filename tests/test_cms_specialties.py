"""CMS columns of a roster and CMS specialty codes of its rows (42 CFR 422.116, issue 13):
the optional roster columns and their problems, and ``cms_codes``' three sources (the
roster's code, a taxonomy crosswalk, the shipped name table), all offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adequacy.demo import SPECIALTIES
from adequacy.errors import InputError
from adequacy.inputs.cms_specialties import (
    CMS_EXCLUSIONS,
    CMS_SPECIALTIES,
    FACILITY_CODES,
    NAMES_FILE,
    PRIMARY_CARE_CODES,
    PROVIDER_CODES,
    cms_codes,
    evaluated_code,
    normalise_cms_code,
    read_taxonomy_crosswalk,
    specialty_name_table,
)
from adequacy.inputs.schemas import read_providers

ROOT = Path(__file__).resolve().parents[1]
WORKBOOK = ROOT / "data" / "cms" / "ma_hsd_reference_file_cy2026.xlsx"
CMS_COLUMNS = ["npi", "cms_specialty_code", "taxonomy", "beds", "telehealth", "cms_exclusion",
               "address", "city", "state", "zip"]  # fmt: skip


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(func, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as e:
        func(*args, **kwargs)
    return e.value


def roster(rows: list[tuple], **columns) -> pd.DataFrame:
    """A read roster of (provider_type, specialty) rows plus any CMS columns."""
    frame = pd.DataFrame(
        {
            "provider_id": [f"P{i}" for i in range(len(rows))],
            "provider_type": [t for t, _ in rows],
            "specialty": [s for _, s in rows],
            "lat": 42.3 + 0.01 * np.arange(len(rows)),
            "lon": -71.0,
            **columns,
        }
    )
    return read_providers(frame, extra_types=["behavioral_health"])


# ---------------------------------------------------------------------------
# roster columns
# ---------------------------------------------------------------------------
def test_cms_columns_always_present_with_defaults(tmp_path):
    path = write(tmp_path, "providers.csv", "provider_id,provider_type,lat,lon\nP1,pcp,42.3,-71\n")
    p = read_providers(path)
    assert list(p.columns[-len(CMS_COLUMNS) :]) == CMS_COLUMNS
    row = p.iloc[0]
    assert [row[c] for c in ("npi", "cms_specialty_code", "taxonomy", "cms_exclusion")] == [""] * 4
    assert [row[c] for c in ("address", "city", "state", "zip")] == [""] * 4
    assert row["beds"] == 0 and p["beds"].dtype == np.int64
    assert not row["telehealth"] and p["telehealth"].dtype == bool


def test_cms_columns_read_and_normalised(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon,npi,cms_specialty_code,taxonomy,beds,telehealth,"
        "cms_exclusion,address,city,state,zip\n"
        "P1,pcp,42.30,-71.0,1234567893,8,207q00000x ,,yes,,1 Main St,Boston,MA,2115\n"
        "P2,specialist,42.31,-71.0,,8.0,,,no,Children's Hospital,,,,02115\n"
        "P3,hospital,42.32,-71.0,,040,,250,,long-term care hospital,,,,2115-1234\n"
        "P4,pcp,42.33,-71.0,,s03,,0,1,RESIDENTIAL FACILITY ONLY,,,,21151234\n"
        "P5,pcp,42.34,-71.0,,,,,,residential_facility_only,,,,99501\n"
        "P6,hospital,42.35,-71.0,,040,,90,,Specialized Hospital,,,,99501\n",
    )
    p = read_providers(path)
    assert p["npi"].tolist() == ["1234567893", "", "", "", "", ""]
    assert p["cms_specialty_code"].tolist() == ["008", "008", "040", "S03", "", "040"]
    assert p["taxonomy"].tolist() == ["207Q00000X", "", "", "", "", ""]
    assert p["beds"].tolist() == [0, 0, 250, 0, 0, 90]
    assert p["telehealth"].tolist() == [True, False, False, True, False, False]
    assert p["cms_exclusion"].tolist() == [
        "", "childrens_hospital", "long_term_care_hospital", "residential_facility_only",
        "residential_facility_only", "specialized_hospital",
    ]  # fmt: skip
    assert p["address"].tolist()[0] == "1 Main St" and p["city"].tolist()[0] == "Boston"
    assert p["state"].tolist()[0] == "MA"
    # leading zeros kept, and put back where a spreadsheet dropped them
    assert p["zip"].tolist() == ["02115", "02115", "02115-1234", "021151234", "99501", "99501"]


def test_numbers_from_a_frame_or_parquet_stay_codes(tmp_path):
    frame = pd.DataFrame(
        {
            "provider_id": ["P1", "P2", "P3"],
            "provider_type": ["pcp", "specialist", "hospital"],
            "lat": [42.3, 42.31, 42.32],
            "lon": [-71.0, -71.0, -71.0],
            "npi": [1234567893, 1003000126, 1114000004],
            "cms_specialty_code": [2, 25, 40],
            "zip": [2115.0, np.nan, 1742.0],
            "beds": [0, 0, 120],
            "telehealth": [True, False, False],
        }
    )
    frame.to_parquet(tmp_path / "providers.parquet")
    for source in (frame, tmp_path / "providers.parquet"):
        p = read_providers(source)
        assert p["npi"].tolist() == ["1234567893", "1003000126", "1114000004"]
        assert p["cms_specialty_code"].tolist() == ["002", "025", "040"]
        assert p["zip"].tolist() == ["02115", "", "01742"]
        assert p["beds"].tolist() == [0, 0, 120]
        assert p["telehealth"].tolist() == [True, False, False]


def test_cms_column_problems_all_at_once_naming_rows(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon,npi,cms_specialty_code,beds,telehealth,cms_exclusion\n"
        "P1,pcp,42.30,-71.0,12345,009,-1,maybe,hospice\n"
        "P2,pcp,42.31,-71.0,123456789A,S3,1.5,,\n"
        "P3,pcp,42.32,-71.0,,X1,many,,children's\n"
        "P4,pcp,42.33,-71.0,1234567893,003,4,yes,\n",
    )
    error = error_of(read_providers, path)
    msg = str(error)
    assert msg.startswith(f"{path}: 6 problems in the providers file")
    assert len(error.problems) == 6  # one line per problem
    lines = dict(
        zip(("npi", "code", "beds_nan", "beds", "tele", "excl"), error.problems, strict=True)
    )
    assert lines["npi"].startswith("npi must be 10 digits at line 2, line 3;")
    assert lines["code"].startswith("cms_specialty_code '009', 'X1' at line 2, line 4 is not")
    assert "HSD Reference File" in lines["code"] and "CMS_SPECIALTIES" in lines["code"]
    assert lines["beds_nan"].startswith("beds is not a number at line 4;")
    assert lines["beds"].startswith("beds must be a whole number of 0 or more at line 2, line 3;")
    assert lines["tele"].startswith("telehealth is not true/false at line 2;")
    assert lines["excl"].startswith("cms_exclusion 'hospice', \"children's\" at line 2, line 4")
    assert all(kind in lines["excl"] for kind in CMS_EXCLUSIONS)
    assert "422.116(a)(3)(i)" in lines["excl"]


def test_existing_problems_and_cms_problems_together(tmp_path):
    path = write(
        tmp_path,
        "providers.csv",
        "provider_id,provider_type,lat,lon,npi\nP1,dentist,42.3,-71.0,1\n",
    )
    error = error_of(read_providers, path)
    assert len(error.problems) == 2
    assert "unknown provider_type 'dentist' at line 2" in error.problems[0]
    assert error.problems[1].startswith("npi must be 10 digits at line 2")


@pytest.mark.parametrize(
    "value, code",
    [(8, "008"), ("8", "008"), ("8.0", "008"), (8.0, "008"), ("008", "008"), (np.int64(40), "040"),
     ("s03", "S03"), ("S03", "S03"), (" 068 ", "068"), ("", ""), (None, ""), (np.nan, ""),
     ("abc", "ABC"), (1000, "1000")],
)  # fmt: skip
def test_normalise_cms_code(value, code):
    assert normalise_cms_code(value) == code


def test_code_list_and_evaluated_code():
    assert PRIMARY_CARE_CODES == ("001", "002", "003", "004", "005", "006")
    assert [evaluated_code(c) for c in PRIMARY_CARE_CODES] == ["S03"] * 6
    assert evaluated_code("008") == "008" and evaluated_code("040") == "040"
    assert evaluated_code("S03") == "S03" and evaluated_code("") == ""
    assert "S03" in PROVIDER_CODES and "037" in PROVIDER_CODES and "040" not in PROVIDER_CODES
    assert FACILITY_CODES == ("040", "041", "042", "043", "045", "046", "047", "048", "049",
                              "050", "051", "052", "057", "068")  # fmt: skip
    assert len(CMS_SPECIALTIES) == len(PROVIDER_CODES) + len(FACILITY_CODES) == 49


@pytest.mark.slow
def test_code_list_matches_the_hsd_reference_file():
    from adequacy.inputs.hsd_reference import read_hsd_reference

    s = read_hsd_reference(WORKBOOK).specialties.drop_duplicates("code")
    assert dict(zip(s["code"], s["name"], strict=True)) == CMS_SPECIALTIES
    assert set(s.loc[s["kind"] == "facility", "code"]) == set(FACILITY_CODES)


# ---------------------------------------------------------------------------
# cms_codes
# ---------------------------------------------------------------------------
def test_priority_roster_code_then_crosswalk_then_names():
    p = roster(
        [("specialist", "cardiology")] * 4,
        cms_specialty_code=["035", "", "", ""],
        taxonomy=["207RC0000X", "207rc0000x", "2086S0129X", ""],
    )
    crosswalk = pd.DataFrame(
        {"taxonomy": ["207RC0000X", "208600000X"], "cms_specialty_code": ["041", "15"]}
    )
    codes, notes = cms_codes(p, crosswalk=crosswalk)
    # own code beats the crosswalk; the crosswalk beats the name; an unlisted taxonomy and
    # no taxonomy fall back to the name
    assert codes.tolist() == ["035", "041", "008", "008"]
    assert codes.index.equals(p.index) and codes.name == "cms_specialty_code"
    assert notes == [
        "1 row has a taxonomy the crosswalk does not list ('2086S0129X' (1)); "
        "coded by provider_type and specialty instead"
    ]
    codes, notes = cms_codes(p)  # no crosswalk: the taxonomy is not used
    assert codes.tolist() == ["035", "008", "008", "008"] and notes == []


def test_index_kept():
    p = roster([("specialist", "urology"), ("pcp", "")]).set_index(pd.Index([10, 20]))
    codes, _ = cms_codes(p)
    assert codes.to_dict() == {10: "033", 20: "002"}


def test_crosswalk_file_read_with_bad_rows_named(tmp_path):
    good = write(
        tmp_path,
        "crosswalk.csv",
        "taxonomy,cms_specialty_code\n207RC0000X,8\n207rc0000x,008\n2084N0400X,19\n",
    )
    table = read_taxonomy_crosswalk(good)
    assert table.to_dict("list") == {
        "taxonomy": ["207RC0000X", "2084N0400X"],
        "cms_specialty_code": ["008", "019"],
    }
    p = roster([("specialist", "dentistry")], taxonomy=["2084N0400X"])
    assert cms_codes(p, crosswalk=good)[0].tolist() == ["019"]

    bad = write(
        tmp_path,
        "bad_crosswalk.csv",
        "taxonomy,cms_specialty_code\n207RC0000X,008\n,011\n207X00000X,099\n"
        "207RC0000X,035\n2084N0400X,\n",
    )
    error = error_of(cms_codes, p, crosswalk=bad)
    assert str(error).startswith(f"{bad}: 4 problems in the taxonomy crosswalk file")
    assert error.problems[0].startswith("cms_specialty_code '099' at line 4 is not a CMS")
    assert error.problems[1].startswith("taxonomy is empty at line 3;")
    assert error.problems[2].startswith("cms_specialty_code is empty at line 6;")
    assert error.problems[3].startswith(
        "taxonomy 207RC0000X is given different codes at line 2, line 5;"
    )
    missing = write(tmp_path, "cols.csv", "code,cms\n1,2\n")
    assert "missing columns taxonomy, cms_specialty_code" in str(
        error_of(cms_codes, p, crosswalk=missing)
    )
    assert "not found" in str(error_of(read_taxonomy_crosswalk, tmp_path / "none.csv"))


def test_crosswalk_workbook_names_sheet_rows(tmp_path):
    path = tmp_path / "crosswalk.xlsx"
    pd.DataFrame(
        {"taxonomy": ["207RC0000X", "207X00000X"], "cms_specialty_code": ["008", "24"]}
    ).to_excel(path, index=False)
    message = str(error_of(read_taxonomy_crosswalk, path))
    assert message.startswith(f"{path}: cms_specialty_code '024' at row 3 is not a CMS")
    pd.DataFrame({"taxonomy": ["207X00000X"], "cms_specialty_code": [25]}).to_excel(
        path, index=False
    )
    assert read_taxonomy_crosswalk(path)["cms_specialty_code"].tolist() == ["025"]
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    assert "could not be read as a taxonomy crosswalk" in str(
        error_of(read_taxonomy_crosswalk, tmp_path / "broken.xlsx")
    )


def test_unknown_specialties_are_noted_with_counts_never_dropped():
    rows = (
        [("specialist", "dentistry")] * 3
        + [("specialist", "audiology")] * 2
        + [("specialist", "")]
        + [("urgent_care", "")] * 4
        + [("rehabilitation", "")]
        + [("pcp", "pediatrics")]
        + [("behavioral_health", "")]
        + [("specialist", "cardiology")]
    )
    codes, notes = cms_codes(roster(rows))
    assert codes.tolist() == [""] * 12 + ["068", "008"]
    assert len(notes) == 4
    assert notes[0].startswith(
        "specialist: 6 rows have no CMS specialty code (specialty 'dentistry' (3), "
        "'audiology' (2), none (1)): a specialist row needs a specialty CMS lists; "
        "give them cms_specialty_code"
    )
    assert notes[1] == (
        "urgent_care: 4 rows have no CMS specialty code: CMS has no urgent care specialty, "
        "so these rows count toward no CMS standard"
    )
    assert notes[2].startswith("rehabilitation: 1 row has no CMS specialty code: CMS has no")
    assert notes[3].startswith("pcp: 1 row has no CMS specialty code (specialty 'pediatrics'")


def test_examples_limited_to_five():
    rows = [("specialist", f"kind {i}") for i in range(7)]
    _, notes = cms_codes(roster(rows))
    assert notes[0].count("(1)") == 5 and "and 2 more" in notes[0]


def test_every_demo_specialty_and_type_maps():
    rows = [("specialist", s) for s in SPECIALTIES] + [
        ("pcp", ""),
        ("obgyn", ""),
        ("urgent_care", ""),
    ]
    codes, notes = cms_codes(roster(rows))
    assert (codes.iloc[: len(SPECIALTIES)] != "").all(), dict(zip(SPECIALTIES, codes, strict=False))
    assert codes.iloc[len(SPECIALTIES) :].tolist() == ["002", "016", ""]
    assert len(notes) == 1 and notes[0].startswith("urgent_care: 1 row has")
    assert dict(zip(SPECIALTIES, codes, strict=False)) == {
        "cardiology": "008", "orthopedics": "025", "dermatology": "011",
        "gastroenterology": "014", "ophthalmology": "023", "neurology": "019",
        "endocrinology": "012", "pulmonology": "030", "urology": "033", "oncology": "021",
        "nephrology": "018", "psychiatry": "029",
    }  # fmt: skip


@pytest.mark.parametrize(
    "ptype, specialty, code",
    [
        ("pcp", "", "002"), ("pcp", "General Practice", "001"), ("pcp", "family medicine", "002"),
        ("pcp", "Internal Medicine", "003"), ("pcp", "geriatrics", "004"),
        ("pcp", "physician assistant", "005"), ("pcp", "Nurse Practitioner", "006"),
        ("pcp", "primary care", "002"), ("specialist", "nurse practitioner", ""),
        ("specialist", "internal medicine", "003"), ("obgyn", "", "016"),
        ("specialist", "OB/GYN", "016"), ("hospital", "", "040"),
        ("hospital", "cardiac surgery", "041"), ("specialist", "cardiac surgery", "035"),
        ("specialist", "ENT", "013"), ("specialist", "Otolaryngology", "013"),
        ("specialist", "orthopedic surgery", "025"), ("specialist", "infectious disease", "017"),
        ("specialist", "Infectious Diseases", "017"), ("specialist", "allergy", "007"),
        ("specialist", "general surgery", "015"), ("specialist", "plastic surgery", "027"),
        ("specialist", "vascular surgery", "034"), ("specialist", "neurosurgery", "020"),
        ("specialist", "chiropractic", "010"), ("specialist", "physiatry", "026"),
        ("specialist", "PM&R", "026"), ("specialist", "clinical psychology", "036"),
        ("specialist", "psychologist", "036"), ("specialist", "social work", "037"),
        ("specialist", "LCSW", "037"), ("specialist", "radiation oncology", "022"),
        ("specialist", "cardiothoracic surgery", "035"), ("specialist", "podiatry", "028"),
        ("specialist", "rheumatology", "031"), ("specialist", "nephrology", "018"),
        ("hospital", "skilled nursing facility", "046"), ("hospital", "mammography", "048"),
        ("rehabilitation", "physical therapy", "049"),
        ("rehabilitation", "occupational therapy", "050"),
        ("rehabilitation", "speech therapy", "051"), ("hospital", "diagnostic radiology", "047"),
        ("hospital", "imaging", "047"), ("hospital", "outpatient infusion/chemotherapy", "057"),
        ("hospital", "chemotherapy", "057"), ("hospital", "inpatient psychiatric", "052"),
        ("specialist", "outpatient behavioral health", "068"),
        ("hospital", "ambulatory surgery center", "045"), ("hospital", "ASC", "045"),
        ("hospital", "cardiac catheterization", "042"), ("hospital", "ICU", "043"),
        ("hospital", "critical care", "043"),
        ("specialist", "Surgical Services (Outpatient or ASC)", "045"),
        ("urgent_care", "", ""),
    ],
)  # fmt: skip
def test_name_table(ptype, specialty, code):
    assert cms_codes(roster([(ptype, specialty)]))[0].tolist() == [code]


def test_name_table_is_shipped_and_valid():
    assert NAMES_FILE.exists() and NAMES_FILE.parent.name == "inputs"
    assert '"adequacy.inputs" = ["*.yaml"]' in (ROOT / "pyproject.toml").read_text()
    table = specialty_name_table()
    codes = set(table["cms_specialty_code"]) - {""}
    assert codes <= set(CMS_SPECIALTIES) - {"S03"}  # individual codes only
    assert (table.loc[table["cms_specialty_code"] != "", "cms_name"] != "").all()
    # 005/006 (non-physician primary care sources) only on pcp rows
    pa_np = table[table["cms_specialty_code"].isin(["005", "006"])]
    assert set(pa_np["provider_type"]) == {"pcp"}
    assert table.loc[table["specialty"] == "", ["provider_type", "cms_specialty_code"]].to_dict(
        "list"
    ) == {
        "provider_type": ["pcp", "obgyn", "acute_care", "specialist", "rehabilitation",
                          "urgent_care"],
        "cms_specialty_code": ["002", "016", "040", "", "", ""],
    }  # fmt: skip


def test_a_frame_not_from_read_providers():
    frame = pd.DataFrame(
        {"provider_type": ["specialist", "pcp"], "specialty": ["urology", None],
         "cms_specialty_code": [9, None]}
    )  # fmt: skip
    codes, notes = cms_codes(frame)
    assert codes.tolist() == ["033", "002"]
    assert notes == [
        "1 row carries a cms_specialty_code CMS does not list ('009'); they are coded as if "
        "it were empty"
    ]
    assert cms_codes(pd.DataFrame({"x": []}))[0].tolist() == []
