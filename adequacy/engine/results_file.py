"""Member results as one Parquet file, written chunk by chunk.

A run's member results (one row per member, rule and language) can outgrow
memory. :class:`ResultsFile` appends each chunk's table to one Parquet file
with :class:`pyarrow.parquet.ParquetWriter`, one row group per chunk and
(rule, language), and remembers which row groups hold each (rule, language), so
that a rule's results are read back alone (:meth:`ResultsFile.read`): the
medians of the summaries, the deficiency workpaper. Every categorical column is
stored as a dictionary with 32-bit indices whatever its chunk's categories, so
all row groups share one schema; pandas reads the file back with the
categories unified.

The file is written beside its path under a hidden name and moved into place
when it is closed: a run that fails leaves whatever was at the path untouched
(:func:`discarded_on_error` removes the unfinished file), and a reader never sees
a file half written. (Writing over the old file would also cost a pause at
close on ext4, which writes a truncated and rewritten file back at once.)

Owns: ``ResultsFile``, ``discarded_on_error``. Uses: pyarrow.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Rows per row group at most (pyarrow's own default).
MAX_ROW_GROUP = 1 << 20
#: Values handed to Parquet's column writers at a time.
WRITE_BATCH = 1 << 16


class ResultsFile:
    """Append member-results tables to ``path``; read a (rule, language) back."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        #: where the file is written until it is closed (then moved to ``path``)
        self.part = self.path.with_name(f".{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self.row_groups: dict[tuple[str, str], list[int]] = {}
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._groups = 0
        self._empty: pa.Table | None = None
        self._sizes: dict[int, int] = {}  # rows per row group
        self._dead: set[int] = set()  # row groups replaced (dropped at close)
        #: blocks judged again over wider searches, as the member pass counts them:
        #: the same as written (kept), or different (replaced)
        self.judged_again = {"same": 0, "replaced": 0}

    def write(self, table: pd.DataFrame | pa.Table, blocks: list) -> list[list[int]]:
        """Append one chunk's table (pandas, or pyarrow as
        :meth:`~adequacy.engine.result_table.ResultTable.arrow` makes it), whose rows
        are ``blocks`` (engine blocks, or ``(rule id, language, rows)`` triples) one
        after the other; returns the row groups written for each block."""
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        arrow = self._conform(table)
        if self._writer is None:
            self._writer = self._new_writer(self.part)
        offset, written = 0, []
        for b in blocks:
            key, n = _key_and_size(b)
            groups = []
            if n:
                part = arrow.slice(offset, n)
                size = min(n, MAX_ROW_GROUP)
                self._writer.write_table(part, row_group_size=size)
                groups = list(range(self._groups, self._groups + -(-n // size)))
                for g in groups:
                    self._sizes[g] = min(size, n - (g - groups[0]) * size)
                self._groups += len(groups)
            self.row_groups.setdefault(key, []).extend(groups)
            written.append(groups)
            offset += n
        self.rows += offset
        return written

    def replace(self, old: list[int], table: pd.DataFrame | pa.Table, block) -> list[int]:
        """Write a block judged again in place of its row groups ``old`` (they are
        dropped when the file is closed); returns the new row groups."""
        key, _ = _key_and_size(block)
        listed = self.row_groups[key]
        at = listed.index(old[0]) if old else len(listed)
        for g in old:
            listed.remove(g)
        self.rows -= sum(self._sizes.pop(g) for g in old)
        before = len(listed)
        new = self.write(table, [block])[0]
        del listed[before:]
        listed[at:at] = new
        self._dead.update(old)
        return new

    def _conform(self, arrow: pa.Table) -> pa.Table:
        """Cast to the file's schema (dictionaries with int32 indices)."""
        if self._schema is None:
            fields = [
                pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type))
                if pa.types.is_dictionary(f.type)
                else f
                for f in arrow.schema
            ]
            self._schema = pa.schema(fields, metadata=arrow.schema.metadata)
            self._empty = arrow.slice(0, 0).cast(self._schema)
        if arrow.schema.equals(self._schema):
            return arrow
        return arrow.cast(self._schema)

    def _new_writer(self, path: Path) -> pq.ParquetWriter:
        """A writer of the file's schema. Dictionary encoding only where the column is
        a dictionary already (floats gain nothing from it) and not for member ids:
        a row group is one block's slice of a chunk, and Parquet would store the
        chunk's whole dictionary of ids in every one (plain strings write and read
        about 3x faster, in half the space; pandas still reads them as categories).
        No min/max statistics for member ids and provider ids (every value distinct:
        costly, and no reader filters on their range). Values go to the column
        writers 64k at a time, not pyarrow's 1,024 (about 10% less time writing; a
        page is closed after the batch that fills it, so it may run past
        ``data_page_size`` by up to a batch)."""
        fields = list(self._schema)
        ids = [f.name for f in fields if f.name == "member_id" or f.name.startswith("nearest_")]
        dictionaries = [f.name for f in fields if pa.types.is_dictionary(f.type)]
        return pq.ParquetWriter(
            path,
            self._schema,
            use_dictionary=[name for name in dictionaries if name != "member_id"],
            write_statistics=[f.name for f in fields if f.name not in ids],
            write_batch_size=WRITE_BATCH,
        )

    @classmethod
    def opened(cls, path: str | Path, row_groups: dict) -> ResultsFile:
        """A finished results file (another process wrote it) and its row groups."""
        file = cls(path)
        file.row_groups = {tuple(k): list(v) for k, v in row_groups.items()}
        return file

    def append(self, other: ResultsFile) -> None:
        """Append another finished file's row groups, in their order (one at a time)."""
        source = pq.ParquetFile(other.path)
        key_of = {g: key for key, groups in other.row_groups.items() for g in groups}
        for g in range(source.num_row_groups):
            part = self._conform(source.read_row_group(g))
            if key_of.get(g) is None or not part.num_rows:
                continue
            if self._writer is None:
                self._writer = self._new_writer(self.part)
            self._writer.write_table(part, row_group_size=max(part.num_rows, 1))
            self.row_groups.setdefault(key_of[g], []).append(self._groups)
            self._groups += 1
            self.rows += part.num_rows

    def close(self) -> None:
        """Finish the file (an empty table when nothing was written) and move it to
        ``path``."""
        if self._writer is None:
            if self._empty is None:
                raise ValueError("no member results were written")
            self._writer = self._new_writer(self.part)
            self._writer.write_table(self._empty)
        self._writer.close()
        if self._dead:
            self._compact()
        os.replace(self.part, self.path)

    def discard(self) -> None:
        """Drop an unfinished file (its run failed): nothing is written to ``path``."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self.part.unlink(missing_ok=True)

    def _compact(self) -> None:
        """Rewrite the file without its replaced row groups (a search widened after
        some blocks were written: rare), one row group at a time."""
        source = pq.ParquetFile(self.part)
        tmp = self.part.with_name(self.part.name + ".compact")
        renumber, n = {}, 0
        with self._new_writer(tmp) as writer:
            for g in range(source.num_row_groups):
                if g in self._dead:
                    continue
                writer.write_table(source.read_row_group(g).cast(self._schema))
                renumber[g] = n
                n += 1
        source.close()
        tmp.replace(self.part)
        self.row_groups = {k: [renumber[g] for g in v] for k, v in self.row_groups.items()}
        self._sizes = {renumber[g]: s for g, s in self._sizes.items() if g in renumber}
        self._dead, self._groups = set(), n

    def read(self, rule_id: str, language: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One (rule, language)'s rows, in member order (columns as pandas reads them)."""
        return self._rows(rule_id, language, columns).to_pandas()

    def arrays(self, rule_id: str, language: str, columns: list[str]) -> dict[str, np.ndarray]:
        """One (rule, language)'s values of plain (not dictionary) columns, in member
        order, as numpy arrays: no pandas frame is made (the medians' miles and
        minutes)."""
        table = self._rows(rule_id, language, columns)
        return {c: table.column(c).to_numpy() for c in columns}

    def _rows(self, rule_id: str, language: str, columns: list[str] | None) -> pa.Table:
        groups = self.row_groups.get((rule_id, language), [])
        file = pq.ParquetFile(self.path)
        if not groups:
            return file.schema_arrow.empty_table().select(columns or file.schema_arrow.names)
        return file.read_row_groups(groups, columns=columns)


@contextlib.contextmanager
def discarded_on_error(file: ResultsFile | None) -> Iterator[None]:
    """Within: should anything fail, ``file`` (if any) is discarded, unfinished."""
    try:
        yield
    except BaseException:
        if file is not None:
            file.discard()
        raise


def _key_and_size(block) -> tuple[tuple[str, str], int]:
    if isinstance(block, tuple):
        rule_id, language, rows = block
        return (rule_id, language or ""), len(rows)
    return (block.rule.id, block.language or ""), len(np.asarray(block.member_rows))
