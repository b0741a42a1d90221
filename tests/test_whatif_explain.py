"""Why a new site changes nothing: the sentences of ``why_unchanged`` on the toy road.

Distances on the toy road (``support``): 1 mile and 2 minutes per hop along the
street n0..n6; the highway n0 <-> n6 takes 6 minutes. County A holds n0..n3,
county B n4..n6.
"""

from __future__ import annotations

import pandas as pd
import pytest
from support import LON, counties, lat_of, toy_members

from adequacy import evaluate
from adequacy.frontend.whatif_view import RESULT_KEY, VIEW_KEY, shown_evaluation
from adequacy.whatif import run_whatif, why_unchanged


def standards(count: int, **limits) -> dict:
    return {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "rules": [
            {"id": "pc", "label": "Primary care", "provider_type": "pcp", "count": count, **limits}
        ],
    }


def pcps(**nodes) -> pd.DataFrame:
    """In-network PCPs named by keyword, each at a toy-road node."""
    return pd.DataFrame(
        {
            "provider_id": list(nodes),
            "provider_type": "pcp",
            "lat": [lat_of(n) for n in nodes.values()],
            "lon": LON,
        }
    )


def site(pid: str, node: int) -> dict:
    return {"provider_id": pid, "provider_type": "pcp", "lat": lat_of(node), "lon": LON}


@pytest.fixture
def needs_two(toy):
    """Two PCPs within 1.5 mi or 3 min; the one PCP at n0 reaches the members at n0 and
    n1 only, so the members at n4, n5 and n6 reach none (n6 is 6 minutes away by the
    highway)."""
    members = toy_members([0, 1, 4, 5, 6])
    base = evaluate(
        members, pcps(IN=0), toy, standards(2, miles=1.5, minutes=3), regions=counties(), workers=1
    )
    res = base.member_results.set_index("member_id")
    assert list(res["n_qualifying"]) == [1, 1, 0, 0, 0]  # the premise
    return base


def test_a_rule_needing_two_where_members_now_reach_one(needs_two):
    # n4, n5 and n6 are 1 mile (2 minutes) from n5: the new site is their first PCP
    whatif = run_whatif(needs_two, {"add": [site("NEW-1", 5)]})
    assert whatif.delta["gained"].sum() == 0  # the delta alone says "gained 0"
    assert why_unchanged(whatif) == [
        "Primary care needs 2 providers within 1.5 mi or 3 min; the 3 members near the "
        "new site NEW-1 now reach 1"
    ]


def test_no_member_within_reach_of_the_new_site(toy):
    # members at n0 and n1; n5 is 4 miles from n1 by the street and 10 minutes by the
    # highway (n1 -> n0 -> n6 -> n5)
    members = toy_members([0, 1])
    base = evaluate(
        members, pcps(IN=0), toy, standards(2, miles=1.5, minutes=3), regions=counties(), workers=1
    )
    whatif = run_whatif(base, {"add": [site("NEW-2", 5)]})
    assert why_unchanged(whatif) == [
        "Primary care needs 2 providers within 1.5 mi or 3 min; no member lives within "
        "1.5 mi or 3 min of the new site NEW-2"
    ]


def test_a_site_that_changes_a_county_gets_no_sentence(toy):
    # one PCP within 1.5 mi; the PCP at n0 serves n0 and n1 (county A passes), the
    # members at n5 and n6 (county B) have none: B fails. NEW-1 at n6 brings them both;
    # NEW-2 at n3 is 2 miles from the nearest members (n1, n5) and brings nobody.
    members = toy_members([0, 1, 5, 6])
    base = evaluate(
        members, pcps(IN=0), toy, standards(1, miles=1.5), regions=counties(), workers=1
    )
    whatif = run_whatif(base, {"add": [site("NEW-1", 6), site("NEW-2", 3)]})
    d = whatif.delta.set_index("county_fips")
    assert d.loc["00002", "status_change"] == "now passes"
    assert d.loc["00002", "gained"] == 2
    assert why_unchanged(whatif) == [
        "Primary care needs 1 provider within 1.5 mi; no member lives within 1.5 mi of the "
        "new site NEW-2"
    ]
    # NEW-1 alone: nothing to explain
    assert why_unchanged(run_whatif(base, {"add": [site("NEW-1", 6)]})) == []


def test_members_near_a_site_who_already_met_the_rule(needs_two):
    # a second PCP at n0 brings the members at n0 and n1 to 2: they gain, no sentence
    assert why_unchanged(run_whatif(needs_two, {"add": [site("NEW-3", 0)]})) == []
    # with PCPs at n0 and n1 they meet already: a third at n1 (near n0 and n1 only) adds
    # nothing for them
    both = evaluate(
        toy_members([0, 1, 4, 5, 6]),
        pcps(IN=0, IN2=1),
        needs_two.graph,
        standards(2, miles=1.5, minutes=3),
        regions=counties(),
        workers=1,
    )
    assert why_unchanged(run_whatif(both, {"add": [site("NEW-4", 1)]})) == [
        "Primary care needs 2 providers within 1.5 mi or 3 min; the 2 members near the new "
        "site NEW-4 already reached 2"
    ]
    # both kinds near one site: NEW-5 at n2 is 1 mile from n1 (meets) and from n3 (none)
    mixed = evaluate(
        toy_members([0, 1, 3]),
        pcps(IN=0, IN2=1),
        needs_two.graph,
        standards(2, miles=1.5, minutes=3),
        regions=counties(),
        workers=1,
    )
    assert why_unchanged(run_whatif(mixed, {"add": [site("NEW-5", 2)]})) == [
        "Primary care needs 2 providers within 1.5 mi or 3 min; the 1 member near the new "
        "site NEW-5 now reaches 1, and 1 more near it already reached 2"
    ]


def test_a_joining_provider_is_explained_too(toy):
    # an out-of-network PCP at n5 joins: like a new site there (see the first test)
    roster = pcps(IN=0, OON=5).assign(in_network=[True, False])
    base = evaluate(
        toy_members([0, 1, 4, 5, 6]),
        roster,
        toy,
        standards(2, miles=1.5, minutes=3),
        regions=counties(),
        workers=1,
    )
    assert why_unchanged(run_whatif(base, {"join": ["OON"]})) == [
        "Primary care needs 2 providers within 1.5 mi or 3 min; the 3 members near the "
        "joining provider OON now reach 1"
    ]


def test_shown_evaluation_follows_the_toggle_and_the_base(needs_two, toy):
    whatif = run_whatif(needs_two, {"add": [site("NEW-1", 5)]})
    state = {RESULT_KEY: {"key": "k", "result": whatif}}
    assert shown_evaluation(needs_two, state) is needs_two  # toggle off
    state[VIEW_KEY] = True
    shown = shown_evaluation(needs_two, state)
    assert shown is whatif.evaluation
    assert "NEW-1" in set(shown.providers["provider_id"])
    # another base (a region or file chosen since): the scenario does not apply to it
    other = evaluate(
        toy_members([0]), pcps(IN=0), toy, standards(1, miles=1.5), regions=counties(), workers=1
    )
    assert shown_evaluation(other, state) is other
