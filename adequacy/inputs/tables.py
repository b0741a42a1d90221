"""Reading input files into frames, and the collector that lists every problem at once.

``read_table`` reads a path (CSV, Parquet, GeoParquet, GeoPackage) or takes a
(Geo)DataFrame; point geometry becomes ``lon``/``lat`` (WGS84). A reader that
names its columns (``folder_columns``; members) also takes a folder of Parquet
files (a partitioned dataset, hive-style ``state=ID/`` folders or not), read as
one table in sorted path order, only those columns. ``Problems`` collects one
line per problem, naming the rows (``line N`` for CSV, the header being line 1;
``row N`` otherwise; ``part-00003.parquet row 12`` in a folder, the file
relative to the folder) and the fix, and raises them together as one
:class:`~adequacy.errors.InputError`. The column checks (numbers, coordinates,
booleans, ids, county FIPS) add to it.

Owns: the file reader and the problem collector. Uses: :mod:`adequacy.errors`.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

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
    columns: tuple[str, ...] | None = None  # a folder's columns, all of them (only names)

    @property
    def kind(self) -> str:
        """What the table was read from, for messages: a file or a folder."""
        return "folder" if isinstance(self.row_format, PartRows) else "file"

    def row(self, i: int) -> str:
        if self.row_format:
            return self.row_format.format(i)
        return f"line {i + 2}" if self.csv else f"row {i + 1}"

    def rows(self, idx: Iterable[int], limit: int = 5) -> str:
        idx = list(idx)
        shown = ", ".join(self.row(i) for i in idx[:limit])
        more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
        return shown + more


class PartRows(str):
    """Rows of a folder of files named by file (relative to the folder) and row within
    it, ``part-00003.parquet row 12``: a ``row_format`` whose ``format(i)`` takes the
    row's position in the folder's table (the files one after another)."""

    def __new__(cls, files: Sequence[str], counts: Sequence[int]) -> PartRows:
        self = super().__new__(cls, "{file} row {}")
        self.files = tuple(files)
        self.counts = tuple(int(n) for n in counts)
        self.starts = tuple(int(n) for n in np.cumsum((0, *self.counts))[:-1])
        return self

    def format(self, *args: Any, **kwargs: Any) -> str:
        i = int(args[0])
        k = max(bisect.bisect_right(self.starts, i) - 1, 0)  # the last file starting at i or before
        return f"{self.files[k]} row {i - self.starts[k] + 1}"

    def __reduce__(self):  # pickled and deep-copied with the frame's attrs
        return (PartRows, (self.files, self.counts))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartRows):
            return (self.files, self.counts) == (other.files, other.counts)
        return False

    def __hash__(self) -> int:
        return hash((self.files, self.counts))


def read_table(source: Any, what: str, *, folder_columns: Iterable[str] | None = None) -> Table:
    """Read a path or take a DataFrame; geometry points become ``lon``/``lat``.

    With ``folder_columns`` a folder of Parquet files is read too, as one table of
    those columns only (the others, names or dates of birth, are never read); without,
    a folder is refused."""
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
        if path.is_dir() and folder_columns is not None:
            return _read_folder(path, what, tuple(folder_columns))
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
    frame = _tidy(frame, label)
    if len(frame) == 0:
        raise InputError(
            f"{label}: the {what} file has a header but no rows; add one row per "
            f"{RECORD.get(what, 'record')} under the header"
        )
    return Table(frame.reset_index(drop=True), label, csv, row_format)


def _tidy(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Points become lon/lat, column names are stripped and must be unique."""
    frame = _points_to_lonlat(frame)
    frame.columns = [str(c).strip() for c in frame.columns]
    twice = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if twice:
        raise InputError(
            f"{label}: column {twice[0]} appears more than once; keep one {twice[0]} column"
        )
    return frame


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
# a folder of Parquet files (a partitioned dataset)
# ---------------------------------------------------------------------------
PARQUET_SUFFIXES = (".parquet", ".pq")


