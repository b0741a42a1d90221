"""Medicare Advantage standards (42 CFR 422.116) on the toy road, with a hand-made
reference file whose every number is chosen here.

The toy road (see ``test_evaluate_rules``): nodes n0..n6 a mile apart on a
street driven at 30 mph (2 minutes a mile), plus an 8-mile highway n0 <-> n6
driven in 6 minutes. From n0: n2 is 2 miles / 4 minutes; n5 is 8 minutes by the
highway and back, a 9-mile route; n6 is 6 minutes by the highway (an 8-mile
route; 6 miles by the street). County A (SSA 99010, Metro) holds n0..n3,
county B (SSA 99020, Rural) n4..n6; a third county C lies off the road and is
not in the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from support import LON, lat_of
from support import toy_members as members

from adequacy.engine.evaluate import evaluate
from adequacy.inputs.hsd_reference import HsdReference, compute_minimums

THRESHOLDS = {"Large Metro": 0.9, "Metro": 0.9, "Micro": 0.85, "Rural": 0.85, "CEAC": 0.85}


def regions():
    return gpd.GeoDataFrame(
        {
            "fips": ["99001", "99002", "99003"],
            "name": ["A", "B", "C"],
            "state": ["ZZ", "ZZ", "ZZ"],
            "population": [1_500_000, 900, 40_000],
            "area_sq_mi": [1000.0, 100.0, 1000.0],
        },
        geometry=[
            box(LON - 0.01, lat_of(0) - 0.005, LON + 0.01, lat_of(3) + 0.005),
            box(LON - 0.01, lat_of(4) - 0.005, LON + 0.01, lat_of(6) + 0.005),
            box(LON + 1.0, lat_of(0), LON + 1.1, lat_of(1)),
        ],
        crs=4326,
    )


def reference(limits: dict) -> HsdReference:
    """limits: (ssacd, code) -> (minutes, miles)."""
    counties = pd.DataFrame(
        {
            "ssacd": ["99010", "99020"],
            "state": ["ZZ", "ZZ"],
            "county": ["A", "B"],
            "designation": ["Metro", "Rural"],
            "beneficiaries": [10_000, 200],
            "pct95_ratio": [0.1, 0.1],
            "beneficiaries_to_cover": [1000, 20],
            "beneficiaries_to_cover_file": [1000, 20],
        }
    )
    spec = []
    for code, name, kind, ratios, base, beds in (
        ("S03", "Primary Care", "provider", (1.67, 1.42), ((15, 10), (40, 30)), False),
        ("008", "Cardiology", "provider", (0.27, 0.23), ((30, 20), (75, 60)), False),
        ("040", "Acute Inpatient Hospitals", "facility", (12.2, 12.2), ((45, 30), (75, 60)), True),
    ):
        for designation, ratio, (minutes, miles) in zip(
            ("Metro", "Rural"), ratios, base, strict=True
        ):
            spec.append(
                {
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "designation": designation,
                    "ratio_per_1000": ratio,
                    "minutes": float(minutes),
                    "miles": float(miles),
                    "counts_beds": beds,
                    "evaluated_as": code,
                }
            )
    specialties = pd.DataFrame(spec)
    rows = [
        {
            "ssacd": s,
            "code": c,
            "kind": "facility" if c == "040" else "provider",
            "minutes": float(t),
            "miles": float(d),
            "customised": True,
        }
        for (s, c), (t, d) in limits.items()
    ]
    minimums = compute_minimums(counties, specialties)
    return HsdReference(
        year=2026,
        path=Path("toy_hsd_reference.xlsx"),
        sha256="0" * 64,
        counties=counties,
        specialties=specialties,
        limits=pd.DataFrame(rows),
        minimums=minimums,
        file_minimums=minimums[["ssacd", "code", "kind", "required"]],
        con=pd.DataFrame(
            {
                "ssacd": ["99020"],
                "code": ["040"],
                "state": ["ZZ"],
                "county": ["B"],
                "name": ["Acute Inpatient Hospitals"],
                "customised": [False],
            }
        ),
        thresholds=THRESHOLDS,
    )


LIMITS = {
    ("99010", "S03"): (6, 5),  # county A, customised: 6 minutes and 5 miles
    ("99020", "S03"): (40, 30),
    ("99010", "008"): (30, 20),
    ("99020", "008"): (75, 60),
    ("99010", "040"): (10, 10),
    ("99020", "040"): (3, 1),
}


def providers(rows):
    """rows: (id, code, node, extra)."""
    return pd.DataFrame(
        [
            {
                "provider_id": pid,
                "provider_type": "hospital" if code == "040" else "specialist",
                "specialty": "",
                "cms_specialty_code": code,
                "lat": lat_of(node),
                "lon": LON,
                **extra,
            }
            for pid, code, node, extra in rows
        ]
    )


def run(toy, m, p, limits=LIMITS):
    return evaluate(
        m, p, toy, "cms-ma", regions=regions(), hsd_reference=reference(limits), workers=1
    )


def result(ev, rule, member="m0"):
    r = ev.member_results
    return r[r["rule"] == rule].set_index("member_id").loc[member]


def row(ev, rule, fips):
    c = ev.county_summary
    return c[(c["rule"] == rule) & (c["county_fips"] == fips)].iloc[0]


def test_time_and_distance_must_both_hold_in_a_customised_county(toy):
    # P6 is 6 minutes from n0 (within 6) but its route is 8 miles (over 5)
    p = providers([("P6", "002", 6, {})])
    ev = run(toy, members([0]), p)
    r = result(ev, "cms_S03")
    assert r["minutes"] == pytest.approx(6.0) and r["miles"] == pytest.approx(8.0)
    assert not bool(r["meets"])
    # the same provider passes where the county's limit is 8 miles
    ev = run(toy, members([0]), p, {**LIMITS, ("99010", "S03"): (6, 8)})
    assert bool(result(ev, "cms_S03")["meets"])


def test_thresholds_by_county_type_85_and_90(toy):
    # 8 members in each county, 7 within reach: 87.5% passes Rural (85%), fails Metro (90%)
    m = members([0] * 7 + [3] + [6] * 7 + [4])
    p = providers([("PA", "002", 0, {}), ("PB", "002", 6, {})])
    lim = {**LIMITS, ("99010", "S03"): (5, 5), ("99020", "S03"): (3, 1)}
    ev = run(toy, m, p, lim)
    a, b = row(ev, "cms_S03", "99001"), row(ev, "cms_S03", "99002")
    assert a["threshold"] == pytest.approx(0.90) and b["threshold"] == pytest.approx(0.85)
    assert a["share_meeting"] == pytest.approx(7 / 8) == b["share_meeting"]
    assert not bool(a["share_passes"]) and a["verdict"] == "fail"
    assert bool(b["share_passes"])
    assert "Metro; 90%" in a["verdict_reasons"]


def test_telehealth_and_certificate_of_need_credits(toy):
    m = members([0] * 7 + [3] + [6] * 7 + [4])
    lim = {**LIMITS, ("99010", "S03"): (5, 5), ("99020", "040"): (3, 1)}
    p = providers(
        [
            ("PA", "002", 0, {"telehealth": True}),
            ("H", "040", 4, {"beds": 50}),
        ]
    )
    ev = run(toy, m, p, lim)
    a = row(ev, "cms_S03", "99001")
    assert a["threshold"] == pytest.approx(0.80)  # 90% less 10 points
    assert bool(a["share_passes"])  # 87.5% >= 80%
    assert "Metro; 90% less the 10-point telehealth credit" in a["standard"]
    b = row(ev, "cms_040", "99002")
    assert b["threshold"] == pytest.approx(0.75)  # Rural 85% less the CON credit
    assert "Rural; 85% less the 10-point certificate-of-need credit" in b["standard"]
    # no credit where none applies
    assert row(ev, "cms_S03", "99002")["threshold"] == pytest.approx(0.85)


def test_minimum_beds_count_hospitals_within_reach_of_the_countys_members(toy):
    """County A needs ceil(12.2 x 1,000 / 1,000) = 13 beds (the file's 1,000
    beneficiaries to cover). H1 (10 beds) is in A; H5 (5 beds) is in B, 8 minutes
    and a 9-mile route from A's members at n0: within A's 10 minutes and 10 miles,
    so it counts for A. A children's or specialized hospital never counts."""
    p = providers(
        [
            ("H1", "040", 1, {"beds": 10}),
            ("H5", "040", 5, {"beds": 5}),
            ("KIDS", "040", 1, {"beds": 50, "cms_exclusion": "childrens_hospital"}),
            ("SPEC", "040", 1, {"beds": 40, "cms_exclusion": "specialized_hospital"}),
        ]
    )
    ev = run(toy, members([0, 0, 4]), p)
    a = row(ev, "cms_040", "99001")
    assert a["min_providers"] == math.ceil(12.2 * 1000 / 1000)
    assert bool(a["min_providers_passes"])
    assert a["verdict"] == "pass"
    served = ev.served
    assert set(served.loc[served["provider_id"] == "H5", "county_fips"]) >= {"99001"}
    assert not {"KIDS", "SPEC"} & set(served["provider_id"])
    # without H5, A has 10 beds < 13: the minimum fails and binds
    ev = run(toy, members([0, 0, 4]), p[p["provider_id"] != "H5"])
    a = row(ev, "cms_040", "99001")
    assert not bool(a["min_providers_passes"]) and a["verdict"] == "fail"
    assert "10 beds in the county; 13 required" in a["verdict_reasons"]
    # the deficiency workpaper says how many beds are missing
    from adequacy.findings import deficiencies

    d = deficiencies(ev).counties
    d = d[(d["rule"] == "cms_040") & (d["county_fips"] == "99001")].iloc[0]
    assert d["min_providers"] == 13 and d["providers_short_of_minimum"] == 3


