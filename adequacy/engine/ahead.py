"""Searches started ahead: the provider side of a run begun while members are placed.

The k-nearest searches depend on the providers, the road graph and the rules,
never on the members (only the language rules' searches wait for the members'
languages). :class:`SearchesAhead` starts the searches of the rules over all
members on one background thread as soon as the providers are snapped, while
the main thread places and snaps the members. The engine then
:meth:`~SearchesAhead.take` s each search: a finished or running one is
waited for; one not yet begun is taken back and run by the engine itself, so
no core waits on a queue. Each search is the one the engine would have run
(the same rules, widths and cutoffs: an :class:`~adequacy.engine.engine.Engine`
over no members runs it), so results are unchanged.

Owns: ``SearchesAhead``. Uses: the engine and the chain contraction.
"""

from __future__ import annotations

import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd

from adequacy.engine.engine import Engine, MemberState, SearchKey, rule_variants
from adequacy.engine.search import Search
from adequacy.engine.settings import Settings
from adequacy.engine.standards import StandardsSet
from adequacy.network import RoadGraph
from adequacy.network.chains import chains_of
from adequacy.routing import Snap


class SearchesAhead:
    """The searches of ``standards``' rules over all members, run on a background
    thread from ``providers`` (snapped as ``provider_snap``) on ``graph``.

    Call :meth:`close` once the members are judged; a run stopped before drops
    the searches not begun when this object goes (one running finishes on its
    thread)."""

    def __init__(
        self,
        graph: RoadGraph,
        providers: pd.DataFrame,
        provider_snap: Snap,
        settings: Settings,
        standards: StandardsSet,
    ):
        chains_of(graph)  # built here, once: not by two threads at a time
        none = np.zeros(0, dtype=np.int64)
        engine = Engine(
            graph, providers.iloc[:0], providers, provider_snap, provider_snap, settings,
            state=MemberState(none, [], none, []),
        )  # fmt: skip
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="searches-ahead")
        # a run that stops before its members are judged (bad input) drops the rest
        weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        jobs = engine.jobs(rule_variants(standards, []))
        self._futures: dict[tuple[SearchKey, str], Future] = {
            job: self._pool.submit(engine.search_one, (job, rules)) for job, rules in jobs.items()
        }

    def take(self, job: tuple[SearchKey, str]) -> Search | None:
        """The search of ``job`` (waited for if running), or None when it was not
        started ahead or had not begun (the caller runs it)."""
        future = self._futures.pop(job, None)
        if future is None or future.cancel():
            return None
        return future.result()[1]

    def close(self) -> None:
        """Drop the searches not begun, and those not taken (one running finishes)."""
        self._futures.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
