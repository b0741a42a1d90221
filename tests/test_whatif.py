"""What-if: incremental updates equal a full re-evaluation; continuity of care; recruitment."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from support import LON, counties, lat_of, run_cli

from adequacy import evaluate
from adequacy.demo import SPECIALTIES, build_demo
from adequacy.engine.engine import SearchKey
from adequacy.routing import NodeLabels, k_nearest_labels, merge_source, snap_points
from adequacy.whatif import (
    ACTIVE_TREATMENT_DAYS,
    PCP_TRANSITION_DAYS,
    continuity_of_care,
    read_scenario,
    recruit,
    run_whatif,
)


# ---------------------------------------------------------------------------
# the merge of one new source, against a search from scratch
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["distance", "time"])
@pytest.mark.parametrize("k", [1, 3])
def test_merge_source_equals_search_with_the_source(boston, metric, k):
    rng = np.random.default_rng(5 + k)
    sources = rng.choice(boston.n_nodes, 30, replace=False)
    groups = np.arange(30)
    groups[7] = groups[3]  # one provider at two sites
    searched = k_nearest_labels(boston, sources, k=k, metric=metric, groups=groups, cutoff=8000)
    # full labels at every node (the merge on full arrays; the core merge is tested below)
    labels = NodeLabels(searched.cost, searched.source, metric=metric, cutoff=8000)
    label_group = np.where(labels.source >= 0, groups[np.maximum(labels.source, 0)], -1)
    for new_node, new_group in ((rng.integers(boston.n_nodes), 30), (sources[0], 3)):
        merged, merged_groups, changed = merge_source(
            boston,
            labels,
            label_group.astype(np.int32),
            int(new_node),
            start_cost=0.0,
            group=new_group,
            new_source=len(sources),
        )
        full = k_nearest_labels(
            boston,
            np.append(sources, new_node),
            k=k,
            metric=metric,
            groups=np.append(groups, new_group),
            cutoff=8000,
        )
        np.testing.assert_allclose(merged.cost, full.cost, rtol=1e-12)
        full_groups = np.where(
            full.source >= 0, np.append(groups, new_group)[np.maximum(full.source, 0)], -1
        )
        # same providers, except where two are exactly tied (then either order is right)
        c = full.cost
        tied = np.zeros(c.shape, dtype=bool)
        tied[:, 1:] |= c[:, 1:] == c[:, :-1]
        tied[:, :-1] |= c[:, :-1] == c[:, 1:]
        check = np.isfinite(c) & ~tied
        if new_group == 30:  # (the second case ties group 3's new site with group 0 everywhere)
            np.testing.assert_array_equal(merged_groups[check], full_groups[check])
        moved = (merged.cost != labels.cost).any(axis=1)
        assert set(np.flatnonzero(moved)) <= set(changed.tolist())
        assert labels.cost is not merged.cost  # the base labels are left alone


@pytest.mark.parametrize("metric", ["distance", "time"])
def test_merge_on_the_contracted_core_equals_search_with_the_source(idaho, metric):
    rng = np.random.default_rng(11)
    sources = rng.choice(idaho.n_nodes, 40, replace=False)
    groups = np.arange(100, 140)  # the caller's own provider ids
    labels = k_nearest_labels(idaho, sources, k=2, metric=metric, groups=groups, cutoff=40_000)
    assert labels._cost is None  # kept on the core
    for new_node, new_group in ((rng.integers(idaho.n_nodes), 999), (sources[5], 107)):
        merged, _, changed = merge_source(
            idaho, labels, None, int(new_node), start_cost=3.0, group=new_group, new_source=40
        )
        full = k_nearest_labels(
            idaho,
            np.append(sources, new_node),
            k=2,
            metric=metric,
            groups=np.append(groups, new_group),
            source_cost=np.append(np.zeros(40), 3.0),
            cutoff=40_000,
        )
        np.testing.assert_allclose(merged.cost, full.cost, rtol=1e-12)
        moved = np.flatnonzero((merged.cost != labels.cost).any(axis=1))
        assert len(moved) and set(moved.tolist()) <= set(changed.tolist())


# ---------------------------------------------------------------------------
# incremental what-if equals a full re-evaluation, on the rural demo
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def idaho_base(graph_cache):
    demo = build_demo("eastern-idaho", n_members=2500, cache_dir=graph_cache)
    base = evaluate(
        demo.members, demo.providers, demo.graph, claims=demo.claims, regions=demo.regions
    )
    return demo, base


def _full(demo, whatif, members=None):
    providers = whatif.providers.drop(columns=["status"])
    return evaluate(
        demo.members if members is None else members,
        providers[list(demo.providers.columns)].assign(in_network=providers["in_network"]),
        demo.graph,
        claims=demo.claims,
        regions=demo.regions,
        distance_basis=whatif.evaluation.settings.distance_basis,
    )


def _indexed(results):
    r = results.assign(
        member_id=results["member_id"].astype(str),
        rule=results["rule"].astype(str),
        language=results["language"].astype(str),
    )
    return r.set_index(["member_id", "rule", "language"]).sort_index()


def _scenarios(demo):
    p = demo.providers
    pcp = p[(p["provider_type"] == "pcp") & p["in_network"]]["provider_id"].value_counts()
    twin = pcp.index[pcp.to_numpy() == 2][0]
    single = pcp.index[pcp.to_numpy() == 1][2]
    present = set(p.loc[p["in_network"], "specialty"])
    top = next(s for s in SPECIALTIES if s in present)  # by claim volume: a high-volume one
    hv = p[(p["specialty"] == top) & p["in_network"]]
    spc, specialty = hv["provider_id"].iloc[0], hv["specialty"].iloc[0]
    oon = p[~p["in_network"]]["provider_id"].iloc[0]
    m = demo.members

    def site(i, **extra):
        return {"lat": float(m["lat"].iat[i]), "lon": float(m["lon"].iat[i]), **extra}

    return {
        "add": {"add": [{"provider_id": "NEW-1", "provider_type": "pcp", **site(11)}]},
        "add a second site of a provider": {
            "add": [
                {
                    "provider_id": spc,
                    "provider_type": "specialist",
                    "specialty": specialty,
                    **site(40),
                }
            ]
        },
        "join": {"join": [oon]},
        "terminate": {"terminate": [{"provider_id": single, "effective": "2026-12-01"}]},
        "terminate a provider at two sites": {"terminate": [twin]},
        "add then terminate": {
            "add": [
                {"provider_id": "NEW-2", "provider_type": "obgyn", **site(23)},
                {
                    "provider_id": "NEW-3",
                    "provider_type": "pcp",
                    "languages": "English;Spanish",
                    **site(31),
                },
            ],
            "terminate": [single],
        },
    }


@pytest.mark.parametrize(
    "name",
    [
        "add",
        "add a second site of a provider",
        "join",
        "terminate",
        "terminate a provider at two sites",
        "add then terminate",
    ],
)
def test_incremental_equals_full_reevaluation(idaho_base, name):
    demo, base = idaho_base
    whatif = run_whatif(base, _scenarios(demo)[name])
    full = _full(demo, whatif)
    got, want = _indexed(whatif.evaluation.member_results), _indexed(full.member_results)
    assert got.index.equals(want.index)
    for col in ("meets", "n_qualifying"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    for col in ("miles", "minutes"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, err_msg=col)
    pd.testing.assert_frame_equal(whatif.evaluation.county_summary, full.county_summary)
    pd.testing.assert_frame_equal(whatif.evaluation.service_area_summary, full.service_area_summary)
    pd.testing.assert_frame_equal(whatif.evaluation.language_summary, full.language_summary)
    # the delta table agrees with the two full evaluations
    d = whatif.delta.set_index(["rule", "language", "county_fips"])
    after = pd.concat([full.county_summary, full.language_summary]).set_index(
        ["rule", "language", "county_fips"]
    )
    common = d.index.intersection(after.index)
    np.testing.assert_array_equal(
        d.loc[common, "meeting_after"].to_numpy(), after.loc[common, "meeting"].to_numpy()
    )
    np.testing.assert_allclose(
        d.loc[common, "providers_after"].to_numpy(), after.loc[common, "providers"].to_numpy()
    )
    # something changed, and only members listed in the changes did
    base_r = _indexed(base.member_results)
    flipped = base_r["meets"].to_numpy() != want["meets"].to_numpy()
    c = whatif.changes
    listed = set(zip(c["member_id"], c["rule"], c["language"], strict=True))
    assert set(base_r.index[flipped]) <= listed
    if name != "terminate a provider at two sites":
        assert len(whatif.changes) > 0


@pytest.mark.parametrize("change", ["terminate", "add"])
def test_whatif_makes_a_distance_search_the_base_never_needed(idaho_base, change):
    """Under fastest_route a key's distance search is made only once a member is short
    of its providers (``adequacy.engine.search``). Members who all have their PCPs
    never need the PCP one; a what-if that changes the PCPs makes it (terminating
    the busiest leaves some short) and still equals a full re-evaluation."""
    demo, base = idaho_base
    r = _indexed(base.member_results).reset_index()
    pcp = r[(r["rule"] == "primary_care") & (r["language"] == "")]
    members = demo.members[
        demo.members["member_id"].astype(str).isin(pcp.loc[pcp["meets"], "member_id"])
    ]
    kept = evaluate(members, demo.providers, demo.graph, claims=demo.claims, regions=demo.regions)
    search = kept.searches[(SearchKey("pcp"), "distance")]
    assert kept.settings.distance_basis == "fastest_route" and not search.made
    if change == "terminate":
        busiest = pcp.loc[pcp["meets"], "nearest_1"].astype(str).value_counts().index[:4]
        scenario = {"terminate": list(busiest)}
    else:
        m = members.iloc[5]
        scenario = {"add": [{"provider_id": "NEW-9", "provider_type": "pcp",
                             "lat": float(m["lat"]), "lon": float(m["lon"])}]}  # fmt: skip
    whatif = run_whatif(kept, scenario)
    assert search.made  # the what-if needed the base's labels
    full = _full(demo, whatif, members)
    got, want = _indexed(whatif.evaluation.member_results), _indexed(full.member_results)
    assert got.index.equals(want.index)
    for col in ("meets", "n_qualifying"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(got["miles"], want["miles"], rtol=1e-12)
    pd.testing.assert_frame_equal(whatif.evaluation.county_summary, full.county_summary)
    short = ~want.xs(("primary_care", ""), level=("rule", "language"), drop_level=False)["meets"]
    assert short.any() == (change == "terminate")  # members short of PCPs: the doubt read


@pytest.mark.slow
@pytest.mark.parametrize("basis", ["shortest", "straight_line"])
def test_incremental_equals_full_reevaluation_on_other_distance_bases(idaho_base, basis):
    demo, _ = idaho_base
    base = evaluate(
        demo.members,
        demo.providers,
        demo.graph,
        claims=demo.claims,
        regions=demo.regions,
        distance_basis=basis,
    )
    whatif = run_whatif(base, _scenarios(demo)["add then terminate"])
    assert whatif.evaluation.settings.distance_basis == basis
    full = _full(demo, whatif)
    got, want = _indexed(whatif.evaluation.member_results), _indexed(full.member_results)
    for col in ("meets", "n_qualifying"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(got["miles"], want["miles"], rtol=1e-12)
    pd.testing.assert_frame_equal(whatif.evaluation.county_summary, full.county_summary)


def test_scenario_file_round_trip_gives_the_same_result(idaho_base, tmp_path):
    demo, base = idaho_base
    spec = _scenarios(demo)["add then terminate"]
    first = run_whatif(base, spec)
    path = tmp_path / "scenario.yaml"
    first.scenario.save(path)
    again = run_whatif(base, read_scenario(path))
    pd.testing.assert_frame_equal(first.delta, again.delta)
    first.scenario.save(tmp_path / "scenario.json")
    assert read_scenario(tmp_path / "scenario.json").to_dict() == first.scenario.to_dict()


def test_termination_after_as_of_is_pending(idaho_base):
    demo, base = idaho_base
    pid = _scenarios(demo)["terminate"]["terminate"][0]["provider_id"]
    w = run_whatif(
        base,
        {"as_of": "2026-12-31", "terminate": [{"provider_id": pid, "effective": "2027-02-01"}]},
    )
    assert list(w.pending["provider_id"]) == [pid]
    assert len(w.changes) == 0 and (w.delta["lost"] == 0).all()


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"terminate": ["NOPE"]}, "no in-network provider"),
        ({"join": ["NOPE"]}, "no such provider"),
        ({"remove": ["x"]}, "unknown key 'remove'"),
        ({"terminate": [{"provider_id": "x", "effective": "soon"}]}, "not a date"),
        (
            {"add": [{"provider_id": "N", "provider_type": "dentist", "lat": 43, "lon": -112}]},
            "dentist",
        ),
    ],
)
def test_bad_scenarios_get_clear_messages(idaho_base, spec, message):
    from adequacy.errors import InputError

    _, base = idaho_base
    with pytest.raises(InputError, match=message):
        run_whatif(base, spec)


# ---------------------------------------------------------------------------
# continuity of care: counts say yes, capacity says no
# ---------------------------------------------------------------------------
def test_continuity_assignment_respects_capacity(toy):
    members = pd.DataFrame(
        {
            "member_id": ["m0", "m1", "m5"],
            "lat": [lat_of(0), lat_of(1), lat_of(5)],
            "lon": LON,
            "pcp_id": "X",
            "in_treatment": [False, True, False],
        }
    )
    providers = pd.DataFrame(
        [
            {"provider_id": "X", "node": 3, "panel_size": 3},
            {"provider_id": "A", "node": 0, "panel_size": 1499},  # room for one
            {"provider_id": "B", "node": 6, "panel_size": 1498},  # room for two
        ]
    )
    providers["lat"] = [lat_of(n) for n in providers.pop("node")]
    providers["lon"] = LON
    providers["provider_type"] = "pcp"
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "rules": [{"id": "pc", "provider_type": "pcp", "count": 1, "miles": 2, "minutes": 3}],
    }
    base = evaluate(members, providers, toy, std, regions=counties(), workers=1)
    w = run_whatif(base, {"terminate": [{"provider_id": "X", "effective": "2026-12-01"}]})
    per_member, summary = continuity_of_care(w)
    s = summary.iloc[0]
    # counts alone: three displaced, three places within reach (A 1 + B 2) ...
    assert s["displaced_members"] == 3 and s["room_within_standard"] == 3
    # ... but m0 and m1 can only reach A, which has room for one
    assert s["assigned"] == 2 and s["unassigned"] == 1 and not s["absorbed"]
    got = per_member.set_index("member_id")
    assert got.loc["m0", "assigned_pcp"] == "A"  # nearest pair first (0 miles)
    assert got.loc["m1", "assigned_pcp"] == ""
    assert got.loc["m1", "options_within_standard"] == 1
    assert got.loc["m5", "assigned_pcp"] == "B"
    assert got.loc["m1", "continuity_until"] == date(2026, 12, 1) + pd.Timedelta(
        days=ACTIVE_TREATMENT_DAYS
    )
    assert got.loc["m0", "continuity_until"] == date(2026, 12, 1) + pd.Timedelta(
        days=PCP_TRANSITION_DAYS
    )


# ---------------------------------------------------------------------------
# recruitment: greedy maximum coverage in a known order
# ---------------------------------------------------------------------------
def test_recruitment_greedy_order(toy, tmp_path):
    nodes = [0, 0, 1, 2, 3, 4, 5]
    members = pd.DataFrame(
        {"member_id": [f"m{i}" for i in range(len(nodes))], "lat": [lat_of(n) for n in nodes]}
    )
    members["lon"] = LON
    far = pd.DataFrame([{"provider_id": "FAR", "provider_type": "pcp", "lat": lat_of(16)}])
    far["lon"] = LON  # on the spur, outside both counties, 7+ miles from everyone
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "rules": [{"id": "pc", "provider_type": "pcp", "count": 1, "miles": 1.5}],
    }
    base = evaluate(members, far, toy, std, regions=counties(), workers=1)
    assert not base.member_results["meets"].any()
    cands = pd.DataFrame(
        {
            "provider_id": ["C2", "C1", "C5", "C4"],
            "provider_type": "pcp",
            "lat": [lat_of(2), lat_of(1), lat_of(5), lat_of(4)],
            "lon": LON,
        }
    )
    path = tmp_path / "candidates.csv"
    cands.to_csv(path, index=False)
    r = recruit(base, "pc", candidates=path, top=4)
    # C1 reaches n0 (two members), n1, n2: 4; then only n3..n5 are left: C4 brings 3;
    # nobody is left, so the greedy stops (C2 alone would cover 3, but n1/n2 are taken)
    assert list(r.picks["candidate"]) == ["C1", "C4"]
    assert list(r.picks["newly_meeting"]) == [4, 3]
    assert list(r.picks["total_newly_meeting"]) == [4, 7]
    # both counties fail (no one meets), so everyone brought in is in a failing county;
    # C1 brings county A 4 of the 3 it needs, C4 brings county B 2 of the 1 it needs
    assert list(r.picks["newly_meeting_in_failing_counties"]) == [4, 3]
    assert list(r.picks["counties_reaching_threshold"]) == [1, 1]
    assert r.message == ""
    targets = r.counties.set_index("county_fips")
    # county A (n0..n3, 5 members) needs 3 more: pick 1; county B (n4, n5) needs 1: pick 2
    assert targets.loc["00001", "members_short"] == 3
    assert targets.loc["00001", "picks_to_threshold"] == 1
    assert targets.loc["00002", "picks_to_threshold"] == 2


PCP_WITHIN_1_5_MILES = {
    "name": "toy",
    "version": "1",
    "threshold": 0.5,
    "rules": [{"id": "pc", "provider_type": "pcp", "count": 1, "miles": 1.5}],
}


def _toy_sites(**nodes):
    """PCP rows named by keyword, each at a toy-road node."""
    return pd.DataFrame(
        {
            "provider_id": list(nodes),
            "provider_type": "pcp",
            "lat": [lat_of(n) for n in nodes.values()],
            "lon": LON,
        }
    )


def _toy_members(nodes):
    members = pd.DataFrame(
        {"member_id": [f"m{i}" for i in range(len(nodes))], "lat": [lat_of(n) for n in nodes]}
    )
    members["lon"] = LON
    return members


@pytest.fixture
def toy_one_county_fails(toy):
    """County A (n0..n3) passes with three failing members; county B (n4..n6) fails.

    The in-network PCP at n1 reaches n0, n1, n2 (1 mile each) within 1.5 miles, not
    n3 (2 miles). County A: n0 x2, n1, n2 meet, n3 x3 fail: 4/7 >= 50%, passes.
    County B: n5, n6 fail: 0/2, one member short of 50%. The member at the spur n7
    is outside both counties (not in the service area).
    """
    members = _toy_members([0, 0, 1, 2, 3, 3, 3, 5, 6, 7])
    base = evaluate(
        members, _toy_sites(IN=1), toy, PCP_WITHIN_1_5_MILES, regions=counties(), workers=1
    )
    cs = base.county_summary.set_index("county_fips")
    fails = cs["verdict"].eq("fail") if "verdict" in cs.columns else ~cs["passes"]
    assert not fails["00001"] and fails["00002"]  # the premise, from the county table
    return base


def test_recruitment_closes_the_failing_county_before_raw_coverage(toy_one_county_fails):
    base = toy_one_county_fails
    # CA at n3 brings n3 x3 (all in passing county A; n2 already meets): 3 members.
    # CB at n6 brings n5 and n6 (failing county B; the n7 member is outside): 2 members.
    # Raw coverage would pick CA first; closing gaps picks CB, which takes B to 2/2.
    r = recruit(base, "pc", candidates=_toy_sites(CA=3, CB=6), top=5)
    assert r.message == ""
    assert list(r.picks["candidate"]) == ["CB", "CA"]
    assert list(r.picks["newly_meeting_in_failing_counties"]) == [2, 0]
    assert list(r.picks["counties_reaching_threshold"]) == [1, 0]
    assert list(r.picks["newly_meeting"]) == [2, 3]
    assert list(r.picks["total_newly_meeting"]) == [2, 5]
    # 9 members in the service area, 4 meeting before: 6/9 after CB, 9/9 after CA
    np.testing.assert_allclose(r.picks["share_meeting_after"], [6 / 9, 1.0])
    targets = r.counties.set_index("county_fips")
    assert list(targets.index) == ["00002"]  # only B fails
    assert targets.loc["00002", "members_short"] == 1
    assert targets.loc["00002", "picks_to_threshold"] == 1


def test_recruitment_ranks_counties_brought_to_threshold_before_raw_coverage(toy):
    """Three counties: P (n0..n2) passes, A (n3, n4) and B (n5, n6) fail.

    The in-network PCP at n0 reaches n0 and n1. P: n0 x2, n1 meet, n2 x2 fail: 3/5.
    A: n3 x2, n4 x4: 0/6, 3 short. B: n5, n6: 0/2, 1 short. Within 1.5 miles:
    X at n2 brings n2 x2 (P) and n3 x2 (A): 2 in failing counties, no county over, 4;
    Y at n6 brings n5, n6 (B): 2 in failing counties, B over its threshold, 2;
    W at n4 brings n3 x2, n4 x4 (A) and n5 (B): 7, both A and B over.
    """
    import geopandas as gpd
    from shapely.geometry import box

    def rows(first, last):
        return box(LON - 0.01, lat_of(first) - 0.005, LON + 0.01, lat_of(last) + 0.005)

    regions = gpd.GeoDataFrame(
        {
            "fips": ["00010", "00020", "00030"],
            "name": ["P", "A", "B"],
            "population": [100, 100, 100],
            "area_sq_mi": [1.0, 1.0, 1.0],
        },
        geometry=[rows(0, 2), rows(3, 4), rows(5, 6)],
        crs=4326,
    )
    members = _toy_members([0, 0, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 6])
    base = evaluate(
        members, _toy_sites(IN=0), toy, PCP_WITHIN_1_5_MILES, regions=regions, workers=1
    )
    # X and Y tie on members in failing counties (2 each): Y closes B, so Y goes first
    r = recruit(base, "pc", candidates=_toy_sites(X=2, Y=6), top=5)
    assert list(r.picks["candidate"]) == ["Y", "X"]
    assert list(r.picks["newly_meeting_in_failing_counties"]) == [2, 2]
    assert list(r.picks["counties_reaching_threshold"]) == [1, 0]
    assert list(r.picks["newly_meeting"]) == [2, 4]
    # with W: W first (7); then Y brings only n6 (n5 is taken), 1 in B, which already
    # passes after W (the running count), and X brings n2 x2 in P only (n3 is taken)
    r = recruit(base, "pc", candidates=_toy_sites(X=2, Y=6, W=4), top=5)
    assert list(r.picks["candidate"]) == ["W", "Y", "X"]
    assert list(r.picks["newly_meeting_in_failing_counties"]) == [7, 1, 0]
    assert list(r.picks["counties_reaching_threshold"]) == [2, 0, 0]
    assert list(r.picks["newly_meeting"]) == [7, 1, 2]
    targets = r.counties.set_index("county_fips")
    assert targets.loc["00020", "picks_to_threshold"] == 1
    assert targets.loc["00030", "picks_to_threshold"] == 1


@pytest.mark.parametrize("top", [0, -3])
def test_recruitment_needs_at_least_one_pick(toy_one_county_fails, top):
    from adequacy.errors import InputError

    with pytest.raises(InputError, match=f"--top {top}.*at least 1") as err:
        recruit(toy_one_county_fails, "pc", candidates=_toy_sites(CB=6), top=top)
    assert "\n" not in str(err.value)


def test_recruitment_says_why_no_candidate_helps(toy, toy_one_county_fails):
    base = toy_one_county_fails
    # C0 at n0 reaches n0..n1 only (members who already meet): nothing to bring in
    r = recruit(base, "pc", candidates=_toy_sites(C0=0), top=3)
    assert r.picks.empty
    assert "no candidate site brings any failing member within 1.5 mi" in r.message
    # CA brings members of passing county A only: a pick, but it closes no gap
    r = recruit(base, "pc", candidates=_toy_sites(CA=3), top=3)
    assert list(r.picks["candidate"]) == ["CA"]
    assert "no candidate site brings a member of a failing county (B)" in r.message
    assert "only counties that already pass" in r.message
    # everyone meets: nothing to recruit for
    members = _toy_members([0, 1, 2])
    everyone = evaluate(
        members, _toy_sites(IN=1), toy, PCP_WITHIN_1_5_MILES, regions=counties(), workers=1
    )
    r = recruit(everyone, "pc", candidates=_toy_sites(CB=6), top=3)
    assert r.picks.empty and r.failing_members == 0
    assert r.message.startswith("no member fails this rule")


def test_recruitment_on_eastern_idaho_raises_a_failing_county_first(idaho_base):
    """The first pick brings members of a failing county to the standard (networkx check)."""
    import networkx as nx

    from adequacy.units import METERS_PER_MILE, MPH_TO_METERS_PER_SECOND

    _, base = idaho_base
    cs = base.county_summary.assign(rule=lambda t: t["rule"].astype(str))
    fails = cs["verdict"].eq("fail") if "verdict" in cs.columns else ~cs["passes"].astype(bool)
    by_rule = fails.groupby(cs["rule"]).agg(["any", "all"])
    # the first rule failing in some counties but not all, with out-of-network candidates
    rule = next(
        r
        for r in base.standards.rules
        if r.id in by_rule.index and by_rule.loc[r.id, "any"] and not by_rule.loc[r.id, "all"]
    )
    failing = set(cs.loc[fails & (cs["rule"] == rule.id), "county_fips"].astype(str))
    r = recruit(base, rule.id, top=3)
    assert r.message == ""
    first = r.picks.iloc[0]
    assert first["newly_meeting_in_failing_counties"] > 0
    # independently: the failing members one provider short whom the site reaches within
    # the limits of their county class (the site's and the member's legs included)
    res = base.member_results
    part = res[(res["rule"] == rule.id) & (res["language"] == "")]
    one_short = part[
        ~part["meets"] & part["in_service_area"] & (part["n_qualifying"] == rule.count - 1)
    ]
    rows = pd.Index(base.members["member_id"]).get_indexer(one_short["member_id"])
    site = snap_points(base.graph, [[first["lon"], first["lat"]]])
    speed = base.settings.snap_speed_mph * MPH_TO_METERS_PER_SECOND
    legs = base.member_snap.meters[rows]
    cost = {}
    for weight, site_leg, member_legs in (
        ("meters", site.meters[0], legs),
        ("seconds", site.meters[0] / speed, legs / speed),
    ):
        g = base.graph.to_networkx(weight).reverse(copy=False)
        reach = nx.single_source_dijkstra_path_length(g, int(site.node[0]), weight=weight)
        nodes = base.member_snap.node[rows]
        cost[weight] = site_leg + np.array([reach.get(int(n), np.inf) for n in nodes])
        cost[weight] += member_legs
    limits = [rule.limits_for(c) for c in one_short["region_class"].astype(str)]
    miles = np.array([np.nan if lim.miles is None else lim.miles for lim in limits])
    minutes = np.array([np.nan if lim.minutes is None else lim.minutes for lim in limits])
    both = np.array([lim.combine == "and" for lim in limits])
    ok_m = cost["meters"] <= miles * METERS_PER_MILE * (1 + 1e-9)
    ok_s = cost["seconds"] <= minutes * 60 * (1 + 1e-9)
    brought = np.where(both, ok_m & ok_s, ok_m | ok_s)
    in_failing = one_short["county_fips"].astype(str).isin(failing).to_numpy()
    assert first["newly_meeting"] == int(brought.sum())
    assert first["newly_meeting_in_failing_counties"] == int((brought & in_failing).sum()) > 0
    # and the county targets count them in their failing counties
    assert r.counties["brought_in_by_picks"].sum() >= first["newly_meeting_in_failing_counties"]


@pytest.mark.slow
def test_recruitment_without_candidates_samples_road_nodes(idaho_base):
    _, base = idaho_base
    r = recruit(base, "rehabilitation", top=3)  # eastern Idaho has no rehabilitation facility
    assert r.candidate_source.startswith("road nodes")
    assert len(r.picks) == 3
    assert r.picks["newly_meeting"].is_monotonic_decreasing
    assert r.picks["total_newly_meeting"].iloc[-1] == r.picks["newly_meeting"].sum()
    # the first pick, checked with networkx: the failing members within 30 miles along
    # their fastest route (the seed manual's distance basis) or 60 minutes of its site
    # (member's leg included) are exactly the ones it brings in
    import networkx as nx

    from adequacy.units import METERS_PER_MILE, MPH_TO_METERS_PER_SECOND

    assert base.settings.distance_basis == "fastest_route"
    site = r.picks.iloc[0]
    node = int(snap_points(base.graph, [[site["lon"], site["lat"]]]).node[0])
    assert node in set(base.member_snap.node)  # a road node where failing members live
    g = nx.DiGraph()  # reversed (provider -> member), the fastest of parallel edges
    u = base.graph.edge_sources()
    for a, b, m, t in zip(
        u, base.graph.targets, base.graph.meters, base.graph.seconds, strict=True
    ):
        old = g.get_edge_data(int(b), int(a))
        if old is None or (t, m) < (old["seconds"], old["meters"]):
            g.add_edge(int(b), int(a), seconds=float(t), meters=float(m))
    dist, paths = nx.single_source_dijkstra(g, node, cutoff=2 * 3600, weight="seconds")
    wanted = set(base.member_snap.node.tolist())
    route = {
        n: sum(g[x][y]["meters"] for x, y in zip(p[:-1], p[1:], strict=True))
        for n, p in paths.items()
        if n in wanted
    }
    reach = {"meters": route, "seconds": dist}
    res = base.member_results
    part = res[(res["rule"] == "rehabilitation") & (res["language"] == "")]
    failing = part[~part["meets"] & part["in_service_area"]]
    rows = failing["member_id"].cat.codes.to_numpy()  # member rows
    legs = base.member_snap.meters[rows]
    nodes = base.member_snap.node[rows]
    meters = np.array([reach["meters"].get(int(n), np.inf) for n in nodes]) + legs
    seconds = np.array([reach["seconds"].get(int(n), np.inf) for n in nodes]) + legs / (
        15 * MPH_TO_METERS_PER_SECOND
    )
    within = (meters <= 30 * METERS_PER_MILE * (1 + 1e-9)) | (seconds <= 60 * 60 * (1 + 1e-9))
    assert site["newly_meeting"] == int(within.sum()) > 0


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_whatif_and_recruit_commands(tmp_path, graph_cache):
    run_dir = tmp_path / "base"
    done = run_cli("demo", "--region", "eastern-idaho", "--out", run_dir, env_cache=graph_cache)
    assert done.returncode == 0, done.stderr
    providers = pd.read_csv(run_dir / "inputs" / "providers.csv")
    pcp = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"name: test\nterminate:\n  - {{provider_id: {pcp['provider_id'].iloc[4]}, "
        "effective: 2026-12-01}\n"
    )
    out = tmp_path / "whatif"
    done = run_cli(
        "whatif", "--base", run_dir, "--scenario", scenario, "--out", out, env_cache=graph_cache
    )
    assert done.returncode == 0, done.stderr
    assert "continuity" in done.stdout
    delta = pd.read_parquet(out / "delta.parquet")
    assert (delta["lost"] > 0).any() and delta["synthetic"].all()
    assert (out / "continuity_summary.csv").exists() and (out / "manifest.json").exists()
    out2 = tmp_path / "recruit"
    done = run_cli(
        "recruit",
        "--base",
        run_dir,
        "--rule",
        "rehabilitation",
        "--top",
        "2",
        "--out",
        out2,
        env_cache=graph_cache,
    )
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out2 / "picks.csv")) == 2
    # a bad scenario or rule: one line, exit 2, no output folder
    bad = tmp_path / "bad.yaml"
    bad.write_text("terminate: [NOPE]\n")
    out3 = tmp_path / "bad-out"
    done = run_cli(
        "whatif", "--base", run_dir, "--scenario", bad, "--out", out3, env_cache=graph_cache
    )
    assert done.returncode == 2 and "NOPE" in done.stderr and "Traceback" not in done.stderr
    done = run_cli(
        "recruit", "--base", run_dir, "--rule", "dentistry", "--out", out3, env_cache=graph_cache
    )
    assert done.returncode == 2 and "primary_care" in done.stderr
    assert not out3.exists()


def test_a_scenario_that_changes_the_rule_set_is_refused(idaho_base):
    """nc-medicaid has a rule per specialty in the network: a new specialty is a new rule."""
    from adequacy.errors import InputError

    demo, _ = idaho_base
    base = evaluate(demo.members, demo.providers, demo.graph, "nc-medicaid", regions=demo.regions)
    m = demo.members
    new = {
        "provider_id": "NEW-ALLERGY",
        "provider_type": "specialist",
        "specialty": "allergy",
        "lat": float(m["lat"].iat[3]),
        "lon": float(m["lon"].iat[3]),
    }
    with pytest.raises(InputError, match="allergy"):
        run_whatif(base, {"add": [new]})
    # a specialty already in the network is an ordinary update
    existing = {
        **new,
        "provider_id": "NEW-CARD",
        "specialty": demo.providers.loc[
            demo.providers["provider_type"] == "specialist", "specialty"
        ].iloc[0],
    }
    assert len(run_whatif(base, {"add": [existing]}).delta)
