"""CMS's Health Service Delivery (HSD) tables for Medicare Advantage (42 CFR 422.116).

A Medicare Advantage organization files its network with CMS as two HSD tables,
the Provider HSD Table (specialty codes 001-037) and the Facility HSD Table
(codes 040-068), with one row per contracted provider or facility, specialty and
county it serves, in CMS's column order. :func:`hsd_tables` builds both from the
provider roster and the counties each provider serves; :func:`write_hsd_tables`
writes them as two CSV files and one Excel workbook, atomically, with a manifest.

Column layout: where it comes from
----------------------------------
The layout is that of CMS's HSD table templates, which CMS ships with the MA
application ("MA Download Templates" in HPMS, now the Network Management Module)
and explains in its "HSD Instructions" (Health Service Delivery Table Upload
Instructions). What was checked, and against what:

* The Provider HSD Table's fields: CMS, *Medicare Advantage Network Adequacy
  Criteria Guidance* (last updated January 10, 2017), section 4.1.1 "Provider HSD
  Table" (templates in its Appendices H and J, field definitions in Appendix I),
  filed with OMB for CMS-10636 (OMB 0938-1346),
  https://omb.report/icr/201708-0938-011/doc/76102101 : "the state/county code for
  the county that the provider will be serving, the provider's name, National
  Provider Identifier Number (NPI), specialty, specialty code, contract type,
  provider service address, if accepts new patients, medical group affiliation
  and if uses CMS MA contract amendment".
* CMS, *CY 2018 HSD Instructions* (sections "MA Provider Table", "MA Facility
  Table", Appendix C "Field Edits for the MA Provider and Facility Tables"), same
  filing, https://omb.report/icr/201708-0938-011/doc/76102901 : found, but only
  its contents page could be read here.
* The column order: as given by the issue from CMS's HSD instructions; a
  third-party HSD-table ingest specification in a public repository (not CMS)
  lists, in the same relative order, the Facility table's first ten columns (SSA
  State/County Code, Facility or Service Type, Specialty Code, NPI, staffed
  Medicare-certified beds, facility name, street address, city, state, ZIP) and
  the Provider table's (SSA code, name, NPI, specialty code, contract type,
  street address, city, state, ZIP, Medical Group Affiliation), and a
  third-party validator carries a Letter of Intent column in both tables
  (applicants only; blank for everyone else).

Not verified here: the exact header wording of the current contract year's
templates (other sources write "National Provider Identifier (NPI) Number",
"# of Staffed, Medicare-Certified Beds", "Provider Service Street Address"), and
the place of Accepts New Patients, Uses CMS MA Contract Amendment and Letter of
Intent after Medical Group Affiliation. Check :data:`PROVIDER_COLUMNS` and
:data:`FACILITY_COLUMNS` against the year's templates before filing.

What is filled and what is left blank
-------------------------------------
Filled from the roster: the SSA county code and specialty code (from ``served``),
the specialty name (CMS's, from ``specialty_names``), the name, NPI, service
address, city, state and ZIP (``npi``, ``address``, ``city``, ``state``,
``zip``; blank when the roster does not have them), Medical Group Affiliation
(``practice_id`` where it differs from ``provider_id``), Accepts New Patients
(``Y``/``N``) and, for acute inpatient hospitals (040) only, the staffed
Medicare-certified beds (``beds``; blank when unknown or 0). Left blank, because
a roster does not know them: Contract Type, Uses CMS MA Contract Amendment and
Letter of Intent. The organization fills those in before filing.

Every cell is text, so SSA codes, specialty codes, ZIP codes and NPIs keep
their leading zeros in the CSV files and in the workbook (text cells, format
``@``); only the bed count is a number in the workbook.

The output folder's ``manifest.json`` says ``"what": "hsd_tables"`` and gives the
package version as ``made_by``, not ``adequacy_version``: :mod:`adequacy.runs.write`
takes any manifest with ``adequacy_version`` (and no report, scenario or base run)
for an evaluation run's, which ``adequacy evaluate`` would then replace without
``--force``. :func:`write_hsd_tables` recognises its own earlier folder and
replaces it whole; anything else needs ``force``.

Owns: ``PROVIDER_COLUMNS``, ``FACILITY_COLUMNS``, ``hsd_tables``, ``earlier_hsd`` and
``write_hsd_tables``. Uses: the staging/publish pair and ``check_out`` of
:mod:`adequacy.runs.write`, the manifest's time, and openpyxl.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy import __version__
from adequacy.hashing import file_sha256
from adequacy.runs.manifest import CREATED_FORMAT, json_default, run_time
from adequacy.runs.write import check_out, publish, save_workbook, staging

__all__ = [
    "FACILITY_COLUMNS",
    "HSD_KIND",
    "LAYOUT_SOURCE",
    "PROVIDER_COLUMNS",
    "hsd_tables",
    "write_hsd_tables",
]

SSA = "SSA State/County Code"
NPI = "National Provider Identifier (NPI)"
CODE = "Specialty Code"
CONTRACT = "Contract Type"
ADDRESS = "Provider Service Address"
CITY = "Provider Service City"
STATE = "Provider Service State"
ZIP = "Provider Service Zip Code"
AMENDMENT = "Uses CMS MA Contract Amendment"
LOI = "Letter of Intent"
PROVIDER_NAME = "Name of Physician or Mid-Level Practitioner"
SPECIALTY = "Specialty"
GROUP = "Medical Group Affiliation"
ACCEPTS = "Accepts New Patients"
SERVICE_TYPE = "Facility or Service Type"
BEDS = "Number of Staffed, Medicare-Certified Beds"
FACILITY_NAME = "Provider Facility Name"

#: The Provider HSD Table's headers, in CMS's order (specialty codes 001-037).
PROVIDER_COLUMNS: tuple[str, ...] = (
    SSA,
    PROVIDER_NAME,
    NPI,
    SPECIALTY,
    CODE,
    CONTRACT,
    ADDRESS,
    CITY,
    STATE,
    ZIP,
    GROUP,
    ACCEPTS,
    AMENDMENT,
    LOI,
)
#: The Facility HSD Table's headers, in CMS's order (specialty codes 040-068).
FACILITY_COLUMNS: tuple[str, ...] = (
    SSA,
    SERVICE_TYPE,
    CODE,
    NPI,
    BEDS,
    FACILITY_NAME,
    ADDRESS,
    CITY,
    STATE,
    ZIP,
    CONTRACT,
    AMENDMENT,
    LOI,
)
#: Columns a roster cannot fill: always blank, for the organization to complete.
BLANK_COLUMNS: tuple[str, ...] = (CONTRACT, AMENDMENT, LOI)

#: Where the layout comes from (recorded in every manifest; see the module docstring).
LAYOUT_SOURCE: dict[str, Any] = {
    "templates": "CMS Medicare Advantage HSD table templates: Provider HSD Table and "
    "Facility HSD Table (HSD Instructions; MA application / Network Management Module)",
    "checked_against": [
        "CMS, Medicare Advantage Network Adequacy Criteria Guidance (last updated January 10, "
        "2017), section 4.1.1 Provider HSD Table; CMS-10636, OMB 0938-1346; "
        "https://omb.report/icr/201708-0938-011/doc/76102101",
        "CMS, CY 2018 HSD Instructions (MA Provider Table, MA Facility Table, Appendix C field "
        "edits); https://omb.report/icr/201708-0938-011/doc/76102901 (contents page only)",
    ],
    "not_verified": "exact header wording of the current contract year's templates; the "
    "place of Accepts New Patients, Uses CMS MA Contract Amendment and Letter of Intent",
}

#: The ``kind`` given to :func:`adequacy.runs.write.check_out` and the manifest's ``what``.
HSD_KIND = "hsd_tables"
PROVIDER_CSV = "hsd_provider_table.csv"
FACILITY_CSV = "hsd_facility_table.csv"
WORKBOOK = "hsd_tables.xlsx"
SHEETS = ("Provider HSD", "Facility HSD")
FIRST_FACILITY_CODE = "040"  # codes below are the Provider table's, 040 and above the Facility's
BED_CODE = "040"  # acute inpatient hospitals: the one specialty whose beds CMS counts
#: Manifest keys by which :mod:`adequacy.runs.write` tells other outputs apart; an HSD
#: folder must not carry them, or another command would take it for its own output.
FOREIGN_KEYS = ("adequacy_version", "report", "scenario", "base_run")
_WHOLE = re.compile(r"^(\d+)\.0*$")  # '2115.0' -> '2115': a number a spreadsheet made a float
_DASHED_ZIP = re.compile(r"\d{1,5}-\d{4}")
_FALSE = {"false", "f", "no", "n", "0"}  # yes/no cells read as no (bools arrive as Y/N)


# ---------------------------------------------------------------------------
# building the tables
# ---------------------------------------------------------------------------
def hsd_tables(
    providers: pd.DataFrame,
    served: pd.DataFrame,
    specialty_names: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CMS's Provider and Facility HSD tables of the in-network providers.

    Parameters
    ----------
    providers : pandas.DataFrame
        The provider roster as :func:`adequacy.inputs.schemas.read_providers` gives it:
        ``provider_id``, ``name``, ``accepting_new_patients``, ``practice_id``,
        ``in_network``, and the CMS columns ``npi``, ``beds``, ``address``, ``city``,
        ``state``, ``zip``. Only ``provider_id`` is required: a missing CMS column
        is blank, a missing ``in_network`` or ``accepting_new_patients`` true.
    served : pandas.DataFrame
        One row per provider row, CMS specialty code and county served:
        ``provider_row`` (position of the row in ``providers``), ``code`` (CMS
        specialty code, ``'001'``-``'037'`` or ``'040'``-``'068'``) and ``ssacd``
        (5-character SSA state+county code). Other columns (``county_fips``) are
        ignored.
    specialty_names : Mapping[str, str]
        CMS specialty code -> CMS specialty name (e.g. ``HsdReference.specialties``).

    Returns
    -------
    tuple of pandas.DataFrame
        The Provider table (codes below 040; columns :data:`PROVIDER_COLUMNS`) and
        the Facility table (codes 040 and above; :data:`FACILITY_COLUMNS`). One row
        per in-network provider, specialty and county served; rows with the same
        provider id, code, county and service address appear once. Sorted by SSA
        code, specialty code, name and NPI. Every cell is text ('' when blank).

    Raises
    ------
    ValueError
        When ``providers`` has no ``provider_id`` column, ``served`` lacks a column,
        a ``provider_row`` is not a row of ``providers``, or a code is not a
        3-digit CMS specialty code (the primary-care group ``S03`` is not: file
        its members under 001-006).
    """
    if "provider_id" not in providers.columns:
        raise ValueError("hsd_tables: providers need a provider_id column")
    missing = [c for c in ("provider_row", "code", "ssacd") if c not in served.columns]
    if missing:
        raise ValueError(f"hsd_tables: served lacks column(s) {', '.join(missing)}")
    rows = _positions(served["provider_row"], len(providers))
    codes = _codes(served["code"])
    ssacd = _text(served["ssacd"]).str.zfill(5).to_numpy(dtype=object)

    roster = _roster(providers).iloc[rows].reset_index(drop=True)
    long = pd.DataFrame(
        {
            "provider_id": roster["provider_id"].to_numpy(dtype=object),
            SSA: ssacd,
            CODE: codes,
            "name": roster["name"].to_numpy(dtype=object),
            NPI: roster["npi"].to_numpy(dtype=object),
            SPECIALTY: [str(specialty_names.get(c, "") or "") for c in codes],
            ADDRESS: roster["address"].to_numpy(dtype=object),
            CITY: roster["city"].to_numpy(dtype=object),
            STATE: roster["state"].to_numpy(dtype=object),
            ZIP: roster["zip"].to_numpy(dtype=object),
            GROUP: roster["group"].to_numpy(dtype=object),
            ACCEPTS: roster["accepts"].to_numpy(dtype=object),
            BEDS: np.where(codes == BED_CODE, roster["beds"].to_numpy(dtype=object), ""),
            "_in": roster["in_network"].to_numpy(dtype=bool),
        }
    )
    for column in BLANK_COLUMNS:
        long[column] = ""
    long = long[long["_in"]].drop_duplicates(
        ["provider_id", CODE, SSA, ADDRESS, CITY, STATE, ZIP], keep="first"
    )
    facility = long[CODE] >= FIRST_FACILITY_CODE
    provider_table = _layout(
        long[~facility].rename(columns={"name": PROVIDER_NAME}), PROVIDER_COLUMNS, PROVIDER_NAME
    )
    facility_table = _layout(
        long[facility].rename(columns={"name": FACILITY_NAME, SPECIALTY: SERVICE_TYPE}),
        FACILITY_COLUMNS,
        FACILITY_NAME,
    )
    return provider_table, facility_table


