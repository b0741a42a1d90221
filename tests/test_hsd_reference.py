"""CMS's HSD Reference File (42 CFR 422.116): the reader, the minimum-number formula, SSA ->
FIPS matching and county types, checked against the shipped CY2026 workbook (offline).

Reading the real workbook takes two to three seconds, so every test that needs it is
marked slow; a tiny workbook written here in the CMS layout keeps the reader's header
handling and its error messages in the fast suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adequacy.errors import InputError
from adequacy.inputs.hsd_reference import (
    DESIGNATIONS,
    THRESHOLDS,
    compare_minimums,
    compute_minimums,
    county_designation,
    county_designations,
    match_fips,
    read_hsd_reference,
)

DATA = Path(__file__).resolve().parents[1] / "data"
WORKBOOK = DATA / "cms" / "ma_hsd_reference_file_cy2026.xlsx"
COUNTY_TABLE = DATA / "regions" / "us_counties_2018_population.geojson"
SHA256 = "ee52880c09040b6738f8b7312a0ea892366a99964802465dbba83595b8abbeff"

FACILITY_CODES = ["040", "041", "042", "043", "045", "046", "047", "048", "049", "050", "051",
                  "052", "057", "068"]  # fmt: skip

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def ref():
    return read_hsd_reference(WORKBOOK)


@pytest.fixture(scope="module")
def regions():
    import geopandas as gpd

    return gpd.read_file(COUNTY_TABLE)


def _limit(ref, ssacd: str, code: str) -> tuple[float, float, bool]:
    row = ref.limits[(ref.limits["ssacd"] == ssacd) & (ref.limits["code"] == code)]
    assert len(row) == 1
    return row["minutes"].iloc[0], row["miles"].iloc[0], bool(row["customised"].iloc[0])


def _base(ref, code: str, designation: str) -> tuple[float, float]:
    s = ref.specialties
    row = s[(s["code"] == code) & (s["designation"] == designation)]
    return row["minutes"].iloc[0], row["miles"].iloc[0]


# ---------------------------------------------------------------------------
# cells read off the workbook by hand (openpyxl, cell by cell)
# ---------------------------------------------------------------------------
@slow
def test_time_and_distance_cells_as_read_off_the_workbook(ref):
    # Provider Time & Distance, row 5 (A5 Autauga, D5 01000, E5 Metro), R3 = 'S03':
    # R5 Time 25, S5 Distance 15. CUSTOMISED: the Metro base for S03 is 15 min / 10 mi
    # (Master, Table 2, row 13, columns M:N).
    assert _limit(ref, "01000", "S03") == (25, 15, True)
    assert _base(ref, "S03", "Metro") == (15, 10)
    # Provider Time & Distance, row 2905 (A2905 St. Croix, B2905 VI, D2905 48010,
    # E2905 Micro), T3 = '007' Allergy and Immunology: T2905 Time 105, U2905 Distance 80.
    # CUSTOMISED: the Micro base for 007 is 80 min / 60 mi (Master row 14, columns O:P).
    assert _limit(ref, "48010", "007") == (105, 80, True)
    assert _base(ref, "007", "Micro") == (80, 60)
    # Facility Time & Distance, row 210 (A210 Los Angeles, D210 05200, E210 Large Metro),
    # F3 = 40 Acute Inpatient Hospitals: F210 Time 20, G210 Distance 10 (the base).
    assert _limit(ref, "05200", "040") == (20, 10, False)
    # Provider Time & Distance, row 91 (A91 North Slope, D91 02185, E91 CEAC),
    # AR3 = '020' Neurosurgery: AR91 Time 145, AS91 Distance 130 (the CEAC base).
    assert _limit(ref, "02185", "020") == (145, 130, False)


@slow
def test_one_countys_minimum_numbers_as_read_off_the_workbook(ref):
    # Minimum Provider #s and Minimum Facility #s, row 5: A5 Baldwin, B5 AL, D5 01010,
    # E5 64923 beneficiaries, F5 Metro, G5 0.1058540133, H5 6873 to cover.
    county = ref.counties.set_index("ssacd").loc["01010"]
    assert (county["county"], county["state"], county["designation"]) == ("Baldwin", "AL", "Metro")
    assert county["beneficiaries"] == 64923
    assert county["pct95_ratio"] == pytest.approx(0.1058540133, abs=1e-12)
    assert county["beneficiaries_to_cover"] == county["beneficiaries_to_cover_file"] == 6873
    # Minimum Provider #s row 5, O5 (S03) .. AQ5 (037); codes from row 3. I5:N5 (001-006)
    # are empty.
    providers = {
        "S03": 12, "007": 1, "008": 2, "010": 1, "011": 2, "012": 1, "013": 1, "014": 1,
        "015": 2, "016": 1, "017": 1, "018": 1, "019": 1, "020": 1, "021": 2, "022": 1,
        "023": 2, "025": 2, "026": 1, "027": 1, "028": 2, "029": 1, "030": 1, "031": 1,
        "033": 1, "034": 1, "035": 1, "036": 2, "037": 2,
    }  # fmt: skip
    # Minimum Facility #s row 5: I5 (code 40, acute inpatient hospital BEDS) 84, J5:V5 1.
    facilities = {c: 84 if c == "040" else 1 for c in FACILITY_CODES}
    for table in (ref.minimums, ref.file_minimums):
        got = table[table["ssacd"] == "01010"].set_index("code")["required"].to_dict()
        assert got == providers | facilities


# ---------------------------------------------------------------------------
# the whole file
# ---------------------------------------------------------------------------
@slow
def test_the_workbook_is_read_whole(ref):
    assert ref.year == 2026
    assert ref.sha256 == SHA256
    assert ref.path == WORKBOOK
    assert len(ref.counties) == 3262
    assert ref.counties["ssacd"].str.fullmatch(r"\d{5}").all()
    assert ref.counties["ssacd"].is_unique
    assert set(ref.counties["designation"]) == set(DESIGNATIONS)
    assert ref.counties["designation"].value_counts().to_dict() == {
        "Rural": 1074, "Metro": 763, "Micro": 763, "CEAC": 578, "Large Metro": 84,
    }  # fmt: skip
    # one 95th-percentile ratio per county type
    assert ref.counties.groupby("designation")["pct95_ratio"].nunique().eq(1).all()
    codes = ref.specialties.drop_duplicates("code")
    providers = codes[codes["kind"] == "provider"]
    facilities = codes[codes["kind"] == "facility"]
    assert providers["code"].tolist()[:7] == ["001", "002", "003", "004", "005", "006", "S03"]
    assert len(providers) == 35 and providers["ratio_per_1000"].notna().sum() == 29
    assert facilities["code"].tolist() == FACILITY_CODES
    assert codes.loc[codes["counts_beds"], "code"].tolist() == ["040"]
    pcp = ref.specialties[ref.specialties["code"].isin(["001", "006"])]
    assert (pcp["evaluated_as"] == "S03").all() and pcp["minutes"].isna().all()
    # one limit per county and evaluated code (S03, 28 other provider codes, 14 facility)
    assert len(ref.limits) == 3262 * 43
    assert ref.limits[["minutes", "miles"]].notna().all().all()
    assert int(ref.limits["customised"].sum()) == 7557
    assert ref.thresholds == THRESHOLDS
    assert ref.thresholds == {
        "Large Metro": 0.9, "Metro": 0.9, "Micro": 0.85, "Rural": 0.85, "CEAC": 0.85
    }  # fmt: skip


@slow
def test_the_base_values_are_the_least_of_each_county_type(ref):
    """Customisation only relaxes a standard (422.116(d)(3)(iv)): no county is below
    the Master tab's base for its type, and each type's least value is the base."""
    limits = ref.limits.merge(ref.counties[["ssacd", "designation"]], on="ssacd")
    least = limits.groupby(["code", "designation"])[["minutes", "miles"]].min()
    base = ref.specialties.set_index(["code", "designation"])[["minutes", "miles"]]
    assert (least == base.reindex(least.index)).all().all()


@slow
def test_the_formula_reproduces_every_minimum_of_the_file(ref):
    assert (
        ref.counties["beneficiaries_to_cover"] == ref.counties["beneficiaries_to_cover_file"]
    ).all()
    compared = compare_minimums(ref)
    mismatches = int((~compared["agrees"]).sum())
    print(f"minimum numbers: {mismatches} mismatches in {len(compared)} cells")
    assert len(compared) == 3262 * 43 == len(ref.file_minimums)
    assert mismatches == 0
    assert set(compared.loc[compared["code"] == "040", "unit"]) == {"beds"}


@slow
def test_rounding_the_beneficiaries_up_first_misses_26_bed_minimums(ref):
    """The file's bed minimums use the exact beneficiaries to cover, not the rounded-up
    column: rounding first gives one bed more in 26 counties, and changes nothing else."""
    rounded = compute_minimums(ref.counties, ref.specialties, round_first=True)
    differ = rounded[rounded["required"].to_numpy() != ref.minimums["required"].to_numpy()]
    assert len(differ) == 26
    assert set(differ["code"]) == {"040"}
    assert (differ["required"].to_numpy() - ref.minimums.loc[differ.index, "required"] == 1).all()
    echols = ref.minimums[(ref.minimums["ssacd"] == "11420") & (ref.minimums["code"] == "040")]
    assert echols["required"].item() == 1  # 569 × 0.1432791728 × 12.2 / 1,000 = 0.995


@slow
def test_the_certificate_of_need_tab(ref):
    con = ref.con
    assert len(con) == 15223 and con["ssacd"].nunique() == 2447
    assert set(con["code"]) <= set(
        ref.specialties.loc[ref.specialties["kind"] == "facility", "code"]
    )
    assert int(con["customised"].sum()) == 416
    assert con.iloc[0].to_dict() == {
        "ssacd": "01000", "code": "040", "state": "AL", "county": "Autauga",
        "name": "Acute Inpatient Hospital", "customised": False,
    }  # fmt: skip
    # 'T/D Customized' is Y exactly where the Facility Time & Distance value is customised
    both = con.merge(ref.limits, on=["ssacd", "code"], suffixes=("", "_td"))
    assert len(both) == len(con)
    assert (both["customised"] == both["customised_td"]).all()


# ---------------------------------------------------------------------------
# SSA -> FIPS
# ---------------------------------------------------------------------------
TERRITORIES = {"AS", "GU", "MP", "VI"}


@slow
def test_every_county_is_matched_or_listed(ref, regions):
    matched, unmatched = match_fips(ref.counties, regions)
    assert len(matched) == len(ref.counties)
    found = matched["fips"] != ""
    print(f"SSA -> FIPS: {found.sum()} of {len(matched)} matched ({found.mean():.1%})")
    # every county left without a code is listed once, by name, and nothing else is
    names = matched["county"] + ", " + matched["state"]
    assert sorted(unmatched) == sorted(set(names[~found]))
    assert len(unmatched) == len(set(unmatched))
    # territories the 2018 county table lacks, and the two 2019 successors of Alaska's
    # Valdez-Cordova census area
    by_state = matched.loc[~found, "state"].value_counts().to_dict()
    assert by_state == {"GU": 22, "AS": 15, "VI": 2, "MP": 1, "AK": 2}
    assert {"Chugach, AK", "Copper River, AK"} <= set(unmatched)
    assert found.sum() >= 3220
    assert matched.loc[found, "fips"].str.fullmatch(r"\d{5}").all()


@slow
def test_names_that_look_alike_go_to_different_counties(ref, regions):
    matched, _ = match_fips(ref.counties, regions)
    fips = matched.set_index("ssacd")["fips"]
    assert fips["49290"] == "51059" and fips["49288"] == "51600"  # Fairfax / Fairfax City
    assert fips["21020"] == "24005" and fips["21030"] == "24510"  # Baltimore / Baltimore City
    assert fips["26940"] == "29189" and fips["26950"] == "29510"  # St. Louis / St. Louis City
    assert fips["49790"] == "51159" and fips["49791"] == "51760"  # Richmond / Richmond City
    assert fips["49180"] == "51036"  # Charles City County keeps "City"
    assert fips["29120"] == "32510"  # Carson City, NV
    assert fips["26960"] == "29186"  # Ste. Genevieve
    assert fips["16700"] == "19141"  # O'Brien, IA
    assert fips["32050"] == "35011"  # DeBaca = De Baca, NM
    assert fips["40110"] == "72021"  # Bayamon = Bayamón, PR
    assert fips["43560"] == "46113"  # Oglala Lakota (formerly Shannon), SD
    assert fips["05200"] == fips["05210"] == "06037"  # SSA splits Los Angeles in two


def test_a_crosswalk_wins_over_names():
    counties = pd.DataFrame(
        {"ssacd": ["02063", "49288"], "state": ["AK", "VA"], "county": ["Chugach", "Fairfax City"]}
    )
    regions = pd.DataFrame(
        {"fips": ["02261", "51600", "51059"], "name": ["Valdez-Cordova", "Fairfax", "Fairfax"]}
    )  # no state column: the state comes from the FIPS code
    matched, unmatched = match_fips(counties, regions)
    assert matched["fips"].tolist() == ["", "51600"] and unmatched == ["Chugach, AK"]
    crosswalk = pd.DataFrame({"ssacd": [2063], "fips": ["2261"]})
    matched, unmatched = match_fips(counties, regions, crosswalk)
    assert matched["fips"].tolist() == ["02261", "51600"] and unmatched == []
    assert matched["fips_source"].tolist() == ["crosswalk", "name"]


def test_an_ambiguous_name_is_not_guessed():
    counties = pd.DataFrame({"ssacd": ["99000"], "state": ["ZZ"], "county": ["Twin"]})
    regions = pd.DataFrame(
        {"fips": ["98001", "98003"], "name": ["Twin", "Twin County"], "state": ["ZZ", "ZZ"]}
    )
    matched, unmatched = match_fips(counties, regions)
    assert matched["fips"].tolist() == [""] and unmatched == ["Twin, ZZ"]


def test_match_fips_names_missing_columns():
    with pytest.raises(InputError, match="County Name"):
        match_fips(pd.DataFrame({"ssacd": [], "state": [], "county": []}), pd.DataFrame({"x": []}))
    with pytest.raises(InputError, match="ssacd"):
        match_fips(pd.DataFrame({"county": []}), pd.DataFrame({"fips": [], "name": []}))


# ---------------------------------------------------------------------------
# county types, 422.116(c)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("population", "area", "expected"),
    [
        (1_000_000, 1_000, "Large Metro"),  # (c)(1)(i): density 1,000
        (1_000_000, 1_000.2, "Metro"),  # (c)(2)(i): density 999.8
        (750_000, 500, "Large Metro"),  # (c)(1)(ii): density 1,500
        (750_000, 500.1, "Metro"),  # (c)(2)(ii): density 1,499.7
        (500_000, 250, "Large Metro"),  # density 2,000 at 500,000 people
        (499_999, 250, "Metro"),  # (c)(2)(iii): the same density under 500,000
        (499_999, 100, "Metro"),  # density 4,999.99
        (500_000, 100, "Large Metro"),  # (c)(1)(iii): density 5,000, any population
        (5_000, 1, "Large Metro"),  # density 5,000 with 5,000 people
        (4_999, 1, "Rural"),  # density 4,999 under 10,000 people
        (200_000, 20_000, "Metro"),  # density 10
        (199_999, 199_999 / 99.9, "Micro"),  # (c)(3)(i)
        (50_000, 500, "Metro"),  # (c)(2)(iv): density 100
        (49_999, 499.99, "Micro"),  # density 100, under 50,000
        (10_000, 10, "Metro"),  # (c)(2)(v): density 1,000
        (10_000, 10_000 / 999.9, "Micro"),  # (c)(3)(ii)
        (10_000, 200, "Micro"),  # density 50
        (10_000, 10_000 / 49.9, "Rural"),  # (c)(4)(i)
        (9_999, 9_999 / 50, "Rural"),  # (c)(4)(ii)
        (9_999, 9_999 / 49.9, "Rural"),  # the regulation's gap: CMS types it Rural
        (9_999, 9_999 / 1_000, "Rural"),  # the regulation's gap: CMS types it Rural
        (100, 10, "Rural"),  # density 10
        (10_000_000, 1_000_001, "CEAC"),  # (c)(5): density just under 10
        (99, 10, "CEAC"),
        (0, 5, "CEAC"),
    ],
)
def test_county_designation_at_the_boundaries(population, area, expected):
    assert county_designation(population, area) == expected


def test_county_designations_is_vectorised_and_leaves_unknowns_blank():
    out = county_designations([2_000_000, np.nan, 5_000, 5_000], [500, 10, 0, np.nan])
    assert out.tolist() == ["Large Metro", "", "", ""]
    assert county_designation(-1, 10) == ""


@slow
def test_county_types_agree_with_the_file(ref, regions):
    """The 2018 populations of the bundled table against CMS's designations (CMS uses
    newer estimates, so counties near a boundary may differ). Puerto Rico (population
    0 in the table) and two counties whose FIPS code changed (no population) are left
    out."""
    matched, _ = match_fips(ref.counties, regions)
    table = pd.DataFrame(regions.drop(columns="geometry"))
    both = matched[matched["fips"] != ""].merge(table, left_on="fips", right_on="COUNTY_FIPS")
    both = both[both["Population"] > 0]
    ours = county_designations(both["Population"], both["CENSUSAREA"])
    agree = int((ours == both["designation"].to_numpy()).sum())
    print(f"county types: {agree:,} of {len(both):,} = {agree / len(both):.1%} agree")
    assert len(both) == 3140
    assert agree / len(both) >= 0.97  # measured 3,055 of 3,140 = 97.3%


# ---------------------------------------------------------------------------
# a tiny workbook in CMS's layout, and bad input
# ---------------------------------------------------------------------------
_COUNTY = ["Tiny", "AL", "Tiny, AL", "01990"]
_TD_HEAD = ["COUNTY", "ST", "COUNTY_STATE", "SSACD", "COUNTY DESIGNA-TION"]
_MIN_HEAD = ["COUNTY", "ST", "COUNTY_STATE", "SSACD", "TOTAL BENEFICIARIES",
             "COUNTY DESIGNATION", "95th PERCENTILE BASE POPULATION RATIO",
             "BENEFICIARIES REQUIRED TO COVER"]  # fmt: skip


def _tiny_workbook(path: Path, *, designation="Metro", distance="Distance", drop=None) -> Path:
    """One county, S03 and two facility types, laid out as CMS lays out the real file."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    des = list(DESIGNATIONS)
    master = [[None] * 38 for _ in range(8)]
    master[1][0], master[1][8], master[1][21] = "Table 1: Ratios", "Table 2: Providers", "Table 3"
    for j in (0, 8, 21):
        master[3][j : j + 3] = ["Code", "Specialty", "Geographic Type"]
    master[5][2:7] = des
    for k, d in enumerate(des):
        master[4][10 + 2 * k], master[4][23 + 3 * k] = d, d
        master[5][10 + 2 * k : 12 + 2 * k] = ["Maximum Time\n(minutes)", "Maximum Distance"]
        master[5][23 + 3 * k : 26 + 3 * k] = ["Number/\n1,000", "Maximum Time", "Maximum Distance"]
    master[6][0:7] = ["S03", "Primary Care", 1.67, 1.67, 1.42, 1.42, 1.42]
    master[6][8:20] = ["S03", "Primary Care", 10, 5, 15, 10, 30, 20, 40, 30, 70, 60]
    master[6][21:38] = ["040", "Acute Inpatient Hospitals",
                        *[v for t in [(12.2, 20, 10), (12.2, 45, 30), (12.2, 80, 60),
                                      (12.2, 75, 60), (12.2, 110, 100)] for v in t]]  # fmt: skip
    master[7][21:38] = ["041", "Cardiac Surgery Program",
                        *[v for t in [("NA", 30, 15), ("NA", 60, 40), ("NA", 160, 120),
                                      ("NA", 145, 120), ("NA", 155, 140)] for v in t]]  # fmt: skip
    county = [*_COUNTY, 10_000, designation, 0.1058540133, 1059]
    tabs = {
        "Master": master,
        "Minimum Provider #s": [["note"], [*_MIN_HEAD, "Primary Care"],
                                [None] * 8 + ["S03"], [*county, 2]],
        "Minimum Facility #s": [["note"], [*_MIN_HEAD, "Beds", "Cardiac"],
                                [None] * 8 + [40, 41], [*county, 13, 1]],
        "Provider Time & Distance": [["note"], [*_TD_HEAD, "PC", None],
                                     [None] * 5 + ["S03", None], [None] * 5 + ["Time", distance],
                                     [*_COUNTY, designation, 25, 15]],
        "Facility Time & Distance": [["note"], [*_TD_HEAD, "A", None, "C"],
                                     [None] * 5 + [40, None, 41, None],
                                     [None] * 5 + ["Time", "Distance"] * 2,
                                     [*_COUNTY, designation, 45, 30, 60, 40]],
        "Certificate of Need": [["SSA", "Specialty_Code", "County_State", "Specialty Name",
                                 "T/D Customized (Y/N)"],
                                ["01990", "041", "Tiny, AL", "Cardiac Surgery Program", "N"]],
        "Criteria Changes": [["changes"], ["County", "SSA Code", "2026 County Designation"]],
    }  # fmt: skip
    for name, rows in tabs.items():
        if name == drop:
            continue
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_a_tiny_workbook_in_cms_layout_is_read(tmp_path):
    ref = read_hsd_reference(_tiny_workbook(tmp_path / "hsd.xlsx"))
    assert ref.year == 2026
    assert ref.counties.iloc[0][["ssacd", "designation", "beneficiaries_to_cover"]].tolist() == [
        "01990", "Metro", 1059,
    ]  # fmt: skip
    assert ref.limits[["code", "minutes", "miles", "customised"]].values.tolist() == [
        ["S03", 25, 15, True], ["040", 45, 30, False], ["041", 60, 40, False],
    ]  # fmt: skip
    assert ref.minimums.set_index("code")["required"].to_dict() == {"S03": 2, "040": 13, "041": 1}
    assert compare_minimums(ref)["agrees"].all()
    assert ref.con["customised"].tolist() == [False]


