"""Member-results tables: one row per member, rule and language.

:class:`ResultColumns` holds what every table of one set of members shares
(ids, counties, classes, flags; the providers' ids), made once;
:class:`ResultTable` is one table made block by block as the engine judges,
handed to pandas (:meth:`ResultTable.frame`, a run held in memory) or to
pyarrow (:meth:`ResultTable.arrow`, a block of a results file: no pandas
frame, and the dictionaries of ids made once, not per block).

Columns: ``member_id``, ``rule``, ``language``, ``county_fips``,
``region_class``, ``in_service_area``, ``count_required``, ``miles`` and
``minutes`` (to the ``count_required``-th nearest), ``n_qualifying``, ``meets``,
``nearest_1``..``nearest_<width>`` (provider ids), ``snap_meters``,
``off_road``, ``synthetic``.

Owns: ``ResultColumns``, ``ResultTable``, ``member_counties``. Uses: the
engine's blocks, pandas, pyarrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from adequacy.engine.engine import Block


def member_counties(members: pd.DataFrame) -> tuple[np.ndarray, pd.CategoricalDtype]:
    """The members' county codes (int32, -1: none) and categories, as results hold them."""
    codes, uniques = pd.factorize(members["county_fips"])
    return codes.astype(np.int32), pd.CategoricalDtype(uniques)


class ResultColumns:
    """What every member-results table of one set of members shares (their ids,
    counties, classes, flags; the providers' ids), made once; ``width`` nearest
    provider columns in every table."""

    def __init__(self, members: pd.DataFrame, providers: pd.DataFrame, width: int):
        self.width = width
        _, self.pid_uniques = pd.factorize(providers["provider_id"])
        self.member_ids = pd.Index(members["member_id"])  # no round trip through str
        self.county_codes, self.county_dtype = member_counties(members)
        self.county_uniques = self.county_dtype.categories
        self.region = pd.Categorical(members["region_class"])
        self.flags = {
            name: members[name].to_numpy() for name in ("in_service_area", "off_road", "synthetic")
        }
        self.snap_meters = members["snap_meters"].to_numpy()
        # categories checked (as distinct) once: every table and block reuses them
        self.pid_dtype = pd.CategoricalDtype(self.pid_uniques)
        self._arrow: dict[str, pa.Array] = {}  # dictionaries as pyarrow arrays, made once
        self._schema: pa.Schema | None = None
        #: language -> (member rows, their member columns): a chunk's blocks of one
        #: language are the same members, so their columns are made once (:meth:`rows`)
        self._members: dict[str, tuple[np.ndarray, dict[str, pa.Array]]] = {}

    def dictionary(self, name: str, values=None) -> pa.Array:
        """The values of categorical column ``name`` (``member_id``: every member's id;
        ``nearest``: the providers' ids; or ``values`` given) as a pyarrow array of
        the schema's value type; the columns' own made once."""
        if values is not None:
            return pa.array(values).cast(self.schema().field(name).type.value_type)
        if name not in self._arrow:
            values = {
                "member_id": self.member_ids,
                "nearest": self.pid_uniques,
                "county_fips": self.county_uniques,
                "region_class": self.region.categories,
            }[name]
            field = "nearest_1" if name == "nearest" else name
            self._arrow[name] = pa.array(values).cast(self.schema().field(field).type.value_type)
        return self._arrow[name]

    def schema(self) -> pa.Schema:
        """The tables' pyarrow schema, as ``pa.Table.from_pandas`` converts
        :meth:`ResultTable.frame` (its metadata included, so that pandas reads the
        categories back), every dictionary with int32 indices."""
        if self._schema is None:
            empty = pa.Schema.from_pandas(ResultTable(self, []).frame(), preserve_index=False)
            # strings as pandas converts them (a table without rules has no type for them)
            text = empty.field("member_id").type.value_type
            fields = [
                pa.field(f.name, pa.dictionary(pa.int32(), text))
                if pa.types.is_dictionary(f.type)
                else f
                for f in empty
            ]
            self._schema = pa.schema(fields, metadata=empty.metadata)
        return self._schema

    def rows(self, block: Block, *, keep_meets: bool = False) -> pa.Table:
        """A block's rows as a pyarrow table for a results file (a row group), its
        member-id categories its own members only, so that a row group stores only
        its own ids. The block's arrays are released (``meets`` kept if
        ``keep_meets``: a tally reads it). Its member columns (ids, county, class,
        flags, snap meters) are the last block's of the same language when its
        members are the same ones."""
        table = ResultTable(self, [(block.rule, block.language, len(block.member_rows))],
                            member_columns=False)  # fmt: skip
        table.fill(0, block, keep_meets=keep_meets)
        language = block.language or ""
        kept = self._members.get(language)
        if kept is None or not np.array_equal(kept[0], table.rows):
            kept = (table.rows, self._member_arrays(table.rows))
            self._members[language] = kept
        return table.arrow(kept[1])

    def _member_arrays(self, rows: np.ndarray) -> dict[str, pa.Array]:
        """The member columns of member ``rows`` as pyarrow arrays: their ids (their
        own dictionary), county and class codes, flags and snap meters (float32),
        converted as ``pa.Table.from_pandas`` converts :meth:`ResultTable.frame`."""
        return {
            "member_id": _dictionary(np.arange(len(rows)), self.dictionary("member_id").take(rows)),
            "county_fips": _dictionary(self.county_codes[rows], self.dictionary("county_fips")),
            "region_class": _dictionary(self.region.codes[rows], self.dictionary("region_class")),
            "snap_meters": pa.array(self.snap_meters[rows].astype(np.float32), from_pandas=True),
            **{name: pa.array(values[rows]) for name, values in self.flags.items()},
        }


