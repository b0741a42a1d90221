"""Runs beyond one machine: members split into partitions judged on Dask workers.

``evaluate(..., cluster=Cluster(workers=4))`` runs the member pass partition by
partition (:mod:`adequacy.distributed.run`); each partition's road graph is the
source graph clipped to its members plus the farthest any rule reaches
(:mod:`adequacy.distributed.partitions`), so results equal a single-machine
run's row for row.

Owns choosing partitions and their buffers (``partitions``), a partition's work
on a worker (``worker``), the coordinator (``run``: ``Cluster``, the retry,
the exact merge), and for runs that never load the whole graph
(``Cluster(graphs="extract")``) a partition's own cut and snaps (``clip_snap``) and
the deficiency workpaper made on the workers (``findings``). Uses the engine's
member pass, tally and reach rule, the findings, :mod:`adequacy.network.clip` and
Dask distributed.
"""

from adequacy.distributed.partitions import PARTITION_SCHEMES, Partition, make_partitions
from adequacy.distributed.run import Cluster, PartitionFailed, cluster_options

__all__ = [
    "PARTITION_SCHEMES",
    "Cluster",
    "Partition",
    "PartitionFailed",
    "cluster_options",
    "make_partitions",
]
