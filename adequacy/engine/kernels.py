"""The engine's member-side helpers: what every member's labels are read with.

Compiled loops over the members of a block (no arrays made but the outputs), and
the distinct road nodes of a block's members, at which labels are read once.

Owns: ``member_labels``, ``count_distinct``, ``distinct_nodes``. Uses: numba.
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
def count_distinct(codes: np.ndarray) -> np.ndarray:
    """Distinct non-negative values per row (provider ids qualifying by either limit)."""
    m, w = codes.shape
    out = np.zeros(m, dtype=np.int64)
    for i in range(m):
        for j in range(w):
            c = codes[i, j]
            if c < 0:
                continue
            seen = False
            for t in range(j):
                if codes[i, t] == c:
                    seen = True
                    break
            if not seen:
                out[i] += 1
    return out
