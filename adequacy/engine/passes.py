"""The member pass: members judged in chunks over one set of searches.

The provider side of an evaluation (one k-nearest search per provider key and
metric, over the whole road graph) does not grow with the members; the member
side does: labels read at each member's node, the judge's arrays, the results.
:func:`judge_members` therefore takes the members ``chunk_members`` at a time:
each chunk gets its own :class:`~adequacy.engine.engine.Engine` over the shared
searches, its blocks are counted into a :class:`~adequacy.engine.tally.Tally`
(exact integers) and its results either go to a Parquet file
(:class:`~adequacy.engine.results_file.ResultsFile`, one row group per chunk
and rule, each written on a thread of its own as soon as it and the blocks
before it are judged) and are dropped, or are copied into their rows of one table
(:class:`~adequacy.engine.result_table.ResultTable`) on the engine's threads as
each block is judged.

Exactness. A chunk's members are judged exactly as they would be in one pass,
with one exception the pass removes: when a member's verdict under an 'and'
rule is in doubt the engine widens a search (more labels per node), and members
judged before the widening read narrower labels. So every block records the
widths it was judged on, and any block whose key's searches widened since is
judged again over the final searches (the first chunk before it is written; a
later one replaced in the results file). Widening doubles the same way whatever the chunking, so
chunked and unchunked runs judge every member on the same labels, and their
results are equal row for row.

Owns: ``judge_members`` and ``MemberPass``. Uses: the engine, the tally, the
reach rule and the results file.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from adequacy.engine.engine import Block, Engine, MemberState, Progress, rule_variants
from adequacy.engine.reach import served_counties, served_union
from adequacy.engine.result_table import ResultColumns, ResultTable, member_counties
from adequacy.engine.results_file import ResultsFile, discarded_on_error
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.engine.summaries import values_of
from adequacy.engine.tally import Tally
from adequacy.network import RoadGraph
from adequacy.routing import Snap

if TYPE_CHECKING:  # ahead imports the engine, as this module does
    from adequacy.engine.ahead import SearchesAhead

#: Members judged at once when a run streams its results and gives no chunk size:
#: bounds the member-side arrays (labels read, the judge's work, the results) to a
#: few hundred MB. Results held in memory are judged in one pass unless a chunk
#: size is given (the whole table is kept anyway).
DEFAULT_CHUNK_MEMBERS = 500_000


@dataclass
class MemberPass:
    """What the member pass found: counts, served counties, the searches, and the
    member results (a table in memory, or a :class:`ResultsFile` on disk)."""

    tally: Tally
    served: pd.DataFrame | None
    searches: dict
    state: MemberState
    unrouted: int
    #: (rule id, language or "") -> (first row in ``results`` or None, member rows)
    blocks: dict[tuple[str, str], tuple[int | None, np.ndarray]] = field(default_factory=dict)
    results: pd.DataFrame | None = None
    results_file: ResultsFile | None = None
    chunks: int = 1
    #: the members' county codes and their categories (the results' ``county_fips``)
    county: tuple[np.ndarray, pd.CategoricalDtype] | None = None
    #: a partitioned run's partitions (:class:`adequacy.distributed.worker.PartitionResult`)
    partitions: list = field(default_factory=list)
    #: a run whose partitions snapped their own points (``graphs="extract"``): the
    #: members' and providers' snapping legs (no node: there is no whole graph)
    snaps: tuple[Snap, Snap] | None = None

    @property
    def widths(self) -> dict:
        """Labels per node of each search, (key, metric) -> k."""
        return {job: s.k for job, s in self.searches.items()}

    def values(self):
        """``values(rule, language)``: a block's county, miles and minutes (medians).
        From a results file only the miles and minutes are read back: a block's
        counties are its members' (``county``), as the file holds them."""
        if self.results_file is None:
            return values_of(self.results, self.blocks)
        codes, dtype = self.county  # set wherever a pass writes a results file

        def values(rule_id: str, lang: str) -> pd.DataFrame:
            out = self.results_file.arrays(rule_id, lang, ["miles", "minutes"])
            rows = self.blocks[(rule_id, lang)][1]
            county = pd.Categorical.from_codes(codes[rows], dtype=dtype)
            return pd.DataFrame({"county_fips": county, **out}, copy=False)

        return values


def chunk_bounds(n: int, chunk_members: int | None) -> list[tuple[int, int]]:
    """[start, stop) of each chunk of ``n`` members (one chunk when ``chunk_members`` is
    None or at least ``n``)."""
    size = max(1, int(chunk_members)) if chunk_members else max(n, 1)
    return [(a, min(a + size, n)) for a in range(0, max(n, 1), size)] if n else [(0, 0)]


