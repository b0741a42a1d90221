"""Measuring in a fresh process: a benchmark script runs each measured side as a child
of itself (``--child ...``), so that each side's peak memory is its own.

Owns: ``options`` (the scripts' shared command line) and ``in_child``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def options(doc: str, quick_help: str, child_args: int, argv: list[str] | None = None):
    """``--quick`` and the hidden ``--child`` (``child_args`` values) of a script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--child", nargs=child_args, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def in_child(script: str, *args) -> dict:
    """Run ``script --child args...`` in a new Python; the JSON of its last line. A
    child that fails stops the benchmark with its error's end."""
    out = subprocess.run(
        [sys.executable, script, "--child", *(str(a) for a in args)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])
