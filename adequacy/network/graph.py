"""The road graph: a directed drive graph as compressed-sparse-row arrays.

A :class:`RoadGraph` is kept as CSR numpy arrays, forward and reversed, with
the length of every edge in meters and its travel time in seconds, and the
longitude/latitude (WGS84, EPSG:4326) of every node. It saves to and loads
from one ``.npz`` file. Building graphs from sources is
:mod:`adequacy.network.load`'s job.

Owns: ``RoadGraph``. Uses: nothing else in the package.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from adequacy.network.speeds import (
    MPH_TO_METERS_PER_SECOND,
)
from adequacy.units import METERS_PER_MILE

_ARRAYS = (
    "offsets",
    "targets",
    "meters",
    "seconds",
    "rev_offsets",
    "rev_targets",
    "rev_meters",
    "rev_seconds",
    "lon",
    "lat",
    "node_ids",
    "edge_class",
)


@dataclass(eq=False)
class RoadGraph:
    """A directed drive graph as CSR arrays.

    Nodes are ``0..n_nodes-1``. Forward edges of node ``i`` are
    ``targets[offsets[i]:offsets[i+1]]`` with lengths ``meters`` and travel
    times ``seconds`` (float64). The ``rev_*`` arrays hold the same edges
    reversed (incoming edges of each node), which is what the member→provider
    search walks. ``lon``/``lat`` are WGS84 degrees. ``node_ids`` are the source
    ids (OSM node ids, or sequence numbers for road-line files).
    ``edge_class`` (forward order) indexes ``class_names``.
    ``meta`` records the source, its SHA-256, the speed profile and counts.
    """

    offsets: np.ndarray
    targets: np.ndarray
    meters: np.ndarray
    seconds: np.ndarray
    rev_offsets: np.ndarray
    rev_targets: np.ndarray
    rev_meters: np.ndarray
    rev_seconds: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    node_ids: np.ndarray
    edge_class: np.ndarray
    class_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # shared by every search, cache and thread: never changed in place
        for name in _ARRAYS:
            getattr(self, name).flags.writeable = False

    # ------------------------------------------------------------------ build
    @classmethod
    def from_edges(
        cls,
        u: np.ndarray,
        v: np.ndarray,
        meters: np.ndarray,
        seconds: np.ndarray,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        node_ids: np.ndarray | None = None,
        edge_class: np.ndarray | None = None,
        class_names: list[str] | None = None,
        meta: Mapping[str, Any] | None = None,
        largest_component: bool = True,
    ) -> RoadGraph:
        """Build a graph from directed edges ``u[i] -> v[i]``.

        ``u`` and ``v`` index ``lon``/``lat``. Self-loops are dropped. With
        ``largest_component`` only the largest strongly connected component is
        kept and nodes are renumbered.
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        meters = np.asarray(meters, dtype=np.float64)
        seconds = np.asarray(seconds, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        n = len(lon)
        if node_ids is None:
            node_ids = np.arange(n, dtype=np.int64)
        node_ids = np.asarray(node_ids, dtype=np.int64)
        if edge_class is None:
            edge_class = np.zeros(len(u), dtype=np.int16)
            class_names = class_names or ["road"]
        edge_class = np.asarray(edge_class, dtype=np.int16)
        meta = dict(meta or {})

        keep = u != v
        u, v, meters, seconds, edge_class = (
            u[keep],
            v[keep],
            meters[keep],
            seconds[keep],
            edge_class[keep],
        )
        meta["nodes_before_largest_component"] = int(n)
        if largest_component and len(u):
            adj = sparse.csr_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
            _, labels = connected_components(adj, directed=True, connection="strong")
            biggest = np.argmax(np.bincount(labels))
            node_keep = labels == biggest
            new_index = np.full(n, -1, dtype=np.int64)
            new_index[node_keep] = np.arange(int(node_keep.sum()))
            edge_keep = node_keep[u] & node_keep[v]
            u, v = new_index[u[edge_keep]], new_index[v[edge_keep]]
            meters, seconds, edge_class = (
                meters[edge_keep],
                seconds[edge_keep],
                edge_class[edge_keep],
            )
            lon, lat, node_ids = lon[node_keep], lat[node_keep], node_ids[node_keep]
            n = len(lon)

        order = np.lexsort((v, u))
        offsets = _offsets(u, n)
        rev_order = np.lexsort((u, v))
        rev_offsets = _offsets(v, n)
        graph = cls(
            offsets=offsets,
            targets=v[order].astype(np.int32),
            meters=meters[order],
            seconds=seconds[order],
            rev_offsets=rev_offsets,
            rev_targets=u[rev_order].astype(np.int32),
            rev_meters=meters[rev_order],
            rev_seconds=seconds[rev_order],
            lon=lon,
            lat=lat,
            node_ids=node_ids,
            edge_class=edge_class[order],
            class_names=list(class_names or []),
            meta=meta,
        )
        graph.meta.update(nodes=graph.n_nodes, edges=graph.n_edges)
        return graph

    # ------------------------------------------------------------ properties
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.targets)

    @property
    def profile_label(self) -> str:
        """``name@version`` of the speed profile the graph was built with."""
        profile = self.meta.get("profile", {})
        return f"{profile.get('name', 'unknown')}@{profile.get('version', '?')}"

    def edge_sources(self) -> np.ndarray:
        """Source node of each forward edge (the CSR row index)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.offsets))

    def road_miles_by_class(self) -> dict[str, float]:
        """Miles of road per class, counting a two-way road once."""
        u = self.edge_sources()
        v = self.targets.astype(np.int64)
        n = max(self.n_nodes, 1)
        key = u * n + v
        twin = np.isin(v * n + u, key)
        weight = np.where(twin, 0.5, 1.0) * self.meters / METERS_PER_MILE
        miles = np.bincount(self.edge_class, weights=weight, minlength=len(self.class_names))
        return {name: float(miles[i]) for i, name in enumerate(self.class_names)}

    def summary(self) -> dict[str, Any]:
        """Nodes, edges, road miles, speed by class and the profile, as a dict."""
        by_class = self.road_miles_by_class()
        mph = self.meters / np.maximum(self.seconds, 1e-9) / MPH_TO_METERS_PER_SECOND
        speeds = {}
        for i, name in enumerate(self.class_names):
            sel = self.edge_class == i
            if sel.any():
                speeds[name] = float(np.average(mph[sel], weights=self.meters[sel]))
        return {
            "source": self.meta.get("source"),
            "source_sha256": self.meta.get("source_sha256"),
            "profile": self.profile_label,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "road_miles": float(sum(by_class.values())),
            "road_miles_by_class": by_class,
            "mean_mph_by_class": speeds,
            "bounds": [
                float(self.lon.min()),
                float(self.lat.min()),
                float(self.lon.max()),
                float(self.lat.max()),
            ],
        }

    # ------------------------------------------------------------ conversions
    def to_networkx(self, weight: str = "meters"):
        """A ``networkx.DiGraph`` with edge attribute ``weight`` ('meters' or 'seconds').

        Parallel edges collapse to the cheapest for that weight. Meant for
        independent checks and small graphs.
        """
        import networkx as nx

        values = self.meters if weight == "meters" else self.seconds
        u = self.edge_sources()
        G = nx.DiGraph()
        G.add_nodes_from(range(self.n_nodes))
        for a, b, w in zip(u.tolist(), self.targets.tolist(), values.tolist(), strict=True):
            if G.has_edge(a, b) and G[a][b][weight] <= w:
                continue
            G.add_edge(a, b, **{weight: w})
        return G

    # -------------------------------------------------------------- disk cache
    @staticmethod
    def array_names() -> tuple[str, ...]:
        """The names of the arrays that make a graph (what :meth:`save` writes)."""
        return _ARRAYS

    def save(self, path: str | os.PathLike, *, contraction: bool = True) -> None:
        """Write the graph to one ``.npz`` file (atomically).

        With ``contraction`` (the default) the file also holds the graph's chain
        contraction (:mod:`adequacy.network.chains`, built now if it was not), so
        that :meth:`load` skips building it again: the file grows about 2.3x,
        and 1-2 s less per million nodes on every run that reads the file.
        """
        from adequacy.network.chains import CHAINS_VERSION, contraction_arrays  # chains uses us

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        head = {"class_names": self.class_names, "meta": self.meta}
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        if contraction:
            arrays.update(contraction_arrays(self))
            head["chains_version"] = CHAINS_VERSION
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, header=np.array(json.dumps(head)), **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> RoadGraph:
        """Read a graph written by :meth:`save` (with its chain contraction, if saved
        by this version of the contraction)."""
        from adequacy.network.chains import restore_contraction  # chains uses us

        data = _read_npz(path)
        header = json.loads(str(data["header"]))
        arrays = {k: data[k] for k in _ARRAYS}
        saved = {k: v for k, v in data.items() if k.startswith("chains.")}
        graph = cls(**arrays, class_names=header["class_names"], meta=header["meta"])
        if saved:
            restore_contraction(graph, saved, header.get("chains_version"))
        return graph


def _read_npz(path: str | os.PathLike, threads: int = 2) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read on ``threads`` threads at once, each with
    a handle of its own: reading, checking each member's checksum and copying it out
    release the GIL (a 4.48M-node graph's 1.26 GB in about 0.45 s, not 0.8 s). The
    handles are of one file: one replaced between their openings (another run
    saving the cache) is opened again."""
    for _ in range(3):
        handles = [open(path, "rb") for _ in range(threads)]  # noqa: SIM115 (closed below)
        try:
            if len({(os.fstat(h.fileno()).st_dev, os.fstat(h.fileno()).st_ino)
                    for h in handles}) == 1:  # fmt: skip
                return _read_handles(handles)
        finally:
            for handle in handles:
                handle.close()
    raise OSError(f"{path} kept being replaced while it was read")


def _read_handles(handles: list) -> dict[str, np.ndarray]:
    """:func:`_read_npz` on open handles of one file, one thread each."""
    with zipfile.ZipFile(handles[0]) as archive:
        sizes = {i.filename.removesuffix(".npy"): i.file_size for i in archive.infolist()}
    groups: list[list[str]] = [[] for _ in handles]
    loads = [0] * len(handles)
    for name in sorted(sizes, key=sizes.__getitem__, reverse=True):  # to the lightest
        i = loads.index(min(loads))
        groups[i].append(name)
        loads[i] += sizes[name]

    def part(handle, names: list[str]) -> dict[str, np.ndarray]:
        handle.seek(0)
        with np.load(handle, allow_pickle=False) as data:
            return {name: data[name] for name in names}

    found: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(len(handles)) as pool:
        for arrays in pool.map(part, handles, groups):
            found.update(arrays)
    return found


def _offsets(rows: np.ndarray, n: int) -> np.ndarray:
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return offsets
