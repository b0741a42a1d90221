"""Reading input files into frames, and the collector that lists every problem at once.

``read_table`` reads a path (CSV, Parquet, GeoParquet, GeoPackage) or takes a
(Geo)DataFrame; point geometry becomes ``lon``/``lat`` (WGS84). ``Problems``
collects one line per problem, naming the rows (``line N`` for CSV, the
header being line 1; ``row N`` otherwise) and the fix, and raises them
together as one :class:`~adequacy.errors.InputError`. The column checks
(numbers, coordinates, booleans, ids, county FIPS) add to it.

Owns: the file reader and the problem collector. Uses: :mod:`adequacy.errors`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.errors import InputError

TRUE_WORDS = {"true", "t", "yes", "y", "1", "open", "accepting"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "closed", "not accepting"}


# ---------------------------------------------------------------------------
# reading files
# ---------------------------------------------------------------------------
@dataclass
class Table:
    frame: pd.DataFrame
    label: str
    csv: bool
    row_format: str | None = None  # e.g. "add[{}]" for a scenario's rows

    def row(self, i: int) -> str:
        if self.row_format:
            return self.row_format.format(i)
        return f"line {i + 2}" if self.csv else f"row {i + 1}"

    def rows(self, idx: Iterable[int], limit: int = 5) -> str:
        idx = list(idx)
        shown = ", ".join(self.row(i) for i in idx[:limit])
        more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
        return shown + more


def read_table(source: Any, what: str) -> Table:
    """Read a path or take a DataFrame; geometry points become ``lon``/``lat``."""
    if isinstance(source, pd.DataFrame):
        # a frame read elsewhere (an upload) may carry its file name for the messages
        label = str(source.attrs.get("source_name", what))
        frame, csv = source.copy(), label.lower().endswith(".csv")
        row_format = source.attrs.get("row_format")
    else:
        path = Path(os.fspath(source))
        label = str(path)
        row_format = None
        if not path.exists():
            raise InputError(f"{path}: {what} file not found; check the path")
        if path.is_dir():
            raise InputError(f"{path}: is a folder; give the {what} file")
        suffix = path.suffix.lower()
        csv = suffix in (".csv", ".txt", ".tsv")
        try:
            if csv:
                text = read_text(path, what)
                _no_duplicate_header(text, "\t" if suffix == ".tsv" else ",", path, what)
                frame = pd.read_csv(
                    io.StringIO(text),
                    sep="\t" if suffix == ".tsv" else ",",
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                )
            elif suffix in (".parquet", ".geoparquet", ".pq"):
                frame = _read_parquet(path)
            elif suffix in (".gpkg", ".geojson", ".json", ".shp", ".fgb"):
                import geopandas as gpd

                frame = gpd.read_file(path)
            else:
                raise InputError(
                    f"{path}: unknown {what} file type {suffix!r}; use CSV, Parquet, "
                    "GeoParquet or GeoPackage"
                )
        except InputError:
            raise
        except pd.errors.EmptyDataError:
            raise InputError(
                f"{path}: the {what} file is empty; it needs a header row and one row per record"
            ) from None
        except Exception as exc:
            first = (
                str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            )
            raise InputError(
                f"{path}: could not be read as a {what} table ({first}); "
                "save it as CSV (UTF-8), Parquet or GeoPackage"
            ) from None
    frame = _points_to_lonlat(frame)
    frame.columns = [str(c).strip() for c in frame.columns]
    twice = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if twice:
        raise InputError(
            f"{label}: column {twice[0]} appears more than once; keep one {twice[0]} column"
        )
    if len(frame) == 0:
        raise InputError(
            f"{label}: the {what} file has a header but no rows; add one row per "
            f"{RECORD.get(what, 'record')} under the header"
        )
    return Table(frame.reset_index(drop=True), label, csv, row_format)


#: What one row of each input table is, for messages.
RECORD = {
    "members": "member",
    "providers": "provider location",
    "claims": "specialty (with claim_count) or claim",
    "Census languages": "county and language",
    "survey": "survey answer",
}


def read_text(path: Path, what: str) -> str:
    """A text file's contents as UTF-8 (a BOM is dropped; CRLF is fine). Another
    encoding is one line naming the line of the first bad byte and the likely encoding."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = "Windows-1252 / Latin-1" if _decodes(raw, "cp1252") else "not UTF-8"
        raise InputError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}; the file "
            f"looks {guess}); save the {what} file as UTF-8 (in Excel: CSV UTF-8)"
        ) from None


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _no_duplicate_header(text: str, sep: str, path: Path, what: str) -> None:
    first = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    names = [c.strip() for c in first]
    twice = sorted({c for c in names if c and names.count(c) > 1})
    if twice:
        where = [i + 1 for i, c in enumerate(names) if c == twice[0]]
        raise InputError(
            f"{path}: column {twice[0]} appears more than once in the header (columns "
            f"{', '.join(map(str, where))}); keep one {twice[0]} column in the {what} file"
        )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def _points_to_lonlat(frame: pd.DataFrame) -> pd.DataFrame:
    """A GeoDataFrame of points gains ``lon``/``lat`` (WGS84) unless it has them."""
    geom_name = getattr(frame, "_geometry_column_name", None)
    if geom_name is None or geom_name not in frame.columns:
        return pd.DataFrame(frame)
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(frame)
    if {"lon", "lat"} <= set(gdf.columns) or not gdf.geom_type.isin(["Point"]).all():
        return gdf
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    out = pd.DataFrame(gdf.drop(columns=geom_name))
    out["lon"] = gdf.geometry.x.to_numpy()
    out["lat"] = gdf.geometry.y.to_numpy()
    return out