def judge_members(
    graph: RoadGraph,
    members: pd.DataFrame,
    providers: pd.DataFrame,
    member_snap: Snap,
    provider_snap: Snap,
    settings: Settings,
    standards: StandardsSet,
    languages: list[str],
    *,
    chunk_members: int | None = None,
    results_path: str | Path | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    n_groups: dict | None = None,
    min_width: dict | None = None,
    ahead: SearchesAhead | None = None,
) -> MemberPass:
    """Search once, then judge every member chunk by chunk (see the module docstring).

    ``members``/``providers`` are the placed tables of an evaluation and
    ``member_snap``/``provider_snap`` their snapping to ``graph``. With
    ``results_path`` the member results go to that Parquet file as they are made
    (and ``MemberPass.results`` is None); otherwise they make one table, a block
    per (rule, language) in the variants' order, each block's members in row
    order. ``n_groups`` and ``min_width`` are for a partition of a larger run
    (see :class:`~adequacy.engine.engine.Engine`);
    ``ahead`` the searches begun before (:class:`~adequacy.engine.ahead.SearchesAhead`).
    """
    tick = progress or (lambda step, done, total: None)
    variants = rule_variants(standards, languages)
    county_rules = [r for r in standards.rules if r.counties]
    if chunk_members is None and results_path is not None:  # streamed: chunks by default
        chunk_members = DEFAULT_CHUNK_MEMBERS
    bounds = chunk_bounds(len(members), chunk_members)
    width = max([r.count for r in standards.rules], default=1)  # nearest_1..width everywhere
    searches: dict = {}
    pass_ = _Pass(graph, members, providers, member_snap, provider_snap, settings, variants,
                  bounds, searches, workers, n_groups, min_width, ahead)  # fmt: skip
    tally, written, digests = Tally(), {}, {}
    # only a rule within both limits ('and') widens a search: a block written before
    # is then compared with itself judged again (a block without a digest is rewritten)
    may_widen = any(lim.combine == "and" for rule, _ in variants for lim in rule.all_limits())
    file = ResultsFile(results_path) if results_path is not None else None
    table = placed = None
    if file is None:  # in memory: each block copied into its rows as it is judged
        speakers = members["language"].value_counts()  # a language block's members
        layout = [(rule, lang, int(speakers.get(lang, 0)) if lang else len(members))
                  for rule, lang in variants]  # fmt: skip
        table = ResultTable(ResultColumns(members, providers, width), layout)
        placed = _Placed(table, bounds)

    def writes(i: int, sub: pd.DataFrame) -> _InOrder:
        """Chunk ``i``'s blocks written to the file a block at a time (a row group
        each), in the variants' order, as they are judged."""
        columns: list[ResultColumns] = []  # made on the writer thread, once

        def write(j: int, block: Block) -> None:
            if not columns:
                columns.append(ResultColumns(sub, providers, width))
            if may_widen:  # before the table takes its arrays
                digests[(i, j)] = _digest(block)
            table = columns[0].rows(block, keep_meets=True)
            written[(i, j)] = file.write(table, [block])[0]

        return _InOrder(writer, write, len(variants))

    def count(sub: pd.DataFrame, blocks: list[Block]) -> None:
        """A chunk's blocks counted (chunks in order: the i-th added is chunk i)."""
        tally.add_blocks(blocks, sub)
        for block in blocks:  # counted: the file or the table holds the rest
            block.meets = None

    with discarded_on_error(file):  # a run that fails leaves no results file
        # a chunk's blocks are written while the rest of it and the next chunk are judged
        # (in order, on one thread; pyarrow and the searches release the GIL)
        with ThreadPoolExecutor(1) as writer:
            previous = None
            for i, (a, b) in enumerate(bounds):
                if len(bounds) > 1:
                    tick("judging members", i, len(bounds))
                sub = members.iloc[a:b]
                engine = pass_.engine(i, progress=tick if i == 0 else None)
                chunk = writes(i, sub) if file is not None else None
                # (the first chunk is settled before it is written: below)
                on_block = placed.filler(i) if placed is not None else (chunk.judged if i else None)
                blocks = engine.evaluate_variants(variants, on_block)
                pass_.record(i, blocks)
                if i == 0:  # most widening happens here: settle the first chunk before writing
                    for _, j, block in pass_.stale_blocks(only=0):
                        blocks[j] = block
                        if placed is not None:
                            placed.fill(i, j, block)
                    if chunk is not None:
                        for j, block in enumerate(blocks):
                            chunk.judged(j, block)
                if chunk is None:
                    count(sub, blocks)
                    continue
                chunk.then(count, sub, blocks)
                if previous is not None:
                    previous.wait()  # at most one chunk's results waiting
                previous = chunk
            # every chunk judged: what needs no results is made while the writer finishes
            state = MemberState.of(members) if len(bounds) > 1 else pass_.engine(0).state
            county = member_counties(members) if file is not None else None
            served_table = None
            if county_rules:  # providers within reach of the county's members: once, for all
                # of them (one forward search per county; it needs no labels, so no chunks)
                whole = Engine(graph, members, providers, member_snap, provider_snap, settings,
                               workers=workers, searches=searches)  # fmt: skip
                served_table = served_union([served_counties(whole, county_rules)])
            if previous is not None:
                previous.wait()
        # a search that widened after some chunks were judged: those blocks read narrower
        # labels; judge them again (their counts and rows replaced)
        for i, j, block in pass_.stale_blocks():
            if file is not None and digests.get((i, j)) == _digest(block):
                file.judged_again["same"] += 1  # the file holds it already: nothing to rewrite
                continue
            a, b = bounds[i]
            sub = members.iloc[a:b]
            tally.add_blocks([block], sub, at=i)
            if file is not None:
                rows = ResultColumns(sub, providers, width).rows(block)
                written[(i, j)] = file.replace(written[(i, j)], rows, block)
                file.judged_again["replaced"] += 1
            else:
                placed.fill(i, j, block)
                block.meets = None
        unrouted = pass_.unrouted
        if len(bounds) > 1:
            tick("judging members", len(bounds), len(bounds))
        state.places.clear()  # where the nodes sit on the chains: judging's alone
        out = MemberPass(
            tally=tally,
            served=served_table,
            searches=searches,
            state=state,
            unrouted=unrouted,
            chunks=len(bounds),
        )
        rows_of = _rows_by_language(state, len(members))
        if file is not None:
            file.close()
            out.results_file = file
            out.county = county
            out.blocks = {(rule.id, lang or ""): (None, rows_of(lang)) for rule, lang in variants}
            return out
        placed.check()
        for j, (rule, lang) in enumerate(variants):
            a, b = table.starts[j], table.starts[j + 1]
            out.blocks[(rule.id, lang or "")] = (int(a), table.rows[a:b].astype(np.int64))
        out.results = table.frame()
        return out