def test_a_provider_serves_a_county_through_a_member_that_is_not_the_fastest(toy):
    """Cardiologist C6 at n6; county A's cardiology terms here: 10 minutes and 5
    miles. A's member at n0 is nearest by time (6 minutes by the highway) but on an
    8-mile route, and 12 minutes by the 6-mile street; the member at n2 is 8 minutes
    and 4 miles by the street. C6 serves A through n2 alone, and not at all when
    only n0 lives there."""
    limits = {**LIMITS, ("99010", "008"): (10, 5)}
    p = providers([("C6", "008", 6, {})])
    served = run(toy, members([0, 2]), p, limits).served
    assert "99001" in set(served.loc[served["provider_id"] == "C6", "county_fips"])
    served = run(toy, members([0]), p, limits).served
    assert "99001" not in set(served.loc[served["provider_id"] == "C6", "county_fips"])


def test_minimum_providers_use_the_larger_of_file_and_plan(toy):
    # S03 in A: the file's 1,000 beneficiaries to cover x 1.67 / 1,000 -> 2
    ev = run(toy, members([0]), providers([("PA", "002", 0, {})]))
    assert row(ev, "cms_S03", "99001")["min_providers"] == math.ceil(1.67 * 1000 / 1000)


def test_ssa_to_fips_and_a_county_missing_from_the_file(toy):
    ev = run(toy, members([0, 4]), providers([("PA", "002", 0, {})]))
    rule = ev.standards.rule("cms_S03")
    assert set(rule.counties) == {"99001", "99002", "99003"}
    # C is not in the file: its type comes from population and density, limits from base
    assert any("not in the reference file (C)" in n for n in ev.notes)
    c = rule.counties["99003"]
    assert c.note.startswith("Rural")  # 40,000 people, 40 per square mile: (c)(4)
    assert (c.limits.minutes, c.limits.miles, c.limits.combine) == (40.0, 30.0, "and")
    assert c.threshold == pytest.approx(0.85)
    assert rule.counties["99001"].limits.combine == "and"