def _error(path) -> str:
    with pytest.raises(InputError) as info:
        read_hsd_reference(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_input_is_one_line_naming_the_file_the_tab_and_the_fix(tmp_path):
    message = _error(tmp_path / "nowhere.xlsx")
    assert "nowhere.xlsx" in message and "not found" in message
    text = tmp_path / "hsd.xlsx"
    text.write_text("COUNTY,SSACD\nAutauga,01000\n")
    message = _error(text)
    assert "hsd.xlsx" in message and "not an Excel workbook" in message and ".xlsx" in message
    missing = _tiny_workbook(tmp_path / "missing.xlsx", drop="Provider Time & Distance")
    message = _error(missing)
    assert "missing.xlsx" in message and "tab 'Provider Time & Distance' is missing" in message
    assert "as downloaded" in message
    header = _tiny_workbook(tmp_path / "header.xlsx", distance="Miles")
    message = _error(header)
    assert "tab 'Provider Time & Distance'" in message and "Time, Distance" in message
    odd = _tiny_workbook(tmp_path / "odd.xlsx", designation="Urban")
    message = _error(odd)
    assert "tab 'Minimum Provider #s'" in message and "'Urban'" in message


def test_a_blank_master_tab_is_named(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Master"
    for name in ("Minimum Provider #s", "Minimum Facility #s", "Provider Time & Distance",
                 "Facility Time & Distance", "Certificate of Need"):  # fmt: skip
        book.create_sheet(name)
    book.save(tmp_path / "hsd_cy2026.xlsx")
    message = _error(tmp_path / "hsd_cy2026.xlsx")
    assert "tab 'Master'" in message and "Table 1/2/3" in message


def test_the_year_comes_from_the_file_its_name_or_the_caller(tmp_path):
    plain = _tiny_workbook(tmp_path / "hsd.xlsx", drop="Criteria Changes")
    message = _error(plain)
    assert "contract year" in message and "year=" in message
    assert read_hsd_reference(plain, year=2027).year == 2027
    named = _tiny_workbook(tmp_path / "ma_hsd_reference_file_CY2025.xlsx", drop="Criteria Changes")
    assert read_hsd_reference(named).year == 2025
