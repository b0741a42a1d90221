"""CMS specialty codes of provider rows, for the Medicare Advantage standards (42 CFR 422.116).

CMS's HSD Reference File (:mod:`adequacy.inputs.hsd_reference`) sets its standards
per specialty code: providers 001-037 (001-006, the primary care specialties,
evaluated together as ``S03``) and facilities 040-068. :func:`cms_codes` gives
each roster row its code, from (first that applies)

1. the roster's ``cms_specialty_code`` column;
2. the roster's NPPES ``taxonomy`` through a crosswalk the user gives
   (:func:`read_taxonomy_crosswalk`: a CSV, Excel, Parquet file or a frame with
   ``taxonomy`` and ``cms_specialty_code``);
3. the roster's ``provider_type`` and ``specialty`` through the table shipped as
   ``cms_specialty_names.yaml`` (its header says where each mapping comes from).

Rows none of them maps get no code (``''``) and are counted in notes: a roster may
carry types CMS does not cover (urgent care, say), so that is never an error.

Owns: the CMS code list (:data:`CMS_SPECIALTIES`), code normalisation, the
exclusion kinds of 42 CFR 422.116(a)(3)(i) (:data:`CMS_EXCLUSIONS`), the crosswalk
reader and the name table. Uses: :mod:`adequacy.errors`,
:mod:`adequacy.inputs.tables`, :mod:`adequacy.inputs.yamlfile`, and the primary care
codes of :mod:`adequacy.inputs.hsd_reference`.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.errors import InputError
from adequacy.inputs.hsd_reference import PRIMARY_CARE, PRIMARY_CARE_PARTS
from adequacy.inputs.tables import Problems, Table, read_table, read_text, require
from adequacy.inputs.yamlfile import load_yaml

__all__ = [
    "CMS_EXCLUSIONS", "CMS_SPECIALTIES", "FACILITY_CODES", "NAMES_FILE", "PRIMARY_CARE",
    "PRIMARY_CARE_CODES", "PROVIDER_CODES", "cms_code_column", "cms_codes", "evaluated_code",
    "normalise_cms_code", "read_taxonomy_crosswalk", "specialty_name_table",
]  # fmt: skip

#: CMS specialty codes and their names as in the CY2026 HSD Reference File's Master tab.
CMS_SPECIALTIES: dict[str, str] = {
    "001": "General Practice",
    "002": "Family Practice",
    "003": "Internal Medicine",
    "004": "Geriatrics",
    "005": "Primary Care - Physician Assistants",
    "006": "Primary Care - Nurse Practitioners",
    "S03": "Primary Care",
    "007": "Allergy and Immunology",
    "008": "Cardiology",
    "010": "Chiropractor",
    "011": "Dermatology",
    "012": "Endocrinology",
    "013": "ENT/Otolaryngology",
    "014": "Gastroenterology",
    "015": "General Surgery",
    "016": "Gynecology, OB/GYN",
    "017": "Infectious Diseases",
    "018": "Nephrology",
    "019": "Neurology",
    "020": "Neurosurgery",
    "021": "Oncology - Medical, Surgical",
    "022": "Oncology - Radiation/Radiation Oncology",
    "023": "Ophthalmology",
    "025": "Orthopedic Surgery",
    "026": "Physiatry, Rehabilitative Medicine",
    "027": "Plastic Surgery",
    "028": "Podiatry",
    "029": "Psychiatry",
    "030": "Pulmonology",
    "031": "Rheumatology",
    "033": "Urology",
    "034": "Vascular Surgery",
    "035": "Cardiothoracic Surgery",
    "036": "Clinical Psychology",
    "037": "Clinical Social Work",
    "040": "Acute Inpatient Hospitals",
    "041": "Cardiac Surgery Program",
    "042": "Cardiac Catheterization Services",
    "043": "Critical Care Services – Intensive Care Units (ICU)",
    "045": "Surgical Services (Outpatient or ASC)",
    "046": "Skilled Nursing Facilities",
    "047": "Diagnostic Radiology",
    "048": "Mammography",
    "049": "Physical Therapy",
    "050": "Occupational Therapy",
    "051": "Speech Therapy",
    "052": "Inpatient Psychiatric Facility Services",
    "057": "Outpatient Infusion/Chemotherapy",
    "068": "Outpatient Behavioral Health",
}
#: Provider codes listed separately on the HSD tables, evaluated together as ``S03``.
PRIMARY_CARE_CODES: tuple[str, ...] = PRIMARY_CARE_PARTS
#: Provider (Table 2) and facility (Table 3) codes; ``S03`` is a provider code.
PROVIDER_CODES: tuple[str, ...] = tuple(c for c in CMS_SPECIALTIES if c == "S03" or c < "040")
FACILITY_CODES: tuple[str, ...] = tuple(c for c in CMS_SPECIALTIES if c not in PROVIDER_CODES)

#: Kinds of provider that count toward no CMS network adequacy criterion, 42 CFR
#: 422.116(a)(3)(i): (A) specialized, long-term care and pediatric/children's
#: hospitals; (B) providers only available in a residential facility.
CMS_EXCLUSIONS: tuple[str, ...] = (
    "specialized_hospital",
    "childrens_hospital",
    "long_term_care_hospital",
    "residential_facility_only",
)

NAMES_FILE = Path(__file__).with_name("cms_specialty_names.yaml")

_WHERE = (
    "use a code of CMS's HSD Reference File (Master tab; listed in "
    "adequacy/inputs/cms_specialties.py CMS_SPECIALTIES): 001-037 providers (001-006 primary "
    "care, together S03), 040-068 facilities"
)


# ---------------------------------------------------------------------------
# codes
# ---------------------------------------------------------------------------
def normalise_cms_code(value: Any) -> str:
    """A CMS specialty code as text: 8, '8', '8.0' -> '008'; 's03' -> 'S03'; empty -> ''.

    Anything else comes back stripped and upper case, to be checked against
    :data:`CMS_SPECIALTIES`.
    """
    if value is None:
        return ""
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"{int(value):03d}" if 0 <= value < 1000 else str(value)
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        if float(value).is_integer() and 0 <= value < 1000:
            return f"{int(value):03d}"
    text = str(value).strip()
    if text.lower() in ("", "nan", "none", "<na>"):
        return ""
    number = re.fullmatch(r"(\d{1,3})(?:\.0*)?", text)
    if number:
        return number.group(1).zfill(3)
    group = re.fullmatch(r"[sS](\d{1,2})", text)
    if group:
        return "S" + group.group(1).zfill(2)
    return text.upper()


def evaluated_code(code: str) -> str:
    """The code CMS evaluates a row under: ``S03`` for 001-006, else the code itself."""
    return PRIMARY_CARE if code in PRIMARY_CARE_CODES else code


def cms_code_column(problems: Problems, raw: pd.Series, column: str) -> np.ndarray:
    """Normalised CMS codes of a column ('' where empty); codes CMS does not list are
    one problem line naming the values, the rows and where to look."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    fixed = np.array([normalise_cms_code(u) for u in uniques] + [""], dtype=object)
    values = fixed[codes]
    bad = np.flatnonzero((values != "") & ~np.isin(values, list(CMS_SPECIALTIES)))
    if len(bad):
        shown = list(dict.fromkeys(values[bad]))
        listed = ", ".join(map(repr, shown[:5])) + (
            f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        )
        problems.add(
            f"{column} {listed} at {problems.table.rows(bad)} is not a CMS specialty code; {_WHERE}"
        )
    return values