def _read_folder(folder: Path, what: str, wanted: tuple[str, ...]) -> Table:
    """The Parquet files under ``folder`` as one table of the ``wanted`` columns they have
    (hive partition folders ``key=value`` give columns too, as text); rows are named by
    file and row (:class:`PartRows`). Every problem with the files is raised at once."""
    import pyarrow.dataset as ds

    label = str(folder)
    files = _parquet_files(folder, what)
    names = [f.relative_to(folder).as_posix() for f in files]
    schemas, bad = [], []
    for path, name in zip(files, names, strict=True):
        try:
            schemas.append(_file_schema(path))
        except Exception as exc:
            bad.append(f"{name} could not be read as Parquet ({_first_line(exc)}); "
                       "write it again or remove it from the folder")  # fmt: skip
    _raise_all(label, what, bad)
    keys = list(dict.fromkeys(k for n in names for k in _hive_keys(n)))
    every = list(dict.fromkeys([*(c for s in schemas for c in s.names), *keys]))
    use = [c for c in dict.fromkeys(c for s in schemas for c in s.names) if c.strip() in wanted]
    geo = _geo_of(schemas[0]) if not {"lon", "lat"} & {c.strip() for c in use} else None
    if geo is not None and geo[0] not in use:
        use.append(geo[0])  # the points, turned into lon/lat below
    fields = [_agreed_field(c, schemas, names, bad) for c in use]
    _raise_all(label, what, bad)
    parts = [k for k in keys if k.strip() in wanted and k not in use]
    schema = pa.schema([*fields, *(pa.field(k, pa.string()) for k in parts)])
    dataset = ds.dataset(
        [str(f) for f in files],
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        if keys
        else None,
        partition_base_dir=str(folder),
    )
    tables = _scan(dataset, schema.names, files, names, label, what)
    counts = [t.num_rows for t in tables]
    table = pa.concat_tables(tables)
    frame = table.to_pandas()
    if geo is not None:
        frame = _geometry(frame, geo, label)
    frame = _tidy(frame, label)
    if len(frame) == 0:
        raise InputError(
            f"{label}: the {what} folder's Parquet files have no rows; add one row per "
            f"{RECORD.get(what, 'record')}"
        )
    return Table(frame, label, False, PartRows(names, counts), tuple(every))


def _parquet_files(folder: Path, what: str) -> list[Path]:
    """The folder's Parquet files, in sorted path order; hidden files and folders (``.``
    or ``_``: ``_SUCCESS``, ``_metadata``) are skipped, and files of other types."""
    found, other = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in files:
            if name.startswith((".", "_")):
                continue
            path = Path(root) / name
            (found if name.lower().endswith(PARQUET_SUFFIXES) else other).append(path)
    if found:
        return sorted(found, key=lambda p: p.relative_to(folder).as_posix())
    if not other:
        raise InputError(
            f"{folder}: the {what} folder is empty; put the {what} Parquet files "
            f"(part-00000.parquet, ...) in it, or give the {what} file"
        )
    shown = ", ".join(sorted(p.relative_to(folder).as_posix() for p in other)[:3])
    raise InputError(
        f"{folder}: the {what} folder has no Parquet files (it has {shown}"
        f"{' and more' if len(other) > 3 else ''}); give the {what} as Parquet files "
        f"ending in .parquet, or give the {what} file itself"
    )


