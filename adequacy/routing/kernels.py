"""The compiled search kernels (numba): heap, k-nearest label setting, merge and reach.

Every kernel works on arrays its caller made (the heap included, sized by the
bound k·E + sources): nothing is allocated inside a loop, and every kernel
releases the GIL so searches run on worker threads.

Owns: the numba kernels. Uses: numpy only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _before(c1, r1, c2, r2):
    """Whether (cost c1, rank r1) comes before (c2, r2): by cost, ties by rank."""
    return c1 < c2 or (c1 == c2 and r1 < r2)


@njit(cache=True, nogil=True, inline="always")
def heap_push(hc, hn, hs, size, c, node, src):
    """Push (cost c, node, src); the heap pops by cost, equal costs by ``src``."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(c, src, hc[parent], hs[parent]):
            break
        hc[i] = hc[parent]
        hn[i] = hn[parent]
        hs[i] = hs[parent]
        i = parent
    hc[i] = c
    hn[i] = node
    hs[i] = src
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def heap_pop(hc, hn, hs, size):
    """Remove the root; the caller has read it. Returns the new size."""
    size -= 1
    c = hc[size]
    node = hn[size]
    src = hs[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(hc[child + 1], hs[child + 1], hc[child], hs[child]):
            child += 1
        if not _before(hc[child], hs[child], c, src):
            break
        hc[i] = hc[child]
        hn[i] = hn[child]
        hs[i] = hs[child]
        i = child
    hc[i] = c
    hn[i] = node
    hs[i] = src
    return size


@njit(cache=True, nogil=True, inline="always")
def offer(tent_cost, tent_group, tent_rank, base, k, c, g, r):
    """Record a tentative label (c, group g, rank r) at a node; False if it cannot matter.

    The node's tentative list holds its ``k`` best (cost, rank) from distinct groups
    seen so far. A label that does not come before ``k`` other groups' can never be
    among the node's ``k`` nearest, so it is not pushed. Equal costs are ordered by
    rank (the source's place in the roster), so the labels kept never depend on the
    order the search met them in.
    """
    worst = -1
    worst_cost = -1.0
    worst_rank = -1
    for j in range(k):
        tg = tent_group[base + j]
        if tg == g:
            if not _before(c, r, tent_cost[base + j], tent_rank[base + j]):
                return False
            tent_cost[base + j] = c
            tent_rank[base + j] = r
            return True
        if tg == -1:
            tent_cost[base + j] = c
            tent_group[base + j] = g
            tent_rank[base + j] = r
            return True
        if _before(worst_cost, worst_rank, tent_cost[base + j], tent_rank[base + j]):
            worst_cost = tent_cost[base + j]
            worst_rank = tent_rank[base + j]
            worst = j
    if _before(c, r, worst_cost, worst_rank):
        tent_cost[base + worst] = c
        tent_group[base + worst] = g
        tent_rank[base + worst] = r
        return True
    return False


@njit(cache=True, nogil=True)
def k_nearest_kernel(
    offsets,
    targets,
    weights,
    source_node,
    source_cost,
    source_group,
    k,
    cutoff,
    label_cost,
    label_source,
    n_labels,
    tent_cost,
    tent_group,
    tent_rank,
    heap_cost,
    heap_node,
    heap_source,
    settle_order,
):
    """Settle every node's k nearest labels; ``settle_order`` records each label's flat
    index (node * k + slot) in the order settled, which is cost order. Returns how
    many were settled.

    Equal costs are ordered by source index (lower first; the caller lists sources in
    the roster's order): each node's labels are its ``k`` first distinct groups by
    (cost, source), whatever the graph's numbering (a graph clipped around some
    members keeps the same labels there)."""
    for i in range(label_cost.shape[0]):  # initialised here, without the GIL
        label_cost[i] = np.inf
        label_source[i] = -1
        tent_cost[i] = np.inf
        tent_group[i] = -1
        tent_rank[i] = -1
    for i in range(n_labels.shape[0]):
        n_labels[i] = 0
    size = 0
    for s in range(source_node.shape[0]):
        c = source_cost[s]
        node = source_node[s]
        g = source_group[s]
        if c <= cutoff and offer(tent_cost, tent_group, tent_rank, node * k, k, c, g, s):
            size = heap_push(heap_cost, heap_node, heap_source, size, c, node, s)
    settled = 0
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        s = heap_source[0]
        size = heap_pop(heap_cost, heap_node, heap_source, size)
        m = n_labels[node]
        if m >= k:
            continue
        g = source_group[s]
        base = node * k
        duplicate = False
        for j in range(m):
            if source_group[label_source[base + j]] == g:
                duplicate = True
                break
        if duplicate:
            continue
        label_cost[base + m] = c
        label_source[base + m] = s
        n_labels[node] = m + 1
        settle_order[settled] = base + m
        settled += 1
        for e in range(offsets[node], offsets[node + 1]):
            nxt = targets[e]
            nc = c + weights[e]
            if nc > cutoff or n_labels[nxt] >= k:
                continue
            if offer(tent_cost, tent_group, tent_rank, nxt * k, k, nc, g, s):
                size = heap_push(heap_cost, heap_node, heap_source, size, nc, nxt, s)
    return settled


@njit(cache=True, nogil=True, inline="always")
def relax(
    offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost, heap_node, size
):
    """Single-source Dijkstra step: relax the node's edges, remember nodes first reached."""
    for e in range(offsets[node], offsets[node + 1]):
        nxt = targets[e]
        nc = c + weights[e]
        if nc <= cutoff and nc < dist[nxt]:
            if dist[nxt] == np.inf:
                touched[n_touched] = nxt
                n_touched += 1
            dist[nxt] = nc
            size = heap_push(heap_cost, heap_node, heap_node, size, nc, nxt, nxt)
    return n_touched, size


@njit(cache=True, nogil=True)
def merge_kernel(
    offsets,
    targets,
    weights,
    start_node,
    start_cost,
    group,
    new_source,
    cutoff,
    label_cost,
    label_source,
    label_group,
    dist,
    touched,
    changed,
    heap_cost,
    heap_node,
):
    k = label_cost.shape[1]
    n_changed = 0
    dist[start_node] = start_cost
    touched[0] = start_node
    n_touched = 1
    size = heap_push(heap_cost, heap_node, heap_node, 0, start_cost, start_node, start_node)
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        size = heap_pop(heap_cost, heap_node, heap_node, size)
        if c > dist[node]:
            continue  # stale entry
        # where would (c, group) go among the node's sorted labels?
        same = -1
        for j in range(k):
            if label_group[node, j] == group and label_source[node, j] >= 0:
                same = j
                break
        # labels are ordered by (cost, source index), as the search orders them
        if same >= 0:
            if not _before(c, new_source, label_cost[node, same], label_source[node, same]):
                continue  # this provider already reaches the node as cheaply: prune
            j = same  # the provider moves up: drop its old label
        else:
            last = label_source[node, k - 1]
            if last >= 0 and not _before(c, new_source, label_cost[node, k - 1], last):
                continue  # not among the node's k nearest, nor anywhere beyond: prune
            if last < 0 and not c < label_cost[node, k - 1]:
                continue
            j = k - 1  # the k-th label drops out
        while j > 0 and (
            label_source[node, j - 1] < 0
            or _before(c, new_source, label_cost[node, j - 1], label_source[node, j - 1])
        ):
            label_cost[node, j] = label_cost[node, j - 1]
            label_source[node, j] = label_source[node, j - 1]
            label_group[node, j] = label_group[node, j - 1]
            j -= 1
        label_cost[node, j] = c
        label_source[node, j] = new_source
        label_group[node, j] = group
        changed[n_changed] = node
        n_changed += 1
        n_touched, size = relax(
            offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost,
            heap_node, size,
        )  # fmt: skip
    return n_changed


@njit(cache=True, nogil=True)
def reach_kernel(
    offsets, targets, weights, start_node, start_cost, cutoff, dist, touched, heap_cost, heap_node
):
    dist[start_node] = start_cost
    touched[0] = start_node
    n_touched = 1
    size = heap_push(heap_cost, heap_node, heap_node, 0, start_cost, start_node, start_node)
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        size = heap_pop(heap_cost, heap_node, heap_node, size)
        if c > dist[node]:
            continue
        n_touched, size = relax(
            offsets, targets, weights, node, c, cutoff, dist, touched, n_touched, heap_cost,
            heap_node, size,
        )  # fmt: skip
    return n_touched


@njit(cache=True, nogil=True)
def fastest_from_kernel(
    offsets, targets, seconds, meters, source_node, source_seconds, source_meters, cutoff,
    best_seconds, route_meters, settled, touched, heap_cost, heap_node,
):  # fmt: skip
    """Multi-source Dijkstra by time along forward edges: each node's fastest time from
    any source and the meters of that fastest route (the shortest where several tie).
    ``best_seconds``/``route_meters`` hold infinity and ``settled`` False on entry; the
    nodes written are listed in ``touched``. Returns how many."""
    n_touched = 0
    size = 0
    for s in range(source_node.shape[0]):
        node = source_node[s]
        c = source_seconds[s]
        if c <= cutoff and c == best_seconds[node]:  # equal times: the shorter route
            route_meters[node] = min(route_meters[node], source_meters[s])
        elif c <= cutoff and c < best_seconds[node]:
            if best_seconds[node] == np.inf:
                touched[n_touched] = node
                n_touched += 1
            best_seconds[node] = c
            route_meters[node] = source_meters[s]
            size = heap_push(heap_cost, heap_node, heap_node, size, c, node, node)
    while size > 0:
        c = heap_cost[0]
        node = heap_node[0]
        size = heap_pop(heap_cost, heap_node, heap_node, size)
        if settled[node] or c > best_seconds[node]:
            continue
        settled[node] = True
        m = route_meters[node]
        for e in range(offsets[node], offsets[node + 1]):
            nxt = targets[e]
            nc = c + seconds[e]
            if nc <= cutoff and nc == best_seconds[nxt] and not settled[nxt]:
                # equal times: the shorter route, whatever order they were found in
                route_meters[nxt] = min(route_meters[nxt], m + meters[e])
            elif nc <= cutoff and nc < best_seconds[nxt] and not settled[nxt]:
                if best_seconds[nxt] == np.inf:
                    touched[n_touched] = nxt
                    n_touched += 1
                best_seconds[nxt] = nc
                route_meters[nxt] = m + meters[e]
                size = heap_push(heap_cost, heap_node, heap_node, size, nc, nxt, nxt)
    return n_touched
