"""One stored k-nearest search of an evaluation, made at once or when first read.

Under the ``fastest_route`` basis a key's shortest-road-distance search serves
one purpose only: it bounds which providers may lie within a mile limit along
their fastest route for the members who are short of providers
(:meth:`~adequacy.engine.engine.Engine._route_doubt`). A key whose members are
never short of them never reads it (in a well-served network, many keys: 10 of
31 in the 3M-member benchmark). Such a search is *deferred*: everything it
depends on is fixed when it is asked for (sources, width, cutoff), and the
labels are made the first time any thread reads :attr:`Search.labels`, by the
same call an eager search makes, so they are the same labels whenever they are
made. Its width (:attr:`Search.k`) is known without making them. A what-if
makes those of the keys it touches before it reads them.

Owns: ``Search``. Uses: the routing labels (:mod:`adequacy.routing`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from adequacy.routing import NodeLabels
from adequacy.routing.routes import StraightLabels

if TYPE_CHECKING:  # the engine imports this module
    from adequacy.engine.engine import SearchKey


class Search:
    """Stored k-nearest labels of one (key, metric), kept for what-if updates.

    ``rows`` are the provider rows (into the evaluation's providers) that are the
    sources, ``n_providers`` the distinct provider ids among them, and ``route``
    (time searches under ``fastest_route``) each label's route meters, made when
    first asked for. Give either ``labels``, or ``make`` (a call returning them)
    and ``k``, the labels per node they will have: see the module docstring.
    """

    def __init__(
        self,
        key: SearchKey,
        metric: str,
        rows: np.ndarray,
        labels: NodeLabels | StraightLabels | None,
        n_providers: int,
        route: np.ndarray | None = None,
        *,
        make: Callable[[], NodeLabels] | None = None,
        k: int | None = None,
    ):
        if (labels is None) == (make is None) or (make is not None and k is None):
            raise ValueError("give a search's labels, or how to make them and their width")
        self.key, self.metric, self.rows = key, metric, rows
        self.n_providers, self.route = n_providers, route
        self._labels, self._make = labels, make
        self._k = int(labels.k if labels is not None else k)
        self._lock = threading.Lock() if make is not None else None

    @property
    def labels(self) -> NodeLabels | StraightLabels:
        """The labels, made here on first reading when the search was deferred (one
        thread makes them; another reading meanwhile waits for them)."""
        if self._labels is None:
            with self._lock:
                if self._labels is None:
                    self._labels, self._make = self._make(), None
        return self._labels

    def make(self) -> Search:
        """Make the labels now if the search was deferred (when they will be read)."""
        self.labels  # noqa: B018 (the property makes them)
        return self

    @property
    def made(self) -> bool:
        """Whether the labels exist (False: deferred and not read yet)."""
        return self._labels is not None

    @property
    def k(self) -> int:
        """Labels per node (known before a deferred search's labels are made)."""
        return self._k

    @property
    def complete(self) -> bool:
        """Whether every provider fits in the labels (nothing can be hidden)."""
        return self._k >= self.n_providers

    def __getstate__(self) -> dict:
        """Pickled or copied with its labels made (a lock and a pending call are not)."""
        state = dict(self.__dict__, _labels=self.labels, _make=None, _lock=None)
        return state

    def __repr__(self) -> str:
        state = "made" if self.made else "deferred"
        return f"Search({self.key!r}, {self.metric!r}, k={self._k}, {state})"