def _file_schema(path: Path):
    import pyarrow.parquet as pq

    return pq.read_schema(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _raise_all(label: str, what: str, lines: list[str]) -> None:
    if len(lines) == 1:
        raise InputError(f"{label}: {lines[0]}")
    if lines:
        raise InputError(f"{label}: {len(lines)} problems in the {what} folder", lines)


def _hive_keys(name: str) -> list[str]:
    return [part.split("=", 1)[0] for part in name.split("/")[:-1] if "=" in part]


def _agreed_field(column: str, schemas: list, names: list[str], bad: list[str]):
    """The column's one type in every file (int32 and int64 agree, as int64); a file
    without it, or a type that cannot be the others', is a line of ``bad``."""
    import pyarrow as pa

    have = [(n, s.field(column).type) for s, n in zip(schemas, names, strict=True)
            if column in s.names]  # fmt: skip
    lacking = [n for s, n in zip(schemas, names, strict=True) if column not in s.names]
    if lacking:
        more = f" (and {len(lacking) - 1} more files)" if len(lacking) > 1 else ""
        bad.append(f"column {column.strip()} is in {have[0][0]} but not in {lacking[0]}{more}; "
                   "write every file with the same columns")  # fmt: skip
    field = pa.field(column, _plain(have[0][1]))
    for name, kind in have[1:]:
        try:
            field = pa.unify_schemas(
                [pa.schema([field]), pa.schema([pa.field(column, _plain(kind))])],
                promote_options="permissive",
            ).field(column)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            first = next(n for n, k in have if _plain(k) != _plain(kind))
            bad.append(
                f"column {column.strip()} is {_type_name(dict(have)[first])} in {first} but "
                f"{_type_name(kind)} in {name}; write every file with the same column types"
            )
            break
    return field


def _plain(kind):
    """A dictionary-encoded column (a pandas category) as its values' type."""
    import pyarrow as pa

    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _type_name(kind) -> str:
    import pyarrow as pa

    kind = _plain(kind)
    return "text" if pa.types.is_string(kind) or pa.types.is_large_string(kind) else str(kind)


def _scan(dataset, columns: list[str], files: list[Path], names: list[str], label, what):
    """One table per file, in ``files``' order; a file that fails is named, all of them."""
    import pyarrow as pa

    batches: dict[str, list] = {str(f): [] for f in files}
    try:
        for tagged in dataset.scanner(columns=columns).scan_batches():
            batches[tagged.fragment.path].append(tagged.record_batch)
    except Exception as exc:
        bad = []
        for fragment, name in zip(dataset.get_fragments(), names, strict=True):
            try:
                fragment.to_table(schema=dataset.schema, columns=columns)
            except Exception as err:
                bad.append(f"{name} could not be read ({_first_line(err)}); write it again "
                           "or remove it from the folder")  # fmt: skip
        _raise_all(label, what, bad or [f"could not be read ({_first_line(exc)})"])
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return [pa.Table.from_batches(batches[str(f)], schema=schema) for f in files]


def _geo_of(schema) -> tuple[str, dict] | None:
    """The primary geometry column of a GeoParquet file and its metadata, or None."""
    meta = (schema.metadata or {}).get(b"geo")
    if not meta:
        return None
    try:
        geo = json.loads(meta)
        column = geo["primary_column"]
        return column, dict(geo["columns"][column])
    except (ValueError, KeyError, TypeError):
        return None


def _geometry(frame: pd.DataFrame, geo: tuple[str, dict], label: str) -> pd.DataFrame:
    """The GeoParquet geometry column (WKB, or GeoArrow points) as a GeoDataFrame's."""
    import geopandas as gpd

    column, meta = geo
    encoding = str(meta.get("encoding", "WKB")).lower()
    crs = meta.get("crs", "OGC:CRS84")  # GeoParquet: no crs key means lon/lat
    if isinstance(crs, dict):  # PROJJSON
        from pyproj import CRS

        crs = CRS.from_json_dict(crs)
    values = frame[column]
    if encoding == "wkb":
        points = gpd.GeoSeries.from_wkb(values.to_numpy(), crs=crs)
    elif encoding == "point":
        xy = [(np.nan, np.nan) if p is None else (p["x"], p["y"]) for p in values]
        x, y = np.array(xy, dtype=float).reshape(-1, 2).T
        points = gpd.GeoSeries.from_xy(x, y, crs=crs)
    else:
        raise InputError(
            f"{label}: the geometry column {column} is encoded as {meta.get('encoding')}, "
            "which is not read in a folder; add lon and lat columns to the files"
        )
    return gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=points.values)


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
        head = (
            f"{self.table.label}: {n} problem{'s' if n > 1 else ''} in the {self.what} "
            f"{self.table.kind}"
        )
        if n == 1:
            raise InputError(f"{self.table.label}: {self.lines[0]}")
        raise InputError(head, self.lines)


def require(problems: Problems, frame: pd.DataFrame, columns: Iterable[str], hint: str) -> bool:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(list(problems.table.columns or frame.columns)[:12])
        has = "the files have" if problems.table.kind == "folder" else "the file has"
        problems.add(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"({has}: {have}); {hint}"
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


def fips_codes(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """County FIPS codes as text (pandas ``str``; empty where missing)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # few counties, many rows
    fixed = fips_text(pd.Series(uniques, dtype=object))
    return coded_text(np.append(fixed, ""), np.where(codes < 0, len(fixed), codes))


def coded_text(names: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The text column (pandas ``str``) ``names[codes]``, built in Arrow: for a column
    of few distinct values and many rows (some 5x quicker than through Python
    strings). ``codes`` index ``names`` (none negative)."""
    names = pa.array(np.asarray(names, dtype=object), pa.string())
    return pd.array(names.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


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
