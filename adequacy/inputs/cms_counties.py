"""CMS's county rules: county types (42 CFR 422.116(c)), minimum numbers (422.116(e)), FIPS.

CMS's Medicare Advantage files key counties by the SSA state+county code
(``SSACD``, 5 digits), not by FIPS: Alabama is SSA ``01``, Connecticut ``07``,
Texas ``45`` (FIPS ``01``, ``09``, ``48``), and SSA county numbers differ too.
:func:`match_fips` gives each SSA county the FIPS code of a county table by
state and normalised name (or by a crosswalk when one is given) and lists,
by name, every county it could not match. :func:`county_designation` types a
county from its population and land area with the table of 42 CFR
422.116(c). :func:`compute_minimums` gives the minimum number of providers,
hospital beds or facilities per county and specialty (422.116(e)) from the
HSD Reference File's counties and ratios
(:func:`adequacy.inputs.hsd_reference.read_hsd_reference`).

Owns: ``match_fips``, ``county_designation``, ``county_designations``,
``beneficiaries_to_cover``, ``compute_minimums`` and ``DESIGNATIONS``. Uses:
:mod:`adequacy.errors`.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from adequacy.errors import InputError

#: The five county types of 42 CFR 422.116(c), densest first.
DESIGNATIONS = ("Large Metro", "Metro", "Micro", "Rural", "CEAC")

#: The file prints the 95th-percentile ratios to 10 decimals; a product within
#: beneficiaries × half a unit of the 10th decimal of an integer is that integer.
RATIO_HALF_UNIT = 0.5e-10
CEIL_TOLERANCE = 1e-9

#: FIPS state code -> USPS abbreviation (states, DC and territories).
FIPS_STATES = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT",
    "10": "DE", "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL",
    "18": "IN", "19": "IA", "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD",
    "25": "MA", "26": "MI", "27": "MN", "28": "MS", "29": "MO", "30": "MT", "31": "NE",
    "32": "NV", "33": "NH", "34": "NJ", "35": "NM", "36": "NY", "37": "NC", "38": "ND",
    "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI", "45": "SC", "46": "SD",
    "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA", "54": "WV",
    "55": "WI", "56": "WY", "60": "AS", "66": "GU", "69": "MP", "72": "PR", "78": "VI",
}  # fmt: skip

#: States whose independent cities are county equivalents: FIPS county codes 510-840
#: (Virginia's 38 cities, Baltimore city MD, St. Louis city MO, Carson City NV).
_CITY_STATES = {"24", "29", "32", "51"}

_REGION_COLUMNS = {
    "fips": ("COUNTY_FIPS", "fips", "county_fips", "GEOID", "geoid", "FIPS"),
    "name": ("County Name", "name", "NAME", "NAMELSAD", "county"),
    "state": ("State", "state", "STUSPS", "STATE"),
}

#: Words a county table may add after the name; "city" is not one (Fairfax vs Fairfax City).
_SUFFIXES = re.compile(
    r"\s+(city and borough|cty&bor|census area|borough|municipality|municipio|parish|county)$"
)
_FORMERLY = re.compile(r"\s*\((?:formerly|previously|was)\s+([^)]*)\)\s*$", re.IGNORECASE)


# ---------------------------------------------------------------------------
# county types, 42 CFR 422.116(c)
# ---------------------------------------------------------------------------
def county_designations(population, area_sq_mi) -> np.ndarray:
    """County types of 42 CFR 422.116(c) for arrays of counties.

    Parameters
    ----------
    population
        Residents per county (persons), array-like.
    area_sq_mi
        Land area per county (square miles), array-like of the same length.

    Returns
    -------
    Object array of ``'Large Metro'``, ``'Metro'``, ``'Micro'``, ``'Rural'``
    or ``'CEAC'``; ``''`` where the population is missing or negative or the
    area is missing or not positive.

    Notes
    -----
    Density is persons per square mile. The first rule that holds wins:

    - CEAC, (c)(5): density < 10, any population;
    - Large Metro, (c)(1): population ≥ 1,000,000 and density ≥ 1,000; or
      500,000-999,999 and density ≥ 1,500; or density ≥ 5,000;
    - Metro, (c)(2): population ≥ 200,000 (density 10 up to the Large Metro
      limits); or 50,000-199,999 and density ≥ 100; or 10,000-49,999 and
      density ≥ 1,000;
    - Micro, (c)(3): 50,000-199,999 and density 10-99.9; or 10,000-49,999 and
      density 50-999.9;
    - Rural, (c)(4): 10,000-49,999 and density 10-49.9; or under 10,000 and
      density 10-4,999.9.

    The regulation's text gives the last range as 50-999.9 persons per square
    mile, which would leave counties under 10,000 people with density 10-49.9
    or 1,000-4,999.9 without a type; CMS's own files type them Rural (the CY2026
    HSD Reference File has 222 such counties of density 10-49.9, all Rural), as
    its network adequacy guidance's table does, and so does this function. Upper
    bounds written "999.9" are read as "below 1,000" (no gap between them).
    """
    pop = np.asarray(population, dtype=float)
    area = np.asarray(area_sq_mi, dtype=float)
    valid = np.isfinite(pop) & (pop >= 0) & np.isfinite(area) & (area > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.where(valid, pop / np.where(valid, area, 1.0), np.nan)
    large = (
        ((pop >= 1_000_000) & (dens >= 1_000))
        | ((pop >= 500_000) & (pop < 1_000_000) & (dens >= 1_500))
        | (dens >= 5_000)
    )
    metro = (
        (pop >= 200_000)
        | ((pop >= 50_000) & (dens >= 100))
        | ((pop >= 10_000) & (pop < 50_000) & (dens >= 1_000))
    )
    micro = (pop >= 50_000) | ((pop >= 10_000) & (dens >= 50))
    out = np.select(
        [~valid, dens < 10, large, metro, micro],
        ["", "CEAC", "Large Metro", "Metro", "Micro"],
        default="Rural",
    )
    return out.astype(object)


def county_designation(population: float, area_sq_mi: float) -> str:
    """County type of one county under 42 CFR 422.116(c).

    Parameters
    ----------
    population
        Residents (persons).
    area_sq_mi
        Land area (square miles).

    Returns
    -------
    ``'Large Metro'``, ``'Metro'``, ``'Micro'``, ``'Rural'`` or ``'CEAC'``
    (``''`` for a missing population or a missing or zero area); see
    :func:`county_designations` for the table.
    """
    return str(county_designations([population], [area_sq_mi])[0])


# ---------------------------------------------------------------------------
# minimum numbers, 42 CFR 422.116(e)
# ---------------------------------------------------------------------------
def _ceil(x: np.ndarray, tolerance) -> np.ndarray:
    return np.ceil(np.asarray(x, dtype=float) - tolerance).astype(np.int64)


def beneficiaries_to_cover(beneficiaries, pct95_ratio) -> np.ndarray:
    """Beneficiaries required to cover: ceil(total beneficiaries × 95th-percentile ratio).

    Parameters
    ----------
    beneficiaries
        Total Medicare beneficiaries per county (persons).
    pct95_ratio
        The county type's 95th-percentile base population ratio (a share, 0-1).

    Returns
    -------
    int64 array (persons). The file prints the ratio to 10 decimals, so a
    product within beneficiaries × 5e-11 above an integer is that integer
    (Tuscarawas, OH: 22,002 × 0.1058540133 = 2,329.0000006; the file says 2,329).
    """
    n = np.asarray(beneficiaries, dtype=float)
    exact = n * np.asarray(pct95_ratio, dtype=float)
    return _ceil(exact, n * RATIO_HALF_UNIT + CEIL_TOLERANCE)


def compute_minimums(
    counties: pd.DataFrame, specialties: pd.DataFrame, *, round_first: bool = False
) -> pd.DataFrame:
    """Minimum number of providers, beds or facilities per county and code, 422.116(e).

    Parameters
    ----------
    counties
        ``HsdReference.counties`` (``ssacd``, ``designation``,
        ``beneficiaries``, ``pct95_ratio``, ``beneficiaries_to_cover``).
    specialties
        ``HsdReference.specialties``.
    round_first
        Use the rounded-up beneficiaries to cover (the file's column) in the
        second step instead of the exact product. Off by default: it does
        not reproduce the file (see Notes).

    Returns
    -------
    DataFrame with ``ssacd``, ``code``, ``kind``, ``unit`` ('providers', 'beds'
    or 'facilities') and ``required`` (int), one row per county × evaluated
    code (S03 and the other provider codes with a ratio; every facility code).

    Notes
    -----
    For a code with a ratio per 1,000 (providers; beds for acute inpatient
    hospitals, 040): ``required = max(1, ceil(ratio × beneficiaries ×
    pct95_ratio / 1,000))``, the exact product as 422.116(e)(3)(ii)(A)(1)
    defines the beneficiaries to cover. Every other facility type: 1
    (422.116(e)(2)(iii)). This reproduces all 140,266 minimum cells of the
    CY2026 file. Rounding the beneficiaries up first (``round_first``) changes
    no provider cell but 26 acute-inpatient-bed cells, one bed more each: Echols,
    GA has 569 × 0.1432791728 = 81.5 beneficiaries to cover, printed as 82;
    12.2 × 82 / 1,000 = 1.0004 would need 2 beds, the file (12.2 × 81.5 / 1,000
    = 0.995) says 1.
    """
    evaluated = specialties[
        specialties["ratio_per_1000"].notna() | (specialties["kind"] == "facility")
    ]
    grid = counties[["ssacd", "designation", "beneficiaries", "pct95_ratio",
                     "beneficiaries_to_cover"]].merge(
        evaluated[["code", "kind", "designation", "ratio_per_1000", "counts_beds"]],
        on="designation", how="left", sort=False,
    )  # fmt: skip
    if round_first:
        cover = grid["beneficiaries_to_cover"].to_numpy(dtype=float)
    else:
        cover = grid["beneficiaries"].to_numpy(dtype=float) * grid["pct95_ratio"].to_numpy()
    ratio = grid["ratio_per_1000"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        counted = _ceil(np.nan_to_num(ratio * cover / 1000.0), CEIL_TOLERANCE)
    required = np.where(np.isnan(ratio), 1, np.maximum(1, counted))
    unit = np.where(
        grid["counts_beds"], "beds", np.where(grid["kind"] == "provider", "providers", "facilities")
    )
    out = pd.DataFrame(
        {
            "ssacd": grid["ssacd"].to_numpy(),
            "code": grid["code"].to_numpy(),
            "kind": grid["kind"].to_numpy(),
            "unit": unit,
            "required": required.astype(np.int64),
        }
    )
    order = {c: i for i, c in enumerate(dict.fromkeys(evaluated["code"]))}
    rank = out["code"].map(order)
    return (
        out.assign(_rank=rank)
        .sort_values(["ssacd", "_rank"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


# ---------------------------------------------------------------------------
# SSA -> FIPS
# ---------------------------------------------------------------------------
def match_fips(
    counties: pd.DataFrame,
    regions: pd.DataFrame,
    crosswalk: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Give each SSA-coded county the FIPS code of a county table.

    Parameters
    ----------
    counties
        One row per SSA county with ``ssacd``, ``state`` (2-letter) and
        ``county`` (name as CMS writes it), e.g. ``HsdReference.counties``.
    regions
        A county table with a 5-digit FIPS code (``COUNTY_FIPS``, ``fips`` or
        ``GEOID``), a county name (``County Name``, ``name``, ``NAME`` or
        ``NAMELSAD``) and, optionally, a 2-letter state (``State``, ``state``
        or ``STUSPS``; else taken from the FIPS code): the bundled
        ``data/regions/us_counties_2018_population.geojson`` or
        :func:`adequacy.inputs.read_regions`'s result.
    crosswalk
        Optional table with ``ssacd`` and ``fips`` columns; its codes win over
        name matching for the counties it lists.

    Returns
    -------
    (matched, unmatched)
        ``matched`` is ``counties`` with a ``fips`` column (5-digit text, ``''``
        where unmatched) and ``fips_source`` (``'crosswalk'``, ``'name'`` or
        ``''``); ``unmatched`` names each county left without a code once, as
        ``'County, ST'``, in file order. Nothing is dropped.

    Notes
    -----
    Names match within a state after folding case and accents (Bayamón =
    Bayamon), dropping punctuation and spaces (DeBaca = De Baca, O'Brien =
    OBrien), reading St./Ste. as Saint/Sainte and dropping a trailing County,
    Parish, Borough, City and Borough, Census Area, Municipality or Municipio.
    "City" is kept: an independent city (FIPS county code 510-840 in Virginia,
    Maryland, Missouri and Nevada) is keyed "<name> city", so Fairfax (51059)
    and Fairfax City (51600), Baltimore (24005) and Baltimore City (24510),
    St. Louis (29189) and St. Louis City (29510) stay apart, while Charles City
    and James City counties match by their own names. A name given as
    "New (formerly Old)" matches either name. Several SSA codes may share one
    FIPS county (CMS splits Los Angeles into 05200 and 05210). A name that two
    counties of a state share after folding is not guessed: it stays unmatched.
    """
    for column in ("ssacd", "state", "county"):
        if column not in counties.columns:
            raise InputError(
                f"counties: missing column {column}; give HsdReference.counties or a table "
                "with ssacd, state and county"
            )
    table = _region_keys(regions)
    lookup: dict[tuple[str, str], str] = {}
    ambiguous: set[tuple[str, str]] = set()
    for state, key, fips in zip(table["state"], table["key"], table["fips"], strict=True):
        if (state, key) in lookup and lookup[(state, key)] != fips:
            ambiguous.add((state, key))
        lookup[(state, key)] = fips
    for pair in ambiguous:
        lookup.pop(pair)

    states = counties["state"].astype(str).str.strip().str.upper().to_numpy()
    names = counties["county"].astype(str).to_numpy()
    fips = np.full(len(counties), "", dtype=object)
    source = np.full(len(counties), "", dtype=object)
    for i, (state, name) in enumerate(zip(states, names, strict=True)):
        for key in _name_keys(name):
            if (state, key) in lookup:
                fips[i], source[i] = lookup[(state, key)], "name"
                break
    if crosswalk is not None:
        given = _crosswalk(crosswalk)
        ssacd = counties["ssacd"].astype(str).str.strip().str.zfill(5).to_numpy()
        for i, code in enumerate(ssacd):
            if given.get(code):
                fips[i], source[i] = given[code], "crosswalk"
    out = counties.copy()
    out["fips"] = fips
    out["fips_source"] = source
    unmatched = [f"{n}, {s}" for n, s, f in zip(names, states, fips, strict=True) if not f]
    return out, list(dict.fromkeys(unmatched))


def _name_keys(name: str) -> list[str]:
    """Match keys of one CMS county name: the name, then its 'formerly' name."""
    text = str(name).strip()
    former = _FORMERLY.search(text)
    names = [_FORMERLY.sub("", text), former.group(1)] if former else [text]
    return [k for k in dict.fromkeys(_fold(n) for n in names) if k]


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"\s+", " ", text.lower().replace("&", " and ").replace("’", "'")).strip()
    text = _SUFFIXES.sub("", text)
    text = re.sub(r"\bste\b\.?", "sainte", text)
    text = re.sub(r"\bst\b\.?", "saint", text)
    return re.sub(r"[^a-z0-9]", "", text)