def test_primary_care_codes_count_together(toy):
    p = providers([("GP", "001", 0, {}), ("NP", "006", 0, {})])
    ev = run(toy, members([0]), p)
    r = result(ev, "cms_S03")
    assert r["n_qualifying"] == 2
    assert np.isfinite(r["minutes"])


def test_continuity_of_care_uses_medicare_primary_care_standard(toy):
    """A Medicare Advantage run has no pcp rule: continuity of care re-homes a retiring
    PCP's members within the primary care (S03) terms of their county, here A's
    customised 6 minutes and 5 miles: P2 at n2 is 4 and 2 minutes (2 and 1 miles)
    from the members at n0 and n1."""
    from adequacy.whatif import continuity_of_care, run_whatif

    pcp = {"provider_type": "pcp", "panel_size": 10, "panel_open": True}
    p = providers([("P1", "002", 0, pcp), ("P2", "002", 2, pcp), ("P9", "002", 6, pcp)])
    m = members([0, 1]).assign(pcp_id="P1")
    result = run_whatif(run(toy, m, p), {"terminate": ["P1"]})
    moved, panels = continuity_of_care(result)
    assert moved["assigned_pcp"].tolist() == ["P2", "P2"]
    assert panels["displaced_members"].tolist() == [2]
    assert bool(panels["absorbed"].iloc[0])


def test_whatif_counts_an_added_hospital_toward_the_counties_it_reaches(toy):
    from adequacy.whatif import run_whatif

    p = providers([("H1", "040", 1, {"beds": 10})])
    base = run(toy, members([0, 0, 4]), p)
    assert row(base, "cms_040", "99001")["verdict"] == "fail"  # 10 beds < 13
    # a 5-bed hospital at n5 (county B) reaches A's members: A now has 15 beds
    add = {
        "provider_id": "H5",
        "provider_type": "hospital",
        "cms_specialty_code": "040",
        "beds": 5,
        "lat": lat_of(5),
        "lon": LON,
    }
    whatif = run_whatif(base, {"add": [add]})
    a = row(whatif.evaluation, "cms_040", "99001")
    assert bool(a["min_providers_passes"]) and a["verdict"] == "pass"
    d = whatif.delta
    d = d[(d["rule"] == "cms_040") & (d["county_fips"] == "99001") & (d["language"] == "")]
    assert d["verdict_before"].iloc[0] == "fail" and d["verdict_after"].iloc[0] == "pass"
    # the same as evaluating the new roster from scratch
    full = run(toy, members([0, 0, 4]), pd.concat([p, providers([("H5", "040", 5, {"beds": 5})])]))
    pd.testing.assert_frame_equal(
        whatif.evaluation.county_summary.reset_index(drop=True),
        full.county_summary.reset_index(drop=True),
    )