class _InOrder:
    """One chunk's blocks handed to ``write(j, block)`` in the variants' order, each as
    soon as it and every block before it are judged. :meth:`judged` is called on the
    engine's threads in any order; the writing runs on the one ``writer`` thread."""

    def __init__(self, writer: ThreadPoolExecutor, write: Callable[[int, Block], None], n: int):
        self._writer, self._write, self._n = writer, write, n
        self._ready: dict[int, Block] = {}
        self._next = 0  # the first block not written (read and moved on the writer only)
        self._lock = threading.Lock()
        self._futures: list = []

    def judged(self, j: int, block: Block) -> None:
        with self._lock:
            self._ready[j] = block
            self._futures.append(self._writer.submit(self._flush))

    def _flush(self) -> None:
        while True:
            with self._lock:
                block = self._ready.pop(self._next, None)
            if block is None:
                return
            self._write(self._next, block)
            self._next += 1

    def then(self, task: Callable, *args) -> None:
        """Run ``task(*args)`` on the writer once the blocks judged so far are written."""
        with self._lock:
            self._futures.append(self._writer.submit(task, *args))

    def wait(self) -> None:
        """Wait for every write (raising what one raised); all blocks must be written."""
        for future in self._futures:
            future.result()
        if self._next != self._n:
            raise RuntimeError(f"{self._n - self._next} judged blocks were never written")


