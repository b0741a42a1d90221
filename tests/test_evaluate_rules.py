"""The meaning of a standard, on a toy road whose answers are worked out by hand.

The toy road: nodes n0..n6 on a north-south line, 0.01 degree apart, joined by
a local street of 1 mile per hop at 30 mph (2 minutes a mile), plus a highway
bypass n0 <-> n6 of 8 miles at 80 mph (6 minutes). From n0:

    node      n1  n2  n3  n4  n5  n6
    miles      1   2   3   4   5   6   (street)
    minutes    2   4   6   8  10   6   (n6 by the highway; n5 = min(10, 6 + 2))

A spur n7, 1 mile north of n6, lies outside both counties. Members and
providers stand exactly on nodes, so the snapping legs are zero.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from support import LON, MILE, counties, lat_of

from adequacy import RoadGraph
from adequacy.engine.engine import SearchKey
from adequacy.engine.evaluate import evaluate
from adequacy.units import MPH_TO_METERS_PER_SECOND


def members(nodes, languages=None):
    return pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(len(nodes))],
            "lat": [lat_of(n) for n in nodes],
            "lon": LON,
            "language": languages or ["English"] * len(nodes),
        }
    )


def providers(rows):
    """rows: (id, type, node, extra dict)."""
    out = []
    for pid, ptype, node, extra in rows:
        out.append(
            {"provider_id": pid, "provider_type": ptype, "lat": lat_of(node), "lon": LON, **extra}
        )
    return pd.DataFrame(out)


def standards(**rule):
    base = {"id": "r", "provider_type": "pcp", "count": 1}
    return {"name": "toy", "version": "1", "threshold": 0.5, "rules": [{**base, **rule}]}


def run(toy, m, p, std, **kwargs):
    return evaluate(m, p, toy, std, regions=counties(), workers=1, **kwargs)


def result_of(ev, language=""):
    r = ev.member_results
    return r[r["language"] == language].set_index("member_id")


# ---------------------------------------------------------------------------
def test_distances_and_times_follow_each_best_route(toy):
    ev = run(
        toy, members([0]), providers([("P6", "pcp", 6, {})]), standards(miles=100, minutes=100)
    )
    row = result_of(ev).loc["m0"]
    assert row["miles"] == pytest.approx(6.0)  # along the street
    assert row["minutes"] == pytest.approx(6.0)  # along the highway
    assert row["nearest_1"] == "P6"


def test_or_qualifies_on_either_limit(toy):
    # 6 miles > 5, but 6 minutes <= 7: qualifies by time
    ev = run(
        toy,
        members([0]),
        providers([("P6", "pcp", 6, {})]),
        standards(miles=5, minutes=7, combine="or"),
    )
    assert bool(result_of(ev).loc["m0", "meets"])
    ev = run(
        toy,
        members([0]),
        providers([("P6", "pcp", 6, {})]),
        standards(miles=5, minutes=5, combine="or"),
    )
    assert not bool(result_of(ev).loc["m0", "meets"])


def test_and_needs_both_limits_each_on_its_own_route(toy):
    p = providers([("P6", "pcp", 6, {})])
    ev = run(toy, members([0]), p, standards(miles=5, minutes=7, combine="and"))
    assert not bool(result_of(ev).loc["m0", "meets"])
    # 6 street miles <= 7 and 6 highway minutes <= 7: both hold, on different routes
    ev = run(toy, members([0]), p, standards(miles=7, minutes=7, combine="and"))
    assert bool(result_of(ev).loc["m0", "meets"])


def test_and_with_a_count_and_limits_met_exactly(toy):
    p = providers(
        [
            ("A", "pcp", 1, {}),
            ("B", "pcp", 1, {}),
            ("C", "pcp", 1, {}),
            ("D", "pcp", 2, {}),
            ("E", "pcp", 6, {}),
        ]
    )
    # within 1.5 mi and 3 min: A, B, C only; four are required
    ev = run(toy, members([0]), p, standards(miles=1.5, minutes=3, combine="and", count=4))
    assert not bool(result_of(ev).loc["m0", "meets"])
    # within 2 mi and 4 min: A, B, C (1 mi, 2 min) and D (exactly 2 mi, 4 min)
    ev = run(toy, members([0]), p, standards(miles=2, minutes=4, combine="and", count=4))
    assert bool(result_of(ev).loc["m0", "meets"])


def test_and_finds_a_provider_hidden_behind_full_label_lists():
    """Spokes from the member's node M: three providers close but slow (X), three fast but
    far (Y), and P, fourth by distance and by time, the only one within both limits.
    The first searches keep three labels per node, full of X by distance and Y by time;
    the evaluation must search deeper rather than declare the member unserved."""
    spokes = [
        ("X1", 1, 5),
        ("X2", 1, 5),
        ("X3", 1, 5),  # 1 mi at 5 mph: 12 min
        ("Y1", 20, 400),
        ("Y2", 20, 400),
        ("Y3", 20, 400),  # 20 mi: 3 min
        ("P", 3, 30),
    ]  # 3 mi: 6 min
    u, v, meters, seconds = [], [], [], []
    for i, (_, miles, mph) in enumerate(spokes, start=1):
        m = miles * MILE
        s = m / (mph * MPH_TO_METERS_PER_SECOND)
        u += [0, i]
        v += [i, 0]
        meters += [m, m]
        seconds += [s, s]
    lon = [LON] + [LON + 0.01 * i for i in range(1, len(spokes) + 1)]
    star = RoadGraph.from_edges(u, v, meters, seconds, lon, [40.0] * len(lon))
    p = pd.DataFrame(
        {
            "provider_id": [name for name, _, _ in spokes],
            "provider_type": "pcp",
            "lon": lon[1:],
            "lat": 40.0,
        }
    )
    m = pd.DataFrame({"member_id": ["m"], "lat": [40.0], "lon": [LON], "county_fips": ["00001"]})
    ev = evaluate(m, p, star, standards(miles=5, minutes=10, combine="and"), workers=1)
    row = ev.member_results.iloc[0]
    assert bool(row["meets"]) and row["n_qualifying"] == 1
    ev = evaluate(m, p, star, standards(miles=5, minutes=10, combine="or"), workers=1)
    assert ev.member_results.iloc[0]["n_qualifying"] == 2  # default cap: count + 1
    ev = evaluate(m, p, star, standards(miles=5, minutes=10, combine="or"), workers=1, count_cap=3)
    assert ev.member_results.iloc[0]["n_qualifying"] == 3  # capped at three


def test_a_distance_search_is_made_only_for_members_short_of_providers(toy):
    """Under fastest_route the shortest road distances only bound which providers a
    member short of them may still have within the mile limit: a key's distance
    search is made when the first such member is judged, once, whichever thread
    asks first, and holds the shortest road distances (not the fastest route's)."""
    p = providers([("P0", "pcp", 0, {})])
    key = (SearchKey("pcp"), "distance")
    ev = run(toy, members([0, 1, 2]), p, standards(miles=5, minutes=5),
             distance_basis="fastest_route")  # fmt: skip
    search = ev.searches[key]
    assert result_of(ev)["meets"].all()  # nobody short: never read
    assert not search.made and search.k == 1
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: search.labels, range(4)))
    assert search.made and all(labels is got[0] for labels in got)
    cost, source = got[0].at_nodes(np.arange(7))
    # along the street from n0 (n6 is 6 street miles, past the 5-mile limit; the
    # fastest route there is the 8-mile highway)
    np.testing.assert_allclose(cost[:6, 0] / MILE, [0, 1, 2, 3, 4, 5])
    assert cost[6, 0] == np.inf and (source[:6, 0] == 0).all()
    # n4 is 4 street miles and 8 minutes from P0: short of 3 miles or 3 minutes
    ev = run(toy, members([0, 4]), p, standards(miles=3, minutes=3),
             distance_basis="fastest_route")  # fmt: skip
    assert not result_of(ev).loc["m1", "meets"]
    assert ev.searches[key].made
    # pickled (or copied) with its labels made: the same labels
    fresh = run(toy, members([0, 1, 2]), p, standards(miles=5, minutes=5),
                distance_basis="fastest_route").searches[key]  # fmt: skip
    assert not fresh.made
    back = pickle.loads(pickle.dumps(fresh))
    assert back.made and back.k == 1
    np.testing.assert_array_equal(back.labels.at_nodes(np.arange(7))[0], cost)