def _region_keys(regions: pd.DataFrame) -> pd.DataFrame:
    columns = {}
    for canon, aliases in _REGION_COLUMNS.items():
        columns[canon] = next((a for a in aliases if a in regions.columns), None)
    if columns["fips"] is None or columns["name"] is None:
        have = ", ".join(map(str, list(regions.columns)[:12]))
        raise InputError(
            f"regions: need a 5-digit county FIPS column (COUNTY_FIPS, fips or GEOID) and a "
            f"county name column (County Name, name or NAME); the table has: {have}"
        )
    fips = regions[columns["fips"]].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    fips = fips.str.zfill(5)
    if columns["state"] is not None:
        state = regions[columns["state"]].astype(str).str.strip().str.upper()
        state = state.where(~state.str.fullmatch(r"\d{1,2}"), state.str.zfill(2).map(FIPS_STATES))
    else:
        state = fips.str[:2].map(FIPS_STATES).fillna("")
    keys = regions[columns["name"]].astype(str).map(_fold)
    county = pd.to_numeric(fips.str[2:], errors="coerce")
    city = fips.str[:2].isin(_CITY_STATES) & (county >= 510) & ~keys.str.endswith("city")
    keys = keys.where(~city, keys + "city")
    return pd.DataFrame({"state": state.to_numpy(), "key": keys.to_numpy(), "fips": fips})


def _crosswalk(crosswalk: pd.DataFrame) -> dict[str, str]:
    missing = [c for c in ("ssacd", "fips") if c not in crosswalk.columns]
    if missing:
        raise InputError(
            f"crosswalk: missing column {', '.join(missing)}; give one row per county with "
            "ssacd (5-digit SSA code) and fips (5-digit FIPS code)"
        )
    ssacd = crosswalk["ssacd"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    fips = crosswalk["fips"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    known = crosswalk["fips"].notna() & fips.str.fullmatch(r"\d{1,5}")
    return dict(zip(ssacd[known].str.zfill(5), fips[known].str.zfill(5), strict=True))
