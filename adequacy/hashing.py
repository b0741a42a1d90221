"""The one file-hashing helper: SHA-256 of a file's bytes.

Used wherever a file is recorded or checked: the road-graph cache key, the
run folder's manifest and the report's check of run files.
"""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
