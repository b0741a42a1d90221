"""The quarterly report: a document for regulators, built from a run folder.

Owns the report: the period's rules and the tables (``tables``), the HTML
page (``page``, with ``sections``, ``method``, ``figures`` and
``formatting``), the workbook (``workbook``), writing them all (``build``) and
the colours shared with the app (``style``). Uses :mod:`adequacy.runs`
(reading and checking the run folder, the atomic write) and the engine's
standards.
"""

from adequacy.report.build import build_report
from adequacy.report.tables import select_rules

__all__ = ["build_report", "select_rules"]