class ResultTable:
    """A member-results table made block by block: its columns are allocated
    once for the blocks to come, ``(rule, language, members)`` each, and every
    block is copied into its own rows as soon as it is judged (:meth:`fill`,
    from any thread: blocks write disjoint rows), so that no serial assembly
    follows the searches. :meth:`frame` hands the columns to pandas uncopied."""

    def __init__(self, columns: ResultColumns, layout: list[tuple], *,
                 member_columns: bool = True):  # fmt: skip
        self.columns = columns
        self.layout = layout
        sizes = np.asarray([size for _, _, size in layout], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])
        n = int(self.starts[-1])
        self.rows = np.zeros(n, dtype=np.int32)
        self.miles, self.minutes = np.zeros(n), np.zeros(n)
        self.n_qualifying = np.zeros(n, dtype=np.int16)
        self.meets = np.zeros(n, dtype=bool)
        # category codes in the width pandas gives them (no copy when the frame is made)
        self.nearest = np.empty((columns.width, n), dtype=_code_dtype(len(columns.pid_uniques)))
        # the member columns, which :meth:`frame` reads (:meth:`arrow` is given
        # them: made once per chunk and language by :meth:`ResultColumns.rows`)
        self.with_members = member_columns
        m = n if member_columns else 0
        self.county = np.empty(m, dtype=_code_dtype(len(columns.county_uniques)))
        self.region = np.empty(m, dtype=columns.region.codes.dtype)
        self.flags = {name: np.empty(m, dtype=bool) for name in columns.flags}
        self.snap_meters = np.empty(m, dtype=np.float32)

    def fill(
        self, j: int, block: Block, *, at: int = 0, row_base: int = 0, keep_meets: bool = True
    ) -> None:
        """Copy block ``j`` into its rows, from its ``at``-th on (a chunk's part of the
        block; its member rows offset by ``row_base``), and release its arrays
        (``member_rows`` stay, and ``meets`` unless ``keep_meets`` is False: what a
        tally reads)."""
        a = self.starts[j] + at
        b = a + len(block.member_rows)
        if b > self.starts[j + 1]:  # the layout promised fewer rows: never write past them
            raise RuntimeError(f"block {j} has more rows than its place in the table")
        c, rows = self.columns, block.member_rows + row_base
        self.rows[a:b] = rows
        for name in ("miles", "minutes", "n_qualifying", "meets"):
            getattr(self, name)[a:b] = getattr(block, name)
        if self.with_members:
            self.county[a:b] = c.county_codes[rows]
            self.region[a:b] = c.region.codes[rows]
            for name, values in c.flags.items():
                self.flags[name][a:b] = values[rows]
            self.snap_meters[a:b] = c.snap_meters[rows]
        width = min(block.nearest.shape[1], self.columns.width)
        self.nearest[:width, a:b] = block.nearest[:, :width].T
        self.nearest[width:, a:b] = -1
        block.miles = block.minutes = block.n_qualifying = block.nearest = None
        if not keep_meets:
            block.meets = None

    def arrow(self, members: dict[str, pa.Array]) -> pa.Table:
        """The table as :meth:`frame` gives it, converted to pyarrow as
        ``pa.Table.from_pandas`` would (missing floats and codes as nulls, every
        dictionary with int32 indices: :meth:`ResultColumns.schema`), without the
        pandas frame, and with the table's own members alone as the member ids'
        dictionary (a row group of a results file stores only its own ids); the
        builder is spent. ``members``: its member columns
        (:meth:`ResultColumns.rows` makes them)."""
        c, n = self.columns, len(self.rows)
        sizes = np.diff(self.starts)
        rule_cats, lang_cats, rule_codes, lang_codes = self._rules_and_languages()
        columns = {
            "member_id": members["member_id"],
            "rule": _dictionary(np.repeat(rule_codes, sizes), c.dictionary("rule", rule_cats)),
            "language": _dictionary(
                np.repeat(lang_codes, sizes), c.dictionary("language", lang_cats)
            ),
            "county_fips": members["county_fips"],
            "region_class": members["region_class"],
            "in_service_area": members["in_service_area"],
            "count_required": pa.array(
                np.repeat(np.asarray([r.count for r, _, _ in self.layout], np.int16), sizes)
            ),
            "miles": pa.array(self.miles, from_pandas=True),
            "minutes": pa.array(self.minutes, from_pandas=True),
            "n_qualifying": pa.array(self.n_qualifying),
            "meets": pa.array(self.meets),
        }
        for j in range(c.width):
            columns[f"nearest_{j + 1}"] = _dictionary(self.nearest[j], c.dictionary("nearest"))
        self.nearest = None
        for name in ("snap_meters", "off_road", "synthetic"):
            columns[name] = members[name]
        if len(columns["member_id"]) != n:  # member columns of other rows: never written
            raise RuntimeError(f"member columns of {len(columns['member_id'])} rows for {n}")
        return pa.Table.from_arrays(list(columns.values()), schema=c.schema())

    def _rules_and_languages(self) -> tuple[list, list, np.ndarray, np.ndarray]:
        """The rule and language categories, and each block's codes."""
        rule_cats = list(dict.fromkeys(rule.id for rule, _, _ in self.layout))
        lang_cats = [""] + sorted({lang for _, lang, _ in self.layout if lang})
        rule_codes = [rule_cats.index(rule.id) for rule, _, _ in self.layout]
        lang_codes = [lang_cats.index(lang or "") for _, lang, _ in self.layout]
        return (
            rule_cats,
            lang_cats,
            np.asarray(rule_codes, np.int16),
            np.asarray(lang_codes, np.int16),
        )

    def frame(self) -> pd.DataFrame:
        """The table as a pandas frame (categorical ids, rules, languages, counties,
        classes and providers); the builder is spent."""
        c, rows, n = self.columns, self.rows, len(self.rows)
        sizes = np.diff(self.starts)

        def per_block(values: list, dtype) -> np.ndarray:
            return np.repeat(np.asarray(values, dtype=dtype), sizes) if n else np.zeros(0, dtype)

        rule_cats, lang_cats, rule_codes, lang_codes = self._rules_and_languages()
        ids = pd.Categorical.from_codes(rows, categories=c.member_ids)
        out = {
            "member_id": ids,
            "rule": pd.Categorical.from_codes(per_block(rule_codes, np.int16), rule_cats),
            "language": pd.Categorical.from_codes(per_block(lang_codes, np.int16), lang_cats),
            "county_fips": pd.Categorical.from_codes(self.county, dtype=c.county_dtype),
            "region_class": pd.Categorical.from_codes(self.region, c.region.categories),
            "in_service_area": self.flags["in_service_area"],
            "count_required": per_block([rule.count for rule, _, _ in self.layout], np.int16),
            "miles": self.miles,
            "minutes": self.minutes,
            "n_qualifying": self.n_qualifying,
            "meets": self.meets,
        }
        for j in range(c.width):
            out[f"nearest_{j + 1}"] = pd.Categorical.from_codes(self.nearest[j], dtype=c.pid_dtype)
        self.nearest = None
        out["snap_meters"] = self.snap_meters
        out["off_road"] = self.flags["off_road"]
        out["synthetic"] = self.flags["synthetic"]
        return pd.DataFrame(out, copy=False)


def _code_dtype(n_categories: int) -> np.dtype:
    """The integer type pandas keeps a categorical's codes in (and -1 for missing)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """Category ``codes`` (-1: missing) over ``values``, with int32 indices."""
    codes = np.asarray(codes)
    missing = codes < 0
    return pa.DictionaryArray.from_arrays(
        codes.astype(np.int32, copy=False), values,
        mask=missing if missing.any() else None,
    )  # fmt: skip