def _roster(providers: pd.DataFrame) -> pd.DataFrame:
    """Per roster row, the values the tables take (text, '' when blank), worked out
    once per provider rather than once per specialty and county."""
    provider_id = _text(providers["provider_id"])
    practice = _text(_column(providers, "practice_id"))
    beds = pd.to_numeric(_column(providers, "beds", np.nan), errors="coerce")
    beds = beds.to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "provider_id": provider_id.to_numpy(dtype=object),
            "name": _text(_column(providers, "name")).to_numpy(dtype=object),
            "npi": _text(_column(providers, "npi")).to_numpy(dtype=object),
            "address": _text(_column(providers, "address")).to_numpy(dtype=object),
            "city": _text(_column(providers, "city")).to_numpy(dtype=object),
            "state": _text(_column(providers, "state")).str.upper().to_numpy(dtype=object),
            "zip": _zip(_text(_column(providers, "zip"))).to_numpy(dtype=object),
            "group": np.where((practice != "") & (practice != provider_id), practice, "").astype(
                object
            ),
            "accepts": np.where(_flags(providers, "accepting_new_patients"), "Y", "N").astype(
                object
            ),
            "beds": np.array(
                [str(int(round(b))) if np.isfinite(b) and b > 0 else "" for b in beds],
                dtype=object,
            ),
            "in_network": _flags(providers, "in_network"),
        }
    )