# ---------------------------------------------------------------------------
# the taxonomy crosswalk
# ---------------------------------------------------------------------------
class _SheetRow(str):
    """Rows of a spreadsheet named by the sheet's own row numbers (the header is row 1)."""

    def format(self, *args: Any, **kwargs: Any) -> str:
        return f"row {int(args[0]) + 2}"


def _crosswalk_table(source: Any) -> Table:
    if isinstance(source, pd.DataFrame):
        return read_table(source, "taxonomy crosswalk")
    path = Path(os.fspath(source))
    if path.suffix.lower() not in (".xlsx", ".xlsm", ".xls"):
        return read_table(path, "taxonomy crosswalk")
    if not path.exists():
        raise InputError(f"{path}: taxonomy crosswalk file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the taxonomy crosswalk file")
    try:
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(
            f"{path}: could not be read as a taxonomy crosswalk ({first}); save it as an "
            "Excel workbook (.xlsx) or CSV (UTF-8) with columns taxonomy and cms_specialty_code"
        ) from None
    frame.attrs.update(source_name=str(path), row_format=_SheetRow("row {}"))
    return read_table(frame, "taxonomy crosswalk")


def read_taxonomy_crosswalk(source: Any) -> pd.DataFrame:
    """Read a crosswalk from NPPES taxonomy codes to CMS specialty codes.

    ``source`` is a CSV, Excel (.xlsx, first sheet) or Parquet file, or a frame,
    with columns ``taxonomy`` (e.g. ``207RC0000X``) and ``cms_specialty_code``
    (e.g. ``008``; 8 and '8.0' are read as ``008``). Returns one row per taxonomy
    (upper case) with its code. Every problem is one line naming the file and the
    rows, all raised together as one :class:`InputError`: a missing column, an
    empty taxonomy or code, a code CMS does not list, one taxonomy given two codes.
    """
    table = _crosswalk_table(source)
    frame = table.frame
    problems = Problems(table, "taxonomy crosswalk")
    if not require(
        problems,
        frame,
        ["taxonomy", "cms_specialty_code"],
        "a crosswalk has one row per NPPES taxonomy code with its CMS specialty code",
    ):
        problems.raise_if_any()
    taxonomy = _taxonomy_text(frame["taxonomy"])
    codes = cms_code_column(problems, frame["cms_specialty_code"], "cms_specialty_code")
    no_tax = np.flatnonzero(taxonomy == "")
    if len(no_tax):
        problems.add(f"taxonomy is empty at {table.rows(no_tax)}; give a taxonomy code per row")
    no_code = np.flatnonzero((codes == "") & (taxonomy != ""))
    if len(no_code):
        problems.add(
            f"cms_specialty_code is empty at {table.rows(no_code)}; give the CMS code of each "
            "taxonomy, or remove the row"
        )
    known = np.isin(codes, list(CMS_SPECIALTIES)) & (taxonomy != "")
    pairs = pd.DataFrame({"taxonomy": taxonomy[known], "code": codes[known]})
    counts = pairs.drop_duplicates().groupby("taxonomy")["code"].nunique()
    twice = counts.index[counts > 1].tolist()
    if twice:
        rows = np.flatnonzero(known & np.isin(taxonomy, twice))
        shown = ", ".join(twice[:5]) + (f" and {len(twice) - 5} more" if len(twice) > 5 else "")
        problems.add(
            f"taxonomy {shown} is given different codes at {table.rows(rows)}; "
            "keep one CMS code per taxonomy"
        )
    problems.raise_if_any()
    return (
        pd.DataFrame({"taxonomy": taxonomy, "cms_specialty_code": codes})
        .drop_duplicates()
        .reset_index(drop=True)
    )


