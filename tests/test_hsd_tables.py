"""CMS's HSD tables (42 CFR 422.116): the Provider and Facility tables built from a roster
and the counties each provider serves, in CMS's column order, written atomically as CSV
and Excel with every code kept as text."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from adequacy.errors import InputError
from adequacy.runs import hsd_tables as hsd_module
from adequacy.runs.hsd_tables import (
    FACILITY_COLUMNS,
    HSD_KIND,
    PROVIDER_COLUMNS,
    hsd_tables,
    write_hsd_tables,
)

NAMES = {
    "002": "Family Practice",
    "008": "Cardiology",
    "040": "Acute Inpatient Hospitals",
    "046": "Skilled Nursing Facilities",
}


def _roster() -> pd.DataFrame:
    """Four providers as the roster reader gives them, CMS columns included."""
    return pd.DataFrame(
        {
            "provider_id": ["p1", "p2", "h1", "x9"],
            "name": ["Avery Doe", "Blake Roe", "General Hospital", "Out Of Network"],
            "provider_type": ["pcp", "specialist", "hospital", "pcp"],
            "specialty": ["", "cardiology", "", ""],
            "lat": [42.3, 42.4, 42.35, 42.3],
            "lon": [-71.1, -71.0, -71.05, -71.1],
            "accepting_new_patients": [True, False, True, True],
            "practice_id": ["grp-7", "p2", "h1", "x9"],
            "in_network": [True, True, True, False],
            "npi": ["1234567893", "", "1003000126", "1999999999"],
            "cms_specialty_code": ["002", "008", "040", "002"],
            "beds": [0, 0, 120, 0],
            "address": ["1 Main St", "2 Oak Ave", "3 Elm Rd", "4 Far Ln"],
            "city": ["Boston", "Cambridge", "Boston", "Boston"],
            "state": ["MA", "MA", "MA", "MA"],
            "zip": ["02115", "02139", "02114", "02115"],
        }
    )


def _served() -> pd.DataFrame:
    """Per provider row, code and SSA county: Avery in two counties (once repeated),
    the hospital as 040 and 046, the out-of-network provider in one."""
    return pd.DataFrame(
        {
            "provider_row": [0, 0, 0, 1, 2, 2, 3],
            "code": ["002", "002", "002", "008", "040", "046", "002"],
            "ssacd": ["22120", "22090", "22120", "22090", "22120", "22120", "22120"],
            "county_fips": ["25025", "25017", "25025", "25017", "25025", "25025", "25025"],
        }
    )


def test_headers_are_cms_columns_in_cms_order():
    assert list(PROVIDER_COLUMNS) == [
        "SSA State/County Code",
        "Name of Physician or Mid-Level Practitioner",
        "National Provider Identifier (NPI)",
        "Specialty",
        "Specialty Code",
        "Contract Type",
        "Provider Service Address",
        "Provider Service City",
        "Provider Service State",
        "Provider Service Zip Code",
        "Medical Group Affiliation",
        "Accepts New Patients",
        "Uses CMS MA Contract Amendment",
        "Letter of Intent",
    ]
    assert list(FACILITY_COLUMNS) == [
        "SSA State/County Code",
        "Facility or Service Type",
        "Specialty Code",
        "National Provider Identifier (NPI)",
        "Number of Staffed, Medicare-Certified Beds",
        "Provider Facility Name",
        "Provider Service Address",
        "Provider Service City",
        "Provider Service State",
        "Provider Service Zip Code",
        "Contract Type",
        "Uses CMS MA Contract Amendment",
        "Letter of Intent",
    ]


def test_exact_rows_one_per_provider_code_and_county():
    providers, facilities = hsd_tables(_roster(), _served(), NAMES)
    assert list(providers.columns) == list(PROVIDER_COLUMNS)
    assert list(facilities.columns) == list(FACILITY_COLUMNS)
    assert providers.values.tolist() == [
        # sorted by SSA code, specialty code, name, NPI; Blake's group is Blake: blank
        ["22090", "Avery Doe", "1234567893", "Family Practice", "002", "", "1 Main St",
         "Boston", "MA", "02115", "grp-7", "Y", "", ""],
        ["22090", "Blake Roe", "", "Cardiology", "008", "", "2 Oak Ave",
         "Cambridge", "MA", "02139", "", "N", "", ""],
        ["22120", "Avery Doe", "1234567893", "Family Practice", "002", "", "1 Main St",
         "Boston", "MA", "02115", "grp-7", "Y", "", ""],
    ]  # fmt: skip
    assert facilities.values.tolist() == [
        ["22120", "Acute Inpatient Hospitals", "040", "1003000126", "120", "General Hospital",
         "3 Elm Rd", "Boston", "MA", "02114", "", "", ""],
        ["22120", "Skilled Nursing Facilities", "046", "1003000126", "", "General Hospital",
         "3 Elm Rd", "Boston", "MA", "02114", "", "", ""],
    ]  # fmt: skip


def test_provider_codes_below_040_facility_codes_from_040():
    providers, facilities = hsd_tables(_roster(), _served(), NAMES)
    assert set(providers["Specialty Code"]) == {"002", "008"}
    assert set(facilities["Specialty Code"]) == {"040", "046"}


def test_beds_only_for_acute_inpatient_hospitals_and_never_zero():
    roster = _roster()
    roster.loc[0, "beds"] = 30  # a physician's beds are not the table's business
    served = pd.DataFrame(
        {"provider_row": [2, 2, 0], "code": ["040", "046", "002"], "ssacd": ["22120"] * 3}
    )
    providers, facilities = hsd_tables(roster, served, NAMES)
    beds = dict(zip(facilities["Specialty Code"], facilities[FACILITY_COLUMNS[4]], strict=True))
    assert beds == {"040": "120", "046": ""}
    assert "30" not in providers.values.ravel().tolist()
    roster.loc[2, "beds"] = 0  # the roster's default: unknown, left blank for the plan to fill
    _, facilities = hsd_tables(roster, served, NAMES)
    assert facilities[FACILITY_COLUMNS[4]].tolist() == ["", ""]


def test_accepts_new_patients_is_y_or_n():
    providers, _ = hsd_tables(_roster(), _served(), NAMES)
    names = providers[PROVIDER_COLUMNS[1]]
    by_name = dict(zip(names, providers["Accepts New Patients"], strict=True))
    assert by_name == {"Avery Doe": "Y", "Blake Roe": "N"}


def test_out_of_network_providers_are_left_out():
    providers, facilities = hsd_tables(_roster(), _served(), NAMES)
    listed = set(providers[PROVIDER_COLUMNS[1]]) | set(facilities["Provider Facility Name"])
    assert "Out Of Network" not in listed
    assert "1999999999" not in providers[PROVIDER_COLUMNS[2]].tolist()


def test_a_second_site_in_the_same_county_is_a_second_row():
    roster = pd.concat([_roster(), _roster().iloc[[0]]], ignore_index=True)
    roster.loc[4, "address"] = "9 Side St"  # Avery's second office
    served = pd.DataFrame({"provider_row": [0, 4, 4], "code": ["002"] * 3, "ssacd": ["22120"] * 3})
    providers, _ = hsd_tables(roster, served, NAMES)
    assert providers["Provider Service Address"].tolist() == ["1 Main St", "9 Side St"]


def test_missing_cms_columns_are_blank_and_defaults_hold():
    roster = pd.DataFrame({"provider_id": ["p1", "h1"], "name": ["Avery Doe", "Hospital"]})
    served = pd.DataFrame(
        {"provider_row": [0, 1, 0], "code": [2, "40", "002"], "ssacd": [22120, "22120", "22120"]}
    )
    providers, facilities = hsd_tables(roster, served, NAMES)
    assert providers.values.tolist() == [
        ["22120", "Avery Doe", "", "Family Practice", "002", "", "", "", "", "", "", "Y", "", ""],
    ]
    assert facilities.values.tolist() == [
        ["22120", "Acute Inpatient Hospitals", "040", "", "", "Hospital", "", "", "", "", "",
         "", ""],
    ]  # fmt: skip


def test_numbers_a_reader_made_floats_come_back_as_codes():
    roster = pd.DataFrame(
        {"provider_id": ["p1"], "name": ["A"], "npi": [1234567893.0], "zip": [2115.0]}
    )
    served = pd.DataFrame({"provider_row": [0], "code": ["002"], "ssacd": ["5000"]})
    providers, _ = hsd_tables(roster, served, NAMES)
    row = providers.iloc[0]
    assert (row[PROVIDER_COLUMNS[0]], row[PROVIDER_COLUMNS[2]], row[PROVIDER_COLUMNS[9]]) == (
        "05000",
        "1234567893",
        "02115",
    )


def test_empty_served_gives_empty_tables_with_cms_columns():
    providers, facilities = hsd_tables(_roster(), _served().iloc[:0], NAMES)
    assert providers.empty and facilities.empty
    assert list(providers.columns) == list(PROVIDER_COLUMNS)
    assert list(facilities.columns) == list(FACILITY_COLUMNS)


@pytest.mark.parametrize(
    ("served", "message"),
    [
        ({"provider_row": [0], "code": ["S03"], "ssacd": ["22120"]}, "S03 is filed as 001-006"),
        ({"provider_row": [7], "code": ["002"], "ssacd": ["22120"]}, "provider_row 7"),
        ({"provider_row": [0], "code": ["002"]}, "served lacks column(s) ssacd"),
    ],
)
def test_bad_served_rows_are_clear_errors(served, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hsd_tables(_roster(), pd.DataFrame(served), NAMES)


def test_the_roster_reader_output_is_accepted(tmp_path):
    from adequacy.inputs.schemas import read_providers

    path = tmp_path / "providers.csv"
    path.write_text(
        "provider_id,provider_type,lat,lon,name,npi,zip,address,city,state\n"
        "p1,pcp,42.3,-71.1,Avery Doe,1234567893,02115,1 Main St,Boston,MA\n"
    )
    roster = read_providers(path)
    served = pd.DataFrame({"provider_row": [0], "code": ["002"], "ssacd": ["22120"]})
    providers, _ = hsd_tables(roster, served, NAMES)
    assert len(providers) == 1
    if "npi" in roster.columns:  # the roster carries the CMS columns
        assert providers.iloc[0][PROVIDER_COLUMNS[2]] == "1234567893"
        assert providers.iloc[0][PROVIDER_COLUMNS[9]] == "02115"


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
@pytest.fixture
def tables():
    return hsd_tables(_roster(), _served(), NAMES)


def test_writes_csv_xlsx_and_manifest(tmp_path, tables):
    out = tmp_path / "hsd"
    paths = write_hsd_tables(out, *tables, manifest={"contract": "H1234"})
    assert [p.name for p in paths] == [
        "hsd_provider_table.csv",
        "hsd_facility_table.csv",
        "hsd_tables.xlsx",
        "manifest.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["what"] == HSD_KIND and manifest["contract"] == "H1234"
    assert manifest["counts"]["provider_rows"] == 3
    assert manifest["counts"]["facility_rows"] == 2
    assert manifest["counts"]["rows_by_code"] == {"002": 2, "008": 1, "040": 1, "046": 1}
    assert manifest["layout"]["provider_columns"] == list(PROVIDER_COLUMNS)
    assert "omb.report" in json.dumps(manifest["layout"]["source"])
    assert manifest["layout"]["left_blank"]["columns"] == [
        "Contract Type",
        "Uses CMS MA Contract Amendment",
        "Letter of Intent",
    ]
    assert set(manifest["outputs"]) == {p.name for p in paths[:3]}


def test_csv_keeps_leading_zeros_read_back_as_text(tmp_path, tables):
    out = tmp_path / "hsd"
    write_hsd_tables(out, *tables)
    providers = pd.read_csv(out / "hsd_provider_table.csv", dtype=str, keep_default_na=False)
    facilities = pd.read_csv(out / "hsd_facility_table.csv", dtype=str, keep_default_na=False)
    assert list(providers.columns) == list(PROVIDER_COLUMNS)
    assert list(facilities.columns) == list(FACILITY_COLUMNS)
    pd.testing.assert_frame_equal(providers, tables[0].astype(str))
    pd.testing.assert_frame_equal(facilities, tables[1].astype(str))
    first = (out / "hsd_provider_table.csv").read_text().splitlines()[1]
    assert first.startswith("22090,Avery Doe,1234567893,Family Practice,002,,1 Main St,")
    assert ",02115," in first


def test_xlsx_has_two_sheets_of_text_cells(tmp_path, tables):
    out = tmp_path / "hsd"
    write_hsd_tables(out, *tables)
    wb = openpyxl.load_workbook(out / "hsd_tables.xlsx")
    assert wb.sheetnames == ["Provider HSD", "Facility HSD"]
    ws = wb["Provider HSD"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(PROVIDER_COLUMNS)
    assert rows[1][:5] == ("22090", "Avery Doe", "1234567893", "Family Practice", "002")
    assert rows[1][9] == "02115"
    assert ws["A2"].number_format == "@" and ws["E2"].number_format == "@"
    assert ws["J2"].number_format == "@"
    assert rows[2][2] is None  # Blake's unknown NPI: an empty cell
    ws = wb["Facility HSD"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(FACILITY_COLUMNS)
    assert rows[1][:5] == ("22120", "Acute Inpatient Hospitals", "040", "1003000126", 120)
    assert rows[2][4] is None  # beds for 040 only
    for row in rows[1:]:
        assert all(isinstance(v, str) for i, v in enumerate(row) if v is not None and i != 4)


def test_equal_tables_give_equal_bytes(tmp_path, tables, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    a = write_hsd_tables(tmp_path / "a", *tables)
    b = write_hsd_tables(tmp_path / "b", *tables)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert json.loads(a[3].read_text())["created_utc"] == "2026-01-01T00:00:00Z"


def test_a_folder_of_other_files_is_refused_without_force(tmp_path, tables):
    out = tmp_path / "hsd"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"--out .*holds other files.*--force to replace it"):
        write_hsd_tables(out, *tables)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    write_hsd_tables(out, *tables, force=True)
    assert not (out / "notes.txt").exists()
    assert (out / "hsd_tables.xlsx").is_file()


def test_an_earlier_hsd_output_is_replaced_whole_and_a_run_is_not(tmp_path, tables):
    out = tmp_path / "hsd"
    write_hsd_tables(out, *tables)
    write_hsd_tables(out, tables[0].iloc[:1], tables[1])  # its own earlier output: no force
    assert len(pd.read_csv(out / "hsd_provider_table.csv", dtype=str)) == 1
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"adequacy_version": "1"}))
    with pytest.raises(InputError, match="holds an earlier run output, not a hsd_tables"):
        write_hsd_tables(run, *tables)


def test_a_failure_leaves_no_partial_output(tmp_path, tables, monkeypatch):
    out = tmp_path / "hsd"
    write_hsd_tables(out, *tables)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(hsd_module, "_write_workbook", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_hsd_tables(out, tables[0].iloc[:1], tables[1])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hsd"]  # no staging folder left
    with pytest.raises(RuntimeError):
        write_hsd_tables(tmp_path / "new", *tables)
    assert not (tmp_path / "new").exists()


def test_tables_not_in_cms_layout_and_foreign_manifest_keys_are_refused(tmp_path, tables):
    with pytest.raises(ValueError, match="CMS's columns in CMS's order"):
        write_hsd_tables(tmp_path / "a", tables[0].iloc[:, ::-1], tables[1])
    with pytest.raises(ValueError, match="adequacy_version"):
        write_hsd_tables(tmp_path / "b", *tables, manifest={"adequacy_version": "1"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_module_names_where_the_layout_comes_from():
    doc = " ".join((hsd_module.__doc__ or "").split())
    assert "Medicare Advantage Network Adequacy Criteria Guidance* (last updated January 10" in doc
    assert "https://omb.report/icr/201708-0938-011/doc/76102101" in doc
    assert "Left blank, because a roster does not know them: Contract Type" in doc