# ---------------------------------------------------------------------------
# column checks
# ---------------------------------------------------------------------------
class Problems:
    def __init__(self, table: Table, what: str):
        self.table = table
        self.what = what
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(text)

    def raise_if_any(self) -> None:
        if not self.lines:
            return
        n = len(self.lines)
        head = f"{self.table.label}: {n} problem{'s' if n > 1 else ''} in the {self.what} file"
        if n == 1:
            raise InputError(f"{self.table.label}: {self.lines[0]}")
        raise InputError(head, self.lines)


def require(problems: Problems, frame: pd.DataFrame, columns: Iterable[str], hint: str) -> bool:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(frame.columns[:12])
        problems.add(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the file has: {have}); {hint}"
        )
        return False
    return True


def numbers(problems: Problems, frame: pd.DataFrame, column: str, *, fix: str) -> np.ndarray:
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)  # already numbers (Parquet)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    given = raw.notna() & (raw.astype(str).str.strip() != "")
    bad = np.flatnonzero(given.to_numpy() & np.isnan(values))
    if len(bad):
        problems.add(f"{column} is not a number at {problems.table.rows(bad)}; {fix}")
    return values


def coordinates(problems: Problems, frame: pd.DataFrame, ids: np.ndarray | None) -> tuple:
    lat = numbers(problems, frame, "lat", fix="give decimal degrees, e.g. 42.3601")
    lon = numbers(problems, frame, "lon", fix="give decimal degrees, e.g. -71.0589")
    given = [_given(frame[c]) for c in ("lat", "lon")]
    # empty cells (a value that is not a number is reported as that, once)
    missing = np.flatnonzero(~given[0] | ~given[1])
    table = problems.table

    def named(idx):
        if ids is None:
            return table.rows(idx)
        shown = ", ".join(f"{table.row(i)} (id {ids[i]})" for i in idx[:5])
        return shown + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")

    if len(missing):
        problems.add(f"missing coordinates at {named(missing)}; geocode these rows or remove them")
    with np.errstate(invalid="ignore"):
        out = np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 180))
    if len(out):
        problems.add(
            f"coordinates out of range at {named(out)}; lat must be in [-90, 90] and lon in "
            "[-180, 180] (are lat and lon swapped?)"
        )
    return lon, lat


def _given(values: pd.Series) -> np.ndarray:
    """Cells that hold something (not empty, not NaN)."""
    if pd.api.types.is_numeric_dtype(values):
        return ~np.isnan(values.to_numpy(dtype=float, na_value=np.nan))
    return (values.notna() & (values.astype(str).str.strip() != "")).to_numpy()


def booleans(problems: Problems, frame: pd.DataFrame, column: str, default: bool) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), default)
    raw = frame[column]
    if raw.dtype == bool:
        return raw.to_numpy()
    text = raw.astype(str).str.strip().str.lower()
    empty = raw.isna().to_numpy() | (text == "").to_numpy() | (text == "nan").to_numpy()
    true = text.isin(TRUE_WORDS).to_numpy()
    false = text.isin(FALSE_WORDS).to_numpy()
    bad = np.flatnonzero(~(true | false | empty))
    if len(bad):
        problems.add(
            f"{column} is not true/false at {problems.table.rows(bad)}; "
            "use true/false, yes/no or 1/0"
        )
    return np.where(empty, default, true)


def ids_of(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column]
    text = values.astype(str).str.strip()
    # integers read from Parquet keep no ".0"
    return np.where(values.isna(), "", text).astype(object)


def fips_codes(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # few counties, many rows
    fixed = fips_text(pd.Series(uniques, dtype=object))
    return np.append(fixed, "").astype(object)[codes]


def fips_text(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    text = text.where(values.notna() & (text != "") & (text.str.lower() != "nan"), "")
    return np.where(text.str.fullmatch(r"\d{1,5}"), text.str.zfill(5), text).astype(object)


def remember_rows(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Keep on a validated frame (row for row the file's) where its rows came from, so
    later checks can name a row by ID and line."""
    frame.attrs.update(source=table.label, csv=table.csv, row_format=table.row_format)
    return frame


def row_names(frame: pd.DataFrame, id_column: str, rows=None) -> list[str]:
    """Rows (``rows``, default all) as 'ID (line N)' (or row N, or the entry), from
    :func:`remember_rows`."""
    table = Table(frame, str(frame.attrs.get("source", "")), bool(frame.attrs.get("csv")),
                  frame.attrs.get("row_format"))  # fmt: skip
    ids = frame[id_column].to_numpy()
    rows = range(len(frame)) if rows is None else rows
    return [f"{ids[i]} ({table.row(int(i))})" for i in rows]