def test_two_providers_at_one_node_are_two(toy):
    p = providers([("A", "pcp", 1, {}), ("B", "pcp", 1, {})])
    ev = run(toy, members([0]), p, standards(miles=2, count=2))
    row = result_of(ev).loc["m0"]
    assert bool(row["meets"]) and row["n_qualifying"] == 2
    assert {row["nearest_1"], row["nearest_2"]} == {"A", "B"}


def test_one_provider_at_two_sites_counts_once(toy):
    p = providers([("A", "pcp", 1, {}), ("A", "pcp", 2, {})])
    ev = run(toy, members([0]), p, standards(miles=3, count=2))
    row = result_of(ev).loc["m0"]
    assert not bool(row["meets"]) and row["n_qualifying"] == 1
    assert row["miles"] == np.inf  # there is no second distinct provider
    # and it is counted once in the ratio
    area = ev.service_area_summary.iloc[0]
    assert area["providers"] == 1


def test_closed_panels_out_of_the_ratio(toy):
    m = members([0, 1, 2, 3, 4])
    p = providers(
        [
            ("A", "pcp", 1, {"panel_open": True}),
            ("B", "pcp", 2, {"panel_open": True}),
            ("C", "pcp", 3, {"panel_open": False}),
        ]
    )
    excluded = run(
        toy,
        m,
        p,
        standards(miles=10, ratio={"members_per_provider": 2, "closed_panels": "exclude"}),
    )
    counted = run(
        toy, m, p, standards(miles=10, ratio={"members_per_provider": 2, "closed_panels": "count"})
    )
    a, b = excluded.service_area_summary.iloc[0], counted.service_area_summary.iloc[0]
    assert (a["providers"], a["members_per_provider"], a["ratio_passes"]) == (2, 2.5, False)
    assert (b["providers"], b["members_per_provider"], b["ratio_passes"]) == (3, 5 / 3, True)
    # per county: A holds n0..n3 (4 members, providers A, B open, C closed)
    county = excluded.county_summary.set_index("county_fips")
    assert county.loc["00001", "members"] == 4 and county.loc["00001", "providers"] == 2