class _Placed:
    """Where each chunk's blocks go in the one table of an in-memory pass: block ``j``
    of chunk ``i`` after the same block's rows of the chunks before (its member rows
    offset by the chunk's first row)."""

    def __init__(self, table: ResultTable, bounds: list[tuple[int, int]]):
        self.table, self.bounds = table, bounds
        self.at: dict[tuple[int, int], int] = {}  # (chunk, variant) -> first row in block
        self.size: dict[tuple[int, int], int] = {}  # (chunk, variant) -> members

    def filler(self, i: int):
        """``on_block`` for chunk ``i``'s engine (every earlier chunk placed)."""
        return lambda j, block: self.fill(i, j, block)

    def fill(self, i: int, j: int, block: Block) -> None:
        if (i, j) not in self.at:
            self.at[(i, j)] = self.at[(i - 1, j)] + self.size[(i - 1, j)] if i else 0
            self.size[(i, j)] = len(block.member_rows)
        self.table.fill(j, block, at=self.at[(i, j)], row_base=self.bounds[i][0])

    def check(self) -> None:
        """Every row of the table filled: each block's chunks hold its members."""
        starts = self.table.starts
        for j in range(len(starts) - 1):
            held = sum(n for (_, v), n in self.size.items() if v == j)
            if held != starts[j + 1] - starts[j]:
                raise RuntimeError(f"block {j}: {held} rows judged for {starts[j + 1] - starts[j]}")


class _Pass:
    """The engines of one member pass (one per chunk, over shared searches), and the
    blocks judged again where a search widened after they were judged."""

    def __init__(self, graph, members, providers, member_snap, provider_snap, settings,
                 variants, bounds, searches, workers, n_groups, min_width, ahead):  # fmt: skip
        self.args = (graph, members, providers, member_snap, provider_snap, settings)
        self.ahead = ahead  # taken by the first chunk's engine, which runs the searches
        self.variants, self.bounds, self.searches = variants, bounds, searches
        self.workers, self.n_groups, self.min_width = workers, n_groups, min_width
        self.engines: dict[int, Engine] = {}
        self.widths: dict[tuple[int, int], tuple] = {}  # (chunk, variant) -> judged on
        self._unrouted = 0

    def engine(self, i: int, progress=None) -> Engine:
        """The engine of chunk ``i`` (chunk 0's is kept; another's until the next)."""
        if i not in self.engines:
            graph, members, providers, member_snap, provider_snap, settings = self.args
            a, b = self.bounds[i]
            for k in [k for k in self.engines if k != 0]:  # its arrays go, its count stays
                self._unrouted += self.engines.pop(k).unrouted
            self.engines[i] = Engine(
                graph, members.iloc[a:b], providers, _part(member_snap, a, b), provider_snap,
                settings, workers=self.workers, progress=progress, searches=self.searches,
                n_groups=self.n_groups, min_width=self.min_width,
                ahead=self.ahead if i == 0 else None,
            )  # fmt: skip
        return self.engines[i]

    @property
    def unrouted(self) -> int:
        """Fastest routes not read off the labels, over every engine of the pass."""
        return self._unrouted + sum(e.unrouted for e in self.engines.values())

    def record(self, i: int, blocks: list[Block]) -> None:
        """The widths each block of chunk ``i`` was judged on."""
        for j, block in enumerate(blocks):
            self.widths[(i, j)] = block.widths

    def stale_blocks(self, only: int | None = None):
        """(chunk, variant, block judged again) for every block judged on narrower labels
        than its key's searches have now (``only``: of that chunk), until none is."""
        while True:
            stale = sorted(
                (i, j) for (i, j), w in self.widths.items()
                if (only is None or i == only) and w != self._now(j)
            )  # fmt: skip
            if not stale:
                return
            for i, j in stale:
                block = self.engine(i).rule_block(*self.variants[j])
                self.widths[(i, j)] = block.widths
                yield i, j, block

    def _now(self, j: int) -> tuple:
        rule, language = self.variants[j]
        return self.engine(0).widths_of(Engine.key_of(rule, language))


def _digest(block: Block) -> bytes:
    """A digest of what a block's results depend on beyond its members: its judged
    arrays. A block judged again over wider searches is rewritten only if it
    differs, which is rare: wider labels change no verdict that was not in doubt,
    only, now and then, a spare provider counted in ``n_qualifying``."""
    h = hashlib.sha256()
    for a in (block.member_rows, block.miles, block.minutes, block.n_qualifying, block.meets,
              block.nearest):  # fmt: skip
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a)
    return h.digest()


def _part(snap: Snap, a: int, b: int) -> Snap:
    """The snapping of members ``a`` to ``b`` (views, no copy)."""
    return Snap(snap.node[a:b], snap.meters[a:b], snap.off_road[a:b], snap.max_snap_meters)


def _rows_by_language(state: MemberState, n: int):
    """Member rows of each language's blocks, one array per language (shared by rules)."""
    cache: dict[str, np.ndarray] = {}

    def rows_of(language: str | None) -> np.ndarray:
        if (language or "") not in cache:
            cache[language or ""] = state.rows_of(language, n)
        return cache[language or ""]

    return rows_of
