"""Findings for a compliance file: deficiencies, members outside the area, the market.

Owns the deficiency workpaper (``deficiencies``), the candidates for members
living outside the service area (``outside``) and the out-of-network supply with
its nearest-provider look-up (``supply``). Uses the engine (verdicts, the judge,
stored searches), :mod:`adequacy.routing` and recruitment from
:mod:`adequacy.whatif`; the run folder and the report read its tables.
"""

from adequacy.findings.deficiencies import Deficiencies, deficiencies
from adequacy.findings.outside import outside_candidates

__all__ = ["Deficiencies", "deficiencies", "outside_candidates"]
