"""What-if analysis: scenarios applied incrementally, continuity of care, recruitment.

Owns applying a scenario to a base evaluation (``update``) and its before/after
table (``delta``), re-homing a
terminated PCP's panel (``continuity``) and ranking recruitment sites
(``recruit``). Uses the public engine, the judge, :mod:`adequacy.routing`
and the scenario files of :mod:`adequacy.inputs.scenario`.
"""

from adequacy.inputs.scenario import Scenario, Termination, read_scenario
from adequacy.whatif.continuity import (
    ACTIVE_TREATMENT_DAYS,
    CONTINUITY_OPTIONS,
    PCP_TRANSITION_DAYS,
    continuity_of_care,
)
from adequacy.whatif.explain import why_unchanged
from adequacy.whatif.recruit import Recruitment, recruit
from adequacy.whatif.update import WhatIf, run_whatif

__all__ = [
    "ACTIVE_TREATMENT_DAYS",
    "CONTINUITY_OPTIONS",
    "PCP_TRANSITION_DAYS",
    "Recruitment",
    "Scenario",
    "Termination",
    "WhatIf",
    "continuity_of_care",
    "read_scenario",
    "recruit",
    "run_whatif",
    "why_unchanged",
]
