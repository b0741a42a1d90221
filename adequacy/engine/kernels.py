"""The engine's member-side helpers: what every member's labels are read with.

Compiled loops over the members of a block (no arrays made but the outputs and
one scratch copy), and the distinct road nodes of a block's members, at which
labels are read once.

Owns: ``member_labels``, ``member_route_meters``, ``distinct_nodes``, ``group_medians``.
Uses: numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def distinct_nodes(nodes: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(nodes, return_inverse=True)`` for graph nodes, in linear time when
    they are many."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(nodes) * 16 < n_nodes or (len(nodes) and nodes.min() < 0):
        return np.unique(nodes, return_inverse=True)
    seen = np.zeros(n_nodes, dtype=bool)
    seen[nodes] = True
    rank = np.cumsum(seen, dtype=np.int64) - 1
    return np.flatnonzero(seen), rank[nodes]


@njit(cache=True, nogil=True)
def member_labels(cost_u, source_u, inverse, legs, code_of_source, cutoff):
    """Each member's labels: its node's labels plus its leg; provider-id codes, -1 none."""
    m = inverse.shape[0]
    k = cost_u.shape[1]
    cost = np.empty((m, k))
    code = np.empty((m, k), dtype=np.int64)
    for i in range(m):
        r = inverse[i]
        for j in range(k):
            c = cost_u[r, j] + legs[i]
            s = source_u[r, j]
            if s < 0 or c > cutoff:
                cost[i, j] = np.inf
                code[i, j] = -1
            else:
                cost[i, j] = c
                code[i, j] = code_of_source[s]
    return cost, code


@njit(cache=True, nogil=True)
def member_route_meters(route_u, inverse, legs, rows, code):
    """Each member's route meters per time label: its node's (``route_u``) plus its
    own leg (``legs[rows[i]]``); infinite where the label holds no provider."""
    m = inverse.shape[0]
    k = route_u.shape[1]
    out = np.empty((m, k))
    for i in range(m):
        r = inverse[i]
        leg = legs[rows[i]]
        for j in range(k):
            out[i, j] = np.inf if code[i, j] < 0 else route_u[r, j] + leg
    return out


@njit(cache=True, nogil=True)
def group_medians(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of each group's values, NaN left out (NaN for a group with none), as
    pandas' ``groupby(...).median()`` computes it: the middle value, or half the sum
    of the two middle ones. ``codes`` in 0..n_groups-1, negative ones skipped;
    linear time: the values placed by group, then a selection per group."""
    start = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0 and not np.isnan(values[i]):
            start[c + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    fill = start[:-1].copy()
    placed = np.empty(start[n_groups])
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0 and not np.isnan(values[i]):
            placed[fill[c]] = values[i]
            fill[c] += 1
    out = np.full(n_groups, np.nan)
    for g in range(n_groups):
        lo, n = start[g], start[g + 1] - start[g]
        if n == 0:
            continue
        upper = _select(placed, lo, lo + n, lo + n // 2)
        if n % 2:
            out[g] = upper
        else:  # the lower middle: the largest of the values placed before it
            lower = placed[lo]
            for i in range(lo + 1, lo + n // 2):
                lower = max(lower, placed[i])
            out[g] = (upper + lower) / 2
    return out


@njit(cache=True, nogil=True)
def _select(a: np.ndarray, lo: int, hi: int, kth: int) -> float:
    """Reorder ``a[lo:hi]`` so that ``a[kth]`` holds the value a sort would put there,
    every value before it no larger (quickselect, no NaN); returns ``a[kth]``."""
    while hi - lo > 1:
        mid = (lo + hi - 1) // 2
        x, y, z = a[lo], a[mid], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))  # the median of three
        i, j = lo, hi - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j + 1
        elif kth >= i:
            lo = i
        else:  # between the two halves: equal to the pivot
            break
    return a[kth]
