"""Medicare Advantage standards (42 CFR 422.116) built from CMS's HSD Reference File.

The built-in set ``cms-ma`` (``standards/cms-ma.yaml``) is a recipe, not a list
of rules: its ``reference`` block names the regulation's thresholds, credits
and telehealth-eligible specialties, and :func:`cms_ma_standards` turns it into
rules for one run's service area from a reference file (the bundled CY2026
workbook, or ``hsd_reference=`` another year's):

- one rule per evaluated specialty code (``S03`` primary care, 007-037, and
  the facility types 040-068), counted over the roster's CMS codes (the
  primary care codes 001-006 all count for ``S03``);
- in each county, the file's maximum time **and** distance (both must hold),
  customised county by county; a county the file lacks gets the base values
  of its type worked out from population and density (422.116(c)), said in
  the notes;
- the share of members that must meet it: 90% in Large Metro and Metro
  counties, 85% elsewhere (422.116(d)(4)), less 10 points for a specialty on
  the telehealth list where an in-network provider of it in the county offers
  telehealth (422.116(d)(5)), and 10 points where the county and facility
  type are on the file's Certificate of Need tab (422.116(d)(6));
- the minimum number of providers (beds for acute inpatient hospitals,
  facilities otherwise) per 422.116(e): the file's own number, from its
  beneficiaries to cover, or the number the plan's own members call for
  where that is larger.

Owns: ``cms_ma_standards`` and ``CMS_PROVIDER_TYPE``. Uses: the reference
reader (:mod:`adequacy.inputs.hsd_reference`) and the standards model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.standards import Binding, CountyTerms, Limits, Rule, StandardsSet
from adequacy.errors import InputError
from adequacy.inputs.hsd_reference import (
    compute_minimums,
    county_designations,
    match_fips,
    read_hsd_reference,
)

#: The provider type of rules over CMS specialty codes: a rule's ``specialty`` is
#: the code, matched against the roster's CMS code (see ``engine.provider_rows``).
CMS_PROVIDER_TYPE = "cms"
PRIMARY_CARE = ("001", "002", "003", "004", "005", "006")


def cms_ma_standards(
    recipe: StandardsSet,
    *,
    regions: pd.DataFrame,
    members: pd.DataFrame,
    providers: pd.DataFrame,
    hsd_reference: Any = None,
    crosswalk: Any = None,
) -> tuple[StandardsSet, list[str]]:
    """The rules of a ``reference`` standards set for one service area, and notes.

    Parameters
    ----------
    recipe
        The standards set whose ``reference`` block holds the regulation's terms.
    regions
        The service area's counties (``fips``, ``name``, ``state``,
        ``population``, ``area_sq_mi``), as :func:`adequacy.inputs.read_regions` gives.
    members
        The members, placed in counties (``county_fips``).
    providers
        The roster with each row's CMS code (``cms_code``), ``telehealth``,
        ``in_network`` and ``county_fips``.
    hsd_reference
        Path of a reference file, or a read ``HsdReference``; default the bundled one.
    crosswalk
        Optional SSA -> FIPS table (``ssacd``, ``fips``) for counties whose names differ.
    """
    terms = dict(recipe.reference or {})
    ref = hsd_reference if hasattr(hsd_reference, "limits") else read_hsd_reference(hsd_reference)
    notes: list[str] = []
    if regions is None or not len(regions):
        raise InputError(
            "cms-ma: give the service area's counties (--regions): CMS's limits are set "
            "county by county"
        )
    matched, _ = match_fips(ref.counties, regions, crosswalk=crosswalk)
    matched = matched[matched["fips"] != ""]
    fips_list = [str(f) for f in regions["fips"]]
    names = dict(zip(regions["fips"].astype(str), regions["name"].astype(str), strict=True))
    ssa_of: dict[str, list[str]] = {}
    for ssacd, fips in zip(matched["ssacd"], matched["fips"], strict=True):
        if fips in fips_list:
            ssa_of.setdefault(fips, []).append(ssacd)
    missing = [f for f in fips_list if f not in ssa_of]
    designation = dict(zip(ref.counties["ssacd"], ref.counties["designation"], strict=True))
    county_type: dict[str, str] = {}
    for fips in fips_list:
        if fips in ssa_of:  # the file is authoritative where it has the county
            county_type[fips] = designation[ssa_of[fips][0]]
    if missing:
        part = regions[regions["fips"].astype(str).isin(missing)]
        worked = county_designations(
            part["population"].to_numpy(dtype=float), part["area_sq_mi"].to_numpy(dtype=float)
        )
        for fips, kind in zip(part["fips"].astype(str), worked, strict=True):
            county_type[fips] = kind or "CEAC"
        notes.append(
            f"cms-ma: {len(missing)} service-area count{'y is' if len(missing) == 1 else 'ies are'}"
            f" not in the reference file ({', '.join(names[f] for f in missing)}): their type "
            "comes from population and density (42 CFR 422.116(c)) and their limits are the "
            "type's base values"
        )

    # ---- per county x code: limits, file minimum, CON
    limits = ref.limits.set_index(["ssacd", "code"])
    file_min = ref.minimums.set_index(["ssacd", "code"])["required"]
    con = set(zip(ref.con["ssacd"], ref.con["code"], strict=True))
    base = ref.specialties.set_index(["code", "designation"])
    members_by_county = members["county_fips"].astype(str).value_counts()
    plan_counties = pd.DataFrame(
        {
            "ssacd": fips_list,
            "designation": [county_type[f] for f in fips_list],
            "beneficiaries": [int(members_by_county.get(f, 0)) for f in fips_list],
            "pct95_ratio": 1.0,
            "beneficiaries_to_cover": [int(members_by_county.get(f, 0)) for f in fips_list],
        }
    )
    plan_min = compute_minimums(plan_counties, ref.specialties).set_index(["ssacd", "code"])
    telehealth_codes = {str(c) for c in terms.get("telehealth_codes", [])}
    telehealth_points = float(terms.get("telehealth_credit", 0.10))
    con_points = float(terms.get("con_credit", 0.10))
    thresholds = {str(k): float(v) for k, v in (terms.get("thresholds") or ref.thresholds).items()}
    offered = _telehealth_offered(providers)

    codes = [c for c in dict.fromkeys(ref.limits["code"]) if c not in terms.get("excluded", [])]
    names_of = dict(zip(ref.specialties["code"], ref.specialties["name"], strict=False))
    rules = []
    for code in codes:
        by_county: dict[str, CountyTerms] = {}
        for fips in fips_list:
            kind = county_type[fips]
            ssas = ssa_of.get(fips, [])
            rows = [limits.loc[(s, code)] for s in ssas if (s, code) in limits.index]
            if rows:  # several SSA codes for one county (Los Angeles): the strictest
                minutes = min(float(r["minutes"]) for r in rows)
                miles = min(float(r["miles"]) for r in rows)
            else:
                minutes = float(base.loc[(code, kind), "minutes"])
                miles = float(base.loc[(code, kind), "miles"])
            threshold = thresholds[kind]
            credits = []
            if code in telehealth_codes and (fips, code) in offered:
                threshold -= telehealth_points
                credits.append(f"{telehealth_points * 100:g}-point telehealth credit")
            if any((s, code) in con for s in ssas):
                threshold -= con_points
                credits.append(f"{con_points * 100:g}-point certificate-of-need credit")
            threshold = max(threshold, 0.0)
            required_file = [int(file_min[(s, code)]) for s in ssas if (s, code) in file_min.index]
            required_plan = (
                int(plan_min.loc[(fips, code), "required"])
                if (fips, code) in plan_min.index
                else None
            )
            candidates = [*required_file, *([required_plan] if required_plan else [])]
            required = max(candidates) if candidates else None
            unit = (
                str(plan_min.loc[(fips, code), "unit"])
                if (fips, code) in plan_min.index
                else "providers"
            )
            note = f"{kind}; {thresholds[kind]:.0%}"
            if credits:
                note += " less the " + " and the ".join(credits)
            by_county[fips] = CountyTerms(
                limits=Limits(miles, minutes, "and"),
                threshold=threshold,
                min_providers=required,
                min_unit="beds" if unit == "beds" else "providers",
                note=note,
            )
        first = next(iter(by_county.values()))
        rules.append(
            Rule(
                id=f"cms_{code}",
                label=f"{names_of.get(code, code)} ({code})",
                provider_type=CMS_PROVIDER_TYPE,
                count=1,
                limits=first.limits,
                threshold=first.threshold,
                specialty=code,
                binding=Binding(ratio=True, min_providers=True, languages=False),
                counties=by_county,
            )
        )
    notes.append(
        f"cms-ma: {len(rules)} specialty codes from the CY{ref.year} HSD Reference File "
        f"({ref.path.name}, sha256 {ref.sha256[:12]}); minimum numbers are the file's "
        "(beneficiaries to cover), or the plan's members' where larger"
    )
    built = replace(
        recipe,
        rules=tuple(rules),
        source=f"{recipe.source} CY{ref.year} HSD Reference File {ref.path.name} "
        f"(sha256 {ref.sha256}).",
        provider_types=(*recipe.provider_types, CMS_PROVIDER_TYPE),
    )
    return built, notes


def _telehealth_offered(providers: pd.DataFrame) -> set[tuple[str, str]]:
    """(county, evaluated code) pairs where an in-network provider offers telehealth."""
    if "telehealth" not in providers.columns or "cms_code" not in providers.columns:
        return set()
    sel = providers["in_network"].to_numpy() & providers["telehealth"].astype(bool).to_numpy()
    codes = providers["cms_code"].astype(str).to_numpy()[sel]
    codes = np.where(np.isin(codes, PRIMARY_CARE), "S03", codes)
    counties = providers["county_fips"].astype(str).to_numpy()[sel]
    return set(zip(counties.tolist(), codes.tolist(), strict=True))


def is_recipe(standards: StandardsSet) -> bool:
    """Whether a standards set is built from a reference file at evaluation time."""
    return isinstance(standards.reference, Mapping) and not standards.rules
