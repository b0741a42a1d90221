"""Run folders: what an evaluation writes, and reading it back.

Owns the manifest (``manifest``), writing a run folder and any atomic output
folder (``write``), and reading one back or evaluating its inputs again
(``read``). Uses the engine (to evaluate again) and :mod:`adequacy.hashing`.
"""

from adequacy.runs.manifest import build_manifest, read_manifest
from adequacy.runs.read import Run, evaluate_run, read_run
from adequacy.runs.write import publish, staging, write_run, write_tables

__all__ = [
    "Run",
    "build_manifest",
    "evaluate_run",
    "publish",
    "read_manifest",
    "read_run",
    "staging",
    "write_run",
    "write_tables",
]
