"""CMS's HSD tables of a Medicare Advantage run: who serves which county.

A run evaluated with ``--standards cms-ma`` knows, for every in-network
provider site, the counties it serves (within the county's time and distance
of at least one member there: :mod:`adequacy.engine.reach`). The Provider and
Facility HSD tables list one row per provider × specialty × county served,
keyed by CMS's SSA county code (:func:`adequacy.inputs.hsd_reference.match_fips`).

Owns: ``hsd_of_evaluation``. Uses: the evaluation, the reference file reader
and :mod:`adequacy.runs.hsd_tables` (the layout).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from adequacy.errors import InputError
from adequacy.inputs.hsd_reference import match_fips, read_hsd_reference
from adequacy.runs.hsd_tables import hsd_tables


def hsd_of_evaluation(
    evaluation, hsd_reference: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The Provider and Facility HSD tables of an evaluation, and notes.

    ``hsd_reference`` is the reference file the run used (default the bundled
    one); it gives the SSA county codes and the specialty names.
    """
    served = evaluation.served
    if served is None:
        raise InputError(
            "this run was not evaluated against CMS's Medicare Advantage standards; "
            "evaluate it with --standards cms-ma first"
        )
    ref = hsd_reference if hasattr(hsd_reference, "limits") else read_hsd_reference(hsd_reference)
    matched, _ = match_fips(ref.counties, evaluation.regions)
    matched = matched[matched["fips"] != ""]
    ssacd_of = dict(zip(matched["fips"], matched["ssacd"], strict=True))
    codes = evaluation.providers["cms_code"].astype(str).to_numpy()
    rows = served["provider_row"].astype(int).to_numpy()
    table = pd.DataFrame(
        {
            "provider_row": rows,
            "code": codes[rows],
            "ssacd": served["county_fips"].astype(str).map(ssacd_of).fillna("").to_numpy(),
            "county_fips": served["county_fips"].astype(str).to_numpy(),
        }
    ).drop_duplicates()
    notes = []
    no_ssa = sorted(set(table.loc[table["ssacd"] == "", "county_fips"]))
    if no_ssa:
        notes.append(
            f"{len(no_ssa)} served count{'y has' if len(no_ssa) == 1 else 'ies have'} no SSA "
            f"code in the reference file ({', '.join(no_ssa)}); their rows are left out"
        )
    table = table[(table["ssacd"] != "") & (table["code"] != "")]
    names = dict(zip(ref.specialties["code"], ref.specialties["name"], strict=False))
    provider_table, facility_table = hsd_tables(evaluation.providers, table, names)
    return provider_table, facility_table, notes
