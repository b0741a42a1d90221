"""The judge decides once, with one tolerance: engine, continuity of care, recruitment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import LON as TOY_LON
from support import counties
from support import lat_of as toy_lat

from adequacy import RoadGraph, evaluate
from adequacy.engine.judge import (
    members_short,
    qualifies,
    qualifying_counts,
    ratio_passes,
    share_passes,
    within,
)
from adequacy.units import METERS_PER_MILE, MPH_TO_METERS_PER_SECOND
from adequacy.whatif import continuity_of_care, recruit, run_whatif

STEP_MILES = 0.1  # three hops of 0.1 mile sum to 482.80320000000006 m > 0.3 mi = 482.8032 m
LAT0, LON = 45.0, -90.0
DLAT = STEP_MILES * METERS_PER_MILE / 111_195.0  # about 0.1 mile of latitude


def lat_of(i: int) -> float:
    return LAT0 + i * DLAT


@pytest.fixture(scope="module")
def line() -> RoadGraph:
    """Nodes 0..3 on a line, 0.1 mile apart both ways, at 30 mph."""
    u = [0, 1, 1, 2, 2, 3]
    v = [1, 0, 2, 1, 3, 2]
    meters = np.full(6, STEP_MILES * METERS_PER_MILE)
    seconds = meters / (30 * MPH_TO_METERS_PER_SECOND)
    return RoadGraph.from_edges(
        u, v, meters, seconds, [LON] * 4, [lat_of(i) for i in range(4)], meta={"source": "line"}
    )


def test_the_edge_sum_really_lands_past_the_limit_in_floating_point():
    total = 0.0
    for _ in range(3):
        total += STEP_MILES * METERS_PER_MILE
    assert total > 0.3 * METERS_PER_MILE  # the case the tolerance exists for
    assert within(total, 0.3 * METERS_PER_MILE)
    assert not within(0.3 * METERS_PER_MILE * 1.000001, 0.3 * METERS_PER_MILE)
    assert not within(1.0, np.nan)  # no limit set: never within


def test_qualifying_counts_are_distinct_providers_within_either_limit():
    """The compiled count equals a count made row by row with ``within``: distinct
    providers (a provider in both lists once; -1 no provider), a NaN limit never met,
    the tolerance at the limit, a metric the rule does not use left out."""
    rng = np.random.default_rng(5)
    m, k = 2000, 3
    limit_m = rng.choice([1000.0, 2000.0, np.nan], m)
    limit_s = rng.choice([600.0, np.nan], m)
    miles = (rng.uniform(0, 3000, (m, k)), rng.integers(-1, 6, (m, k)))
    time = (rng.uniform(0, 1200, (m, k)), rng.integers(-1, 6, (m, k)))
    miles[0][:50, 0] = limit_m[:50] * (1 + 1e-10)  # on the limit, within the tolerance
    for use_miles, use_time in ((True, True), (True, False), (False, True)):
        a, b = miles if use_miles else None, time if use_time else None
        count, saturated = qualifying_counts(a, limit_m, b, limit_s)
        for i in range(m):
            ids, full = set(), False
            for labels, limit in ((a, limit_m[i]), (b, limit_s[i])):
                if labels is None:
                    continue
                ok = [bool(within(c, limit)) for c in labels[0][i]]
                ids |= {int(p) for p, o in zip(labels[1][i], ok, strict=True) if o and p >= 0}
                full |= all(ok)
            assert count[i] == len(ids) and saturated[i] == full, i
    assert count.dtype == np.int64 and 0 < count.max() <= 2 * k


def test_a_provider_exactly_at_the_limit_qualifies_everywhere(line, tmp_path):
    """Engine, continuity of care and recruitment agree on a provider exactly 0.3 mi away."""
    members = pd.DataFrame(
        {
            "member_id": ["m0"],
            "lat": [lat_of(0)],
            "lon": [LON],
            "county_fips": ["00001"],
            "pcp_id": ["P0"],
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": ["P0", "P3"],
            "provider_type": ["pcp", "pcp"],
            "lat": [lat_of(0), lat_of(3)],
            "lon": [LON, LON],
        }
    )
    std = {
        "name": "line",
        "version": "1",
        "threshold": 0.5,
        "rules": [{"id": "pcp", "provider_type": "pcp", "count": 2, "miles": 0.3}],
    }
    base = evaluate(members, providers, line, std, workers=1)
    row = base.member_results.iloc[0]
    assert row["meets"] and row["n_qualifying"] == 2  # P3, 3 hops away, is within 0.3 mi

    w = run_whatif(base, {"terminate": ["P0"]})
    displaced, summary = continuity_of_care(w)
    assert displaced["options_within_standard"].tolist() == [1]
    assert displaced["assigned_pcp"].tolist() == ["P3"]
    assert bool(summary["absorbed"].iloc[0])

    # recruitment: a candidate at node 3 brings the member (who now lacks a 2nd PCP) in
    solo = evaluate(members, providers.iloc[:1], line, std, workers=1)
    cand = pd.DataFrame(
        {"provider_id": ["C3"], "provider_type": ["pcp"], "lat": [lat_of(3)], "lon": [LON]}
    )
    picks = recruit(solo, "pcp", candidates=cand, top=1).picks
    assert picks["candidate"].tolist() == ["C3"] and picks["newly_meeting"].tolist() == [1]


def test_share_and_ratio_decisions():
    assert share_passes(9, 10, 0.9) and not share_passes(8, 10, 0.9)
    assert not share_passes(0, 0, 0.9)  # no members: no pass
    assert list(share_passes(np.array([9, 8]), np.array([10, 10]), 0.9)) == [True, False]
    assert members_short(10, 8, 0.9) == 1 and members_short(10, 9, 0.9) == 0
    assert members_short(7, 0, 0.95) == 7  # 95% of 7 is 6.65: all 7 needed
    assert ratio_passes(200.0, 200.0) is True and ratio_passes(201.0, 200.0) is False
    assert ratio_passes(5.0, np.nan) is None
    ok_d, ok_t = np.array([True, False]), np.array([False, False])
    assert list(qualifies(ok_d, ok_t, np.array([False, True]))) == [True, False]
    assert list(qualifies(None, ok_t, np.array([False, False]))) == [False, False]


def test_whatif_status_change_reads_the_verdict(toy):
    """Two members at n0 and two PCPs at n1 meet a 1:1 ratio; terminating one leaves the
    distance share at 100% but 2 members per provider: the county now fails."""
    members = pd.DataFrame({"member_id": ["a", "b"], "lat": [toy_lat(0)] * 2, "lon": TOY_LON})
    providers = pd.DataFrame(
        {
            "provider_id": ["P1", "P2"],
            "provider_type": "pcp",
            "lat": [toy_lat(1)] * 2,
            "lon": TOY_LON,
        }
    )
    std = {
        "name": "toy",
        "version": "1",
        "threshold": 0.5,
        "rules": [
            {"id": "r", "provider_type": "pcp", "miles": 2, "ratio": {"members_per_provider": 1}}
        ],
    }
    base = evaluate(members, providers, toy, std, regions=counties(), workers=1)
    assert set(base.county_summary["verdict"]) == {"pass"}
    delta = run_whatif(base, {"terminate": ["P2"]}).delta.set_index("county_fips")
    for where in ("00001", "ALL"):
        row = delta.loc[where]
        assert row["share_before"] == row["share_after"] == 1.0  # distance unchanged
        assert (row["verdict_before"], row["verdict_after"]) == ("pass", "fail")
        assert row["status_change"] == "now fails"
        assert "2 members per provider; at most 1 allowed" in row["verdict_reasons_after"]


def test_the_delta_verdicts_equal_a_full_re_evaluation(graph_cache):
    """Every delta row's verdict after a scenario is the full re-evaluation's (the delta
    re-judges only the rules whose figures moved; the rest must not have changed)."""
    from adequacy.demo import build_demo

    demo = build_demo("eastern-idaho", n_members=800, cache_dir=graph_cache)
    ev = evaluate(demo.members, demo.providers, demo.graph, claims=demo.claims,
                  regions=demo.regions)  # fmt: skip
    providers = ev.providers[ev.providers["in_network"]]
    pcps = list(providers.loc[providers["provider_type"] == "pcp", "provider_id"].unique())
    for terminate in ([pcps[0]], pcps[1:12]):
        w = run_whatif(ev, {"terminate": terminate})
        after = w.evaluation
        full = pd.concat(
            [
                after.county_summary,
                after.language_summary,
                after.service_area_summary.assign(county_fips="ALL"),
            ]
        ).set_index(["rule", "language", "county_fips"])
        delta = w.delta.set_index(["rule", "language", "county_fips"])
        assert delta.index.isin(full.index).all()
        joined = delta.join(full[["verdict", "verdict_reasons"]])
        assert (joined["verdict_after"] == joined["verdict"]).all()
        assert (joined["verdict_reasons_after"] == joined["verdict_reasons"]).all()


@pytest.mark.parametrize("seed", range(4))
def test_county_medians_equal_pandas_groupby_median(seed):
    """The summaries' medians (a compiled selection per county) against pandas'
    groupby median: NaN left out, infinity kept, ties, odd and even counts, a
    county of NaN only, and members with no county."""
    from adequacy.engine.tally import medians

    rng = np.random.default_rng(seed)
    n = 5000
    county = pd.Categorical(
        rng.choice(["24005", "24013", "24027", "", None, "24510"], n),
        categories=["24510", "24005", "", "24013", "24027", "24001"],  # 24001: no member
    )
    miles = rng.integers(0, 40, n).astype(float) / 4  # many ties
    minutes = rng.random(n) * 90
    for column in (miles, minutes):
        column[rng.random(n) < 0.05] = np.nan
        column[rng.random(n) < 0.05] = np.inf
    miles[np.asarray(county == "24013")] = np.nan  # a county with no miles at all
    values = pd.DataFrame({"county_fips": county, "miles": miles, "minutes": minutes})
    got = medians(values)
    expected = (
        values.dropna(subset=["county_fips"])
        .astype({"county_fips": str})
        .groupby("county_fips")[["miles", "minutes"]]
        .median()
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.loc["24013", "miles"] != got.loc["24013", "miles"]  # NaN
    assert "24001" not in got.index
