"""Read and validate the input tables: members, providers, claims, regions, Census languages.

Every reader accepts a path (CSV, Parquet, GeoParquet, GeoPackage) or a
(Geo)DataFrame and returns a clean pandas DataFrame with the canonical columns
of the data model (see the README) and their types. Validation collects every
problem in a file before it stops, and raises one :class:`InputError` whose
lines name the file, the rows and the fix. Rows are named by line number for
CSV files (the header is line 1) and by row number otherwise; members are
named by ``member_id`` only, never by any other field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from adequacy.inputs.cms_specialties import CMS_EXCLUSIONS, cms_code_column
from adequacy.inputs.tables import (
    Problems,
    booleans,
    coded_text,
    coordinates,
    fips_codes,
    ids_of,
    numbers,
    read_table,
    remember_rows,
    require,
)

#: Canonical provider types and the spellings accepted for each.
PROVIDER_TYPES: dict[str, tuple[str, ...]] = {
    "pcp": ("pcp", "primary care", "primary care provider", "primary care physician"),
    "obgyn": (
        "obgyn",
        "ob/gyn",
        "ob-gyn",
        "ob gyn",
        "obstetrics and gynecology",
        "obstetrician/gynecologist",
        "ob/gyn specialist",
    ),
    "specialist": ("specialist", "specialty", "specialty care", "high volume specialist"),
    "acute_care": (
        "acute care",
        "acute care facility",
        "hospital",
        "general acute care",
        "acute care hospital",
        "critical access",
    ),
    "rehabilitation": (
        "rehabilitation",
        "rehab",
        "rehabilitation facility",
        "rehabilitation hospital",
    ),
    "urgent_care": ("urgent care", "urgent care center", "urgent care services"),
}

#: Language spellings and codes mapped to one name each.
LANGUAGE_ALIASES: dict[str, str] = {
    "en": "English",
    "eng": "English",
    "es": "Spanish",
    "spa": "Spanish",
    "espanol": "Spanish",
    "español": "Spanish",
    "ht": "Haitian Creole",
    "hat": "Haitian Creole",
    "haitian": "Haitian Creole",
    "kreyol": "Haitian Creole",
    "creole": "Haitian Creole",
    "pt": "Portuguese",
    "por": "Portuguese",
    "zh": "Chinese",
    "zho": "Chinese",
    "chi": "Chinese",
    "vi": "Vietnamese",
    "vie": "Vietnamese",
    "ru": "Russian",
    "rus": "Russian",
    "ar": "Arabic",
    "ara": "Arabic",
    "ko": "Korean",
    "kor": "Korean",
    "fr": "French",
    "fra": "French",
    "fre": "French",
    "so": "Somali",
    "som": "Somali",
    "km": "Khmer",
    "khm": "Khmer",
    "cambodian": "Khmer",
    "asl": "American Sign Language",
}
_LANGUAGE_SPLIT = re.compile(r"\s*[;,|/]\s*")
_LANGUAGE_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .'()-])*$", re.UNICODE)


def _norm_key(text: str) -> str:
    return re.sub(r"[^a-z0-9/]+", " ", str(text).strip().lower()).strip()


_TYPE_LOOKUP = {
    _norm_key(alias): canon
    for canon, aliases in PROVIDER_TYPES.items()
    for alias in (canon, *aliases)
}


def canonical_provider_type(value: Any, extra_types: Iterable[str] = ()) -> str | None:
    """The canonical provider type for a spelling, or None when unknown."""
    key = _norm_key(value)
    if key in _TYPE_LOOKUP:
        return _TYPE_LOOKUP[key]
    extra = {_norm_key(t): t for t in extra_types}
    if key in extra:
        return extra[key]
    snake = key.replace(" ", "_")
    if snake in PROVIDER_TYPES:
        return snake
    return None


def canonical_language(value: str) -> str:
    """One name per language: codes and aliases mapped, otherwise title case."""
    text = str(value).strip()
    alias = LANGUAGE_ALIASES.get(text.lower())
    if alias:
        return alias
    return " ".join(w if w.isupper() and len(w) > 1 else w.capitalize() for w in text.split())


def parse_languages(value: Any) -> tuple[str, ...] | None:
    """Split a provider's ``languages`` field; None when it cannot be parsed.

    Separators ``;`` (preferred), ``,``, ``|`` and ``/`` are accepted. An empty
    field is an empty tuple (the caller applies the default).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(v) for v in value]
    else:
        text = str(value).strip()
        if not text:
            return ()
        parts = _LANGUAGE_SPLIT.split(text)
    out = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not _LANGUAGE_OK.match(part):
            return None
        name = canonical_language(part)
        if name not in out:
            out.append(name)
    return tuple(out)