def test_ratio_by_fte(toy):
    m = members([0, 1, 2])
    p = providers([("A", "pcp", 1, {"fte": 0.5}), ("B", "pcp", 2, {"fte": 0.5})])
    ev = run(toy, m, p, standards(miles=10, ratio={"members_per_provider": 2, "basis": "fte"}))
    area = ev.service_area_summary.iloc[0]
    assert (area["providers"], area["members_per_provider"], area["ratio_passes"]) == (
        1.0,
        3.0,
        False,
    )


def test_language_concordance(toy):
    m = members([0, 0, 0], ["Spanish", "Spanish", "English"])
    p = providers(
        [
            ("EN", "pcp", 1, {"languages": "English"}),
            ("ES", "pcp", 5, {"languages": "English;Spanish"}),
        ]
    )
    ev = run(toy, m, p, standards(miles=2, languages=True), min_language_members=2)
    base = result_of(ev)
    assert base["meets"].all()  # everyone has an English-speaking PCP at 1 mile
    spanish = result_of(ev, "Spanish")
    assert list(spanish.index) == ["m0", "m1"]  # only the members who speak it
    assert not spanish["meets"].any()
    assert spanish["miles"].tolist() == pytest.approx([5, 5])
    assert set(spanish["nearest_1"]) == {"ES"}
    lang = ev.language_summary
    assert lang["language"].tolist() == ["Spanish"]
    row = lang.iloc[0]
    assert (row["members"], row["share_meeting"], row["share_passes"]) == (2, 0.0, False)
    assert row["verdict"] == "fail" and row["prevalent"]
    assert row["providers"] == 0  # ES is in county B, these members in county A
    assert row["basis"] == "members"


def test_census_languages_decide_prevalence(toy, tmp_path):
    m = members([0, 0], ["Spanish", "Spanish"])
    p = providers([("ES", "pcp", 1, {"languages": "Spanish"})])
    census = tmp_path / "census.csv"
    census.write_text(
        "county_fips,language,speakers_5plus\n00001,Spanish,9999\n00002,Spanish,12000\n"
    )
    ev = run(toy, m, p, standards(miles=2, languages=True), census_languages=census)
    prevalent = ev.prevalent_languages
    assert prevalent["county_fips"].tolist() == ["00002"]  # 9,999 is under 10,000
    assert prevalent["basis"].tolist() == ["census"]


