"""The deficiency workpaper and the candidates for members outside the area, on the toy road.

Toy road (tests/support.py): n0..n6 one mile apart (2 minutes a mile), a highway n0<->n6
of 8 miles / 6 minutes, a spur n7 one mile past n6 outside both counties; county A holds
n0..n3, county B n4..n6. One in-network PCP P1 at n1, one out-of-network PCP OON5 at n5.
Rule: one PCP within 2 miles, half the members of a county, at most 10 members per PCP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import LON, counties, lat_of

from adequacy import evaluate
from adequacy.findings import deficiencies, outside_candidates

STANDARDS = {
    "name": "toy",
    "version": "1",
    "threshold": 0.5,
    "rules": [
        {"id": "pcp", "provider_type": "pcp", "miles": 2, "ratio": {"members_per_provider": 10}}
    ],
}


@pytest.fixture(scope="module")
def ev(toy):
    nodes = [0, 4, 5, 6, 7]  # A: n0; B: n4, n5, n6; outside: n7 (at the spur's end)
    lats = [lat_of(n) for n in nodes[:-1]] + [lat_of(16)]
    members = pd.DataFrame({"member_id": [f"m{n}" for n in nodes], "lat": lats, "lon": LON})
    providers = pd.DataFrame(
        {
            "provider_id": ["P1", "OON5"],
            "provider_type": "pcp",
            "lat": [lat_of(1), lat_of(5)],
            "lon": LON,
            "in_network": [True, False],
        }
    )
    return evaluate(members, providers, toy, STANDARDS, regions=counties(), workers=1)


def test_the_failing_county_and_its_shortfall(ev):
    d = deficiencies(ev).counties
    assert d["county_fips"].tolist() == ["00002"]  # A passes: n0 is 1 mile from P1
    r = d.iloc[0]
    # B: n4, n5, n6 are 3, 4, 5 miles from P1: none meets; half of 3 is 1.5, so 2 short
    assert (r["members"], r["meeting"], r["members_not_meeting"], r["members_short"]) == (
        3,
        0,
        3,
        2,
    )
    # no PCP located in B: the ratio fails too; 3 members at 1:10 need one provider
    assert r["providers_needed_for_ratio"] == 1
    # OON5 at n5 is within 2 miles of all three (1, 0 and 1 mile)
    assert r["members_with_out_of_network_within_limits"] == 3
    # recruiting OON5 brings all three in: the county reaches its threshold
    assert bool(r["recruitment_closes_gap"]) and r["recruitment_sites"] == "OON5"


def test_members_not_served_with_their_distances(ev):
    m = deficiencies(ev).members.set_index("member_id")
    assert sorted(m.index) == ["m4", "m5", "m6"]
    assert m["miles"].to_dict() == pytest.approx({"m4": 3, "m5": 4, "m6": 5})
    assert m["out_of_network_miles"].to_dict() == pytest.approx({"m4": 1, "m5": 0, "m6": 1})
    assert m["out_of_network_minutes"].to_dict() == pytest.approx({"m4": 2, "m5": 0, "m6": 2})
    assert set(m["out_of_network_nearest"]) == {"OON5"}
    assert m["out_of_network_within_limits"].all()


def test_recruitment_picks_and_exception_providers(ev):
    d = deficiencies(ev)
    picks = d.picks
    assert picks[["candidate", "newly_meeting", "county_meeting_after"]].values.tolist() == [
        ["OON5", 3, 3]
    ]
    assert picks["county_share_after"].tolist() == [1.0]
    near = d.providers.set_index("provider_id")
    # within 1.5 x 2 miles of B's unserved members: OON5 (1, 0, 1 mi) and P1 only for m4
    # (3 miles; 4 and 5 are past 3)
    assert set(near.index) == {"OON5", "P1"}
    assert near.loc["OON5", "unserved_members_near"] == 3 and near.loc["OON5", "within_limits"]
    assert near.loc["P1", "unserved_members_near"] == 1 and not near.loc["P1", "within_limits"]
    assert near.loc["P1", "median_miles"] == pytest.approx(3)
    assert (near.loc["P1", "network"], near.loc["OON5", "network"]) == ("in", "out")


def test_members_outside_the_area_get_their_nearest_providers(ev):
    table, by_county = outside_candidates(ev, counties=counties())
    r = table.set_index("member_id").loc["m7"]
    # n7 -> n6 (1 mi, 2 min); then to P1 at n1: 5 miles by the street (10 min) or 9 by
    # the highway (6 + 2 = 8 min): 6 miles, and 2 + 8 = 10 minutes, each on its own route
    assert r["in_network_nearest"] == "P1"
    assert (r["in_network_miles"], r["in_network_minutes"]) == pytest.approx((6, 10))
    assert r["out_of_network_nearest"] == "OON5"
    assert (r["out_of_network_miles"], r["out_of_network_minutes"]) == pytest.approx((2, 4))
    assert by_county["members"].tolist() == [1]


def test_a_supply_file_replaces_the_roster_out_of_network_rows(ev, tmp_path):
    supply = tmp_path / "market.csv"
    supply.write_text(
        f"provider_id,provider_type,lat,lon\nP1,pcp,{lat_of(1)},{LON}\nM6,pcp,{lat_of(6)},{LON}\n"
    )
    m = deficiencies(ev, supply=supply).members.set_index("member_id")
    # P1 is in the network already, so the supply's out-of-network provider is M6
    assert set(m["out_of_network_nearest"]) == {"M6"}
    assert m["out_of_network_miles"].to_dict() == pytest.approx({"m4": 2, "m5": 1, "m6": 0})


def test_sites_never_claim_to_close_a_gap_the_ratio_keeps_open(toy):
    """At 1:1, B's three members need three providers: OON5 lifts the share but one
    provider is not enough, so recruitment must not say the gap is closed."""
    nodes = [4, 5, 6]
    members = pd.DataFrame(
        {"member_id": [f"m{n}" for n in nodes], "lat": [lat_of(n) for n in nodes], "lon": LON}
    )
    providers = pd.DataFrame(
        {
            "provider_id": ["P1", "OON5"],
            "provider_type": "pcp",
            "lat": [lat_of(1), lat_of(5)],
            "lon": LON,
            "in_network": [True, False],
        }
    )
    std = {**STANDARDS, "rules": [{**STANDARDS["rules"][0], "ratio": {"members_per_provider": 1}}]}
    ev = evaluate(members, providers, toy, std, regions=counties(), workers=1)
    r = deficiencies(ev).counties.set_index("county_fips").loc["00002"]
    assert r["providers_needed_for_ratio"] == 3
    assert r["recruitment_sites"] == "OON5" and not r["recruitment_closes_gap"]
    assert "still fails on its access ratio" in r["recruitment_note"]


def test_out_of_network_within_limits_needs_one_provider_within_both(toy):
    """'and' (1.5 miles and 2.5 minutes): within both must hold for one provider."""
    from adequacy.findings.deficiencies import _any_within

    # per member, the nearest two providers by distance, and by time
    found = {
        "distance": (np.array([[1.0, 3.0], [1.0, 3.0]]), np.array([["A", "B"], ["A", "B"]])),
        "time": (np.array([[1.0, 9.0], [2.0, 3.0]]), np.array([["B", "A"], ["A", "B"]])),
    }
    lim_m = np.full(2, 1.5 * 1609.344)
    lim_s = np.full(2, 2.5 * 60.0)
    ok = _any_within(found, lim_m, lim_s, np.array([True, True]))
    # member 0: A within miles (1) but 9 min; B within minutes (1) but 3 mi -> no one provider
    # member 1: A is 1 mi and 2 min -> within both
    assert ok.tolist() == [False, True]
    assert _any_within(found, lim_m, lim_s, np.array([False, False])).tolist() == [True, True]
