"""What-if's per-base working data: a scenario run after others on the same base gives
what it gives on a base seen for the first time (``adequacy.whatif.cache``).

On the toy road (``support``): county A holds n0..n3, county B n4..n6.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from support import LON, counties, lat_of, toy_members

from adequacy import evaluate
from adequacy.whatif import run_whatif

STANDARDS = {
    "name": "toy",
    "version": "1",
    "threshold": 0.5,
    "rules": [
        {
            "id": "pc",
            "label": "Primary care",
            "provider_type": "pcp",
            "count": 1,
            "miles": 1.5,
            "ratio": {"members_per_provider": 2, "closed_panels": "exclude"},
            "min_providers": 1,
        }
    ],
}


def site(pid: str, node: int, **extra) -> dict:
    return {"provider_id": pid, "provider_type": "pcp", "lat": lat_of(node), "lon": LON, **extra}


@pytest.fixture
def base(toy):
    providers = pd.DataFrame([site("P0", 0), site("P5", 5, languages="English;Spanish")])
    members = toy_members([0, 1, 2, 4, 5, 6])
    return evaluate(members, providers, toy, STANDARDS, regions=counties(), workers=1)


def test_scenarios_in_turn_give_what_a_fresh_base_gives(base):
    # sites added in county A twice (the second counted as the first was), then in
    # county B, then a terminated site and a second site of a provider
    scenarios = [
        {"add": [site("NEW-1", 1)]},
        {"add": [site("NEW-2", 2)]},
        {"add": [site("NEW-3", 6, languages="English;Spanish")]},
        {"add": [site("NEW-4", 2, panel_open=False)]},
        {"terminate": ["P5"]},
        {"add": [site("P0", 3)]},
        {"add": [site("NEW-1", 1)]},
    ]
    for spec in scenarios:
        again = run_whatif(base, spec)
        fresh = run_whatif(replace(base), spec)  # another object: nothing kept for it yet
        pd.testing.assert_frame_equal(again.delta, fresh.delta)
        pd.testing.assert_frame_equal(again.changes, fresh.changes)
        pd.testing.assert_frame_equal(again.providers, fresh.providers)
    # the providers of the last one, counted again: P0, P5 and NEW-1 in the network
    delta = again.delta.set_index(["rule", "language", "county_fips"])
    assert delta.loc[("pc", "", "ALL"), "providers_after"] == 3
    assert delta.loc[("pc", "", "ALL"), "providers_before"] == 2