@pytest.mark.slow
def test_demo_and_hsd_tables_from_the_command_line(tmp_path, graph_cache):
    """The Boston demo against CMS's CY2026 file, then the HSD tables of the run."""
    import json

    import openpyxl
    from support import run_cli

    run = tmp_path / "ma"
    proc = run_cli("demo", "--standards", "cms-ma", "--out", run, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((run / "manifest.json").read_text())
    rules = [r["id"] for r in manifest["standards"]["rules"]]
    assert len(rules) == 43 and "cms_S03" in rules and "cms_040" in rules
    county = pd.read_csv(run / "county_summary.csv", dtype={"county_fips": str})
    # Suffolk and Middlesex, MA: CMS's SSA counties 22160 and 22090
    assert set(county["county_fips"]) == {"25025", "25017"}
    s03 = county[county["rule"] == "cms_S03"].set_index("county_fips")
    # Suffolk is Large Metro in the CY2026 file: S03 within 10 minutes and 5 miles
    assert "1 within 5 mi and 10 min (Large Metro; 90%" in s03.loc["25025", "standard"]
    assert (run / "providers_served.csv").is_file()

    out = tmp_path / "hsd"
    proc = run_cli("hsd", "--run", run, "--out", out, env_cache=graph_cache)
    assert proc.returncode == 0, proc.stderr
    prov = pd.read_csv(out / "hsd_provider_table.csv", dtype=str)
    fac = pd.read_csv(out / "hsd_facility_table.csv", dtype=str)
    assert list(prov.columns)[:5] == [
        "SSA State/County Code",
        "Name of Physician or Mid-Level Practitioner",
        "National Provider Identifier (NPI)",
        "Specialty",
        "Specialty Code",
    ]
    assert set(prov["SSA State/County Code"]) <= {"22160", "22090"}
    assert prov["Specialty Code"].str.fullmatch(r"0[0-3]\d").all()
    assert fac["Specialty Code"].str.fullmatch(r"0[4-6]\d").all()
    beds = fac.loc[fac["Specialty Code"] == "040", "Number of Staffed, Medicare-Certified Beds"]
    assert beds.notna().any()  # the HIFLD hospitals' real bed counts
    book = openpyxl.load_workbook(out / "hsd_tables.xlsx", read_only=True)
    assert book.sheetnames == ["Provider HSD", "Facility HSD"]
    # run again into the same folder: its own earlier output is replaced, not refused
    again = run_cli("hsd", "--run", run, "--out", out, env_cache=graph_cache)
    assert again.returncode == 0, again.stderr
    assert pd.read_csv(out / "hsd_provider_table.csv", dtype=str).equals(prov)


@pytest.mark.slow
@pytest.mark.parametrize("basis", ["fastest_route", "shortest"])
def test_served_counties_equal_one_exact_search_per_site(graph_cache, basis):
    """On the eastern-Idaho demo (real rural roads, 43 rules), the counties each site
    serves equal those of one exact bounded search from every site, each member
    judged on its own county's limits: the per-county pass changes the cost, not
    the answer."""
    from adequacy.demo import build_demo
    from adequacy.engine.engine import Engine
    from adequacy.engine.reach import served_counties

    demo = build_demo("eastern-idaho", cms=True, cache_dir=graph_cache)
    ev = evaluate(
        demo.members, demo.providers, demo.graph, "cms-ma", claims=demo.claims,
        regions=demo.regions, distance_basis=basis,
    )  # fmt: skip
    engine = Engine(
        ev.graph, ev.members, ev.providers, ev.member_snap, ev.provider_snap, ev.settings,
        workers=2, state=ev.member_state,
    )  # fmt: skip
    rules = [r for r in ev.standards.rules if r.counties]
    exact = served_counties(engine, rules, exhaustive=True)
    assert len(exact) > 500 and exact["county_fips"].nunique() > 3
    pd.testing.assert_frame_equal(ev.served.reset_index(drop=True), exact)
    pd.testing.assert_frame_equal(served_counties(engine, rules), exact)