# ---------------------------------------------------------------------------
# members
# ---------------------------------------------------------------------------
MEMBER_COLUMNS = [
    "member_id",
    "lat",
    "lon",
    "county_fips",
    "language",
    "age",
    "plan",
    "pcp_id",
    "synthetic",
]
#: Every column :func:`read_members` reads: of a folder of Parquet files, only these are.
MEMBER_READ_COLUMNS = (*MEMBER_COLUMNS, "in_treatment")


def read_members(source: Any, *, default_language: str = "English") -> pd.DataFrame:
    """Read and validate members.

    Required: ``member_id`` (unique), ``lat``, ``lon``. Optional:
    ``county_fips`` (found later by spatial join when absent), ``language``
    (primary language; default English), ``age``, ``plan``, ``pcp_id``,
    ``synthetic`` (true for made-up rows), ``in_treatment`` (active treatment
    window, for continuity of care).

    ``source`` may also be a folder of Parquet files (a partitioned dataset, e.g.
    ``state=ID/part-0.parquet``), read as one table in sorted path order and only its
    :data:`MEMBER_READ_COLUMNS`; rows are then named ``part-00003.parquet row 12``.
    """
    table = read_table(source, "members", folder_columns=MEMBER_READ_COLUMNS)
    frame = table.frame
    problems = Problems(table, "members")
    if not require(
        problems, frame, ["member_id", "lat", "lon"], "members need member_id, lat and lon"
    ):
        problems.raise_if_any()
    ids = ids_of(frame, "member_id")
    empty = np.flatnonzero(ids == "")
    if len(empty):
        problems.add(f"member_id is empty at {table.rows(empty)}; every member needs an id")
    dup_mask = np.zeros(len(ids), dtype=bool)
    if not pd.Index(ids, dtype=object).is_unique:  # one hash pass when none repeats
        dup_mask = pd.Series(ids, dtype=object).duplicated(keep=False).to_numpy() & (ids != "")
    if dup_mask.any():
        dup_ids = pd.unique(ids[dup_mask])
        shown = ", ".join(map(str, dup_ids[:5])) + (
            f" and {len(dup_ids) - 5} more" if len(dup_ids) > 5 else ""
        )
        first = np.flatnonzero(dup_mask)
        problems.add(
            f"duplicate member_id {shown} (at {table.rows(first)}); "
            "member ids must be unique, one row per member"
        )
    lon, lat = coordinates(problems, frame, ids)
    if "language" in frame.columns:
        codes, uniques = pd.factorize(frame["language"], use_na_sentinel=True)
        names = []
        bad_codes = []
        for code, value in enumerate(uniques):
            parsed = parse_languages(value)
            if parsed is None or len(parsed) > 1:
                bad_codes.append(code)
                names.append(default_language)
            else:
                names.append(parsed[0] if parsed else default_language)
        names.append(default_language)  # code -1: missing
        language = coded_text(names, np.where(codes < 0, len(names) - 1, codes))
        bad = np.flatnonzero(np.isin(codes, bad_codes))
        if len(bad):
            problems.add(
                f"language cannot be read at {table.rows(bad)}; give one primary "
                "language per member, e.g. Spanish"
            )
    else:
        language = np.full(len(frame), default_language, dtype=object)
    age = (
        numbers(problems, frame, "age", fix="give age in years")
        if "age" in frame.columns
        else np.full(len(frame), np.nan)
    )
    synthetic = booleans(problems, frame, "synthetic", False)
    in_treatment = booleans(problems, frame, "in_treatment", False)
    problems.raise_if_any()
    out = pd.DataFrame(
        {
            "member_id": pd.array(ids, dtype="str"),  # str already: not through numpy text
            "lat": lat,
            "lon": lon,
            "county_fips": fips_codes(frame["county_fips"])
            if "county_fips" in frame.columns
            else np.full(len(frame), "", dtype=object),
            "language": language,
            "age": age,
            "plan": frame["plan"].astype(str).to_numpy() if "plan" in frame.columns else "",
            "pcp_id": ids_of(frame, "pcp_id") if "pcp_id" in frame.columns else "",
            "in_treatment": in_treatment,
            "synthetic": synthetic,
        }
    )
    return remember_rows(out, table)