def test_members_outside_the_regions_are_reported_apart(toy):
    m = members([0, 4, 7])  # n7 is outside both counties
    p = providers([("A", "pcp", 1, {})])
    ev = run(toy, m, p, standards(miles=2))
    r = result_of(ev)
    assert r.loc["m2", "in_service_area"] == False  # noqa: E712
    assert r.loc["m2", "county_fips"] == ""
    county = ev.county_summary.set_index("county_fips")
    assert county["members"].to_dict() == {"00001": 1, "00002": 1}
    assert county.loc["00001", "share_meeting"] == 1.0  # n0 -> n1: 1 mile
    assert county.loc["00002", "share_meeting"] == 0.0  # n4 -> n1: 3 miles
    area = ev.service_area_summary.iloc[0]
    assert area["members"] == 2 and area["counties_failing"] == 1
    outside = ev.outside_service_area.iloc[0]
    assert outside["members"] == 1 and outside["meeting"] == 0


def test_region_class_limits(toy):
    """County A (1000 people/sq mi) is urban, B (10) rural; each gets its own limits."""
    m = members([0, 4])
    p = providers([("A", "pcp", 2, {})])  # 2 miles from n0, 2 miles from n4
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "urban_density_per_sq_mi": 250,
        "rules": [
            {
                "id": "r",
                "provider_type": "pcp",
                "by_region_class": {"urban": {"miles": 1}, "rural": {"miles": 3}},
            }
        ],
    }
    ev = run(toy, m, p, std)
    r = result_of(ev)
    assert r.loc["m0", "region_class"] == "urban" and not bool(r.loc["m0", "meets"])
    assert r.loc["m1", "region_class"] == "rural" and bool(r.loc["m1", "meets"])


def test_panel_findings():
    from adequacy.engine.panels import panel_findings

    p = pd.DataFrame(
        {
            "provider_id": ["A", "B", "C", "D", "A"],
            "provider_type": ["pcp"] * 5,
            "practice_id": ["X", "X", "X", "Y", "X"],
            "panel_size": [1600, 100, 100, 1500, 1600],
            "panel_open": [False, False, True, True, False],
            "in_network": [True] * 5,
        }
    )
    m = pd.DataFrame({"pcp_id": ["D"] * 1501 + ["B"]})
    f = panel_findings(p, m)
    over = f[f["finding"].str.startswith("PCP panel")]
    assert sorted(over["provider_id"]) == ["A", "D"]  # D: 1,501 assigned members
    practice = f[f["finding"].str.startswith("practice")]
    assert practice["practice_id"].tolist() == ["X"]  # 1 of 3 panels open
    assert practice["open_panels"].tolist() == [1]


def test_plan_summary_splits_members_by_plan(toy):
    m = members([0, 1, 5, 16])  # n16 (the spur's end) lies outside both counties
    m["plan"] = ["Medicaid", "Commercial", "Medicaid", "Medicaid"]
    ev = run(toy, m, providers([("P0", "pcp", 0, {})]), standards(miles=2))
    plans = ev.plan_summary.set_index("plan")
    # Medicaid: n0 meets, n5 does not (5 miles); the member outside the area is not counted
    assert plans.loc["Medicaid", "members"] == 2 and plans.loc["Medicaid", "meeting"] == 1
    assert plans.loc["Medicaid", "share_meeting"] == pytest.approx(0.5)
    assert bool(plans.loc["Medicaid", "share_passes"])  # threshold 0.5
    assert plans.loc["Commercial", "meeting"] == 1 and bool(plans.loc["Commercial", "share_passes"])
    # but county B (n5's county) fails the rule, so the network every plan uses fails it
    area = ev.service_area_summary.iloc[0]
    assert area["share_meeting"] == pytest.approx(2 / 3) and area["verdict"] == "fail"
    assert "1 of 2 counties fail" in area["verdict_reasons"]
    assert set(plans["verdict"]) == {"fail"}
    assert (
        "the network fails the rule (1 of 2 counties fail)"
        in plans.loc["Medicaid", "verdict_reasons"]
    )


def test_region_class_combine_is_its_own(toy):
    """A rural variant that says 'and' is judged with 'and' even where the rule says 'or'."""
    m = members([0, 4])  # n0 in urban A, n4 in rural B
    p = providers([("P6", "pcp", 6, {})])  # n0: 6 mi / 6 min; n4: 2 mi / 4 min
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "urban_density_per_sq_mi": 250,
        "rules": [
            {
                "id": "r",
                "provider_type": "pcp",
                "miles": 5,
                "minutes": 7,
                "combine": "or",
                "by_region_class": {"rural": {"miles": 1, "minutes": 10, "combine": "and"}},
            }
        ],
    }
    r = result_of(run(toy, m, p, std))
    assert bool(r.loc["m0", "meets"])  # urban, 'or': 6 minutes are within 7
    assert not bool(r.loc["m1", "meets"])  # rural, 'and': 4 minutes yes, but 2 miles > 1


