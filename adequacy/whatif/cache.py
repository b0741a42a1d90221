"""What-if's working data made once per base evaluation and kept while it lives.

A base evaluation is updated by many scenarios (a what-if session, recruitment,
the benchmark); what depends on the base alone (the 'before' half of the delta
table, the roster's codes, the member results' columns as arrays) is made on the
first scenario and kept here, keyed by the evaluation object itself: an updated
evaluation (``WhatIf.evaluation``) is another object with its own.

Owns: ``base_cache``.
"""

from __future__ import annotations

import weakref
from typing import Any

_CACHES: dict[int, dict[str, Any]] = {}


def base_cache(base) -> dict[str, Any]:
    """The cache dictionary of one base evaluation (dropped with it)."""
    key = id(base)
    found = _CACHES.get(key)
    if found is None:
        found = _CACHES[key] = {}
        weakref.finalize(base, _CACHES.pop, key, None)
    return found
