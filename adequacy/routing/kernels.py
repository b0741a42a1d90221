"""The compiled search kernels (numba): heap, k-nearest label setting, merge and reach.

Every kernel works on arrays its caller made (the heap included, sized by the
bound k·E + sources): nothing is allocated inside a loop, and every kernel
releases the GIL so searches run on worker threads.

The k-nearest search is bound by memory latency (its frontier spans the whole
graph): it keeps each node's tentative labels in one record block and asks the
CPU ahead of time for what the next steps will read (:func:`~adequacy.prefetch.prefetch`).

Owns: the numba kernels. Uses: numpy, numba, :mod:`adequacy.prefetch`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from adequacy.prefetch import prefetch


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


#: One slot of a node's tentative labels (k slots per node, contiguous: one cache line
#: or two per relaxed edge). ``group`` is -1 while the slot is empty and ``-2 - group``
#: once the label is settled (groups are >= 0); ``rank`` is the source index.
TENTATIVE = np.dtype([("cost", np.float64), ("rank", np.int32), ("group", np.int32)])
#: One entry of the k-nearest search's heap (1-based: the root is entry 1).
LABEL_HEAP = np.dtype([("cost", np.float64), ("source", np.int32), ("node", np.int32)])


@njit(cache=True, nogil=True, inline="always")
def _label_push(heap, size, c, node, src):
    """:func:`heap_push` on a 1-based :data:`LABEL_HEAP` (the same sift, so equal
    (cost, source) pop in the same order)."""
    i = size + 1
    while i > 1:
        parent = i >> 1
        if not _before(c, src, heap[parent].cost, heap[parent].source):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i].cost = c
    heap[i].source = src
    heap[i].node = node
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _label_pop(heap, size):
    """:func:`heap_pop` on a 1-based :data:`LABEL_HEAP`: the same sift (equal
    (cost, source) pop in the same order). The freed last entry becomes a sentinel
    that never comes first, so a lone child needs no bounds check; each level asks
    for its grandchildren (64 bytes, one cache line when the heap is aligned)."""
    last = size
    size -= 1
    c = heap[last].cost
    src = heap[last].source
    node = heap[last].node
    heap[last].cost = np.inf
    heap[last].source = 2147483647
    i = 1
    while True:
        child = 2 * i
        if child > size:
            break
        prefetch(heap, 4 * i)
        rc = heap[child + 1].cost
        lc = heap[child].cost
        # the right child when it comes first (no branch: this is a coin toss)
        child += np.int64((rc < lc) | ((rc == lc) & (heap[child + 1].source < heap[child].source)))
        if not _before(heap[child].cost, heap[child].source, c, src):
            break
        heap[i] = heap[child]
        i = child
    heap[i].cost = c
    heap[i].source = src
    heap[i].node = node
    return size


@njit(cache=True, nogil=True, inline="always")
def offer(tent, base, k, c, g, r):
    """Record a tentative label (c, group g, rank r) at a node; False if it cannot matter.

    The node's tentative list (``tent[base:base + k]``) holds its ``k`` best (cost,
    rank) from distinct groups seen so far, settled ones included. A label that does
    not come before ``k`` other groups' can never be among the node's ``k`` nearest,
    so it is not pushed; nor is one of a group already settled there (every label
    offered after a settle comes after it). Equal costs are ordered by rank (the
    source's place in the roster), so the labels kept never depend on the order the
    search met them in.
    """
    worst = -1
    worst_cost = -1.0
    worst_rank = -1
    for j in range(k):
        tg = tent[base + j].group
        if tg == g:
            if not _before(c, r, tent[base + j].cost, tent[base + j].rank):
                return False
            tent[base + j].cost = c
            tent[base + j].rank = r
            return True
        if tg == -1:
            tent[base + j].cost = c
            tent[base + j].group = g
            tent[base + j].rank = r
            return True
        if tg == -2 - g:
            return False
        if _before(worst_cost, worst_rank, tent[base + j].cost, tent[base + j].rank):
            worst_cost = tent[base + j].cost
            worst_rank = tent[base + j].rank
            worst = j
    if _before(c, r, worst_cost, worst_rank):
        tent[base + worst].cost = c
        tent[base + worst].group = g
        tent[base + worst].rank = r
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
    tent,
    heap,
    settle_order,
):
    """Settle every node's k nearest labels; ``settle_order`` records each label's flat
    index (node * k + slot) in the order settled, which is cost order. Returns how
    many were settled.

    Equal costs are ordered by source index (lower first; the caller lists sources in
    the roster's order): each node's labels are its ``k`` first distinct groups by
    (cost, source), whatever the graph's numbering (a graph clipped around some
    members keeps the same labels there).

    ``tent`` (n × k :data:`TENTATIVE`) and ``heap`` (:data:`LABEL_HEAP`, the bound
    k·E + sources + 2 entries, best 64-byte aligned) are scratch; ``source_group``
    holds groups >= 0 and there are fewer than 2**31 sources.

    A popped entry is settled when it is still its node's tentative label of its
    group: a label replaced by a better one of its group comes after it, and one
    pushed out of the list comes after ``k`` other groups, so either way the node
    settles its group or its ``k`` labels first. Once settled, a label stays in the
    list, so at the end the list holds exactly the node's labels; they are written
    out in (cost, source) order, the order they were settled in.
    """
    n = label_cost.shape[0] // k
    for i in range(tent.shape[0]):  # initialised here, without the GIL
        tent[i].cost = np.inf
        tent[i].group = -1
        tent[i].rank = -1
    size = 0
    for s in range(source_node.shape[0]):
        c = source_cost[s]
        node = source_node[s]
        g = source_group[s]
        if c <= cutoff and offer(tent, node * k, k, c, g, s):
            size = _label_push(heap, size, c, node, s)
    settled = 0
    while size > 0:
        c = heap[1].cost
        node = heap[1].node
        s = heap[1].source
        size = _label_pop(heap, size)
        for i in range(1, min(size, 3) + 1):  # the next ones settled, most likely:
            nxt = heap[i].node  # fetch their data now
            prefetch(tent, nxt * k)
            prefetch(offsets, nxt)
        g = source_group[s]
        base = node * k
        m = 0  # labels the node has settled
        live = -1
        for j in range(k):
            tg = tent[base + j].group
            if tg < -1:
                m += 1
            elif tg == g and tent[base + j].rank == s and tent[base + j].cost == c:
                live = j
        if live < 0:
            continue  # replaced by a better label, or pushed out of the list
        tent[base + live].group = -2 - g
        settle_order[settled] = base + m
        settled += 1
        first = offsets[node]
        end = offsets[node + 1]
        for e in range(first, end):
            prefetch(tent, targets[e] * k)
            prefetch(tent, targets[e] * k + k - 1)
        for e in range(first, end):
            nxt = targets[e]
            nc = c + weights[e]
            if nc <= cutoff and offer(tent, nxt * k, k, nc, g, s):
                size = _label_push(heap, size, nc, nxt, s)
        if size > 0:
            first = offsets[heap[1].node]
            prefetch(targets, first)
            prefetch(weights, first)
    for node in range(n):  # the settled labels, sorted by (cost, source)
        base = node * k
        m = 0
        for j in range(k):
            if tent[base + j].group < -1:
                c = tent[base + j].cost
                r = tent[base + j].rank
                i = base + m
                while i > base and _before(c, r, label_cost[i - 1], label_source[i - 1]):
                    label_cost[i] = label_cost[i - 1]
                    label_source[i] = label_source[i - 1]
                    i -= 1
                label_cost[i] = c
                label_source[i] = r
                m += 1
        for j in range(m, k):
            label_cost[base + j] = np.inf
            label_source[base + j] = -1
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