# ---------------------------------------------------------------------------
# providers
# ---------------------------------------------------------------------------
def read_providers(
    source: Any, *, extra_types: Iterable[str] = (), default_language: str = "English"
) -> pd.DataFrame:
    """Read and validate providers: one row per provider *location*.

    Required: ``provider_id``, ``provider_type``, ``lat``, ``lon``. Optional:
    ``name``, ``specialty``, ``languages`` (``;``-separated; default English),
    ``accepting_new_patients`` (default true), ``panel_size`` (default 0),
    ``panel_open`` (default true), ``practice_id`` (default the provider id),
    ``fte`` (default 1), ``in_network`` (default true; out-of-network rows are
    candidates for what-if and recruitment, not part of the network),
    ``synthetic``. The same id at two sites is two rows sharing the id.
    ``extra_types`` are provider types a standards file defines beyond the
    built-in ones.

    Optional columns for CMS's Medicare Advantage standards (42 CFR 422.116) and
    its HSD tables; the frame returned always has them, with these defaults:

    - ``npi`` (text, ``''``): the 10-digit National Provider Identifier;
    - ``cms_specialty_code`` (text, ``''``): the CMS HSD specialty code, 3 digits
      (8, '8' and '8.0' are read as '008') or ``S03``; it must be a code of
      :data:`adequacy.inputs.cms_specialties.CMS_SPECIALTIES`;
    - ``taxonomy`` (text, ``''``): the NPPES taxonomy code, e.g. ``207Q00000X``
      (upper case), for a crosswalk to CMS codes
      (:func:`adequacy.inputs.cms_specialties.cms_codes`);
    - ``beds`` (int, 0): Medicare-certified beds, a whole number of 0 or more
      (acute inpatient hospitals, code 040, are counted in beds);
    - ``telehealth`` (bool, false): the provider offers telehealth for its
      specialty (the telehealth credit of 42 CFR 422.116(d)(5));
    - ``cms_exclusion`` (text, ``''``): ``specialized_hospital``,
      ``childrens_hospital``, ``long_term_care_hospital`` or
      ``residential_facility_only`` (any case;
      spaces or hyphens for underscores): kinds that count toward no CMS
      network adequacy criterion under 42 CFR 422.116(a)(3)(i)(A)-(B)
      ("specialized, long-term care, and pediatric/children's hospitals";
      "providers that are only available in a residential facility");
    - ``address``, ``city``, ``state``, ``zip`` (text, ``''``): the location as
      the HSD tables list it; a ZIP code keeps its leading zeros, and one read
      as a number (2115, or 2115.0 from a spreadsheet) gets them back
      ('02115'; 9 digits for ZIP+4).
    """
    table = read_table(source, "providers")
    frame = table.frame
    problems = Problems(table, "providers")
    if not require(
        problems,
        frame,
        ["provider_id", "provider_type", "lat", "lon"],
        "providers need provider_id, provider_type, lat and lon",
    ):
        problems.raise_if_any()
    ids = ids_of(frame, "provider_id")
    empty = np.flatnonzero(ids == "")
    if len(empty):
        problems.add(
            f"provider_id is empty at {table.rows(empty)}; every provider needs an id "
            "(NPI or your own)"
        )
    extra_types = tuple(extra_types)
    raw_types = frame["provider_type"].fillna("").astype(str).to_numpy()
    types = np.array([canonical_provider_type(t, extra_types) for t in raw_types], dtype=object)
    unknown = np.flatnonzero(pd.isna(types))
    if len(unknown):
        values = sorted({raw_types[i] for i in unknown})[:5]
        known = ", ".join([*PROVIDER_TYPES, *extra_types])
        problems.add(
            f"unknown provider_type {', '.join(map(repr, values))} at "
            f"{table.rows(unknown)}; use one of: {known}"
        )
    lon, lat = coordinates(problems, frame, ids)
    languages = []
    bad = []
    raw_lang = (
        frame["languages"].to_numpy() if "languages" in frame.columns else [None] * len(frame)
    )
    for i, value in enumerate(raw_lang):
        parsed = parse_languages(value)
        if parsed is None:
            bad.append(i)
            parsed = ()
        languages.append(";".join(parsed) if parsed else default_language)
    if bad:
        problems.add(
            f"languages cannot be read at {table.rows(bad)}; list languages separated "
            "by ';', e.g. English;Spanish"
        )
    panel = (
        numbers(problems, frame, "panel_size", fix="give the panel size as a whole number")
        if "panel_size" in frame.columns
        else np.zeros(len(frame))
    )
    fte = (
        numbers(problems, frame, "fte", fix="give FTE as a number, e.g. 0.5")
        if "fte" in frame.columns
        else np.ones(len(frame))
    )
    with np.errstate(invalid="ignore"):
        neg = np.flatnonzero((fte < 0) | (panel < 0))
    if len(neg):
        problems.add(f"negative panel_size or fte at {table.rows(neg)}; use 0 or more")
    accepting = booleans(problems, frame, "accepting_new_patients", True)
    panel_open = booleans(problems, frame, "panel_open", True)
    in_network = booleans(problems, frame, "in_network", True)
    synthetic = booleans(problems, frame, "synthetic", False)
    specialty = (
        frame["specialty"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        if "specialty" in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    cms = _cms_columns(problems, frame)
    out = pd.DataFrame(
        {
            "provider_id": ids.astype(str),
            "name": frame["name"].fillna("").astype(str).to_numpy()
            if "name" in frame.columns
            else "",
            "provider_type": types,
            "specialty": specialty,
            "lat": lat,
            "lon": lon,
            "languages": languages,
            "accepting_new_patients": accepting,
            "panel_size": np.nan_to_num(panel, nan=0.0),
            "panel_open": panel_open,
            "practice_id": np.where(
                ids_of(frame, "practice_id") == "", ids, ids_of(frame, "practice_id")
            )
            if "practice_id" in frame.columns
            else ids,
            "fte": np.nan_to_num(fte, nan=1.0),
            "in_network": in_network,
            "synthetic": synthetic,
            **cms,
        }
    )
    if not problems.lines:
        dup = out.duplicated(
            ["provider_id", "provider_type", "specialty", "lat", "lon"], keep=False
        )
        if dup.any():
            idx = np.flatnonzero(dup.to_numpy())
            problems.add(
                f"the same provider is listed twice at the same place at "
                f"{table.rows(idx)}; remove the repeated rows"
            )
    problems.raise_if_any()
    out["practice_id"] = out["practice_id"].astype(str)
    return remember_rows(out, table)


_EXCLUSION_LOOKUP = {kind.replace("_", ""): kind for kind in CMS_EXCLUSIONS}


def _cms_columns(problems: Problems, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The optional CMS columns of a roster, checked, with their defaults."""
    table = problems.table
    n = len(frame)
    npi = _texts(frame, "npi")
    bad = np.flatnonzero((npi != "") & ~pd.Series(npi, dtype=object).str.fullmatch(r"\d{10}"))
    if len(bad):
        problems.add(
            f"npi must be 10 digits at {table.rows(bad)}; give the National Provider "
            "Identifier, or leave it empty"
        )
    codes = (
        cms_code_column(problems, frame["cms_specialty_code"], "cms_specialty_code")
        if "cms_specialty_code" in frame.columns
        else np.full(n, "", dtype=object)
    )
    taxonomy = pd.Series(_texts(frame, "taxonomy"), dtype=object).str.upper().to_numpy()
    if "beds" in frame.columns:
        beds = numbers(
            problems, frame, "beds", fix="give Medicare-certified beds as a whole number, e.g. 120"
        )
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero((beds < 0) | (np.isfinite(beds) & (beds != np.round(beds))))
        if len(bad):
            problems.add(
                f"beds must be a whole number of 0 or more at {table.rows(bad)}; give the "
                "Medicare-certified beds, e.g. 120"
            )
        beds = np.nan_to_num(beds, nan=0.0, posinf=0.0, neginf=0.0)
        beds = np.where(beds >= 0, np.round(beds), 0).astype(np.int64)
    else:
        beds = np.zeros(n, dtype=np.int64)
    telehealth = booleans(problems, frame, "telehealth", False)
    raw = _texts(frame, "cms_exclusion")
    folded = pd.Series(raw, dtype=object).str.lower().str.replace(r"[\s_'’-]+", "", regex=True)
    exclusion = np.where(raw == "", "", folded.map(_EXCLUSION_LOOKUP).fillna("?")).astype(object)
    bad = np.flatnonzero(exclusion == "?")
    if len(bad):
        shown = list(dict.fromkeys(raw[bad]))
        problems.add(
            f"cms_exclusion {', '.join(map(repr, shown[:5]))} at {table.rows(bad)} is not "
            f"one of {', '.join(CMS_EXCLUSIONS)}; leave it empty for providers that count "
            "toward CMS minimums (42 CFR 422.116(a)(3)(i))"
        )
    return {
        "npi": npi,
        "cms_specialty_code": codes,
        "taxonomy": taxonomy,
        "beds": beds,
        "telehealth": telehealth,
        "cms_exclusion": exclusion,
        "address": _texts(frame, "address", code=False),
        "city": _texts(frame, "city", code=False),
        "state": _texts(frame, "state", code=False),
        "zip": _zip_codes(_texts(frame, "zip")),
    }


def _texts(frame: pd.DataFrame, column: str, *, code: bool = True) -> np.ndarray:
    """A column as stripped text, '' where empty; for a ``code``, whole numbers lose
    their '.0' (a spreadsheet or Parquet file may give an NPI or ZIP code as a number)."""
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)  # few distinct, often
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    if code:
        text = text.str.replace(r"^(\d+)\.0*$", r"\1", regex=True)
    return np.append(text.to_numpy(dtype=object), "").astype(object)[codes]


def _zip_codes(text: np.ndarray) -> np.ndarray:
    """ZIP codes with their leading zeros: '2115' -> '02115', '21151234' -> '021151234',
    '2115-1234' -> '02115-1234'; anything else as given."""
    codes, uniques = pd.factorize(text)
    s = pd.Series(uniques, dtype=object)
    short = s.str.fullmatch(r"\d{1,5}")
    plus4 = s.str.fullmatch(r"\d{6,9}")
    dashed = s.str.fullmatch(r"\d{1,5}-\d{4}")
    out = s.copy()
    out[short] = s[short].str.zfill(5)
    out[plus4] = s[plus4].str.zfill(9)
    out[dashed] = s[dashed].str.zfill(10)
    return out.to_numpy(dtype=object)[codes]


# ---------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------
def read_claims(source: Any) -> pd.DataFrame:
    """Read claims: ``specialty`` and ``claim_count`` (or one row per claim).

    Returns one row per specialty with its total ``claim_count``, most first.
    """
    table = read_table(source, "claims")
    frame = table.frame
    problems = Problems(table, "claims")
    if not require(problems, frame, ["specialty"], "claims need a specialty column"):
        problems.raise_if_any()
    spec = frame["specialty"].fillna("").astype(str).str.strip().str.lower()
    empty = np.flatnonzero((spec == "").to_numpy())
    if len(empty):
        problems.add(f"specialty is empty at {table.rows(empty)}; name the specialty of each claim")
    column = (
        "claim_count"
        if "claim_count" in frame.columns
        else ("claims" if "claims" in frame.columns else None)
    )
    if column:
        counts = numbers(problems, frame, column, fix="give claim counts as whole numbers")
        negative = np.flatnonzero(counts < 0)
        if len(negative):
            problems.add(
                f"{column} is negative at {table.rows(negative)}; give counts of 0 or more"
            )
        counts = np.nan_to_num(counts, nan=0.0)
    else:
        counts = np.ones(len(frame))
    problems.raise_if_any()
    out = (
        pd.DataFrame({"specialty": spec.to_numpy(), "claim_count": counts})
        .groupby("specialty", as_index=False)["claim_count"]
        .sum()
        .sort_values(["claim_count", "specialty"], ascending=[False, True])
        .reset_index(drop=True)
    )
    return out


# ---------------------------------------------------------------------------
# Census languages
# ---------------------------------------------------------------------------
def read_census_languages(source: Any) -> pd.DataFrame:
    """Read a Census language table: ``county_fips``, ``language``, ``speakers_5plus``."""
    table = read_table(source, "Census languages")
    frame = table.frame
    problems = Problems(table, "Census languages")
    if not require(
        problems,
        frame,
        ["county_fips", "language", "speakers_5plus"],
        "the table needs county_fips, language and speakers_5plus (speakers aged 5 and over)",
    ):
        problems.raise_if_any()
    speakers = numbers(problems, frame, "speakers_5plus", fix="give a count of speakers")
    negative = np.flatnonzero(speakers < 0)
    if len(negative):
        problems.add(
            f"speakers_5plus is negative at {table.rows(negative)}; give a count of 0 or more"
        )
    langs = []
    bad = []
    for i, value in enumerate(frame["language"].to_numpy()):
        parsed = parse_languages(value)
        if not parsed or len(parsed) != 1:
            bad.append(i)
            langs.append("")
        else:
            langs.append(parsed[0])
    if bad:
        problems.add(f"language cannot be read at {table.rows(bad)}; one language per row")
    fips = fips_codes(frame["county_fips"])
    badf = np.flatnonzero(~pd.Series(fips).str.fullmatch(r"\d{5}").to_numpy())
    if len(badf):
        problems.add(f"county_fips is not a 5-digit code at {table.rows(badf)}")
    problems.raise_if_any()
    return pd.DataFrame(
        {
            "county_fips": fips,
            "language": langs,
            "speakers_5plus": np.nan_to_num(speakers),
        }
    )
