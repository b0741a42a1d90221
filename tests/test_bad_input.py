"""Bad input gets one clear message per problem, all at once; checked on the toy road
(fast) - the command-line suite is tests/test_malformed.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import LON, counties, lat_of

from adequacy import InputError, RoadGraph, evaluate
from adequacy.whatif import read_scenario, run_whatif

STANDARDS = {
    "name": "toy",
    "version": "1",
    "threshold": 0.5,
    "rules": [{"id": "pcp", "provider_type": "pcp", "miles": 2}],
}


def _members(lats, lons=None):
    return pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(len(lats))],
            "lat": lats,
            "lon": lons if lons is not None else [LON] * len(lats),
        }
    )


PROVIDERS = pd.DataFrame(
    {"provider_id": ["P1", "P2"], "provider_type": "pcp", "lat": [lat_of(1), lat_of(5)], "lon": LON}
)


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_swapped_latitude_and_longitude_are_named():
    """A road at 10 E, 50 N: members given as lat 10, lon 50 are on it once swapped."""
    meters = np.full(2, 1000.0)
    line = RoadGraph.from_edges([0, 1], [1, 0], meters, meters / 10, [10.0, 10.01], [50.0, 50.0])
    members = pd.DataFrame({"member_id": ["a", "b"], "lat": [10.0, 10.01], "lon": [50.0, 50.0]})
    providers = pd.DataFrame(
        {"provider_id": ["P"], "provider_type": "pcp", "lat": [50.0], "lon": [10.0]}
    )
    members["county_fips"] = "00001"
    message = _error(evaluate, members, providers, line, STANDARDS)
    assert "latitude and longitude look swapped" in message and "swap the lat and lon" in message


def test_members_problems_come_first_though_providers_are_read_first(toy):
    """With a loaded graph and threads to spare, providers are read (and their searches
    begun) before members; a run with bad members and bad providers still reports the
    members' problems, as it always has, and bad providers alone are reported."""
    bad_members = _members([lat_of(1), lat_of(2)]).astype({"lat": object})
    bad_members.loc[1, "lat"] = "north"
    bad_providers = PROVIDERS.assign(provider_type=["pcp", ""])
    both = _error(evaluate, bad_members, bad_providers, toy, STANDARDS, workers=2)
    assert "lat is not a number at row 2" in both and "provider_type" not in both
    alone = _error(evaluate, _members([lat_of(1)]), bad_providers, toy, STANDARDS, workers=2)
    assert "provider_type" in alone and "row 2" in alone, alone
    # high-volume rules without claims: the note comes after the inputs' own notes
    good = evaluate(_members([lat_of(1), 0.0], [LON, 0.0]), PROVIDERS, toy,
                    regions=counties(), workers=2)  # fmt: skip
    off_map = next(i for i, n in enumerate(good.notes) if "outside the road network" in n)
    no_claims = next(i for i, n in enumerate(good.notes) if "no claims were given" in n)
    assert off_map < no_claims


def test_a_file_mostly_off_the_map_is_refused_and_a_few_are_named(toy):
    at_sea = _members([0.0] * 4 + [lat_of(1)], [0.0] * 4 + [LON])
    message = _error(evaluate, at_sea, PROVIDERS, toy, STANDARDS, regions=counties())
    assert "4 of 5 members are more than 50 km outside the road network" in message
    few = _members([lat_of(n) for n in range(5)] + [0.0], [LON] * 5 + [0.0])
    ev = evaluate(few, PROVIDERS, toy, STANDARDS, regions=counties(), workers=1)
    note = next(n for n in ev.warnings if "outside the road network" in n)
    assert "1 of 6 members" in note and "m5 (row 6)" in note
    # the run's notes (manifest, report) count them without naming anyone
    counted = next(n for n in ev.notes if "outside the road network" in n)
    assert "1 of 6 members" in counted and "m5" not in counted