def _taxonomy_text(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.upper()
    return np.where(values.isna() | (text == "NAN"), "", text).astype(object)


# ---------------------------------------------------------------------------
# the name table
# ---------------------------------------------------------------------------
def _key(text: Any) -> str:
    """A name folded for lookup: lower case, apostrophes dropped, '&' as 'and',
    other punctuation as spaces ('PM&R' -> 'pm and r', 'OB/GYN' -> 'ob gyn')."""
    folded = re.sub(r"['’]", "", str(text).lower()).replace("&", " and ")
    return " ".join(re.findall(r"[a-z0-9]+", folded))


@dataclass(frozen=True)
class _Names:
    type_code: dict[str, str]  # provider_type -> code for an empty specialty ('' none)
    why: dict[str, str]  # provider_type -> why it has no code
    by_type: dict[str, dict[str, str]]  # provider_type -> {name key: code}
    general: dict[str, str]  # name key -> code, any provider type
    rows: tuple[tuple[str, str, str], ...]  # (provider_type or '', name, code) as listed


@functools.cache
def _names() -> _Names:
    label = str(NAMES_FILE)
    data = load_yaml(read_text(NAMES_FILE, "CMS specialty names"), label)

    def fail(what: str) -> InputError:
        return InputError(f"{label}: {what}")

    def code_of(value: Any, where: str) -> str:
        code = normalise_cms_code(value)
        if code and (code not in CMS_SPECIALTIES or code == PRIMARY_CARE):
            raise fail(f"{where}: {code!r} is not a code to list on the HSD tables")
        return code

    rows: list[tuple[str, str, str]] = []

    def table(mapping: Any, where: str, owner: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for raw_code, names in (mapping or {}).items():
            code = code_of(raw_code, where)
            for name in names:
                key = _key(name)
                if out.get(key, code) != code:
                    raise fail(f"{where}: {name!r} is listed under {out[key]} and {code}")
                out[key] = code
                rows.append((owner, str(name), code))
        return out

    type_code, why, by_type = {}, {}, {}
    for ptype, entry in (data.get("provider_types") or {}).items():
        type_code[ptype] = code_of(entry.get("code", ""), f"provider_types.{ptype}")
        why[ptype] = str(entry.get("why", "")).strip()
        by_type[ptype] = table(entry.get("names"), f"provider_types.{ptype}.names", ptype)
    general = table(data.get("specialties"), "specialties", "")
    for code, name in CMS_SPECIALTIES.items():  # each code's own name
        key = _key(name)
        if code != PRIMARY_CARE and general.setdefault(key, code) != code:
            raise fail(f"specialties: CMS's name {name!r} is listed under {general[key]}")
    return _Names(type_code, why, by_type, general, tuple(rows))


def specialty_name_table() -> pd.DataFrame:
    """The shipped name table as listed: ``provider_type`` ('' = any type),
    ``specialty``, ``cms_specialty_code`` and ``cms_name``; then one row per
    provider type for an empty specialty (``specialty`` '')."""
    names = _names()
    rows = list(names.rows)
    rows += [(ptype, "", code) for ptype, code in names.type_code.items()]
    frame = pd.DataFrame(rows, columns=["provider_type", "specialty", "cms_specialty_code"])
    frame["cms_name"] = frame["cms_specialty_code"].map(CMS_SPECIALTIES).fillna("")
    return frame


def _by_name(ptype: str, specialty: str) -> str:
    names = _names()
    key = _key(specialty)
    if not key:
        if ptype in names.type_code:
            return names.type_code[ptype]
        return names.general.get(_key(ptype), "")
    return names.by_type.get(ptype, {}).get(key) or names.general.get(key, "")


# ---------------------------------------------------------------------------
# codes of a roster
# ---------------------------------------------------------------------------
def cms_codes(providers: pd.DataFrame, *, crosswalk: Any = None) -> tuple[pd.Series, list[str]]:
    """The CMS specialty code of each provider row, and notes on the rows without one.

    Parameters
    ----------
    providers
        A roster as :func:`adequacy.inputs.schemas.read_providers` returns it (its
        ``provider_type``, ``specialty``, ``cms_specialty_code`` and ``taxonomy``
        are used; a column that is absent counts as empty).
    crosswalk
        Optional NPPES taxonomy -> CMS code crosswalk: a path (CSV, Excel, Parquet)
        or a frame with columns ``taxonomy`` and ``cms_specialty_code``
        (:func:`read_taxonomy_crosswalk`; its problems raise :class:`InputError`).

    Returns
    -------
    codes
        Series aligned with ``providers.index``: the roster's own
        ``cms_specialty_code`` when given, else the crosswalk's code of its
        ``taxonomy``, else the code of its ``provider_type`` and ``specialty`` in
        ``cms_specialty_names.yaml``; ``''`` when none applies. Primary care rows
        get their individual code (001-006; :func:`evaluated_code` gives S03).
    notes
        One line per provider type with rows that got no code (counts, up to five
        example specialties and why), one line on codes in the roster CMS does not
        list, and one on taxonomies the crosswalk lacks. Never member data.
    """
    n = len(providers)

    def column(name: str) -> np.ndarray:
        if name not in providers.columns:
            return np.full(n, "", dtype=object)
        values = providers[name]
        return np.where(values.isna(), "", values.astype(str).str.strip()).astype(object)

    ptypes = column("provider_type")
    specialties = column("specialty")
    notes: list[str] = []

    # 1. the roster's own codes
    if "cms_specialty_code" in providers.columns:
        found, uniques = pd.factorize(providers["cms_specialty_code"], use_na_sentinel=True)
        given = np.array([normalise_cms_code(u) for u in uniques] + [""], dtype=object)[found]
    else:
        given = np.full(n, "", dtype=object)
    unknown = (given != "") & ~np.isin(given, list(CMS_SPECIALTIES))
    if unknown.any():
        shown = sorted(set(given[unknown]))
        notes.append(
            f"{_rows(int(unknown.sum()), 'carry', 'carries')} a cms_specialty_code CMS does "
            f"not list ({', '.join(map(repr, shown[:5]))}); they are coded as if it were empty"
        )
        given[unknown] = ""
    codes = given.copy()

    # 2. the taxonomy crosswalk
    if crosswalk is not None:
        table = read_taxonomy_crosswalk(crosswalk)
        lookup = dict(zip(table["taxonomy"], table["cms_specialty_code"], strict=True))
        taxonomy = pd.Series(column("taxonomy"), dtype=object).str.upper()
        found = taxonomy.map(lookup).fillna("").to_numpy(dtype=object)
        taxonomy = taxonomy.to_numpy(dtype=object)
        want = (codes == "") & (taxonomy != "")
        use = want & (found != "")
        codes[use] = found[use]
        missing = want & (found == "")
        if missing.any():
            counts = Counter(taxonomy[missing])
            notes.append(
                f"{_rows(int(missing.sum()))} a taxonomy the crosswalk does not list "
                f"({_examples(counts)}); coded by provider_type and specialty instead"
            )

    # 3. provider type and specialty names
    rest = np.flatnonzero(codes == "")
    pairs = pd.DataFrame({"t": ptypes[rest], "s": specialties[rest]})
    for (ptype, specialty), idx in pairs.groupby(["t", "s"], sort=False).indices.items():
        codes[rest[idx]] = _by_name(ptype, specialty)

    notes += _uncoded_notes(ptypes, specialties, codes)
    return pd.Series(codes, index=providers.index, name="cms_specialty_code", dtype=object), notes


def _rows(count: int, plural: str = "have", singular: str = "has") -> str:
    return f"1 row {singular}" if count == 1 else f"{count} rows {plural}"


def _examples(counts: Counter, limit: int = 5) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{k!r} ({v})" if k else f"none ({v})" for k, v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _uncoded_notes(ptypes: np.ndarray, specialties: np.ndarray, codes: np.ndarray) -> list[str]:
    names = _names()
    notes = []
    none = codes == ""
    for ptype in dict.fromkeys(ptypes[none]):
        rows = none & (ptypes == ptype)
        count = int(rows.sum())
        label = ptype or "(no provider_type)"
        counts = Counter(specialties[rows])
        why = names.why.get(ptype, "")
        if why and set(counts) == {""}:
            notes.append(f"{label}: {_rows(count)} no CMS specialty code: {why}")
            continue
        notes.append(
            f"{label}: {_rows(count)} no CMS specialty code (specialty {_examples(counts)})"
            + (f": {why}" if why else "")
            + "; give them cms_specialty_code, a taxonomy and crosswalk, or a specialty named "
            "in adequacy/inputs/cms_specialty_names.yaml"
        )
    return notes
