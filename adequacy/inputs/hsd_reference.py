"""CMS's Medicare Advantage HSD Reference File (42 CFR 422.116), read into tidy tables.

CMS publishes the Health Service Delivery (HSD) Reference File each contract
year (422.116(a)(4)(i)): an Excel workbook with, per county, the maximum time
(minutes) and distance (miles) to a provider or facility of each specialty and
the minimum number of them a Medicare Advantage network must have. Its tabs:

- ``Master``: the base time/distance per county type (Table 2 providers,
  Table 3 facilities) and the minimum ratios per 1,000 beneficiaries (Table 1;
  Table 3's "Number/1,000", acute inpatient hospital beds only);
- ``Minimum Provider #s`` / ``Minimum Facility #s``: per county, total
  beneficiaries, county designation, 95th-percentile base population ratio,
  beneficiaries required to cover and the minimum number per specialty code;
- ``Provider Time & Distance`` / ``Facility Time & Distance``: per county and
  specialty code, "Time" (minutes) and "Distance" (miles);
- ``Certificate of Need``: county × facility type combinations in States with
  certificate-of-need laws (see :class:`HsdReference`);
- ``Notes`` (who may be listed under a code) and ``Criteria Changes`` (changes
  from the previous year); only the latter's header is read, for the year.

Headers span two or three rows (names, then specialty codes, then
Time/Distance). Counties are keyed by the SSA state+county code ``SSACD``,
not FIPS (:func:`match_fips`). Primary care is evaluated as code ``S03``:
providers listed under 001-006 count together for it, and the file gives no
standard for 001-006 themselves.

Owns: ``read_hsd_reference``, ``HsdReference`` and ``compare_minimums``; the
county rules (SSA -> FIPS, county types, minimum numbers) are
:mod:`adequacy.inputs.cms_counties`'s, re-exported here. Uses:
:mod:`adequacy.errors`, :mod:`adequacy.hashing`, :mod:`adequacy.inputs.cms_counties`.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.errors import InputError
from adequacy.hashing import file_sha256
from adequacy.inputs.cms_counties import (
    DESIGNATIONS,
    beneficiaries_to_cover,
    compute_minimums,
    county_designation,
    county_designations,
    match_fips,
)

__all__ = [
    "BUNDLED_HSD_REFERENCE", "DESIGNATIONS", "THRESHOLDS", "HsdReference", "compare_minimums",
    "compute_minimums", "county_designation", "county_designations", "match_fips",
    "read_hsd_reference", "beneficiaries_to_cover",
]  # fmt: skip

BUNDLED_HSD_REFERENCE = (
    Path(__file__).resolve().parents[2] / "data" / "cms" / "ma_hsd_reference_file_cy2026.xlsx"
)

#: Share of a county's beneficiaries that must be within the time and distance
#: standards, by county type: 42 CFR 422.116(d)(4).
THRESHOLDS = {"Large Metro": 0.90, "Metro": 0.90, "Micro": 0.85, "Rural": 0.85, "CEAC": 0.85}

PRIMARY_CARE = "S03"
#: Provider codes reported separately but evaluated together as S03 (Notes tab).
PRIMARY_CARE_PARTS = ("001", "002", "003", "004", "005", "006")

TABS = {
    "master": "Master",
    "min_providers": "Minimum Provider #s",
    "min_facilities": "Minimum Facility #s",
    "td_providers": "Provider Time & Distance",
    "td_facilities": "Facility Time & Distance",
    "con": "Certificate of Need",
}
YEAR_TAB = "Criteria Changes"

_FIX = "give CMS's HSD Reference File (.xlsx) as downloaded, with its tabs and headers unchanged"


@dataclass(frozen=True, eq=False)
class HsdReference:
    """One contract year's HSD Reference File as tidy tables.

    Attributes
    ----------
    year
        Contract year (from the ``Criteria Changes`` tab's header, else the file
        name, e.g. ``cy2026``).
    path, sha256
        The workbook read and the SHA-256 of its bytes.
    counties
        One row per county: ``ssacd`` (5-character SSA code), ``state``
        (2-letter), ``county`` (name as in the file), ``designation`` (one of
        :data:`DESIGNATIONS`), ``beneficiaries`` (int, total Medicare
        beneficiaries in the county), ``pct95_ratio`` (float, the county type's
        95th-percentile base population ratio), ``beneficiaries_to_cover``
        (int, ceil(beneficiaries × pct95_ratio), computed) and
        ``beneficiaries_to_cover_file`` (int, the file's column, to compare).
    specialties
        Long table, one row per specialty code × county type: ``code`` ('001'
        ... '037', 'S03', '040' ... '068'), ``name``, ``kind`` ('provider' or
        'facility'), ``designation``, ``ratio_per_1000`` (minimum providers, or
        for acute inpatient hospitals beds, per 1,000 beneficiaries to cover;
        NaN where none), ``minutes`` and ``miles`` (base maximum time and
        distance; NaN for 001-006), ``counts_beds`` (True only for acute
        inpatient hospitals, 040), ``evaluated_as`` ('S03' for 001-006, else
        the code itself).
    limits
        One row per county × evaluated code as in the Time & Distance tabs:
        ``ssacd``, ``code``, ``kind``, ``minutes`` (maximum time, minutes),
        ``miles`` (maximum distance, miles), ``customised`` (True where they
        differ from the base of the county's type). Codes 001-006, blank in
        the tabs, are left out.
    minimums
        :func:`compute_minimums`: ``ssacd``, ``code``, ``kind``, ``unit``
        ('providers', 'beds' or 'facilities'), ``required`` (int).
    file_minimums
        The same cells as the file's minimum tabs print them (``ssacd``,
        ``code``, ``kind``, ``required``); :func:`compare_minimums` sets them
        side by side.
    con
        The ``Certificate of Need`` tab: ``ssacd``, ``code``, ``state``,
        ``county``, ``name`` (facility type), ``customised`` (bool, the tab's
        "T/D Customized (Y/N)"). Each row is a county × facility type in a
        State with certificate-of-need laws or other State limits on the number
        of providers or facilities; under 42 CFR 422.116(d)(6) CMS gives such
        combinations a 10-percentage-point credit toward the share of
        beneficiaries within the time and distance standards or, when supply
        patterns need it, customises the standard. ``customised`` is Y exactly
        where the Facility Time & Distance tab's value differs from the base
        (checked for every row of the CY2026 file). The CY2026 tab lists 15,223
        combinations in 2,447 counties of 38 States, DC, PR, GU, AS and VI, all
        facility types (040-043, 045-047, 052, 068; 049 and 050 in DC only);
        no provider specialty is listed.
    thresholds
        Share of beneficiaries that must be within the standards, by county
        type: 0.90 for Large Metro and Metro, 0.85 for Micro, Rural and CEAC
        (42 CFR 422.116(d)(4)).
    """

    year: int
    path: Path
    sha256: str
    counties: pd.DataFrame
    specialties: pd.DataFrame
    limits: pd.DataFrame
    minimums: pd.DataFrame
    file_minimums: pd.DataFrame
    con: pd.DataFrame
    thresholds: Mapping[str, float]


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def read_hsd_reference(path: Any = None, *, year: int | None = None) -> HsdReference:
    """Read CMS's HSD Reference File.

    Parameters
    ----------
    path
        The workbook (.xlsx). Default: the bundled CY2026 file
        (``data/cms/ma_hsd_reference_file_cy2026.xlsx``).
    year
        Contract year, when neither the ``Criteria Changes`` tab nor the file
        name tells it.

    Returns
    -------
    :class:`HsdReference`. Reading the CY2026 file takes about 2.7 s (2 s of it
    openpyxl parsing the sheets' XML).

    Raises
    ------
    InputError
        One line naming the file, the tab and the fix: a missing file, a file
        that is not an .xlsx workbook, a missing tab, a header not recognised,
        a bad county code or county type.
    """
    import openpyxl

    path = Path(os.fspath(BUNDLED_HSD_REFERENCE if path is None else path))
    if not path.exists():
        raise InputError(f"{path}: HSD Reference File not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the HSD Reference File (.xlsx)")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: is not an Excel workbook (.xlsx); {_FIX}")
    digest = file_sha256(path)
    found = _read_cached(path, digest, year)
    if found is not None:
        return found
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(
            f"{path}: could not be read as an Excel workbook ({first}); {_FIX}"
        ) from None
    try:
        missing = [t for t in TABS.values() if t not in book.sheetnames]
        if missing:
            raise InputError(
                f"{path}: tab {missing[0]!r} is missing (the workbook has: "
                f"{', '.join(book.sheetnames)}); {_FIX}"
            )
        rows = {k: list(book[t].iter_rows(values_only=True)) for k, t in TABS.items()}
        header = (
            list(book[YEAR_TAB].iter_rows(max_row=3, values_only=True))
            if YEAR_TAB in book.sheetnames
            else []
        )
    finally:
        book.close()
    ref = _build(path, rows, year if year is not None else _year(path, header))
    _keep(ref, digest, year)
    return ref


# parsing the workbook takes seconds: a parsed file is kept in memory and on disk,
# keyed by its SHA-256 (a changed file is read again)
_PARSED: dict[tuple[str, int | None], HsdReference] = {}
_CACHE_VERSION = 1


def _cache_file(digest: str, year: int | None) -> Path:
    root = os.environ.get("ADEQUACY_CACHE_DIR") or str(Path.home() / ".cache" / "adequacy")
    return Path(root) / "hsd" / f"{digest[:32]}-{year or 0}-v{_CACHE_VERSION}.pkl"


def _read_cached(path: Path, digest: str, year: int | None) -> HsdReference | None:
    ref = _PARSED.get((digest, year))
    if ref is None:
        try:
            with open(_cache_file(digest, year), "rb") as f:
                ref = pickle.load(f)  # our own cache file, written below
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None
        _PARSED[(digest, year)] = ref
    return dataclasses.replace(ref, path=path)


def _keep(ref: HsdReference, digest: str, year: int | None) -> None:
    _PARSED[(digest, year)] = ref
    target = _cache_file(digest, year)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(ref, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:  # a read-only cache folder only costs the next run the parse
        pass


def _build(path: Path, rows: dict[str, list[tuple]], year: int) -> HsdReference:
    specialties = _read_master(path, rows["master"])
    known = set(specialties["code"])
    mp = _county_tab(path, TABS["min_providers"], rows["min_providers"], known, minimums=True)
    mf = _county_tab(path, TABS["min_facilities"], rows["min_facilities"], known, minimums=True)
    tp = _county_tab(path, TABS["td_providers"], rows["td_providers"], known, minimums=False)
    tf = _county_tab(path, TABS["td_facilities"], rows["td_facilities"], known, minimums=False)
    counties = mp["counties"]
    for other in (mf, tp, tf):
        _same_counties(path, counties, other)

    counties["beneficiaries_to_cover"] = beneficiaries_to_cover(
        counties["beneficiaries"], counties["pct95_ratio"]
    )
    counties = counties[
        ["ssacd", "state", "county", "designation", "beneficiaries", "pct95_ratio",
         "beneficiaries_to_cover", "beneficiaries_to_cover_file"]
    ]  # fmt: skip

    kinds = dict(zip(specialties["code"], specialties["kind"], strict=False))
    limits = pd.concat([tp["values"], tf["values"]], ignore_index=True)
    limits = limits.dropna(subset=["minutes", "miles"], how="all")
    limits.insert(2, "kind", limits["code"].map(kinds))
    base = specialties.set_index(["code", "designation"])[["minutes", "miles"]]
    des = limits["ssacd"].map(counties.set_index("ssacd")["designation"])
    at = base.reindex(pd.MultiIndex.from_arrays([limits["code"], des])).to_numpy()
    limits["customised"] = (limits[["minutes", "miles"]].to_numpy() != at).any(axis=1)

    file_min = pd.concat([mp["values"], mf["values"]], ignore_index=True)
    file_min = file_min.dropna(subset=["required"])
    file_min.insert(2, "kind", file_min["code"].map(kinds))
    file_min["required"] = file_min["required"].astype(int)
    return HsdReference(
        year=year,
        path=path,
        sha256=file_sha256(path),
        counties=counties.reset_index(drop=True),
        specialties=specialties,
        limits=limits.reset_index(drop=True),
        minimums=compute_minimums(counties, specialties),
        file_minimums=file_min.reset_index(drop=True),
        con=_read_con(path, rows["con"], known),
        thresholds=dict(THRESHOLDS),
    )


def _year(path: Path, header: list[tuple]) -> int:
    found = [
        int(m.group(1))
        for row in header
        for cell in row
        if isinstance(cell, str)
        for m in re.finditer(r"\b(20\d\d) County Designation", cell)
    ]
    if found:
        return max(found)
    named = re.search(r"cy[\s_-]*(20\d\d)", path.name, re.IGNORECASE)
    if named:
        return int(named.group(1))
    raise InputError(
        f"{path}: cannot tell the contract year (tab {YEAR_TAB!r} has no 'YYYY County "
        "Designation' header and the file name no 'cyYYYY'); pass year=, or name the file "
        "e.g. ma_hsd_reference_file_cy2026.xlsx"
    )


def _label(value: Any) -> str:
    """Header text folded for matching: 'COUNTY DESIGNA-TION' -> 'COUNTYDESIGNATION'."""
    return re.sub(r"[^A-Z0-9]", "", str(value).upper()) if value is not None else ""


def _code(value: Any) -> str:
    """A specialty code as text: 40 -> '040', '008' -> '008', 's03' -> 'S03'."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float) and float(value).is_integer():
        return f"{int(value):03d}"
    text = str(value).strip().upper()
    return text.zfill(3) if text.isdigit() else text


def _is_code(text: str) -> bool:
    return bool(re.fullmatch(r"\d{3}|S\d{2}", text))


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return np.nan  # empty, 'NA'


def _header_error(path: Path, tab: str, what: str) -> InputError:
    return InputError(f"{path}: tab {tab!r}: {what}; {_FIX}")


def _read_master(path: Path, rows: list[tuple]) -> pd.DataFrame:
    """Tables 1-3 of the Master tab as the long specialties table."""
    tab = TABS["master"]
    titles: dict[str, tuple[int, int]] = {}
    for i, row in enumerate(rows[:12]):
        for j, cell in enumerate(row):
            text = _label(cell)
            for n, key in ((1, "ratios"), (2, "providers"), (3, "facilities")):
                if text.startswith(f"TABLE{n}") and key not in titles:
                    titles[key] = (i, j)
    if len(titles) < 3:
        gone = [k for k in ("ratios", "providers", "facilities") if k not in titles]
        raise _header_error(path, tab, f"no 'Table 1/2/3' title for {', '.join(gone)}")
    starts = sorted(j for _, j in titles.values())
    blocks = {}
    for key, (i, j) in titles.items():
        end = next((s for s in starts if s > j), max(len(r) for r in rows))
        blocks[key] = _master_block(path, rows, i, j, end)
    ratio = blocks["ratios"]
    records = []
    for kind, key in (("provider", "providers"), ("facility", "facilities")):
        for code, name, values in blocks[key]:
            ratios = next((v for c, _, v in ratio if c == code), {})
            for des in DESIGNATIONS:
                r = values.get((des, "ratio"), ratios.get((des, "ratio"), np.nan))
                limit = [values.get((des, m), np.nan) for m in ("minutes", "miles")]
                records.append((code, name, kind, des, r, *limit))
    columns = ["code", "name", "kind", "designation", "ratio_per_1000", "minutes", "miles"]
    out = pd.DataFrame.from_records(records, columns=columns)
    has_ratio = out.groupby("code")["ratio_per_1000"].transform(lambda s: s.notna().any())
    out["counts_beds"] = (out["kind"] == "facility") & has_ratio
    out["evaluated_as"] = np.where(out["code"].isin(PRIMARY_CARE_PARTS), PRIMARY_CARE, out["code"])
    return out


def _master_block(path, rows, title_row, first, end):
    """[(code, name, {(designation, measure): value})] of one Master table."""
    tab = TABS["master"]
    head = next(
        (i for i in range(title_row, min(len(rows), title_row + 8))
         if _label(rows[i][first] if first < len(rows[i]) else None) == "CODE"),
        None,
    )  # fmt: skip
    if head is None:
        raise _header_error(path, tab, f"no 'Code' header under {rows[title_row][first]!r}")
    data = next(
        (i for i in range(head + 1, len(rows)) if _is_code(_code(_cell(rows[i], first)))), None
    )
    if data is None:
        raise _header_error(path, tab, f"no specialty codes under {rows[title_row][first]!r}")
    labels = rows[head:data]
    folded = {_label(d): d for d in DESIGNATIONS}
    des_row = max(
        (k for k, r in enumerate(labels) if any(_label(_cell(r, j)) in folded
                                                 for j in range(first + 2, end))),
        default=None,
    )  # fmt: skip
    if des_row is None:
        raise _header_error(path, tab, f"no county types over {rows[title_row][first]!r}")
    measure_row = labels[des_row + 1] if des_row + 1 < len(labels) else None
    columns: dict[int, tuple[str, str]] = {}
    current = None
    for j in range(first + 2, end):
        named = folded.get(_label(_cell(labels[des_row], j)))
        if measure_row is None:  # Table 1: one ratio per county type
            if named:
                columns[j] = (named, "ratio")
            continue
        current = named or current
        text = _label(_cell(measure_row, j))
        measure = (
            "minutes" if "TIME" in text else "miles" if "DISTANCE" in text
            else "ratio" if "NUMBER" in text else None
        )  # fmt: skip
        if current and measure:
            columns[j] = (current, measure)
    out = []
    for row in rows[data:]:
        code = _code(_cell(row, first))
        if not _is_code(code):
            break
        name = str(_cell(row, first + 1) or "").strip()
        out.append((code, name, {key: _number(_cell(row, j)) for j, key in columns.items()}))
    return out


def _cell(row: tuple, j: int) -> Any:
    return row[j] if j < len(row) else None


_COUNTY_COLUMNS = {
    "county": "COUNTY",
    "state": "ST",
    "ssacd": "SSACD",
    "designation": "COUNTYDESIGNATION",
}
_MIN_COLUMNS = {
    "beneficiaries": "TOTALBENEFICIARIES",
    "pct95_ratio": "95THPERCENTILEBASEPOPULATIONRATIO",
    "beneficiaries_to_cover_file": "BENEFICIARIESREQUIREDTOCOVER",
}


def _county_tab(path, tab, rows, known, *, minimums):
    """A per-county tab: its counties and its values per county × code."""
    head = next((i for i, r in enumerate(rows[:10]) if "SSACD" in map(_label, r)), None)
    if head is None:
        raise _header_error(path, tab, "no header row with SSACD in the first 10 rows")
    names = [_label(c) for c in rows[head]]
    wanted = {**_COUNTY_COLUMNS, **(_MIN_COLUMNS if minimums else {})}
    where = {}
    for key, label in wanted.items():
        if label not in names:
            raise _header_error(path, tab, f"no {label} column in header row {head + 1}")
        where[key] = names.index(label)
    codes = [(j, _code(c)) for j, c in enumerate(rows[head + 1]) if _code(c)]
    if not codes:
        raise _header_error(path, tab, f"no specialty codes in row {head + 2}")
    unknown = [c for _, c in codes if c not in known]
    if unknown:
        raise _header_error(path, tab, f"specialty code {unknown[0]} is not on the Master tab")
    if not minimums:
        measures = rows[head + 2]
        bad = [c for j, c in codes
               if _label(_cell(measures, j)) != "TIME"
               or _label(_cell(measures, j + 1)) != "DISTANCE"]  # fmt: skip
        if bad:
            raise _header_error(
                path, tab, f"code {bad[0]} is not followed by Time, Distance in row {head + 3}"
            )
    first = head + (2 if minimums else 3)
    body = [r for r in rows[first:] if _cell(r, where["ssacd"]) not in (None, "")]
    if not body:
        raise _header_error(path, tab, f"no county rows under the header (row {first})")
    grid = np.array([tuple(r) + (None,) * (len(names) + 1 - len(r)) for r in body], dtype=object)
    counties = pd.DataFrame({k: grid[:, j] for k, j in where.items()})
    ssacd = counties["ssacd"].map(_code).str.zfill(5)
    bad = np.flatnonzero(~ssacd.str.fullmatch(r"\d{5}").to_numpy())
    if len(bad):
        raise _header_error(
            path,
            tab,
            f"row {first + bad[0] + 1}: SSACD {body[bad[0]][where['ssacd']]!r} is not a "
            "5-digit code",
        )
    counties["ssacd"] = ssacd
    if ssacd.duplicated().any():
        raise _header_error(path, tab, f"SSACD {ssacd[ssacd.duplicated()].iloc[0]} appears twice")
    counties["designation"] = counties["designation"].astype(str).str.strip()
    odd = np.flatnonzero(~counties["designation"].isin(DESIGNATIONS).to_numpy())
    if len(odd):
        raise _header_error(
            path, tab, f"row {first + odd[0] + 1}: county designation "
            f"{counties['designation'].iloc[odd[0]]!r} is not one of {', '.join(DESIGNATIONS)}"
        )  # fmt: skip
    counties["state"] = counties["state"].astype(str).str.strip()
    counties["county"] = counties["county"].astype(str).str.strip()
    for key in ("beneficiaries", "pct95_ratio", "beneficiaries_to_cover_file") if minimums else ():
        values = pd.to_numeric(counties[key], errors="coerce")
        if values.isna().any():
            row = first + int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
            raise _header_error(path, tab, f"row {row}: {wanted[key]} is not a number")
        counties[key] = values.astype(float if key == "pct95_ratio" else np.int64)
    cols = [j for j, _ in codes]
    frames = {
        "ssacd": np.repeat(ssacd.to_numpy(), len(codes)),
        "code": np.tile([c for _, c in codes], len(counties)),
    }
    if minimums:
        frames["required"] = _numbers(grid, cols)
    else:
        frames["minutes"] = _numbers(grid, cols)
        frames["miles"] = _numbers(grid, [j + 1 for j in cols])
    return {"counties": counties, "values": pd.DataFrame(frames)}


def _numbers(grid: np.ndarray, cols: list[int]) -> np.ndarray:
    """Cells of some columns, row by row, as floats (empty or 'NA' -> NaN)."""
    if not len(grid):
        return np.array([], dtype=float)
    cells = pd.Series(grid[:, cols].reshape(-1), dtype=object)
    return pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)


def _same_counties(path: Path, counties: pd.DataFrame, other: dict) -> None:
    theirs = other["counties"].set_index("ssacd")["designation"]
    ours = counties.set_index("ssacd")["designation"]
    only = sorted(set(ours.index) ^ set(theirs.index))
    if only:
        raise InputError(
            f"{path}: SSACD {only[0]} is on one county tab but not on another; the Minimum and "
            f"Time & Distance tabs must list the same counties; {_FIX}"
        )
    differ = ours[ours != theirs.reindex(ours.index)]
    if len(differ):
        raise InputError(
            f"{path}: SSACD {differ.index[0]} has county designation {differ.iloc[0]!r} on "
            f"one tab and {theirs[differ.index[0]]!r} on another; {_FIX}"
        )


def _read_con(path: Path, rows: list[tuple], known: set[str]) -> pd.DataFrame:
    tab = TABS["con"]
    head = next((i for i, r in enumerate(rows[:10]) if "SSA" in map(_label, r)), None)
    if head is None:
        raise _header_error(path, tab, "no header row with SSA in the first 10 rows")
    names = [_label(c) for c in rows[head]]
    where = {}
    for key, prefix in (("ssacd", "SSA"), ("code", "SPECIALTYCODE"), ("place", "COUNTYSTATE"),
                        ("name", "SPECIALTYNAME"), ("customised", "TDCUSTOMI")):  # fmt: skip
        j = next((j for j, n in enumerate(names) if n == prefix or n.startswith(prefix)), None)
        if j is None or (key == "ssacd" and names[j] != "SSA"):
            raise _header_error(path, tab, f"no {prefix} column in header row {head + 1}")
        where[key] = j
    body = [r for r in rows[head + 1 :] if _cell(r, where["ssacd"]) not in (None, "")]
    get = {k: [_cell(r, j) for r in body] for k, j in where.items()}
    place = pd.Series(get["place"], dtype=object).astype(str).str.rsplit(", ", n=1, expand=True)
    out = pd.DataFrame(
        {
            "ssacd": [_code(v).zfill(5) for v in get["ssacd"]],
            "code": [_code(v) for v in get["code"]],
            "state": place[1].str.strip() if place.shape[1] > 1 else "",
            "county": place[0].str.strip(),
            "name": [str(v or "").strip() for v in get["name"]],
            "customised": [str(v).strip().upper().startswith("Y") for v in get["customised"]],
        }
    )
    unknown = sorted(set(out["code"]) - known)
    if unknown:
        raise _header_error(path, tab, f"specialty code {unknown[0]} is not on the Master tab")
    return out


def compare_minimums(reference: HsdReference) -> pd.DataFrame:
    """The computed minimums beside the file's own, per county × code.

    Parameters
    ----------
    reference
        A read :class:`HsdReference`.

    Returns
    -------
    DataFrame with ``ssacd``, ``code``, ``kind``, ``unit``, ``required``
    (computed), ``file`` (the file's Minimum Provider #s / Minimum Facility #s
    cell; -1 where the file has none) and ``agrees`` (bool).
    """
    file = reference.file_minimums.set_index(["ssacd", "code"])["required"]
    out = reference.minimums.copy()
    at = pd.MultiIndex.from_frame(out[["ssacd", "code"]])
    out["file"] = file.reindex(at).fillna(-1).astype(np.int64).to_numpy()
    out["agrees"] = out["required"] == out["file"]
    return out
