"""Members living outside the service area: candidates for individual-specific contracts.

Partners Health Management's contracting page (the seeds' ``000_*.txt``) arranges
individual-specific contracts for members who live elsewhere in the state. For
each member outside every county of the service area, and each provider type the
standards name, :func:`outside_candidates` lists the nearest providers in and out
of network with miles and minutes, and counts the members per county of
residence (found in the bundled US county polygons).

Owns: ``outside_candidates``. Uses: :mod:`adequacy.findings.supply`, the judge
(which county a point lies in) and the inputs' county reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import OUTSIDE, county_of
from adequacy.findings.supply import in_network, nearest_sites, out_of_network
from adequacy.inputs.regions import read_regions

MEMBER_COLUMNS = [
    "member_id",
    "residence_county_fips",
    "residence_county",
    "provider_type",
    "in_network_nearest",
    "in_network_miles",
    "in_network_minutes",
    "out_of_network_nearest",
    "out_of_network_miles",
    "out_of_network_minutes",
]
COUNTY_COLUMNS = ["residence_county_fips", "residence_county", "members"]


def outside_candidates(
    ev: Evaluation, *, supply: Any = None, counties: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nearest providers per member outside the service area and provider type, and the
    count of such members per county of residence.

    ``supply`` as in :func:`adequacy.findings.supply.out_of_network`; ``counties``:
    county polygons to find where members live (default: the bundled US counties).
    Miles and minutes are each to the nearest provider by that measure; infinity past
    the report horizon. Members are named by ID only.
    """
    members = ev.members
    rows = np.flatnonzero(~members["in_service_area"].to_numpy())
    if not len(rows):
        return pd.DataFrame(columns=MEMBER_COLUMNS), pd.DataFrame(columns=COUNTY_COLUMNS)
    regions = read_regions(counties)
    names = dict(zip(regions["fips"], regions["name"], strict=True))
    fips = county_of(members["lon"].to_numpy()[rows], members["lat"].to_numpy()[rows], regions)
    county_names = np.array(
        [names.get(f, "outside every county given") for f in fips], dtype=object
    )
    net, oon = in_network(ev), out_of_network(ev, supply)
    frames = []
    for ptype in dict.fromkeys(r.provider_type for r in ev.standards.rules):
        key = SearchKey(ptype)
        ours = nearest_sites(ev, net, key, rows)
        theirs = nearest_sites(ev, oon, key, rows)
        frames.append(
            pd.DataFrame(
                {
                    "member_id": members["member_id"].astype(str).to_numpy()[rows],
                    "residence_county_fips": fips,
                    "residence_county": county_names,
                    "provider_type": ptype,
                    "in_network_nearest": ours["distance"][1][:, 0],
                    "in_network_miles": ours["distance"][0][:, 0],
                    "in_network_minutes": ours["time"][0][:, 0],
                    "out_of_network_nearest": theirs["distance"][1][:, 0],
                    "out_of_network_miles": theirs["distance"][0][:, 0],
                    "out_of_network_minutes": theirs["time"][0][:, 0],
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)[MEMBER_COLUMNS]
    by_county = (
        pd.DataFrame({"residence_county_fips": fips, "residence_county": county_names})
        .replace({"residence_county_fips": {OUTSIDE: ""}})
        .groupby(["residence_county_fips", "residence_county"], sort=True)
        .size()
        .rename("members")
        .reset_index()
        .sort_values(["members", "residence_county_fips"], ascending=[False, True])
        .reset_index(drop=True)
    )
    return table, by_county[COUNTY_COLUMNS]