def _layout(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """CMS's columns in CMS's order, sorted by SSA code, specialty code, name and NPI
    (then the other columns, so equal inputs in any order give equal tables)."""
    table = frame.loc[:, list(columns)].astype(object)
    keys = [SSA, CODE, name, NPI]
    keys += [c for c in columns if c not in keys]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str, default: Any = "") -> pd.Series:
    """A column of ``frame``, or ``default`` throughout when the roster has none."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped text: blank for missing, ``1234567890`` (not ``1234567890.0``)
    for whole numbers a reader made floats."""

    def one(value: Any) -> str:
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return ""
        if value is pd.NA or value is pd.NaT:
            return ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, (bool, np.bool_)):
            return "Y" if value else "N"
        text = str(value).strip()
        return _WHOLE.sub(r"\1", text)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _zip(values: pd.Series) -> pd.Series:
    """ZIP codes with the leading zeros a numeric reader dropped put back (501 -> 00501;
    ZIP+4 to 9 digits, or 10 characters with its dash); anything else as given."""

    def one(value: str) -> str:
        if value.isdigit() and len(value) < 5:
            return value.zfill(5)
        if value.isdigit() and 5 < len(value) < 9:
            return value.zfill(9)
        if _DASHED_ZIP.fullmatch(value):
            return value.zfill(10)
        return value

    return values.map(one)