# ---------------------------------------------------------------------------
# the verdict: every binding component, everywhere
# ---------------------------------------------------------------------------
def fails(value) -> bool:
    """A component column that says 'fails' (False, not blank)."""
    return not pd.isna(value) and not bool(value)


def test_a_failing_ratio_fails_the_rule_where_distance_passes(toy):
    """Three members at n0, one PCP at n1 (1 mile): every member is within 2 miles, so the
    time/distance share is 100%, but 3 members per provider breaks a 1:2 ratio."""
    m = members([0, 0, 0])
    m["plan"] = "Medicaid"
    ev = run(toy, m, providers([("P", "pcp", 1, {})]), standards(miles=2, ratio={
        "members_per_provider": 2}))  # fmt: skip
    county = ev.county_summary.set_index("county_fips").loc["00001"]
    area = ev.service_area_summary.iloc[0]
    plan = ev.plan_summary.iloc[0]
    for row in (county, area, plan):
        assert row["share_meeting"] == 1.0 and bool(row["share_passes"])
        assert row["members_per_provider"] == 3.0 and fails(row["ratio_passes"])
        assert row["verdict"] == "fail"
        assert "3 members per provider; at most 2 allowed" in row["verdict_reasons"]
    assert area["counties_failing"] == 1


def test_a_ratio_that_does_not_bind_is_a_finding(toy):
    m = members([0, 0, 0])
    std = standards(miles=2, ratio={"members_per_provider": 2}, binding={"ratio": False})
    ev = run(toy, m, providers([("P", "pcp", 1, {})]), std)
    area = ev.service_area_summary.iloc[0]
    assert area["verdict"] == "pass" and area["verdict_reasons"] == ""
    assert "3 members per provider" in area["findings"]


def test_ratio_scope_service_area_leaves_counties_alone(toy):
    """County B has its member but no provider (ratio infinite there); checked only
    over the service area (2 members, 1 provider: 1:2 passes)."""
    m = members([0, 4])
    std = standards(miles=8, ratio={"members_per_provider": 2, "scope": "service_area"})
    ev = run(toy, m, providers([("P", "pcp", 1, {})]), std)
    county = ev.county_summary.set_index("county_fips")
    assert pd.isna(county.loc["00002", "ratio_passes"])  # not checked in counties
    assert set(county["verdict"]) == {"pass"}
    assert bool(ev.service_area_summary.iloc[0]["ratio_passes"])


def test_too_few_providers_in_a_county_fails_it(toy):
    """min_providers 1: county B (n4..n6) has a member within reach (of P at n1? no: 3
    miles, limit 4) but no provider of its own."""
    m = members([0, 4])
    ev = run(toy, m, providers([("P", "pcp", 1, {})]), standards(miles=4, min_providers=1))
    county = ev.county_summary.set_index("county_fips")
    assert bool(county.loc["00002", "share_passes"])  # n4 -> n1 is 3 miles
    assert fails(county.loc["00002", "min_providers_passes"])
    assert county.loc["00002", "verdict"] == "fail"
    assert "0 providers in the county; 1 required" in county.loc["00002", "verdict_reasons"]
    assert county.loc["00001", "verdict"] == "pass"
    assert pd.isna(ev.service_area_summary.iloc[0]["min_providers_passes"])  # county-level


@pytest.mark.parametrize("binding", [False, True])
def test_a_language_failure_is_a_finding_unless_binding(toy, binding):
    """As in test_language_concordance: everyone has an English-speaking PCP at 1 mile,
    but the two Spanish speakers' only Spanish-speaking PCP is 5 miles away."""
    m = members([0, 0, 1], ["Spanish", "Spanish", "English"])
    p = providers([("EN", "pcp", 1, {}), ("ES", "pcp", 5, {"languages": "Spanish"})])
    std = standards(miles=2, languages=True, binding={"languages": binding})
    ev = run(toy, m, p, std, min_language_members=2)
    county = ev.county_summary.set_index("county_fips").loc["00001"]
    area = ev.service_area_summary.set_index("language")
    assert bool(county["share_passes"]) and fails(county["languages_passes"])
    assert area.loc["Spanish", "verdict"] == "fail"  # the language's own result
    for row in (county, area.loc[""]):
        text = row["verdict_reasons"] if binding else row["findings"]
        assert "Spanish: 0.0% of members have 1 within 2 mi; 50% needed" in text
        assert row["verdict"] == ("fail" if binding else "pass")