def test_a_scenario_lists_every_problem_with_its_entry(toy, tmp_path):
    path = tmp_path / "scenario.yaml"
    # problems in the file itself: all of them, each with its entry
    path.write_text(
        "terminate: [{provider_id: P1, effective: 2026-13-01}]\n"
        "add:\n"
        "  - {provider_id: N1, provider_type: pcp, lon: -100}\n"  # no lat
    )
    message = _error(read_scenario, path)
    assert str(path) in message and "2 problems" in message
    assert "terminate[0].effective: '2026-13-01' is not a date" in message
    assert "add[0]: missing lat" in message
    # problems against the base roster: all of them too
    base = evaluate(_members([lat_of(0)]), PROVIDERS, toy, STANDARDS, regions=counties())
    path.write_text(
        "terminate: [P3]\n"
        "join: [P2]\n"
        "add:\n"
        "  - {provider_id: N2, provider_type: pcp, lat: 0, lon: 0}\n"  # at sea
    )
    message = _error(run_whatif, base, read_scenario(path))
    assert str(path) in message and "3 problems" in message
    assert "terminate[0] 'P3': no in-network provider with that id" in message
    assert "join[0] 'P2': already in the network" in message
    assert "N2 (add[0])" in message and "outside the road network" in message


def test_an_offshore_provider_in_a_scenario_is_refused(toy, tmp_path):
    base = evaluate(_members([lat_of(0)]), PROVIDERS, toy, STANDARDS, regions=counties())
    scenario = {"add": [{"provider_id": "SEA", "provider_type": "pcp", "lat": 39.0, "lon": -99.0}]}
    message = _error(run_whatif, base, scenario)
    assert "more than 50 km outside the road network" in message


def test_a_scenario_file_names_its_yaml_line_and_its_encoding(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text("name: x\nterminate:\n  - P1\n  bad: [\n")
    assert "is not valid YAML at line" in _error(read_scenario, path)
    path.write_bytes("name: Ren\xe9e leaves\nterminate: [P1]\n".encode("latin-1"))
    message = _error(read_scenario, path)
    assert "line 1 is not UTF-8" in message and "Latin-1" in message
    path.write_text("nmae: x\nterminate: [{provider_id: P1, effective: 2026-13-01}]\n")
    message = _error(read_scenario, path)
    assert "2 problems" in message and "did you mean 'name'?" in message
    assert "terminate[0].effective" in message


def test_an_output_folder_never_swallows_what_it_would_delete(tmp_path, monkeypatch):
    from adequacy.runs.write import check_out

    monkeypatch.chdir(tmp_path)
    for here in (".", str(tmp_path), str(tmp_path.parent)):
        assert "current folder" in _error(check_out, here, force=True)
    data = tmp_path / "data"
    data.mkdir()
    members = data / "members.csv"
    members.write_text("member_id,lat,lon\n")
    message = _error(check_out, data, force=True, inputs=[members, None])
    assert "holds the input members.csv" in message
    assert check_out(tmp_path / "results", force=False, inputs=[members]) == tmp_path / "results"


def test_an_output_replaces_only_an_earlier_output_of_its_kind(tmp_path, monkeypatch):
    import json

    from adequacy.runs.write import check_out, run_inputs

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    members = tmp_path / "data" / "members.csv"
    members.parent.mkdir()
    members.write_text("member_id,lat,lon\n")
    manifest = {"adequacy_version": "0.1.0", "inputs": {"members": {"path": str(members)}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert check_out(run, kind="run") == run  # a new run replaces the earlier run
    assert "holds an earlier run output, not a report" in _error(check_out, run, kind="report")
    assert check_out(run, kind="report", force=True) == run
    # a what-if's --out may never swallow the base run's own inputs, even with --force
    assert run_inputs(run) == [str(members)]
    message = _error(check_out, members.parent, force=True, inputs=run_inputs(run))
    assert "holds the input members.csv" in message