def _flags(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A yes/no column as booleans; missing column or blank cell: true (the roster's default)."""
    if name not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    text = _text(frame[name]).str.lower()
    return (~text.isin(_FALSE)).to_numpy(dtype=bool)


def _positions(values: pd.Series, n: int) -> np.ndarray:
    """``provider_row`` as positions into the roster; anything else is a clear error."""
    rows = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(rows) | (rows != np.round(rows)) | (rows < 0) | (rows >= n)
    if bad.any():
        shown = ", ".join(map(str, values[bad].head(5).tolist()))
        raise ValueError(
            f"hsd_tables: provider_row {shown} is not a row of providers (0 to {n - 1})"
        )
    return rows.astype(np.int64)


def _codes(values: pd.Series) -> np.ndarray:
    """Specialty codes as 3 digits ('2' and 2 -> '002'); anything else is a clear error."""
    codes = _text(values).map(lambda c: c.zfill(3) if c.isdigit() else c)
    bad = ~codes.map(lambda c: len(c) == 3 and c.isdigit())
    if bad.any():
        shown = ", ".join(map(repr, sorted(set(codes[bad]))[:5]))
        raise ValueError(
            f"hsd_tables: code {shown} is not a CMS specialty code of the HSD tables "
            "(3 digits, 001-068; the primary-care group S03 is filed as 001-006)"
        )
    return codes.to_numpy(dtype=object)


# ---------------------------------------------------------------------------
# writing them
# ---------------------------------------------------------------------------
def write_hsd_tables(
    out: Path,
    provider_table: pd.DataFrame,
    facility_table: pd.DataFrame,
    *,
    force: bool = False,
    manifest: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the HSD tables to the folder ``out``, whole or not at all.

    Parameters
    ----------
    out : pathlib.Path
        The output folder; made when missing. A folder holding other files, or
        another kind of adequacy output, is refused unless ``force``; an earlier
        HSD tables folder is replaced whole.
    provider_table, facility_table : pandas.DataFrame
        :func:`hsd_tables`'s tables, with exactly :data:`PROVIDER_COLUMNS` and
        :data:`FACILITY_COLUMNS`.
    force : bool
        Replace whatever ``out`` holds (never the current folder, its parents or home).
    manifest : Mapping, optional
        More entries for ``manifest.json`` (the inputs, the contract, the command).
        A ``created_utc`` (``YYYY-MM-DDTHH:MM:SSZ``) given here dates the files;
        without it, :func:`adequacy.runs.manifest.run_time` does.

    Returns
    -------
    list of pathlib.Path
        ``hsd_provider_table.csv``, ``hsd_facility_table.csv``, ``hsd_tables.xlsx``
        (sheets "Provider HSD" and "Facility HSD") and ``manifest.json``, in ``out``.

    Raises
    ------
    adequacy.errors.InputError
        ``out`` cannot take the tables (see :func:`adequacy.runs.write.check_out`).
    ValueError
        A table's columns are not CMS's, or ``manifest`` carries a key by which
        another kind of output is recognised (``adequacy_version``, ``report``,
        ``scenario``, ``base_run``).
    """
    out = Path(out)
    for table, columns, label in (
        (provider_table, PROVIDER_COLUMNS, "provider_table"),
        (facility_table, FACILITY_COLUMNS, "facility_table"),
    ):
        if tuple(table.columns) != columns:
            raise ValueError(
                f"write_hsd_tables: {label} must have CMS's columns in CMS's order: "
                f"{', '.join(columns)}"
            )
    extra = dict(manifest or {})
    foreign = [k for k in FOREIGN_KEYS if k in extra]
    if foreign:
        raise ValueError(
            f"write_hsd_tables: manifest key(s) {', '.join(foreign)} would make the folder "
            "look like another kind of output; leave them out"
        )
    check_out(out, force=force or earlier_hsd(out), kind=HSD_KIND)
    created = _created(extra.get("created_utc"))
    record = {
        **extra,
        "what": HSD_KIND,
        "description": "CMS Medicare Advantage HSD tables (42 CFR 422.116): the Provider and "
        "Facility HSD Tables of the in-network providers, one row per provider, specialty "
        "and county served",
        "created_utc": created.strftime(CREATED_FORMAT),
        "made_by": f"adequacy {__version__}",
        "layout": {
            "source": LAYOUT_SOURCE,
            "provider_columns": list(PROVIDER_COLUMNS),
            "facility_columns": list(FACILITY_COLUMNS),
            "left_blank": {
                "columns": list(BLANK_COLUMNS),
                "why": "the roster does not know the contract type, the use of CMS's MA "
                "contract amendment or letters of intent; fill them in before filing",
            },
            "beds": f"filled for specialty {BED_CODE} (acute inpatient hospitals) only",
        },
        "counts": {
            "provider_rows": len(provider_table),
            "facility_rows": len(facility_table),
            "provider_counties": int(provider_table[SSA].nunique()),
            "facility_counties": int(facility_table[SSA].nunique()),
            "rows_by_code": {
                str(code): int(count)
                for code, count in pd.concat([provider_table[CODE], facility_table[CODE]])
                .value_counts()
                .sort_index()
                .items()
            },
        },
    }
    with staging(out) as tmp:
        files: dict[str, Path] = {}
        for name, table in ((PROVIDER_CSV, provider_table), (FACILITY_CSV, facility_table)):
            path = tmp / name
            _as_text(table).to_csv(path, index=False)
            files[name] = path
        path = tmp / WORKBOOK
        _write_workbook(path, (provider_table, facility_table), created)
        files[WORKBOOK] = path
        record["outputs"] = {name: file_sha256(p) for name, p in files.items()}
        path = tmp / "manifest.json"
        path.write_text(json.dumps(record, indent=2, default=json_default) + "\n")
        files["manifest.json"] = path
        final = publish(files, out)
    return [final[name] for name in (PROVIDER_CSV, FACILITY_CSV, WORKBOOK, "manifest.json")]


def earlier_hsd(out: Path) -> bool:
    """True when ``out`` holds an earlier output of :func:`write_hsd_tables` (replaced whole)."""
    try:
        earlier = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(earlier, dict) and earlier.get("what") == HSD_KIND


def _created(value: Any) -> datetime:
    if value is None:
        return run_time()
    try:
        return datetime.strptime(str(value), CREATED_FORMAT)
    except ValueError:
        raise ValueError(
            f"write_hsd_tables: created_utc {value!r} is not of the form YYYY-MM-DDTHH:MM:SSZ"
        ) from None


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text ('' when blank), so no writer turns a code into a number."""
    return table.apply(_text) if len(table) else table.astype(object)


# ---------------------------------------------------------------------------
# the workbook
# ---------------------------------------------------------------------------
def _write_workbook(
    path: Path, tables: tuple[pd.DataFrame, pd.DataFrame], created: datetime
) -> None:
    """The two tables as the sheets "Provider HSD" and "Facility HSD": text cells
    (format ``@``) throughout, the bed count a whole number, blanks empty."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, table in zip(SHEETS, tables, strict=True):
        ws = wb.create_sheet(title)
        text = _as_text(table)
        for j, column in enumerate(table.columns, start=1):
            width = max([len(column), *text[column].head(500).str.len().tolist()])
            ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 9), 60)
        ws.freeze_panes = "A2"
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(ws, value=column)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for values in text.itertuples(index=False, name=None):
            row = []
            for column, value in zip(table.columns, values, strict=True):
                if value == "":
                    row.append(None)
                elif column == BEDS and value.isdigit():
                    cell = WriteOnlyCell(ws, value=int(value))
                    cell.number_format = "0"
                    row.append(cell)
                else:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = "@"
                    row.append(cell)
            ws.append(row)
    save_workbook(wb, path, created, "CMS Medicare Advantage HSD tables")
